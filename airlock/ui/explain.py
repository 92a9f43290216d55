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


# ---- differencing: how each flagged count is derived (reviewers only) ----------------------
KINDS = {
    "nested_population": "one population inside another",
    "margin_difference": "margins of two tables",
    "category_difference": "bands of one variable combined",
    "category_merge": "categories merged",
    "complement": "a population minus two inside it",
    "union": "two populations minus one",
    "overlap": "two overlapping populations minus their union",
}
MAX_DERIVATIONS = 200  # as many as the check's details keep


@dataclass(frozen=True)
class Term:
    """One cell of a derivation: added (+1) or subtracted (-1), from this table or an
    earlier release (named as its researcher knows it)."""

    sign: int
    cell: str  # "region=North, sex=F", or "all records"
    count: int | None
    release_id: str | None  # None: the table under review
    title: str | None = None
    file: str | None = None
    released_at: str | None = None

    @property
    def source(self) -> str:
        if self.release_id is None:
            return "this table"
        said = [f"\u201c{self.title}\u201d" if self.title else "", self.file or "",
                f"released {self.released_at[:10]}" if self.released_at else ""]
        return ", ".join(x for x in said if x) or f"release {self.release_id[:8]}"


@dataclass(frozen=True)
class Release:
    release_id: str
    title: str | None
    file: str | None
    released_at: str | None

    @property
    def name(self) -> str:
        return Term(1, "", None, self.release_id, self.title, self.file,
                    self.released_at).source


@dataclass(frozen=True)
class Derivation:
    """A count below the threshold and how it is derived: the earlier releases, the cells
    paired with this table's, and the population the combination isolates."""

    kind: str
    population: str
    leaves: int
    limit: int
    terms: tuple[Term, ...]
    releases: tuple[Release, ...]

    @property
    def how(self) -> str:
        return KINDS.get(self.kind, self.kind.replace("_", " "))

    @property
    def formula(self) -> str:
        """``80 − 77 = 3``: the paired counts, when the check kept them."""
        if not self.terms or any(t.count is None for t in self.terms):
            return ""
        parts = [("− " if t.sign < 0 else "+ " if k else "") + f"{t.count:,}"
                 for k, t in enumerate(self.terms)]
        return " ".join(parts) + f" = {self.leaves:,}"


def _text(value: Any, limit: int = 500) -> str | None:
    return None if value is None else str(value)[:limit]


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _cell(value: Any) -> str:
    if not isinstance(value, dict) or not value:
        return "all records"
    return ", ".join(f"{k}={v}" if k else str(v) for k, v in list(value.items())[:20])[:500]


def derivations(check: dict[str, Any]) -> list[Derivation]:
    """For each differencing flag of a check's result (its ``details``): the earlier
    releases (title, file, date), the cells combined with their counts and signs, and
    the population derived and its count.  Pure: the JSON in, view objects out.

    The earlier tables may be other researchers' releases: the request page builds
    these for the request's reviewers only."""
    if check.get("rule") != "differencing" or not isinstance(check.get("details"), dict):
        return []
    details = check["details"]
    known: dict[str, Release] = {}
    for e in details.get("earlier") or []:
        if isinstance(e, dict) and e.get("release_id"):
            rid = str(e["release_id"])
            known[rid] = Release(rid, _text(e.get("title")), _text(e.get("file")),
                                 _text(e.get("released_at"), 40))
    out = []
    for f in (details.get("findings") or [])[:MAX_DERIVATIONS]:
        if not isinstance(f, dict) or _count(f.get("leaves")) is None:
            continue
        terms = []
        for t in (f.get("terms") or [])[:3]:
            if not isinstance(t, dict):
                continue
            tid = _text(t.get("release_id"))
            r = known.get(tid) if tid else None
            terms.append(Term(-1 if t.get("sign") == -1 else 1, _cell(t.get("cell")),
                              _count(t.get("count")), tid, r.title if r else None,
                              r.file if r else None, r.released_at if r else None))
        ids = [str(x) for x in f.get("releases") or [] if x] or \
            [t.release_id for t in terms if t.release_id]
        releases = tuple(known.get(i) or Release(i, None, None, None)
                         for i in dict.fromkeys(ids))
        out.append(Derivation(str(f.get("kind") or ""), str(f.get("population") or "")[:500],
                              int(f["leaves"]), _count(f.get("limit")) or 0,
                              tuple(sorted(terms, key=lambda t: -t.sign)), releases))
    return out


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
