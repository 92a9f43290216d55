"""Model outputs (regression coefficients and the like): residual degrees of freedom.

statsmodels is not imported: any fitted result with ``df_resid`` and ``params``
(statsmodels OLS/GLM/Logit results, and look-alikes) is accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from statbarn.errors import EvidenceError, InputError
from statbarn.fileio import atomic_write_bytes, sha256_bytes
from statbarn.kinds import Statbarn
from statbarn.profile import Profile, load_profile
from statbarn.result import STATBARN_VERSION, AssessedOutput, Assessment
from statbarn.tables import SIDECAR_FORMAT, SIDECAR_SUFFIX
from statbarn.verdict import CheckResult, Rule, Verdict, whole_output_check


def dof_check(dof: float, profile: Profile, name: str = "model") -> CheckResult:
    if not np.isfinite(dof):
        return whole_output_check(
            Rule.DOF,
            Verdict.ESCALATE,
            f"The {name}'s residual degrees of freedom are unknown; a person must review it.",
            "Unknown degrees of freedom.",
            limit=profile.min_dof,
        )
    if dof < profile.min_dof:
        return whole_output_check(
            Rule.DOF,
            Verdict.FAIL,
            f"The {name} has {dof:g} residual degrees of freedom; at least {profile.min_dof} "
            "are needed, otherwise its coefficients can reveal individual records.",
            "Too few degrees of freedom.",
            value=float(dof),
            limit=profile.min_dof,
        )
    return CheckResult(
        Rule.DOF.value,
        Verdict.PASS,
        [],
        f"{dof:g} residual degrees of freedom (at least {profile.min_dof}).",
    )


@dataclass
class ModelOutput(AssessedOutput):
    table: pd.DataFrame
    dof: float
    nobs: float | None
    model_name: str
    assessment: Assessment
    profile: Profile

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        csv_bytes = self.table.to_csv().encode("utf-8")
        atomic_write_bytes(path, csv_bytes)
        side = path.with_name(path.name + SIDECAR_SUFFIX)
        payload = {
            "format": SIDECAR_FORMAT,
            "format_version": 1,
            "statbarn_version": STATBARN_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "file": {"name": path.name, "sha256": sha256_bytes(csv_bytes)},
            "kind": "model",
            "statbarn": Statbarn.MODEL.value,
            "statistic": "model",
            "model": {"name": self.model_name, "df_resid": self.dof, "nobs": self.nobs},
            "profile": {**self.profile.summary(), "params": self.profile.params()},
            "result": self.assessment.to_dict(),
        }
        atomic_write_bytes(side, json.dumps(payload, indent=1).encode("utf-8"))
        return side


def model_output(result: Any, profile: Profile | str | None = None) -> ModelOutput:
    """Wrap a fitted model (e.g. statsmodels OLS/Logit results) with its dof check."""
    prof = load_profile(profile)
    if not hasattr(result, "df_resid") or not hasattr(result, "params"):
        raise InputError(
            "model_output needs a fitted model result with df_resid and params "
            "(for example the result of statsmodels' .fit())"
        )
    dof = float(result.df_resid)
    params = pd.Series(
        np.asarray(result.params, dtype=float), index=getattr(result.params, "index", None)
    )
    columns: dict[str, Any] = {"coef": params}
    for attr, name in (("bse", "std_err"), ("pvalues", "p_value")):
        if hasattr(result, attr):
            columns[name] = pd.Series(
                np.asarray(getattr(result, attr), dtype=float), index=params.index
            )
    table = pd.DataFrame(columns)
    table.index.name = "term"
    model = getattr(result, "model", None)
    name = type(model).__name__ if model is not None else type(result).__name__
    nobs = float(result.nobs) if hasattr(result, "nobs") else None
    assessment = Assessment(
        statbarn=Statbarn.MODEL,
        checks=[dof_check(dof, prof, name)],
        profile=prof,
        statistic="model",
    )
    return ModelOutput(table, dof, nobs, name, assessment, prof)


def assess_model_sidecar(sidecar: dict[str, Any], profile: Profile, file: str) -> Assessment:
    try:
        model = sidecar["model"]
        dof = float(model["df_resid"])
        name = str(model.get("name", "model"))
    except (KeyError, TypeError, ValueError) as exc:
        raise EvidenceError(f"model evidence is malformed: {exc}") from None
    return Assessment(
        statbarn=Statbarn.MODEL,
        checks=[dof_check(dof, profile, name)],
        profile=profile,
        statistic="model",
        file=file,
    )
