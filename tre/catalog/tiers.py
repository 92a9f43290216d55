"""Tier presets: what a dataset's sensitivity tier sets, as Data Safe Haven's tiers do.

A tier (0 open ... 4 highly sensitive; :data:`tre.catalog.models.TIERS`) is not only a
label.  It sets:

- the **default disclosure profile** of a dataset registered without ``--profile``
  (tier 3 and 4: ``strict``, the profile with the higher thresholds);
- **caps on the workspace** of a project that holds the dataset: memory, CPUs and
  processes, from the highest tier among the project's datasets.  A cap only lowers the
  deployment's own limits (``TRE_WORKSPACE_*``), never raises them, so a deployment that
  is stricter than a preset stays as strict.

Pure: no I/O, no settings read here (docs/configuration.md, "Tier presets").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


@dataclass(frozen=True)
class TierPreset:
    profile: str  # the default disclosure profile of a dataset of this tier
    mem_limit: str | None  # a cap on a workspace's memory (None: the deployment's)
    cpu_limit: float | None  # a cap on its CPUs
    pids_limit: int | None  # a cap on its processes


PRESETS: dict[int, TierPreset] = {
    0: TierPreset("default", None, None, None),
    1: TierPreset("default", None, None, None),
    2: TierPreset("default", None, None, None),
    3: TierPreset("strict", "8G", 4.0, 512),
    4: TierPreset("strict", "4G", 2.0, 256),
}


def preset(tier: int) -> TierPreset:
    """The preset of ``tier`` (the catalog accepts only the tiers of TIERS)."""
    return PRESETS[tier]


def default_profile(tier: int) -> str:
    return preset(tier).profile


def _bytes(size: str) -> int:
    text = size.strip().upper().removesuffix("B")
    unit = text[-1] if text and text[-1] in _UNITS else ""
    return int(float(text[: len(text) - len(unit)] or "0") * _UNITS[unit])


@dataclass(frozen=True)
class Limits:
    mem_limit: str
    cpu_limit: float
    pids_limit: int


def workspace_limits(tiers: Iterable[int], deployment: Limits) -> Limits:
    """The deployment's limits, capped by the preset of the highest tier in ``tiers``."""
    highest = max(tiers, default=0)
    p = preset(highest)
    mem = deployment.mem_limit
    if p.mem_limit is not None and _bytes(p.mem_limit) < _bytes(mem):
        mem = p.mem_limit
    cpu = min(deployment.cpu_limit, p.cpu_limit) if p.cpu_limit else deployment.cpu_limit
    pids = min(deployment.pids_limit, p.pids_limit) if p.pids_limit else deployment.pids_limit
    return Limits(mem, cpu, pids)
