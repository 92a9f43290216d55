"""Differencing against the disclosure ledger (statbarn.differencing, statbarn.bands).

Every expected number is worked out by hand in the comment next to it.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from statbarn import bands, crosstab, pivot_table
from statbarn.differencing import (
    DifferencingFinding,
    LedgerTable,
    differencing_check,
    find_differencing,
)
from statbarn.errors import EvidenceError
from statbarn.profile import Profile
from statbarn.verdict import Rule, Verdict

pytestmark = pytest.mark.unit

M = 10


def table(
    release_id: str, rows: list[str], cols: list[str], counts: list[list[int]],
    row_var: str = "region", col_var: str = "sex", dataset: str | None = "cohort",
    population: str | None = None, statistic: str = "count", **kw: object,
) -> LedgerTable:
    return LedgerTable(
        release_id, dataset, population, statistic, (row_var,), (col_var,),
        tuple((r,) for r in rows), tuple((c,) for c in cols), np.array(counts), **kw,  # type: ignore[arg-type]
    )


def one_way(release_id: str, rows: list[str], counts: list[int], var: str = "age",
            **kw: object) -> LedgerTable:
    return LedgerTable(release_id, "cohort", None, "count", (var,), (), tuple((r,) for r in rows),
                       ((),), np.array(counts).reshape(-1, 1), **kw)  # type: ignore[arg-type]


REGIONS, SEXES = ["North", "South"], ["F", "M"]
EARLIER = table("req-12/file-3", REGIONS, SEXES, [[50, 60], [70, 80]], population="all")


# ---- nested populations --------------------------------------------------------------
def test_nested_population_with_a_difference_of_3_escalates_and_names_the_release() -> None:
    # North/F: 50 - 47 = 3; every other cell differs by 0; totals differ by 3 (covered by it).
    new = table("req-20/file-1", REGIONS, SEXES, [[47, 60], [70, 80]], population="age>=18")
    [finding] = find_differencing(new, [EARLIER], M)
    assert finding.earlier_release_id == "req-12/file-3"
    assert finding.kind == "nested_population"
    assert finding.derived_cell == "region=North, sex=F"
    assert (finding.derived_value, finding.limit, finding.row, finding.col) == (3, 10, "North", "F")
    assert "req-12/file-3" in finding.message and "'age>=18'" in finding.message
    result = differencing_check(new, [EARLIER], Profile())
    assert result.rule == "differencing" and Rule.DIFFERENCING.value == "differencing"
    assert result.verdict is Verdict.ESCALATE
    [flag] = result.cells
    assert (flag.row, flag.col, flag.value, flag.limit) == ("North", "F", 3, 10)
    assert "req-12/file-3" in flag.message and "req-12/file-3" in result.summary


def test_nested_population_with_differences_of_10_or_more_passes() -> None:
    # Differences 10, 10, 10, 10 (and totals 20, 20, 20, 20, 40): none below 10.
    new = table("req-20/file-1", REGIONS, SEXES, [[40, 50], [60, 70]])
    assert find_differencing(new, [EARLIER], M) == []
    result = differencing_check(new, [EARLIER], Profile())
    assert result.verdict is Verdict.PASS and result.cells == []
    assert "1 comparable" in result.summary


def test_larger_new_table_over_a_smaller_earlier_one_is_also_caught() -> None:
    # New is the whole population, earlier a subgroup: South/M 85 - 80 = 5.
    new = table("req-20/file-1", REGIONS, SEXES, [[60, 70], [80, 85]])
    [finding] = find_differencing(new, [EARLIER], M)
    assert (finding.derived_cell, finding.derived_value) == ("region=South, sex=M", 5)
    assert finding.message.startswith("Subtracting release req-12/file-3")


def test_identical_re_release_passes() -> None:
    new = table("req-20/file-1", REGIONS, SEXES, [[50, 60], [70, 80]])
    assert find_differencing(new, [EARLIER], M) == []


def test_transposed_table_is_compared_by_variable_name() -> None:
    # sex x region instead of region x sex; South/F 70 - 62 = 8.
    new = table("t", SEXES, REGIONS, [[50, 62], [60, 80]], row_var="sex", col_var="region")
    [finding] = find_differencing(new, [EARLIER], M)
    assert (finding.derived_cell, finding.derived_value) == ("region=South, sex=F", 8)
    assert (finding.row, finding.col) == ("F", "South")


def test_one_way_table_against_the_margins_of_a_two_way_one() -> None:
    # Region totals of EARLIER: North 110, South 150; new: 107, 150 -> North differs by 3.
    new = one_way("t", REGIONS, [107, 150], var="region")
    [finding] = find_differencing(new, [EARLIER], M)
    assert finding.kind == "margin_difference"
    assert (finding.derived_cell, finding.derived_value, finding.row, finding.col) == (
        "region=North", 3, "North", None)


def test_mixed_signs_are_not_nested_and_pass() -> None:
    # +3 in one cell, -3 in another: neither population holds the other.
    new = table("t", REGIONS, SEXES, [[47, 63], [70, 80]])
    assert find_differencing(new, [EARLIER], M) == []


def test_absent_category_counts_as_empty() -> None:
    # New lists only North (South dropped as empty): South differences are 70 and 80;
    # North/M 60 - 55 = 5 is caught.
    new = table("t", ["North"], SEXES, [[50, 55]])
    [finding] = find_differencing(new, [EARLIER], M)
    assert (finding.derived_cell, finding.derived_value) == ("region=North, sex=M", 5)


def test_multi_level_index_projected_onto_the_shared_variables() -> None:
    # Earlier (region, sex) x smoker; new region x smoker for a subgroup.  Summing
    # sex out of the earlier one: North/yes 12 + 9 = 21, new 16 -> 5 people.
    earlier = LedgerTable(
        "e", "cohort", None, "count", ("region", "sex"), ("smoker",),
        (("North", "F"), ("North", "M"), ("South", "F"), ("South", "M")), (("yes",), ("no",)),
        np.array([[12, 40], [9, 50], [30, 60], [20, 70]]))
    new = table("t", REGIONS, ["yes", "no"], [[16, 80], [40, 120]], col_var="smoker")
    [finding] = find_differencing(new, [earlier], M)
    assert finding.kind == "margin_difference"
    assert (finding.derived_cell, finding.derived_value) == ("region=North, smoker=yes", 5)


# ---- suppressed cells and published totals --------------------------------------------
def test_a_suppressed_cell_is_not_used_but_a_published_total_is() -> None:
    hidden = np.array([[False, True], [True, True]])
    # North/F hidden in the earlier table: the cell difference of 3 is not derivable ...
    earlier = table("e", REGIONS, SEXES, [[50, 60], [70, 80]], published=hidden)
    new = table("t", REGIONS, SEXES, [[47, 60], [70, 80]])
    assert find_differencing(new, [earlier], M) == []
    # ... but with the row totals shown (110, 150), North's total differs by 110 - 107 = 3.
    earlier = table("e", REGIONS, SEXES, [[50, 60], [70, 80]], published=hidden,
                    row_totals=(True, True))
    [finding] = find_differencing(new, [earlier], M)
    assert (finding.derived_cell, finding.derived_value, finding.col) == ("region=North", 3, "All")


# ---- one category (band) different ------------------------------------------------------
AGES_OLD, AGES_NEW = ["0-17", "18-64", "65+"], ["0-15", "16-64", "65+"]
BANDED = table("req-7/file-1", AGES_OLD, SEXES, [[100, 120], [500, 480], [200, 150]],
               row_var="age")


def test_rebanded_ages_reveal_4_people_aged_16_17() -> None:
    # F: 0-17 100 - 0-15 96 = 4 aged 16-17 (= 16-64 504 - 18-64 500);
    # M: 120 - 80 = 40; both sexes: 44.  Only F/16-17 is below 10.
    new = table("t", AGES_NEW, SEXES, [[96, 80], [504, 520], [200, 150]], row_var="age")
    [finding] = find_differencing(new, [BANDED], M)
    assert finding.kind == "category_difference"
    assert (finding.derived_cell, finding.derived_value) == ("age=16-17, sex=F", 4)
    assert (finding.row, finding.col) == ("16-17", "F")
    assert "req-7/file-1" in finding.message


def test_rebanded_ages_with_40_people_aged_16_17_pass() -> None:
    # F: 100 - 60 = 40; M: 40; both: 80.
    new = table("t", AGES_NEW, SEXES, [[60, 80], [540, 520], [200, 150]], row_var="age")
    assert find_differencing(new, [BANDED], M) == []


def test_band_labels_in_other_notations_line_up() -> None:
    # "[0, 16)", "16 to 64", "65 and over" are 0-15, 16-64, 65+.
    new = table("t", ["[0, 16)", "16 to 64", "65 and over"], SEXES,
                [[96, 80], [504, 520], [200, 150]], row_var="age")
    [finding] = find_differencing(new, [BANDED], M)
    assert (finding.derived_cell, finding.derived_value) == ("age=16-17, sex=F", 4)


def test_nonnegativity_pins_down_an_interval() -> None:
    # Earlier 0-9: 5, 10-19: 3; new 5-14: 8.  8 = (5-9) + (10-14) <= 5 + 3, so
    # 5-9 holds 5 and 10-14 holds 3 (and 0-4, 15-19 nobody): two findings.
    earlier = one_way("e", ["0-9", "10-19"], [5, 3])
    new = one_way("t", ["5-14"], [8])
    got = {(f.derived_cell, f.derived_value) for f in find_differencing(new, [earlier], M)}
    assert got == {("age=5-9", 5), ("age=10-14", 3)}


def test_a_band_left_out_does_not_hide_the_difference() -> None:
    # New lists 0-15 and 65+ only (16-64 left out): 0-17 100 - 0-15 96 = 4 still.
    new = table("t", ["0-15", "65+"], SEXES, [[96, 80], [200, 150]], row_var="age")
    [finding] = find_differencing(new, [BANDED], M)
    assert (finding.derived_cell, finding.derived_value) == ("age=16-17, sex=F", 4)


def test_empty_ledger_entry_is_skipped() -> None:
    empty = LedgerTable("z", "cohort", None, "count", ("region",), ("sex",), (),
                        (("F",), ("M",)), np.zeros((0, 2), dtype=np.int64))
    new = table("t", REGIONS, SEXES, [[47, 60], [70, 80]])
    assert find_differencing(new, [empty], M) == []


def test_rebanding_of_different_populations_is_not_read_as_one() -> None:
    # Totals 820 vs 800: not one population; nothing is derived (the 16-17 arithmetic
    # would need the same people in both).
    new = table("t", AGES_NEW, SEXES, [[96, 80], [484, 520], [200, 150]], row_var="age")
    assert [f for f in find_differencing(new, [BANDED], M) if f.col == "F"] == []


def test_merged_categories_reveal_the_split() -> None:
    # Earlier "A or B" 30, C 50 (F); new A 26, "B or C" 54: B = 30 - 26 = 4 (F);
    # M: B = 40 - 20 = 20; both sexes: 24.
    earlier = table("e", ["A or B", "C"], SEXES, [[30, 40], [50, 60]], row_var="group")
    new = table("t", ["A", "B or C"], SEXES, [[26, 20], [54, 80]], row_var="group")
    [finding] = find_differencing(new, [earlier], M)
    assert finding.kind == "category_merge"
    assert (finding.derived_cell, finding.derived_value) == ("group=B, sex=F", 4)


def test_other_category_split_by_a_published_category_is_not_new() -> None:
    # New "Other" = C + D; D (3) was itself published earlier: nothing new is derived.
    earlier = table("e", ["A", "B", "C", "D"], SEXES, [[26, 20], [30, 20], [12, 30], [3, 40]],
                    row_var="group")
    new = table("t", ["A", "B", "Other"], SEXES, [[26, 20], [30, 20], [15, 70]], row_var="group")
    assert find_differencing(new, [earlier], M) == []


# ---- complements (adding) ---------------------------------------------------------------
def test_complement_of_two_releases_and_the_new_table() -> None:
    # all - age<18 - (age>=18 without X): North/F 100 - 30 - 67 = 3; others 100-30-60=10 etc.
    everyone = table("all", REGIONS, SEXES, [[100, 100], [100, 100]], population="all")
    kids = table("kids", REGIONS, SEXES, [[30, 30], [30, 30]], population="age<18")
    new = table("t", REGIONS, SEXES, [[67, 60], [70, 60]], population="age>=18 excluding X")
    merged = table("merged", ["North or South"], SEXES, [[200, 200]])  # lines up with no one
    findings = find_differencing(new, [everyone, merged, kids], M)
    assert [(f.kind, f.earlier_release_id, f.related_release_ids, f.derived_cell,
             f.derived_value) for f in findings] == [
        ("complement", "all", ("kids",), "region=North, sex=F", 3)]
    assert "kids" in findings[0].message and "all" in findings[0].message


def test_new_table_holding_two_earlier_subgroups() -> None:
    # new - young - middle: South/M 100 - 30 - 66 = 4, 10 or more elsewhere; each
    # pair alone leaves 33 or more.
    young = table("young", REGIONS, SEXES, [[30, 30], [30, 30]], population="age<18")
    middle = table("middle", REGIONS, SEXES, [[60, 60], [60, 66]], population="age 18-64")
    new = table("t", REGIONS, SEXES, [[100, 100], [100, 100]], population="all")
    [finding] = find_differencing(new, [young, middle], M)
    assert (finding.kind, finding.earlier_release_id, finding.related_release_ids) == (
        "complement", "young", ("middle",))
    assert (finding.derived_cell, finding.derived_value) == ("region=South, sex=M", 4)


# ---- what is never compared ---------------------------------------------------------------
@pytest.mark.parametrize("other", [
    table("x", REGIONS, SEXES, [[50, 60], [70, 80]], dataset="other-dataset"),
    table("x", ["a", "b"], ["2020", "2021"], [[50, 60], [70, 80]], "ethnicity", "year"),
    table("x", REGIONS, SEXES, [[50, 60], [70, 80]], statistic="mean"),
    table("x", REGIONS, SEXES, [[50, 60], [70, 80]], statistic="sum"),
    table("t", REGIONS, SEXES, [[50, 60], [70, 80]]),  # the same release id
])
def test_unrelated_tables_are_never_compared(other: LedgerTable) -> None:
    new = table("t", REGIONS, SEXES, [[47, 60], [70, 80]])
    assert find_differencing(new, [other], M) == []
    assert "0 comparable" in differencing_check(new, [other], Profile()).summary


def test_unknown_dataset_is_compared_and_sums_name_contributors() -> None:
    earlier = table("e", REGIONS, SEXES, [[50, 60], [70, 80]], dataset=None, statistic="sum")
    new = table("t", REGIONS, SEXES, [[47, 60], [70, 80]], statistic="sum")
    [finding] = find_differencing(new, [earlier], M)
    assert "3 contributor(s)" in finding.message


# ---- the ledger entry -----------------------------------------------------------------------
def test_from_evidence_drops_margins_and_json_round_trips() -> None:
    df = pd.DataFrame({"region": ["N"] * 30 + ["S"] * 25, "sex": ["F", "M"] * 27 + ["F"]})
    out = crosstab(df.region, df.sex, margins=True)
    assert out.evidence.count.shape == (3, 3)
    suppressed = np.zeros((3, 3), bool)
    suppressed[0, 0] = suppressed[0, 1] = True
    entry = LedgerTable.from_evidence(out.evidence, "r/1", "cohort", "all", suppressed)
    # N: 15 F, 15 M; S: 13 F (27 - 14), 12 M.
    assert entry.counts.tolist() == [[15, 15], [13, 12]]
    assert (entry.row_var, entry.col_var) == (("region",), ("sex",))
    assert entry.row_labels == (("N",), ("S",)) and entry.col_labels == (("F",), ("M",))
    assert entry.published is not None and entry.published.tolist() == [[False, False],
                                                                        [True, True]]
    assert entry.row_totals == (True, True) and entry.col_totals == (True, True)
    assert entry.grand_total
    data = json.loads(json.dumps(entry.to_json()))
    again = LedgerTable.from_json(data)
    assert again.to_json() == entry.to_json()
    assert again.counts.dtype == np.int64 and again.published is not None


def test_from_evidence_of_a_one_way_table_keeps_its_total() -> None:
    df = pd.DataFrame({"region": ["N"] * 30 + ["S"] * 25, "x": range(55)})
    ev = pivot_table(df, values="x", index="region", aggfunc="count", margins=True).evidence
    entry = LedgerTable.from_evidence(ev, "r/2")
    assert (entry.row_var, entry.col_var, entry.col_labels) == (("region",), (), ((),))
    assert entry.counts.tolist() == [[30], [25]] and entry.col_totals == (True,)
    with pytest.raises(EvidenceError):
        LedgerTable.from_evidence(ev, "r/2", suppressed=np.zeros((2, 1), bool))


@pytest.mark.parametrize("bad", [
    {"counts": [[1, 2]]},
    {"counts": [[-1], [2]]},
    {"row_labels": [["a", "b"], ["c"]]},
    {"row_var": "x"},
])
def test_malformed_ledger_entries_are_refused(bad: dict[str, object]) -> None:
    good = one_way("r", ["a", "b"], [1, 2]).to_json()
    with pytest.raises(EvidenceError):
        LedgerTable.from_json({**good, **bad} if "row_var" not in bad else
                              {k: v for k, v in good.items() if k != "row_var"})


# ---- band labels ------------------------------------------------------------------------------
@pytest.mark.parametrize(("label", "name"), [
    ("0-17", "0-17"), ("18-64", "18-64"), ("65+", "65+"), ("<5", "<5"), ("5 to 9", "5-9"),
    ("[0, 18)", "0-17"), ("(0.0, 18.0]", "(0, 18]"), ("under 5 years", "<5"),
    ("65 and over", "65+"), ("<=4", "<=4"), ("16", "16"), (">64", ">64"),
    ("18.5-24.9", "[18.5, 25)"), ("5\u20139", "5-9"), ("(-inf, 18.0]", "<=18"),
    ("North", None), ("A or B", None),
])
def test_band_labels_parse(label: str, name: str | None) -> None:
    iv = bands.parse_interval(label)
    assert (iv and bands.describe(iv)) == name


def test_category_unions_and_other() -> None:
    sets = bands.category_sets([["A", "B", "C", "D"], ["A or B", "C", "Other"]])
    assert sets is not None
    assert sets[1] == {"A or B": {"A", "B"}, "C": {"C"}, "Other": {"D", bands.REST}}
    assert bands.category_sets([["N/A", "x"], ["y"]]) is None  # parts that are no labels
    assert bands.category_sets([["Asian/Asian British", "White"], ["Asian", "White"]]) is None
    assert bands.category_sets([["A", "B OR C"], ["A or B", "C"]]) == [
        {"A": frozenset("A"), "B OR C": frozenset("BC")},
        {"A or B": frozenset("AB"), "C": frozenset("C")}]


# ---- properties ---------------------------------------------------------------------------------
@settings(max_examples=80, deadline=None)
@given(data=st.data(), rows=st.integers(1, 4), cols=st.integers(1, 4), m=st.integers(2, 12),
       swap=st.booleans(), drop_empty=st.booleans())
def test_removing_records_is_found_iff_a_difference_is_small(
    data: st.DataObject, rows: int, cols: int, m: int, swap: bool, drop_empty: bool
) -> None:
    full = np.array(data.draw(st.lists(st.integers(0, 40), min_size=rows * cols,
                                       max_size=rows * cols))).reshape(rows, cols)
    removed = np.array([data.draw(st.integers(0, int(x))) for x in full.ravel()]).reshape(
        rows, cols)
    rest = full - removed
    row_names, col_names = [f"r{i}" for i in range(rows)], [f"c{j}" for j in range(cols)]
    kept = [i for i in range(rows) if not (drop_empty and rest[i].sum() == 0)] or [0]
    big = table("T", row_names, col_names, full.tolist())
    small = table("T'", [row_names[i] for i in kept], col_names, rest[kept].tolist())
    new, old = (big, small) if swap else (small, big)
    findings = find_differencing(new, [old], m)
    expected = bool(((removed >= 1) & (removed <= m - 1)).any())
    assert bool(findings) == expected
    assert all(1 <= f.derived_value < m and f.earlier_release_id == old.release_id
               for f in findings)


def _lp_interval(bounds_eq: list[tuple[int, int, int]], n: int, i: int, j: int,
                 sense: float) -> float:
    c = np.zeros(n)
    c[i:j] = sense
    a = np.zeros((len(bounds_eq), n))
    for r, (lo, hi, _) in enumerate(bounds_eq):
        a[r, lo:hi] = 1
    res = linprog(c, A_eq=a if len(bounds_eq) else None,
                  b_eq=[v for *_, v in bounds_eq] if bounds_eq else None,
                  bounds=(0, None), method="highs")
    return float(sense * res.fun) if res.status == 0 else float("inf")


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(2, 6), m=st.integers(2, 12))
def test_interval_derivation_agrees_with_linear_programming(
    data: st.DataObject, n: int, m: int
) -> None:
    atoms = data.draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    spans: list[tuple[int, int]] = []
    for _ in range(2):  # two bandings of [0, n), some bands hidden
        inner = sorted(data.draw(st.sets(st.integers(1, n - 1))))
        edges = [0, *inner, n]
        spans += list(itertools.pairwise(edges))
    shown = data.draw(st.lists(st.booleans(), min_size=len(spans), max_size=len(spans)))
    values = np.array([[sum(atoms[i:j]) if s else np.nan for (i, j), s in
                        zip(spans, shown, strict=True)]])
    found, consistent = bands.derive_intervals(n + 1, spans, values, m)
    assert consistent.tolist() == [True]
    eq = [(i, j, sum(atoms[i:j])) for (i, j), s in zip(spans, shown, strict=True) if s]
    reach = {(i, j) for i, j, _ in eq}
    for _ in range(n):
        reach |= {(a, d) for a, b in reach for c, d in reach if b == c}
    small = set()
    for i, j in itertools.combinations(range(n + 1), 2):
        lo, hi = _lp_interval(eq, n, i, j, 1.0), _lp_interval(eq, n, i, j, -1.0)
        if abs(hi - lo) < 1e-7 and 1 <= round(hi) < m and (i, j) not in reach:
            small.add((i, j, round(hi)))
    minimal = {(i, j, v) for i, j, v in small
               if not any((a, b) != (i, j) and i <= a and b <= j for a, b, _ in small)}
    assert {(i, j, v) for _, i, j, v in found} == minimal


def test_findings_are_frozen_records() -> None:
    f = DifferencingFinding("e", "nested_population", "all records", 3, 10, "msg")
    with pytest.raises(AttributeError):
        f.derived_value = 4  # type: ignore[misc]


@settings(max_examples=80, deadline=None)
@given(data=st.data(), years=st.integers(2, 10), m=st.integers(2, 12))
def test_every_derived_band_count_is_the_true_count(
    data: st.DataObject, years: int, m: int
) -> None:
    per_year = np.array(data.draw(st.lists(st.integers(0, 15), min_size=2 * years,
                                           max_size=2 * years))).reshape(years, 2)

    def banded(rid: str) -> LedgerTable:
        inner = sorted(data.draw(st.sets(st.integers(1, years - 1))))
        edges = [0, *inner, years]
        labels = [f"{a}-{b - 1}" for a, b in itertools.pairwise(edges)]
        counts = [per_year[a:b].sum(axis=0).tolist() for a, b in itertools.pairwise(edges)]
        return table(rid, labels, SEXES, counts, row_var="age")

    earlier, new = banded("e"), banded("t")
    for f in find_differencing(new, [earlier], m):
        parts = dict(p.split("=") for p in f.derived_cell.split(", "))
        iv = bands.parse_interval(parts["age"])
        assert iv is not None
        lo, hi = int(iv[0][0]), int(iv[1][0])
        cols = [SEXES.index(parts["sex"])] if "sex" in parts else [0, 1]
        assert f.derived_value == per_year[lo:hi, cols].sum()
        assert 1 <= f.derived_value < m and f.kind == "category_difference"
