"""Safe alternatives: the same table with unsafe cells suppressed (and protected) or rounded.

Primary cells are those any rule flags.  For tables whose cells add up (counts,
sums, and means through their sums) complementary cells are suppressed too and
every suppressed cell's feasibility interval is audited by linear programming;
positions, extremes and spreads do not add up, so primary suppression suffices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from statbarn.errors import UnsupportedError
from statbarn.evidence import TableEvidence
from statbarn.profile import Profile
from statbarn.result import Assessment
from statbarn.rules import check_table
from statbarn.verdict import CellFlag, CheckResult, Rule, Verdict, worst

PATTERN_STATISTICS = {"count": "count", "size": "count", "sum": "total", "mean": "total"}


@dataclass(frozen=True)
class Alternative:
    """What a safe alternative changes in a table output (``TableOutput.safe_alternative``
    builds the new output from it; this module knows the parts, not the output, so that
    it and ``statbarn.tables`` do not import each other)."""

    table: pd.DataFrame
    assessment: Assessment
    suppressed: np.ndarray
    meta: dict[str, object]


def primary_mask(ev: TableEvidence, flags: Sequence[CellFlag]) -> np.ndarray:
    rows = {_key(label): i for i, label in enumerate(ev.row_labels)}
    cols = {_key(label): j for j, label in enumerate(ev.col_labels)}
    mask = np.zeros(ev.shape, dtype=bool)
    for flag in flags:
        if flag.verdict is Verdict.PASS:
            continue
        if flag.row is None and flag.col is None:
            raise UnsupportedError(f"no safe alternative by suppression: {flag.message}")
        mask[rows[_key(flag.row)], cols[_key(flag.col)]] = True
    return mask


def _key(label: object) -> str:
    return repr(label)


def pattern_values(ev: TableEvidence) -> np.ndarray | None:
    """The additive quantity a suppression pattern must protect, or None."""
    source = PATTERN_STATISTICS.get(ev.statistic)
    if source == "count":
        return ev.count.astype(np.float64)
    if source == "total" and ev.total is not None:
        return ev.total.astype(np.float64)
    return None


def min_width(ev: TableEvidence, profile: Profile) -> float:
    if profile.protection_min_width is not None:
        return profile.protection_min_width
    return float(profile.min_count) if ev.statistic in ("count", "size") else 0.0


def audit_check(ev: TableEvidence, suppressed: np.ndarray, profile: Profile) -> CheckResult:
    """Re-audit a suppression pattern: every suppressed cell must stay protected."""
    from statbarn.suppression import audit_intervals, required_widths

    values = pattern_values(ev)
    if values is None or not suppressed.any():
        return CheckResult(
            Rule.SUPPRESSION_AUDIT.value,
            Verdict.PASS,
            [],
            "No suppressed cell can be recovered from the published cells.",
        )
    nonneg = not (ev.negative is not None and ev.negative.any())
    lower, upper = audit_intervals(
        values, suppressed, row_margin=ev.row_margin, col_margin=ev.col_margin, nonnegative=nonneg
    )
    need = required_widths(
        values, protection_level=profile.protection_level, min_width=min_width(ev, profile)
    )
    width = upper - lower
    flags = [
        CellFlag(
            rule=Rule.SUPPRESSION_AUDIT,
            verdict=Verdict.FAIL,
            row=ev.row_labels[r],
            col=ev.col_labels[c],
            value=float(width[r, c]),
            limit=float(need[r, c]),
            message=f"The suppressed cell ({ev.row_labels[r]}, {ev.col_labels[c]}) can be "
            f"narrowed to [{lower[r, c]:g}, {upper[r, c]:g}] from the published cells; "
            f"it needs an interval at least {need[r, c]:g} wide.",
        )
        for r, c in np.argwhere(suppressed & ((width < need) | (width <= 0)))
    ]
    verdict = worst(f.verdict for f in flags)
    return CheckResult(
        Rule.SUPPRESSION_AUDIT.value,
        verdict,
        flags,
        "Every suppressed cell is protected."
        if not flags
        else f"{len(flags)} suppressed cell(s) can be recovered too precisely.",
    )


def share_check(suppressed: np.ndarray, profile: Profile) -> CheckResult:
    """A safe alternative that hides most of its cells says so, and a person decides."""
    hidden, cells = int(np.count_nonzero(suppressed)), int(suppressed.size)
    share = hidden / cells if cells else 0.0
    limit = profile.max_suppressed_share
    if share <= limit:
        return CheckResult(Rule.SUPPRESSED_SHARE.value, Verdict.PASS, [],
                           f"{hidden} of {cells} cell(s) suppressed ({share:.0%}); the "
                           f"profile allows up to {limit:.0%}.")
    message = (f"The safe alternative suppresses {hidden} of its {cells} cells ({share:.0%}), "
               f"more than the profile's limit of {limit:.0%}: little of the table is left. "
               "A person decides whether it is worth releasing; a table with fewer, larger "
               "categories (coarser bands, fewer variables) keeps more.")
    return CheckResult(Rule.SUPPRESSED_SHARE.value, Verdict.ESCALATE,
                       [CellFlag(Rule.SUPPRESSED_SHARE, Verdict.ESCALATE, None, None,
                                 round(share, 4), limit, message)],
                       f"{share:.0%} of the cells are suppressed (limit {limit:.0%}).")


def published_frame(table: pd.DataFrame, values: np.ndarray, ev: TableEvidence
                    ) -> pd.DataFrame:
    """The published values in the table's shape; suppressed cells are missing (an empty
    cell in the CSV).  Counts stay whole numbers (pandas' nullable Int64: ``25``, never
    ``25.0``)."""
    out = table.astype(np.float64)
    out.iloc[:, :] = values
    shown = values[~np.isnan(values)]
    if ev.statistic in ("count", "size") and np.all(shown == np.round(shown)):
        return out.astype("Int64")
    return out


def safe_alternative(table: pd.DataFrame, ev: TableEvidence, assessment: Assessment,
                     profile: Profile, method: str = "suppress") -> Alternative:
    from statbarn.suppression import protect_table, round_to_base

    if method not in ("suppress", "round"):
        raise UnsupportedError(f"unknown method {method!r}: use 'suppress' or 'round'")
    primary = primary_mask(ev, assessment.flags)
    values = pattern_values(ev)
    if values is not None and primary.any():
        nonneg = not (ev.negative is not None and ev.negative.any())
        result = protect_table(
            values,
            primary,
            row_margin=ev.row_margin,
            col_margin=ev.col_margin,
            protection_level=profile.protection_level,
            min_width=min_width(ev, profile),
            nonnegative=nonneg,
            max_cells=profile.max_suppression_cells,
        )
        suppressed = result.suppressed
    else:
        suppressed = primary
    published = table.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    meta: dict[str, object] = {"method": method}
    if method == "round":
        published = round_to_base(published, profile.rounding_base)
        meta["rounding_base"] = profile.rounding_base
    published[suppressed] = np.nan
    frame = published_frame(table, published, ev)
    checks = [_without(c, ev, suppressed) for c in check_table(ev, profile)]
    checks.append(audit_check(ev, suppressed, profile))
    checks.append(share_check(suppressed, profile))
    checked = Assessment(
        assessment.statbarn,
        checks,
        profile,
        ev.statistic,
        notes=[
            f"safe alternative ({method}): {int(suppressed.sum())} cell(s) "
            f"suppressed, {int(primary.sum())} of them unsafe"
        ],
    )
    return Alternative(table=frame, assessment=checked, suppressed=suppressed, meta=meta)


def _without(check: CheckResult, ev: TableEvidence, suppressed: np.ndarray) -> CheckResult:
    hidden = {(repr(ev.row_labels[r]), repr(ev.col_labels[c])) for r, c in np.argwhere(suppressed)}
    cells = [f for f in check.cells if (repr(f.row), repr(f.col)) not in hidden]
    return CheckResult(
        check.rule,
        worst(f.verdict for f in cells),
        cells,
        check.summary if cells else "Every unsafe cell is suppressed.",
    )
