"""Hand-computed cases at every rule boundary (default profile: ACRO's defaults)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import statbarn as sb
from statbarn import Profile
from statbarn.verdict import Verdict

pytestmark = pytest.mark.unit


def cell_table(contributions: list[float], aggfunc: str = "sum", **kw: object) -> sb.TableOutput:
    """A one-cell magnitude table made of exactly these contributions."""
    df = pd.DataFrame(
        {"g": ["a"] * len(contributions), "h": ["x"] * len(contributions), "v": contributions}
    )
    return sb.crosstab(df.g, df.h, values=df.v, aggfunc=aggfunc, **kw)  # type: ignore[arg-type]


def rules_failing(out: sb.TableOutput) -> set[str]:
    return {c.rule for c in out.checks if c.verdict != Verdict.PASS}


def big_spread(n: int) -> list[float]:
    return [10.0] * n  # n equal contributions: never dominated


@pytest.mark.parametrize(("n", "fails"), [(9, True), (10, False), (11, False)])
def test_threshold_9_10_11_count(n: int, fails: bool) -> None:
    df = pd.DataFrame({"g": ["a"] * n + ["b"] * 50, "h": ["x"] * (n + 50)})
    out = sb.crosstab(df.g, df.h)
    assert ("threshold" in rules_failing(out)) is fails
    flags = [f for f in out.flags if f.rule == "threshold"]
    if fails:
        assert [(f.row, f.col, f.value, f.limit) for f in flags] == [("a", "x", 9, 10)]
        assert out.verdict == "fail"
    else:
        assert flags == []
        assert out.verdict == "pass"


@pytest.mark.parametrize(("n", "fails"), [(9, True), (10, False), (11, False)])
def test_threshold_counts_non_missing_values_for_magnitudes(n: int, fails: bool) -> None:
    # 12 records, but only n carry a value: the published mean is made of n.
    vals = big_spread(n) + [np.nan] * (12 - n)
    out = cell_table(vals, "mean")
    assert ("threshold" in rules_failing(out)) is fails
    assert out.evidence.count[0, 0] == n


@pytest.mark.parametrize(
    ("contributions", "dominated"),
    [
        ([45.0, 44.0] + [1.0] * 11, False),  # 89/100 = 89%: passes
        ([45.0, 45.0] + [1.0] * 10, True),  # 90/100 = 90% exactly: fails
        ([80.0, 11.0] + [1.0] * 9, True),  # 91%
        ([50.0] + [0.0] * 11, True),  # one non-zero contributor: share 1
    ],
)
def test_nk_boundary(contributions: list[float], dominated: bool) -> None:
    out = cell_table(contributions)
    nk = out.assessment.check("nk_dominance")
    assert nk is not None
    assert (nk.verdict == Verdict.FAIL) is dominated


def test_nk_exact_decimal_boundary() -> None:
    # 0.7 + 0.2 = 0.8999999999999999 in floats; given as decimals it is 90%: fails.
    contributions = [0.7, 0.2] + [0.01] * 10
    assert 0.9 * sum(contributions) > 0.7 + 0.2  # floats alone would pass it
    out = cell_table(contributions)
    nk = out.assessment.check("nk_dominance")
    assert nk is not None and nk.verdict == Verdict.FAIL
    assert nk.cells[0].limit == 0.9


def test_nk_exact_decimal_boundary_when_shares_are_just_below() -> None:
    contributions = [0.7, 0.19] + [0.011] * 10  # 0.89 / 1.0: 89%
    out = cell_table(contributions)
    assert out.assessment.check("nk_dominance").verdict == Verdict.PASS  # type: ignore[union-attr]


def test_fewer_than_n_contributors_share_is_one() -> None:
    out = cell_table([5.0])
    nk = out.assessment.check("nk_dominance")
    assert nk is not None and nk.verdict == Verdict.FAIL
    assert nk.cells[0].value == 1.0


def test_all_zero_cell_is_not_dominated() -> None:
    out = cell_table([0.0] * 12)
    assert out.assessment.check("nk_dominance").verdict == Verdict.PASS  # type: ignore[union-attr]
    assert out.assessment.check("p_percent").verdict == Verdict.PASS  # type: ignore[union-attr]


def test_ties_at_the_top() -> None:
    # Two tied largest values: second largest equals the largest.
    out = cell_table([30.0, 30.0] + [4.0] * 10)  # top2 = 60 of 100: not dominated
    ev = out.evidence
    assert ev.top is not None
    assert list(ev.top[0, 0, :2]) == [30.0, 30.0]
    assert out.verdict == "pass"
    # p%: rest = 40 >= 0.1 * 30 -> safe
    out = cell_table([50.0, 50.0] + [0.4] * 10)  # top2 = 100/104 = 96%: dominated
    assert out.assessment.check("nk_dominance").verdict == Verdict.FAIL  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("contributions", "unsafe"),
    [
        # total - largest - second vs 0.1 x largest
        ([100.0, 50.0] + [1.0] * 10, False),  # rest 10 == 0.1 x 100: not below, safe
        ([100.0, 50.0] + [0.99] * 10, True),  # rest 9.9 < 10
        ([100.0, 50.0] + [1.01] * 10, False),
    ],
)
def test_p_percent_edge(contributions: list[float], unsafe: bool) -> None:
    # NK off (K=1 only fails at 100%) to isolate p%.
    out = cell_table(contributions, profile=Profile(nk_k=1.0))
    p = out.assessment.check("p_percent")
    assert p is not None
    assert (p.verdict == Verdict.FAIL) is unsafe


def test_p_percent_exact_decimal_edge() -> None:
    # rest = 0.1 + 0.2 = 0.30000000000000004 in floats; exactly 0.3 == 0.1 x 3: safe.
    contributions = [3.0, 2.0, 0.1, 0.2]
    out = cell_table(contributions, profile=Profile(nk_k=1.0, min_count=1))
    assert out.assessment.check("p_percent").verdict == Verdict.PASS  # type: ignore[union-attr]


def test_negative_next_to_dominated_cell() -> None:
    df = pd.DataFrame(
        {
            "g": ["neg"] * 12 + ["dom"] * 12 + ["ok"] * 12,
            "h": ["x"] * 36,
            "v": [-5.0] + [10.0] * 11 + [1000.0] + [1.0] * 11 + [10.0] * 12,
        }
    )
    out = sb.crosstab(df.g, df.h, values=df.v, aggfunc="sum")
    nk = out.assessment.check("nk_dominance")
    assert nk is not None
    by_row = {f.row: f.verdict for f in nk.cells}
    assert by_row == {"dom": Verdict.FAIL, "neg": Verdict.ESCALATE}
    assert "negative" in next(f.message for f in nk.cells if f.row == "neg")
    assert out.verdict == "fail"  # fail beats escalate


def test_negative_alone_escalates() -> None:
    out = cell_table([-5.0] + [10.0] * 11)
    assert out.verdict == "escalate"


def test_zero_cell_and_class_disclosure() -> None:
    # Everyone in region 'b' is 'x': the (b, y) cell is zero and row b reveals 'x'.
    df = pd.DataFrame({"r": ["a"] * 30 + ["b"] * 20, "c": ["x"] * 15 + ["y"] * 15 + ["x"] * 20})
    out = sb.crosstab(df.r, df.c)
    zeros = out.assessment.check("zeros")
    assert zeros is not None and [(f.row, f.col) for f in zeros.cells] == [("b", "y")]
    cls = out.assessment.check("class_disclosure")
    # Row b is all 'x'; and column y is all 'a' (anyone in y is known to be in a).
    assert cls is not None
    assert [(f.row, f.col, f.value) for f in cls.cells] == [("b", "x", 20), ("a", "y", 15)]
    # zeros not disclosive: the zero passes, class disclosure still goes to a person
    out = sb.crosstab(df.r, df.c, profile=Profile(zeros_are_disclosive=False))
    assert out.assessment.check("zeros").verdict == Verdict.PASS  # type: ignore[union-attr]
    assert out.verdict == "escalate"


def test_std_table_uses_dof() -> None:
    df = pd.DataFrame({"g": ["a"] * 10 + ["b"] * 11, "h": ["x"] * 21, "v": np.arange(21.0)})
    out = sb.crosstab(df.g, df.h, values=df.v, aggfunc="std")
    dof = out.assessment.check("dof")
    assert dof is not None
    assert [(f.row, f.value) for f in dof.cells] == [("a", 9)]  # 10 - 1 = 9 < 10; b has 10
    assert {c.rule for c in out.checks} == {"dof"}


@pytest.mark.parametrize(
    ("aggfunc", "rules"),
    [
        ("count", {"threshold", "zeros", "class_disclosure"}),
        ("sum", {"threshold", "nk_dominance", "p_percent"}),
        ("mean", {"threshold", "nk_dominance", "p_percent"}),
        ("median", {"threshold", "zeros"}),
        ("min", {"threshold", "zeros"}),
        ("max", {"threshold", "zeros"}),
        ("std", {"dof"}),
    ],
)
def test_rules_follow_statistic(aggfunc: str, rules: set[str]) -> None:
    df = pd.DataFrame({"g": ["a"] * 20, "h": ["x"] * 20, "v": np.arange(20.0)})
    out = sb.crosstab(df.g, df.h, values=df.v, aggfunc=aggfunc)
    assert {c.rule for c in out.checks} == rules


def test_dropna_false_makes_missing_a_cell() -> None:
    df = pd.DataFrame({"g": ["a"] * 20 + [None] * 3, "h": ["x"] * 23})
    out = sb.crosstab(df.g, df.h)
    assert out.table.shape == (1, 1) and out.verdict == "pass"
    out = sb.crosstab(df.g, df.h, dropna=False)
    assert out.table.shape == (2, 1)
    assert [f.value for f in out.flags if f.rule == "threshold"] == [3]


def test_margins_are_checked() -> None:
    df = pd.DataFrame(
        {"r": ["a"] * 12 + ["b"] * 12, "c": ["x"] * 6 + ["y"] * 6 + ["x"] * 6 + ["y"] * 6}
    )
    out = sb.crosstab(df.r, df.c, margins=True)
    cells = {(f.row, f.col) for f in out.flags if f.rule == "threshold"}
    assert cells == {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")}  # margins (12, 24) pass
    assert int(out.table.loc["All", "All"]) == 24
