"""Survival tables and hypothesis tests: the two remaining statbarns with their own rules.

A Kaplan-Meier table publishes, at each time, how many were at risk and how
many had the event; a step made of one or two events points at individuals.
So the threshold rule applies to both counts (coarsen time with ``bins`` until
every step is large enough).  A hypothesis test is checked like a model: by
its degrees of freedom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from statbarn.errors import EmptyInputError, InputError
from statbarn.kinds import Statbarn
from statbarn.models import dof_check
from statbarn.profile import Profile, load_profile
from statbarn.result import AssessedOutput, Assessment
from statbarn.verdict import CellFlag, CheckResult, Rule, Verdict, worst


@dataclass
class AnalysisOutput(AssessedOutput):
    """A published result that is not a cross-table: its table and verdict."""

    table: pd.DataFrame
    assessment: Assessment


def survival_table(
    durations: Sequence[float] | pd.Series,
    events: Sequence[bool] | pd.Series,
    bins: Sequence[float] | None = None,
    profile: Profile | str | None = None,
) -> AnalysisOutput:
    """Kaplan-Meier life table (time, at_risk, events, censored, survival) with checks.

    ``bins`` gives interval edges: each row is then an interval ``(a, b]``
    instead of an exact event time, which is how small steps are made safe.
    """
    prof = load_profile(profile)
    t = pd.to_numeric(pd.Series(durations), errors="coerce").to_numpy(dtype=np.float64)
    e = pd.Series(events).astype(bool).to_numpy()
    if len(t) == 0:
        raise EmptyInputError("there are no records to tabulate")
    if len(t) != len(e):
        raise InputError("durations and events must have the same length")
    if not np.isfinite(t).all() or (t < 0).any():
        raise InputError("durations must be finite, non-negative numbers")
    if bins is not None:
        edges = np.asarray(sorted(bins), dtype=np.float64)
        if edges[0] > t.min() or edges[-1] < t.max():
            raise InputError("bins must cover every duration")
        idx = np.clip(np.searchsorted(edges, t, side="left"), 1, len(edges) - 1)
        keys = idx
        labels = [f"({edges[i - 1]:g}, {edges[i]:g}]" for i in range(1, len(edges))]
        ngroups = len(edges)
    else:
        uniq, keys = np.unique(t, return_inverse=True)
        labels = [f"{x:g}" for x in uniq]
        keys = keys + 1
        ngroups = len(uniq) + 1
    ev_n = np.bincount(keys[e], minlength=ngroups)[1:]
    all_n = np.bincount(keys, minlength=ngroups)[1:]
    at_risk = len(t) - np.concatenate([[0], np.cumsum(all_n)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(at_risk > 0, 1.0 - ev_n / np.maximum(at_risk, 1), 1.0))
    table = pd.DataFrame(
        {"at_risk": at_risk, "events": ev_n, "censored": all_n - ev_n, "survival": surv},
        index=pd.Index(labels, name="time"),
    )
    table = table[(table.events > 0) | (table.censored > 0)]
    flags: list[CellFlag] = []
    for col in ("at_risk", "events"):
        small = table[(table[col] < prof.min_count) & (table[col] > 0)]
        for label, n in small[col].items():
            flags.append(
                CellFlag(
                    rule=Rule.THRESHOLD,
                    verdict=Verdict.FAIL,
                    row=label,
                    col=col,
                    value=int(n),
                    limit=prof.min_count,
                    message=f"At time {label} the '{col}' count is {int(n)}; at least "
                    f"{prof.min_count} are needed (use wider time bins).",
                )
            )
    check = CheckResult(
        Rule.THRESHOLD.value,
        worst(f.verdict for f in flags),
        flags,
        "Every step has enough people at risk and events."
        if not flags
        else f"{len(flags)} step count(s) are too small.",
    )
    assessment = Assessment(Statbarn.SURVIVAL, [check], prof, statistic="survival")
    return AnalysisOutput(table, assessment)


def hypothesis_test(
    statistic: float,
    pvalue: float,
    dof: float | None,
    name: str = "test",
    profile: Profile | str | None = None,
    **extra: Any,
) -> AnalysisOutput:
    """A test result (t, chi-squared, F ...) checked by its degrees of freedom.

    Without degrees of freedom the output escalates: a person judges it.
    """
    prof = load_profile(profile)
    row = {"statistic": float(statistic), "p_value": float(pvalue), "dof": dof, **extra}
    table = pd.DataFrame([row], index=pd.Index([name], name="test"))
    check = dof_check(float("nan") if dof is None else float(dof), prof, name)
    return AnalysisOutput(table, Assessment(Statbarn.HYPOTHESIS_TEST, [check], prof, "test"))
