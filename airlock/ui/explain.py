"""The automated checks in plain words: rule names, observed values and limits.

statbarn's flags already carry a sentence each (``message``); what this adds is
a readable name for each rule and values shown in the unit of the rule (a
share as a percentage, a count as a whole number), so a checker can read a
flag without knowing statbarn's JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

RULES: dict[str, str] = {
    "threshold": "Minimum number of contributors",
    "zeros": "Zero cells",
    "class_disclosure": "Class disclosure",
    "nk_dominance": "Dominance (N, K rule)",
    "p_percent": "p% rule",
    "dof": "Residual degrees of freedom",
    "k_anonymity": "k-anonymity",
    "l_diversity": "l-diversity",
    "microdata": "Record-level data",
    "suppression_audit": "Suppression audit",
    "evidence": "Evidence",
    "uncheckable": "Not checkable automatically",
    "differencing": "Differencing with earlier releases",
}
_NOTHING_TO_DIFFERENCE = re.compile(r"No differencing against 0 comparable")
_SHARES = frozenset({"nk_dominance", "p_percent"})
VERDICT_WORDS = {"pass": "passes", "escalate": "needs a person", "fail": "fails"}


def rule_name(rule: str) -> str:
    return RULES.get(rule, rule.replace("_", " ").capitalize())


def show_value(rule: str, value: Any) -> str:
    """A flag's observed value or limit, in the unit of its rule."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if rule in _SHARES and 0 <= value <= 1:
        return f"{value * 100:.1f}%"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.4g}"


def label(value: Any) -> str:
    """A row or column label as the table shows it (multi-level labels joined)."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " / ".join(str(v) for v in value)
    return str(value)


def key(value: Any) -> tuple[str, ...] | None:
    """The label's match key: strings, one per level, so 3 and "3" are one label."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value)
    return (str(value).strip(),)


@dataclass
class Flag:
    rule: str
    verdict: str
    row: Any
    col: Any
    value: str
    limit: str
    message: str
    subject: str = "file"
    anchor: str = ""  # id of the highlighted cell, when it is in the rendered table
    evidence: str = ""  # the cell's evidence summary (contributors, dominance)

    @property
    def where(self) -> str:
        if self.row is None and self.col is None:
            return "the whole output"
        return ", ".join(x for x in (label(self.row), label(self.col)) if x)

    @property
    def rule_name(self) -> str:
        return rule_name(self.rule)


@dataclass
class Check:
    rule: str
    verdict: str
    summary: str
    flags: list[Flag] = field(default_factory=list)

    @property
    def rule_name(self) -> str:
        return rule_name(self.rule)


@dataclass
class Assessment:
    """One check record of a file: the file itself, or an output inside a notebook."""

    subject: str
    verdict: str
    statbarn: str
    statistic: str | None
    profile: str
    checks: list[Check]
    notes: list[str]

    @property
    def flags(self) -> list[Flag]:
        return [f for c in self.checks for f in c.flags]


def assessment(subject: str, verdict: str, profile: str, result: dict[str, Any]) -> Assessment:
    checks = []
    for c in result.get("checks", []):
        rule = str(c.get("rule", ""))
        if rule == "differencing" and c.get("verdict") == "pass" and \
                _NOTHING_TO_DIFFERENCE.match(str(c.get("summary") or "")):
            continue  # no earlier release to compare with: nothing a checker must read
        flags = [Flag(rule, str(x.get("verdict", "")), x.get("row"), x.get("col"),
                      show_value(rule, x.get("value")), show_value(rule, x.get("limit")),
                      str(x.get("message") or ""), subject)
                 for x in c.get("cells", []) if x.get("verdict") != "pass"]
        checks.append(Check(rule, str(c.get("verdict", "")), str(c.get("summary") or ""), flags))
    return Assessment(subject, verdict, str(result.get("statbarn") or "unknown"),
                      result.get("statistic"), profile, checks,
                      [str(n) for n in result.get("notes", [])])
