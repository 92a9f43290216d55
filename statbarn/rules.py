"""The disclosure rules, applied to whole grids of evidence at once.

Each rule takes a :class:`TableEvidence` and a :class:`Profile` and returns a
:class:`CheckResult` with one :class:`CellFlag` per unsafe cell.  No I/O.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from statbarn import exact
from statbarn.evidence import TableEvidence
from statbarn.kinds import STATISTIC_RULES
from statbarn.profile import Profile
from statbarn.verdict import CellFlag, CheckResult, Rule, Verdict, whole_output_check, worst


def _result(rule: Rule, flags: list[CellFlag], ok: str, bad: str) -> CheckResult:
    verdict = worst(f.verdict for f in flags)
    summary = ok if not flags else bad.format(n=len(flags))
    return CheckResult(rule=rule.value, verdict=verdict, cells=flags, summary=summary)


def _label_text(label: object) -> str:
    if isinstance(label, tuple):
        return " / ".join(str(x) for x in label)
    return str(label)


def _cell_name(ev: TableEvidence, r: int, c: int) -> str:
    return f"cell ({_label_text(ev.row_labels[r])}, {_label_text(ev.col_labels[c])})"


def threshold(ev: TableEvidence, profile: Profile, zeros_apart: bool = False) -> CheckResult:
    """Too few contributors.  An empty cell is a small cell too (as in ACRO), unless the
    profile says zeros are not disclosive: then empty cells are left to that decision.
    ``zeros_apart``: the zeros rule flags the empty cells of this table, so they are
    flagged once, there (a researcher reads one reason per cell)."""
    limit = profile.min_count
    small = ev.count < limit
    if not profile.zeros_are_disclosive or zeros_apart:
        small &= ev.count > 0
    flags = [
        CellFlag(
            rule=Rule.THRESHOLD,
            verdict=Verdict.FAIL,
            row=ev.row_labels[r],
            col=ev.col_labels[c],
            value=int(ev.count[r, c]),
            limit=limit,
            message=f"The {_cell_name(ev, r, c)} is made of {int(ev.count[r, c])} "
            f"contributor(s); at least {limit} are needed.",
        )
        for r, c in np.argwhere(small)
    ]
    return _result(
        Rule.THRESHOLD,
        flags,
        f"Every cell has at least {limit} contributors.",
        f"{{n}} cell(s) have fewer than {limit} contributors.",
    )


def zeros(ev: TableEvidence, profile: Profile) -> CheckResult:
    if not profile.zeros_are_disclosive:
        return CheckResult(
            Rule.ZEROS.value,
            Verdict.PASS,
            [],
            "Zeros are not considered disclosive in this profile.",
        )
    flags = [
        CellFlag(
            rule=Rule.ZEROS,
            verdict=Verdict.FAIL,
            row=ev.row_labels[r],
            col=ev.col_labels[c],
            value=0,
            limit=1,
            message=f"The {_cell_name(ev, r, c)} has no contributors; a zero tells "
            "everyone that nobody has this combination.",
        )
        for r, c in np.argwhere(ev.count == 0)
    ]
    return _result(Rule.ZEROS, flags, "No cell is empty.", "{n} cell(s) are empty.")


def class_disclosure(ev: TableEvidence, profile: Profile) -> CheckResult:
    """A row (column) whose records all fall into one cell reveals that attribute."""
    rs, cs = ev.body_slice()
    body = ev.count[rs, cs]
    verdict = Verdict.FAIL if profile.zeros_are_disclosive else Verdict.ESCALATE
    flags: list[CellFlag] = []
    for axis, labels, other in (
        (1, ev.row_labels, ev.col_labels),
        (0, ev.col_labels, ev.row_labels),
    ):
        if body.shape[axis] < 2:
            continue
        nonzero = (body > 0).sum(axis=axis)
        totals = body.sum(axis=axis)
        for i in np.flatnonzero((nonzero == 1) & (totals > 0)):
            j = int(np.flatnonzero(body[i] if axis == 1 else body[:, i])[0])
            row, col = (labels[i], other[j]) if axis == 1 else (other[j], labels[i])
            kind = "row" if axis == 1 else "column"
            flags.append(
                CellFlag(
                    rule=Rule.CLASS_DISCLOSURE,
                    verdict=verdict,
                    row=row,
                    col=col,
                    value=int(totals[i]),
                    limit=None,
                    message=f"All {int(totals[i])} records in {kind} "
                    f"'{_label_text(labels[i])}' fall into '{_label_text(other[j])}': "
                    f"anyone known to be in that {kind} is revealed.",
                )
            )
    return _result(
        Rule.CLASS_DISCLOSURE,
        flags,
        "No row or column falls into a single cell.",
        "{n} row(s)/column(s) fall entirely into one cell.",
    )


def _negative_flags(ev: TableEvidence, rule: Rule) -> tuple[list[CellFlag], np.ndarray]:
    assert ev.negative is not None
    flags = [
        CellFlag(
            rule=rule,
            verdict=Verdict.ESCALATE,
            row=ev.row_labels[r],
            col=ev.col_labels[c],
            value=None,
            limit=None,
            message=f"The {_cell_name(ev, r, c)} has a negative contribution, so dominance "
            "is undefined; a person must review it.",
        )
        for r, c in np.argwhere(ev.negative)
    ]
    return flags, ev.negative


def _exact_total(ev: TableEvidence, r: int, c: int) -> Decimal | None:
    text = ev.exact_total.get((int(r), int(c)))
    return Decimal(text) if text is not None else None


def nk_dominance(ev: TableEvidence, profile: Profile) -> CheckResult:
    if not ev.has_contributions:
        return _no_evidence(Rule.NK_DOMINANCE)
    assert ev.total is not None and ev.top is not None
    n, k = profile.nk_n, profile.nk_k
    flags, negative = _negative_flags(ev, Rule.NK_DOMINANCE)
    top_n = ev.top[..., :n].sum(axis=-1)
    total = ev.total
    margin = top_n - k * total
    dominated = (margin >= 0) & (top_n > 0)
    for r, c in np.argwhere(exact.near(margin, total) & (top_n > 0)):
        t = _exact_total(ev, r, c)
        # Unknown exact total at the boundary: decide as unsafe (see statbarn.exact).
        dominated[r, c] = True if t is None else exact.nk_dominated_exact(ev.top[r, c, :n], t, k)
    dominated &= ~negative
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, top_n / total, 1.0)
    for r, c in np.argwhere(dominated):
        s = float(min(share[r, c], 1.0))
        flags.append(
            CellFlag(
                rule=Rule.NK_DOMINANCE,
                verdict=Verdict.FAIL,
                row=ev.row_labels[r],
                col=ev.col_labels[c],
                value=round(s, 6),
                limit=k,
                message=f"In the {_cell_name(ev, r, c)} the largest {n} contribution(s) make "
                f"{s:.1%} of the total; they must be less than {k:.0%}.",
            )
        )
    return _result(
        Rule.NK_DOMINANCE,
        flags,
        f"No cell is dominated by its {n} largest contributors.",
        "{n} cell(s) are dominated or cannot be checked for dominance.",
    )


def p_percent(ev: TableEvidence, profile: Profile) -> CheckResult:
    if not ev.has_contributions:
        return _no_evidence(Rule.P_PERCENT)
    assert ev.total is not None and ev.top is not None
    p = profile.p_ratio
    flags, negative = _negative_flags(ev, Rule.P_PERCENT)
    top1 = ev.top[..., 0]
    top2 = ev.top[..., 1] if ev.top.shape[-1] > 1 else np.zeros_like(top1)
    rest = ev.total - top1 - top2
    margin = rest - p * top1
    unsafe = margin < 0
    for r, c in np.argwhere(exact.near(margin, np.maximum(ev.total, top1)) & (top1 > 0)):
        t = _exact_total(ev, r, c)
        unsafe[r, c] = (
            True
            if t is None
            else exact.p_percent_unsafe_exact(float(top1[r, c]), float(top2[r, c]), t, p)
        )
    unsafe &= ~negative
    for r, c in np.argwhere(unsafe):
        ratio = float(rest[r, c] / top1[r, c]) if top1[r, c] else 0.0
        flags.append(
            CellFlag(
                rule=Rule.P_PERCENT,
                verdict=Verdict.FAIL,
                row=ev.row_labels[r],
                col=ev.col_labels[c],
                value=round(max(ratio, 0.0), 6),
                limit=p,
                message=f"In the {_cell_name(ev, r, c)} the second largest contributor could "
                f"estimate the largest to within {max(ratio, 0.0):.1%}; "
                f"at least {p:.0%} is needed.",
            )
        )
    return _result(
        Rule.P_PERCENT, flags, "No cell fails the p% rule.", "{n} cell(s) fail the p% rule."
    )


def dof(ev: TableEvidence, profile: Profile) -> CheckResult:
    limit = profile.min_dof
    dofs = ev.count.astype(np.int64) - 1
    flags = [
        CellFlag(
            rule=Rule.DOF,
            verdict=Verdict.FAIL,
            row=ev.row_labels[r],
            col=ev.col_labels[c],
            value=int(max(dofs[r, c], 0)),
            limit=limit,
            message=f"The {_cell_name(ev, r, c)} has {int(max(dofs[r, c], 0))} degrees of freedom; "
            f"at least {limit} are needed.",
        )
        for r, c in np.argwhere(dofs < limit)
    ]
    return _result(
        Rule.DOF,
        flags,
        f"Every cell has at least {limit} degrees of freedom.",
        f"{{n}} cell(s) have fewer than {limit} degrees of freedom.",
    )


def _no_evidence(rule: Rule) -> CheckResult:
    return whole_output_check(
        rule,
        Verdict.ESCALATE,
        "This magnitude table has no evidence of individual contributions, so dominance "
        "cannot be checked; a person must review it.",
        "Dominance cannot be checked without contributor evidence.",
    )


RULE_FUNCTIONS = {
    Rule.THRESHOLD: threshold,
    Rule.ZEROS: zeros,
    Rule.CLASS_DISCLOSURE: class_disclosure,
    Rule.NK_DOMINANCE: nk_dominance,
    Rule.P_PERCENT: p_percent,
    Rule.DOF: dof,
}


def check_table(ev: TableEvidence, profile: Profile) -> list[CheckResult]:
    """Every rule that applies to this table's statistic, in a fixed order."""
    rules = STATISTIC_RULES.get(ev.statistic)
    if rules is None:
        return [
            CheckResult(
                Rule.UNCHECKABLE.value,
                Verdict.ESCALATE,
                [],
                f"statbarn has no rules for the statistic '{ev.statistic}'.",
            )
        ]
    zeros_apart = Rule.ZEROS in rules and profile.zeros_are_disclosive
    return [threshold(ev, profile, zeros_apart) if rule is Rule.THRESHOLD
            else RULE_FUNCTIONS[rule](ev, profile) for rule in rules]
