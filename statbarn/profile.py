"""Disclosure profiles: a project's risk appetite as a typed, versioned, validated file.

The defaults equal ACRO's so that results are comparable with the tool many
researchers already know.  A profile file may ``extends:`` another by name;
keys it sets override the parent's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from statbarn.errors import ProfileError

PROFILES_ENV = "STATBARN_PROFILES"
# The statistics a table's cells may be declared to hold (statbarn.kinds.STATISTIC_STATBARN).
BareStatistic = Literal["count", "size", "sum", "mean", "median", "quantile", "min", "max",
                        "mode", "std", "var"]


class Profile(BaseModel):
    """Parameters of every rule; one instance per project risk appetite."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("default", min_length=1, description="Profile name")
    version: str = Field("1", min_length=1, description="Version, stamped on every result")
    description: str = ""
    extends: str | None = Field(None, description="Name of the profile this one refines")

    # tables
    min_count: int = Field(10, ge=1, description="Threshold: fewest contributors a cell may have")
    zeros_are_disclosive: bool = Field(True, description="Cells with no contributors are unsafe")
    nk_n: int = Field(2, ge=1, le=10, description="NK dominance: number of largest contributors")
    nk_k: float = Field(0.9, gt=0, le=1, description="NK dominance: share that fails (inclusive)")
    p_ratio: float = Field(0.1, gt=0, lt=1, description="p% rule: p as a fraction")
    min_dof: int = Field(10, ge=1, description="Fewest residual degrees of freedom")
    # microdata
    k_anonymity: int = Field(5, ge=2, description="Smallest equivalence class allowed")
    l_diversity: int = Field(2, ge=1, description="Fewest distinct sensitive values per class")
    # safe alternatives
    protection_level: float = Field(
        0.1,
        gt=0,
        le=1,
        description="Interval audit: a suppressed cell's feasible interval must be at least "
        "this fraction of its value wide",
    )
    protection_min_width: float | None = Field(
        None,
        ge=0,
        description="Interval audit: absolute minimum width; default min_count for counts, "
        "0 (not exactly recoverable) for magnitudes",
    )
    rounding_base: int = Field(5, ge=2, description="Base for the rounding alternative")
    max_suppressed_share: float = Field(
        0.5, ge=0, le=1,
        description="A safe alternative suppressing more than this share of its cells "
        "(margins included) is never released automatically: a person decides",
    )
    max_table_cells: int = Field(
        100_000, ge=1, description="Largest table (cells, margins included) statbarn will check"
    )
    max_suppression_cells: int = Field(
        20_000, ge=1, description="Largest table secondary suppression will protect"
    )
    # What leaves without a person: every count of an automatically released table is a
    # few bits the researcher chose (a file fits in a column of counts, one byte a cell),
    # so a released table is bounded in size and in the length of its labels.
    max_auto_release_cells: int = Field(
        2000, ge=1, description="A table with more cells (margins included) is never released "
        "automatically: a person decides (its counts are a channel this wide)"
    )
    max_auto_release_label_chars: int = Field(
        80, ge=1, description="A table with a label, header or column name longer than this "
        "(characters) is never released automatically: a person decides"
    )
    max_auto_release_label_total: int = Field(
        16_000, ge=1, description="A table whose labels, headers and column names add up to "
        "more characters than this is never released automatically: a person decides "
        "(words can spell data no scan recognises)"
    )
    bare_table_statistic: BareStatistic | None = Field(
        None,
        description="What the cells of a table hold when it comes with neither evidence nor "
        "a declared statistic (e.g. 'count' for a project that only ever exports counts). "
        "None (the default): such a table goes to a person, since whole numbers alone do "
        "not make a frequency table",
    )
    # release policy (used by the airlock)
    allow_auto_release: bool = Field(True, description="All-pass requests are released at once")
    allow_microdata_release: bool = Field(
        False, description="Row-level outputs that meet k and l may be released automatically"
    )
    reviewers_required: int = Field(1, ge=1, le=2, description="Human reviewers per request")

    @model_validator(mode="after")
    def _coherent(self) -> Profile:
        if self.p_ratio >= self.nk_k:
            # Not impossible, but almost certainly a typo (p given as a percentage?).
            raise ValueError("p_ratio must be smaller than nk_k (give p as a fraction, e.g. 0.1)")
        return self

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}

    def params(self) -> dict[str, Any]:
        return self.model_dump(exclude={"name", "version", "description", "extends"})


DEFAULT_PROFILE = Profile()


def profile_search_path() -> list[Path]:
    """Where named profiles are looked up, first match wins."""
    dirs: list[Path] = []
    env = os.environ.get(PROFILES_ENV)
    if env:
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    here = Path(__file__).resolve().parent
    dirs.append(here.parent / "policies" / "profiles")  # source checkout / editable install
    dirs.append(here / "profiles")  # installed wheel (force-included)
    return dirs


def _find(name: str, search: list[Path]) -> Path | None:
    for d in search:
        for suffix in (".yaml", ".yml"):
            candidate = d / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read profile: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile must be a mapping of keys to values")
    return data


def _validation_message(path: Path | str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(profile)"
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(Profile.model_fields))
            parts.append(f"unknown key '{key}' (allowed keys: {allowed})")
        else:
            parts.append(f"key '{key}': {err['msg']}")
    return f"{path}: " + "; ".join(parts)


def _resolve(path: Path, search: list[Path], seen: tuple[str, ...]) -> dict[str, Any]:
    data = _read_yaml(path)
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ProfileError(f"{path}: key 'extends' must be the name of another profile")
    if parent in seen:
        raise ProfileError(f"{path}: profiles extend each other in a loop: {' -> '.join(seen)}")
    parent_path = _find(parent, search)
    if parent_path is None:
        if parent == "default":
            base: dict[str, Any] = {}
        else:
            raise ProfileError(f"{path}: extends unknown profile '{parent}'")
    else:
        base = _resolve(parent_path, search, (*seen, parent))
    base = {k: v for k, v in base.items() if k not in ("name", "version", "description")}
    return {**base, **data}


def load_profile_file(path: str | Path, search: list[Path] | None = None) -> Profile:
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"{path}: profile file not found")
    search = [path.parent, *(search or profile_search_path())]
    merged = _resolve(path, search, (path.stem,))
    merged.setdefault("name", path.stem)
    try:
        return Profile.model_validate(merged)
    except ValidationError as exc:
        raise ProfileError(_validation_message(path, exc)) from None


def load_profile(name_or_path: str | Path | Profile | None = None) -> Profile:
    """A profile by name (looked up on the search path), by file path, or as given.

    ``None`` and ``"default"`` give the default profile (the shipped file when
    present, else the built-in ACRO-equivalent defaults).
    """
    if isinstance(name_or_path, Profile):
        return name_or_path
    if name_or_path is None:
        name_or_path = "default"
    text = str(name_or_path)
    as_path = Path(text)
    if as_path.suffix in (".yaml", ".yml") or os.sep in text:
        return load_profile_file(as_path)
    found = _find(text, profile_search_path())
    if found is None:
        if text == "default":
            return DEFAULT_PROFILE
        raise ProfileError(
            f"no profile named '{text}' (looked in: "
            + ", ".join(str(d) for d in profile_search_path())
            + ")"
        )
    return load_profile_file(found)


def profile_from_mapping(data: dict[str, Any], source: str = "<profile>") -> Profile:
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(_validation_message(source, exc)) from None
