"""Verdicts, per-cell flags and per-rule check results: the vocabulary of every decision."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    PASS = "pass"
    ESCALATE = "escalate"
    FAIL = "fail"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Verdict.PASS: 0, Verdict.ESCALATE: 1, Verdict.FAIL: 2}


def worst(verdicts: Iterable[Verdict | str]) -> Verdict:
    """The worst verdict: fail > escalate > pass. No verdicts at all is a pass."""
    result = Verdict.PASS
    for v in verdicts:
        v = Verdict(v)
        if v.severity > result.severity:
            result = v
    return result


class Rule(StrEnum):
    """Names of the rules, as they appear in flags, JSON and audit records."""

    THRESHOLD = "threshold"
    ZEROS = "zeros"
    CLASS_DISCLOSURE = "class_disclosure"
    NK_DOMINANCE = "nk_dominance"
    P_PERCENT = "p_percent"
    DOF = "dof"
    K_ANONYMITY = "k_anonymity"
    L_DIVERSITY = "l_diversity"
    MICRODATA = "microdata"
    SUPPRESSION_AUDIT = "suppression_audit"
    SUPPRESSED_SHARE = "suppressed_share"
    EVIDENCE = "evidence"
    UNCHECKABLE = "uncheckable"
    DIFFERENCING = "differencing"


@dataclass(frozen=True)
class CellFlag:
    """One cell (or the whole output when row and col are None) failing one rule."""

    rule: str
    verdict: Verdict
    row: Any
    col: Any
    value: float | int | None
    limit: float | int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": _jsonable(self.row),
            "col": _jsonable(self.col),
            "value": _jsonable(self.value),
            "limit": _jsonable(self.limit),
            "verdict": self.verdict.value,
            "message": self.message,
        }


@dataclass
class CheckResult:
    """The outcome of one rule over one output."""

    rule: str
    verdict: Verdict
    cells: list[CellFlag] = field(default_factory=list)
    summary: str = ""
    # Structured data for display beside the flags (JSON-ready), e.g. the earlier
    # releases a differencing finding used and their cells.
    details: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "verdict": self.verdict.value,
            "summary": self.summary,
            "cells": [c.to_dict() for c in self.cells],
            **({"details": self.details} if self.details is not None else {}),
        }


def whole_output_check(
    rule: str,
    verdict: Verdict,
    message: str,
    summary: str,
    value: float | int | None = None,
    limit: float | int | None = None,
) -> CheckResult:
    """A check whose one flag concerns the output as a whole (no row or column)."""
    flag = CellFlag(rule, verdict, None, None, value, limit, message)
    return CheckResult(str(rule), verdict, [flag], summary)


def _jsonable(value: Any) -> Any:
    """Labels and numbers as JSON: tuples become lists, numpy scalars Python scalars."""
    if value is None:
        return None
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, (int, float, str, bool)):
        return value
    return str(value)
