"""statbarn against ACRO 1.0.2, cell by cell, and ACRO's ``results.json`` both ways.

On generated microdata (two string keys with a few levels, some rare, a
positive gamma or lognormal value, cells with one dominant contributor and
cells with two) ``acro.crosstab`` (ACRO's defaults, ``suppress=False``) and
``sb.crosstab`` (statbarn's default profile, whose parameters equal ACRO's)
must flag exactly the same cells for the threshold, NK-dominance and p% rules,
margins included (ACRO checks margin cells too: its interim count, sum, max
and top-N tables are crosstabs with the same ``margins``); on count tables the
same cells for threshold and zeros.  ACRO's per-cell answers are read from the
outcome table of its record (``acro.results``), which is what it writes to
``results.json``.

Deliberate differences, each shown by a test below (see also
``docs/statbarn-vs-acro.md``):

1. **Negative values.**  ACRO marks NK and p% as "review" for the whole table
   as soon as any cell has a negative contribution and then checks dominance
   nowhere (the flagged cells are only the negative ones).  statbarn escalates
   the cells with a negative contribution and still checks every other cell,
   so a dominated cell next to a negative one still fails.
2. **Exact boundaries.**  statbarn decides cells at a rule's boundary as exact
   decimal arithmetic would; ACRO compares floats.  Contributions
   ``[0.7, 0.2, 0.1]`` are exactly 90% in the top two: statbarn fails NK,
   ACRO passes it.  ``[0.05, 0.01, 0.005]`` leave exactly 10% of the largest:
   statbarn passes p%, ACRO fails it.  Float noise cuts both ways in ACRO.
3. **All-zero cells.**  A cell whose contributions are all 0 has nothing to
   dominate.  Both pass it for NK; ACRO fails it for p% (its code sets the
   ratio to the remainder, 0, when the largest value is 0, contrary to its own
   comment "treat as non-disclosive"); statbarn passes it.
4. **Missing values.**  statbarn counts as contributors of a magnitude cell the
   records with a value; ACRO's threshold counts records, even those whose
   value is missing, so a cell of 12 records with 3 missing values passes in
   ACRO and fails in statbarn (9 < 10).
5. **Class disclosure.**  statbarn also fails a count cell holding every record
   of its row or column (anyone known to be in that row is revealed); ACRO
   only flags the zeros around it (``PresenceOfZeroCheck``).
6. **Margins** are not a difference: both check margin cells with every rule
   (asserted by the generated comparison with ``margins=True``).
7. **Safe alternatives.**  ACRO sets every suppressed or rounded output to
   "review"; statbarn re-checks the alternative (with an interval audit) and
   reports its own verdict, written as that status in ``results.json``.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

acro_module = pytest.importorskip("acro")

import statbarn as sb  # noqa: E402
from statbarn.acro_compat import (  # noqa: E402
    ACRO_FORMAT_VERSION,
    AcroOutput,
    acro_to_statbarn_rule,
    acro_to_statbarn_rules,
    parse_outcome_cell,
    read_acro_results,
    statbarn_to_acro_rule,
    write_acro_results,
)
from statbarn.errors import AcroFormatError, EvidenceError, UsageError  # noqa: E402
from statbarn.kinds import Statbarn  # noqa: E402
from statbarn.verdict import Rule, Verdict  # noqa: E402

pytestmark = [
    pytest.mark.unit,
    pytest.mark.acro,
    # ACRO 1.0.2 passes np.sum / np.max to pandas, which warns about it.
    pytest.mark.filterwarnings("ignore:The provided callable:FutureWarning"),
]

ACRO = acro_module.ACRO
for _name in ("acro", "acro:records", "acro:summary"):
    logging.getLogger(_name).setLevel(logging.WARNING)

ROWS = np.array([f"r{i}" for i in range(6)], dtype=object)
COLS = np.array([f"c{i}" for i in range(5)], dtype=object)

# ACRO 1.0 check name <-> statbarn rule, for the rules compared cell by cell.
MAGNITUDE_RULES = {
    "MinimumThresholdCheck": Rule.THRESHOLD,
    "NKCheck": Rule.NK_DOMINANCE,
    "PPercentCheck": Rule.P_PERCENT,
}
COUNT_RULES = {"MinimumThresholdCheck": Rule.THRESHOLD, "PresenceOfZeroCheck": Rule.ZEROS}

Cell = tuple[str, str]


# ---------------------------------------------------------------------------- helpers


def new_acro() -> Any:
    session = ACRO(suppress=False)
    for name in ("acro", "acro:records", "acro:summary"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return session


def make_microdata(seed: int, n: int = 200, n_rows: int = 4, n_cols: int = 3,
                   dist: str = "gamma", rare: bool = True, n_dominant: int = 2,
                   n_pairs: int = 1) -> pd.DataFrame:
    """Two string keys, a positive value; rare levels, dominated cells, two-giant cells."""
    rng = np.random.default_rng(seed)
    alpha = 0.7 if rare else 6.0
    a = ROWS[:n_rows][rng.choice(n_rows, n, p=rng.dirichlet(np.full(n_rows, alpha)))]
    b = COLS[:n_cols][rng.choice(n_cols, n, p=rng.dirichlet(np.full(n_cols, alpha)))]
    if dist == "gamma":
        v = rng.gamma(rng.uniform(0.5, 3.0), 100.0, n)
    else:
        v = rng.lognormal(3.0, rng.uniform(0.3, 1.5), n)
    v = v + 0.01  # strictly positive: all-zero cells are a separate, documented case
    for _ in range(n_dominant):
        i = int(rng.integers(n))
        cell = (a == a[i]) & (b == b[i])
        v[i] = v[cell].sum() * rng.uniform(10.0, 100.0)
    for _ in range(n_pairs):
        i = int(rng.integers(n))
        others = np.flatnonzero((a == a[i]) & (b == b[i]) & (np.arange(n) != i))
        if len(others):
            j = int(rng.choice(others))
            big = v[(a == a[i]) & (b == b[i])].sum() * rng.uniform(10.0, 50.0)
            v[i], v[j] = big, big * rng.uniform(0.8, 1.0)
    return pd.DataFrame({"a": a, "b": b, "v": v})


def acro_cells(record: Any) -> tuple[dict[str, set[Cell]], set[Cell]]:
    """Per check name, the cells ACRO's record flags; and every cell of its table."""
    return outcome_cells(record.outcome)


def outcome_cells(outcome: pd.DataFrame) -> tuple[dict[str, set[Cell]], set[Cell]]:
    masks: dict[str, set[Cell]] = defaultdict(set)
    grid: set[Cell] = set()
    for i, row in enumerate(outcome.index):
        for j, col in enumerate(outcome.columns):
            grid.add((str(row), str(col)))
            for name in parse_outcome_cell(outcome.iat[i, j]):
                masks[name].add((str(row), str(col)))
    return masks, grid


def statbarn_cells(out: sb.TableOutput) -> tuple[dict[str, set[Cell]], set[Cell]]:
    masks: dict[str, set[Cell]] = defaultdict(set)
    for flag in out.flags:
        if flag.verdict is not Verdict.PASS:
            masks[str(flag.rule)].add((str(flag.row), str(flag.col)))
    ev = out.evidence
    grid = {(str(r), str(c)) for r in ev.row_labels for c in ev.col_labels}
    return masks, grid


def run_acro(session: Any, *args: Any, **kwargs: Any) -> Any:
    session.crosstab(*args, **kwargs)
    return session.results.get_index(-1)


def assert_same_cells(record: Any, out: sb.TableOutput, rules: dict[str, Rule]) -> None:
    acro_masks, acro_grid = acro_cells(record)
    sb_masks, sb_grid = statbarn_cells(out)
    assert acro_grid == sb_grid
    for acro_name, rule in rules.items():
        mine = sb_masks.get(rule.value, set())
        if rule is Rule.THRESHOLD:  # statbarn flags an empty cell once, under zeros
            mine = mine | sb_masks.get(Rule.ZEROS.value, set())
        assert acro_masks.get(acro_name, set()) == mine, f"{acro_name} vs {rule.value}"


def one_cell(values: list[float]) -> tuple[pd.Series, pd.Series, pd.Series]:
    n = len(values)
    return (pd.Series(["r"] * n, name="a"), pd.Series(["c"] * n, name="b"),
            pd.Series(values, name="v", dtype=float))


# ------------------------------------------------------------------ cell-by-cell agreement


@st.composite
def microdata(draw: st.DrawFn) -> tuple[pd.DataFrame, bool]:
    frame = make_microdata(
        seed=draw(st.integers(0, 2**32 - 1)),
        n=draw(st.integers(20, 300)),
        n_rows=draw(st.integers(2, 6)),
        n_cols=draw(st.integers(2, 5)),
        dist=draw(st.sampled_from(["gamma", "lognormal"])),
        rare=draw(st.booleans()),
        n_dominant=draw(st.integers(0, 3)),
        n_pairs=draw(st.integers(0, 2)),
    )
    return frame, draw(st.booleans())


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(microdata())
def test_generated_tables_agree_cell_by_cell(case: tuple[pd.DataFrame, bool]) -> None:
    df, margins = case
    session = new_acro()
    record = run_acro(session, df.a, df.b, values=df.v, aggfunc="mean", margins=margins)
    out = sb.crosstab(df.a, df.b, values=df.v, aggfunc="mean", margins=margins)
    assert_same_cells(record, out, MAGNITUDE_RULES)
    assert sb.Verdict(out.verdict) is {"pass": Verdict.PASS, "fail": Verdict.FAIL}[record.status]

    record = run_acro(session, df.a, df.b, margins=margins)
    out = sb.crosstab(df.a, df.b, margins=margins)
    assert_same_cells(record, out, COUNT_RULES)


@pytest.mark.parametrize("seed", [0, 7, 2024, 31337, 999_983])
@pytest.mark.parametrize("margins", [False, True])
def test_fixed_seeds_agree_and_trigger_every_rule(seed: int, margins: bool) -> None:
    df = make_microdata(seed, n=400, n_rows=5, n_cols=4, n_dominant=3, n_pairs=2)
    session = new_acro()
    record = run_acro(session, df.a, df.b, values=df.v, aggfunc="mean", margins=margins)
    out = sb.crosstab(df.a, df.b, values=df.v, aggfunc="mean", margins=margins)
    assert_same_cells(record, out, MAGNITUDE_RULES)
    masks, _ = acro_cells(record)
    assert masks["NKCheck"], "the data should dominate some cell"
    assert masks["PPercentCheck"], "the data should fail p% somewhere"
    record = run_acro(session, df.a, df.b, margins=margins)
    out = sb.crosstab(df.a, df.b, margins=margins)
    assert_same_cells(record, out, COUNT_RULES)


def test_margins_are_checked_by_both() -> None:
    # r1 has 12 records in total but only 4 + 8 per cell: the body fails the
    # threshold while the r1 margin passes; c9 holds a giant that dominates its
    # column margin and the grand total too.
    a = ["r0"] * 30 + ["r1"] * 12
    b = ["c0"] * 15 + ["c9"] * 15 + ["c0"] * 4 + ["c9"] * 8
    v = [10.0 + i % 5 for i in range(42)]
    v[20] = 1e6
    df = pd.DataFrame({"a": a, "b": b, "v": v})
    record = run_acro(new_acro(), df.a, df.b, values=df.v, aggfunc="mean", margins=True)
    out = sb.crosstab(df.a, df.b, values=df.v, aggfunc="mean", margins=True)
    assert_same_cells(record, out, MAGNITUDE_RULES)
    masks, _ = statbarn_cells(out)
    assert ("All", "c9") in masks["nk_dominance"] and ("All", "All") in masks["nk_dominance"]
    assert ("r1", "All") not in masks["threshold"]
    assert {("r1", "c0"), ("r1", "c9")} <= masks["threshold"]


# ------------------------------------------------------------------ deliberate differences


def test_difference_negative_values_per_cell_not_whole_table() -> None:
    rng = np.random.default_rng(5)
    a = np.repeat(["r0", "r0", "r1", "r1"], 20)
    b = np.tile(np.repeat(["c0", "c1"], 20), 2)
    v = rng.uniform(10, 20, 80)
    v[3] = -5.0  # (r0, c0) has a negative contribution
    v[25] = 1e6  # (r0, c1) is dominated
    df = pd.DataFrame({"a": a, "b": b, "v": v})
    record = run_acro(new_acro(), df.a, df.b, values=df.v, aggfunc="mean")
    out = sb.crosstab(df.a, df.b, values=df.v, aggfunc="mean")

    acro_masks, _ = acro_cells(record)
    # ACRO: dominance "review" for the whole table, only the negative cell named,
    # the dominated cell not checked at all.
    assert record.status == "review"
    assert record.fair["check_status"]["NKCheck"] == "review"
    assert acro_masks["NKCheck"] == {("r0", "c0")}
    assert ("r0", "c1") not in acro_masks["NKCheck"]
    # statbarn: the negative cell escalates, the dominated cell still fails.
    nk = out.assessment.check("nk_dominance")
    pp = out.assessment.check("p_percent")
    assert nk is not None and pp is not None
    by_cell = {(f.row, f.col): f.verdict for f in nk.cells}
    assert by_cell == {("r0", "c0"): Verdict.ESCALATE, ("r0", "c1"): Verdict.FAIL}
    assert {(f.row, f.col): f.verdict for f in pp.cells} == by_cell
    assert out.verdict == "fail"


def test_difference_exact_nk_boundary_fails_in_statbarn_passes_in_acro() -> None:
    a, b, v = one_cell([0.7, 0.2, 0.1])
    assert (0.7 + 0.2) / (0.7 + 0.2 + 0.1) < 1.0  # floats: the share is not exactly 0.9
    record = run_acro(new_acro(), a, b, values=v, aggfunc="mean")
    out = sb.crosstab(a, b, values=v, aggfunc="mean")
    acro_masks, _ = acro_cells(record)
    assert ("r", "c") not in acro_masks.get("NKCheck", set())
    nk = out.assessment.check("nk_dominance")
    assert nk is not None and [(f.row, f.col, f.verdict) for f in nk.cells] == [
        ("r", "c", Verdict.FAIL)]
    assert nk.cells[0].value == pytest.approx(0.9)


def test_difference_exact_p_percent_boundary_passes_in_statbarn_fails_in_acro() -> None:
    # remainder 0.005 is exactly 10% of the largest, 0.05: not "less than p".
    a, b, v = one_cell([0.05, 0.01, 0.005])
    record = run_acro(new_acro(), a, b, values=v, aggfunc="mean")
    out = sb.crosstab(a, b, values=v, aggfunc="mean")
    acro_masks, _ = acro_cells(record)
    assert ("r", "c") in acro_masks["PPercentCheck"]
    pp = out.assessment.check("p_percent")
    assert pp is not None and pp.verdict is Verdict.PASS


def test_difference_all_zero_cell_p_percent() -> None:
    a, b, v = one_cell([0.0] * 12)
    record = run_acro(new_acro(), a, b, values=v, aggfunc="mean")
    out = sb.crosstab(a, b, values=v, aggfunc="mean")
    acro_masks, _ = acro_cells(record)
    assert acro_masks["PPercentCheck"] == {("r", "c")}
    assert "NKCheck" not in acro_masks  # both agree: no dominance in an all-zero cell
    assert record.status == "fail"
    assert out.verdict == "pass" and out.flags == []


def test_difference_missing_values_do_not_count_as_contributors() -> None:
    a, b, v = one_cell([5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0] + [np.nan] * 3)
    record = run_acro(new_acro(), a, b, values=v, aggfunc="mean")
    out = sb.crosstab(a, b, values=v, aggfunc="mean")
    assert record.status == "pass"  # ACRO counts 12 records
    th = out.assessment.check("threshold")
    assert th is not None and [(f.row, f.col, f.value) for f in th.cells] == [("r", "c", 9)]


def test_difference_class_disclosure_only_in_statbarn() -> None:
    # every record of row r1 is in c0 and every record of column c1 in r0;
    # each populated cell has >= 10 records.
    df = pd.DataFrame({"a": ["r0"] * 20 + ["r1"] * 15,
                       "b": ["c0"] * 10 + ["c1"] * 10 + ["c0"] * 15})
    record = run_acro(new_acro(), df.a, df.b)
    out = sb.crosstab(df.a, df.b)
    acro_masks, _ = acro_cells(record)
    sb_masks, _ = statbarn_cells(out)
    assert acro_masks["PresenceOfZeroCheck"] == sb_masks["zeros"] == {("r1", "c1")}
    assert sb_masks["class_disclosure"] == {("r1", "c0"), ("r0", "c1")}
    assert all(cell not in cells for cells in acro_masks.values()
               for cell in [("r1", "c0"), ("r0", "c1")])
    assert record.status == "fail" and out.verdict == "fail"


# ---------------------------------------------------------------- results.json both ways


@pytest.fixture(scope="module")
def acro_session_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A real ACRO session finalised to JSON: fail, pass, review and custom outputs."""
    work = tmp_path_factory.mktemp("acro-session")
    old = os.getcwd()
    os.chdir(work)  # ACRO writes scratch files in the working directory
    try:
        session = new_acro()
        df = make_microdata(11, n=300)
        session.crosstab(df.a, df.b)  # fails: rare levels
        session.crosstab(df.a, df.b, values=df.v, aggfunc="mean", margins=True)
        rng = np.random.default_rng(3)
        big = pd.DataFrame({"a": np.repeat(["x", "y"], 100), "b": np.tile(["p", "q"], 100),
                            "v": rng.uniform(10, 20, 200)})
        session.pivot_table(big, index="a", columns="b", values="v", aggfunc="sum")  # passes
        neg = big.copy()
        neg.loc[0, "v"] = -1.0
        session.crosstab(neg.a, neg.b, values=neg.v, aggfunc="mean")  # review
        note = work / "notes.txt"
        note.write_text("a custom output\n")
        session.custom_output(str(note), "free text")
        session.add_comments("output_0", "rare categories")
        session.add_exception("output_1", "the giant is a company, consented")
        statuses = {uid: rec.status for uid, rec in session.results.results.items()}
        session.finalise(str(work / "out"), "json")
    finally:
        os.chdir(old)
    return work / "out", statuses


def test_read_real_acro_results_gives_acro_statuses(
        acro_session_dir: tuple[Path, dict[str, str]]) -> None:
    folder, statuses = acro_session_dir
    outputs = read_acro_results(folder / "results.json")
    by_uid = {o.uid: o for o in outputs}
    for uid, status in statuses.items():
        assert by_uid[uid].status == status
    assert [statuses[u] for u in ("output_0", "output_1", "output_2", "output_3")] == [
        "fail", "fail", "pass", "review"]
    verdicts = {"pass": Verdict.PASS, "fail": Verdict.FAIL, "review": Verdict.ESCALATE}
    for out in outputs:  # including ACRO's own session-summary outputs
        assert out.assessment().verdict is verdicts[out.status]
        assert out.files and all(f.parent == folder for f in out.files)
        assert out.risk_appetite is not None and out.risk_appetite["safe_threshold"] == 10
    counts = by_uid["output_0"]
    assert counts.statbarn is Statbarn.FREQUENCY and counts.statistic == "count"
    assert counts.files[0].is_file() and counts.comments == ["rare categories"]
    assert counts.outcome is not None
    mean = by_uid["output_1"]
    assert mean.statistic == "mean" and mean.exception.startswith("the giant")
    assert mean.properties == {"method": "crosstab", "mitigation": "none"}
    # flags are ACRO's outcome cells, rule by rule, with no observed value
    a = mean.assessment()
    assert mean.outcome is not None
    masks, _ = outcome_cells(mean.outcome)
    for name, rule in MAGNITUDE_RULES.items():
        check = a.check(rule.value)
        assert check is not None
        assert {(str(f.row), str(f.col)) for f in check.cells} == masks.get(name, set())
        assert all(f.value is None and f.verdict is Verdict.FAIL for f in check.cells)
    assert a.check("threshold").cells[0].limit == 10  # type: ignore[union-attr]
    review = by_uid["output_3"].assessment()
    nk = review.check("nk_dominance")
    assert nk is not None and nk.verdict is Verdict.ESCALATE
    assert [(f.row, f.col) for f in nk.cells] == [("x", "p")]
    custom = by_uid["output_4"]
    assert custom.output_type == "custom" and custom.outcome is None
    assert custom.assessment().verdict is Verdict.ESCALATE


def test_written_results_have_acros_shape_and_read_back(
        acro_session_dir: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    acro_folder, _ = acro_session_dir
    acro_json = json.loads((acro_folder / "results.json").read_text())
    df = make_microdata(11, n=300)
    counts = sb.crosstab(df.a, df.b)
    mean = sb.crosstab(df.a, df.b, values=df.v, aggfunc="mean", margins=True)
    rng = np.random.default_rng(3)
    big = pd.DataFrame({"a": np.repeat(["x", "y"], 100), "b": np.tile(["p", "q"], 100),
                        "v": rng.uniform(10, 20, 200)})
    passing = sb.pivot_table(big, index="a", columns="b", values="v", aggfunc="sum")
    multi = sb.pivot_table(df, index=["a", "b"], values="v", aggfunc="mean")
    safe = mean.safe_alternative("suppress")
    path = write_acro_results([("output_0", counts), ("output_1", mean), ("output_2", passing),
                               ("multi", multi), ("safe", safe)], tmp_path / "tre-out")
    assert path == tmp_path / "tre-out" / "results.json"
    written = json.loads(path.read_text())

    # same top-level keys and per-output keys as ACRO's own file
    assert set(written) == set(acro_json)
    assert written["version"] == ACRO_FORMAT_VERSION == acro_json["version"]
    assert set(written["tool"]) == set(acro_json["tool"])
    acro_keys = set(acro_json["results"]["output_1"])
    for entry in written["results"].values():
        assert set(entry) == acro_keys
        assert set(entry["files"][0]) == set(acro_json["results"]["output_1"]["files"][0])
        assert set(entry["files"][0]["sdc"]) == {"summary", "cells"}
        assert (path.parent / entry["files"][0]["name"]).is_file()
        assert (path.parent / "checksums" / (entry["files"][0]["name"] + ".txt")).is_file()
    assert (path.parent / "config.json").is_file()

    # the same data gives ACRO's very outcome table for the margins mean crosstab
    assert written["results"]["output_1"]["outcome"] == acro_json["results"]["output_1"]["outcome"]
    # ... and for the count table, but for statbarn's extra class-disclosure flags
    without_class = {col: {row: text.replace("ClassDisclosureCheck; ", "") or "ok"
                           for row, text in rows.items()}
                     for col, rows in written["results"]["output_0"]["outcome"].items()}
    assert without_class == acro_json["results"]["output_0"]["outcome"]
    assert written["results"]["output_1"]["files"][0]["sdc"]["cells"]["NKCheck"] == (
        acro_json["results"]["output_1"]["files"][0]["sdc"]["cells"]["NKCheck"])

    back = {o.uid: o for o in read_acro_results(path.parent)}
    expect = {"output_0": counts, "output_1": mean, "output_2": passing, "multi": multi,
              "safe": safe}
    status = {"pass": "pass", "fail": "fail", "escalate": "review"}
    for uid, out in expect.items():
        assert back[uid].status == status[out.verdict]
        a = back[uid].assessment()
        assert a.verdict.value == out.verdict
        for rule in (Rule.THRESHOLD, Rule.NK_DOMINANCE, Rule.P_PERCENT, Rule.ZEROS,
                     Rule.CLASS_DISCLOSURE):
            # a one-way table's cells have no column label in statbarn; ACRO
            # names the column after the values
            # ACRO's format puts an empty cell under its threshold check too (statbarn
            # flags it once, under zeros), so it comes back under both
            rules = {rule.value} | ({Rule.ZEROS.value} if rule is Rule.THRESHOLD else set())
            orig = {(f.row, out.table.columns[0] if f.col is None else f.col) for f in out.flags
                    if f.rule in rules and f.verdict is not Verdict.PASS}
            got = {(f.row, f.col) for f in a.flags if f.rule == rule.value}
            assert got == orig, (uid, rule)
    assert back["safe"].properties["mitigation"] == "suppress"
    assert back["multi"].outcome is not None
    assert isinstance(back["multi"].outcome.index[0], str)

    # ACRO's own loader reads it (it insists on its own version)
    from acro.record import load_records

    records = load_records(str(path.parent))
    assert {k: r.status for k, r in records.results.items()} == {
        uid: status[out.verdict] for uid, out in expect.items()}


def test_write_assessment_with_a_file_and_refusals(tmp_path: Path) -> None:
    df = make_microdata(2)
    out = sb.crosstab(df.a, df.b)
    csv = tmp_path / "elsewhere" / "t.csv"
    csv.parent.mkdir()
    csv.write_text(out.table.to_csv())
    a = out.assessment
    a.file = str(csv)
    path = write_acro_results([("t", a)], tmp_path / "folder")
    back = read_acro_results(path)
    assert back[0].files == [path.parent / "t.csv"] and back[0].files[0].is_file()
    assert back[0].assessment().verdict is a.verdict
    a.file = None
    with pytest.raises(UsageError, match="without a file"):
        write_acro_results([("t", a)], tmp_path / "f2")
    with pytest.raises(UsageError, match="used twice"):
        write_acro_results([("t", out), ("t", out)], tmp_path / "f3")
    with pytest.raises(UsageError, match="output id"):
        write_acro_results([("../x", out)], tmp_path / "f4")


@pytest.mark.parametrize(("content", "problem"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"version": "1.0.2"}', "no 'results' key"),
    ('{"version": "1.0.2", "results": []}', "'results' must be an object"),
    ('{"version": "1.0.2", "results": {"o": 3}}', "output 'o' must be an object"),
    ('{"version": "1.0.2", "results": {"o": {"status": "maybe"}}}', "'status' must be one of"),
    ('{"version": "1.0.2", "results": {"o": {"status": "pass", "files": "x.csv"}}}',
     "'files' must be a list"),
    ('{"version": "1.0.2", "results": {"o": {"status": "pass", "files": [{"sdc": {}}]}}}',
     "needs a 'name'"),
    ('{"version": "1.0.2", "results": {"o": {"status": "fail", "outcome": {"c": ["ok"]}}}}',
     "outcome column"),
    ('{"version": "1.0.2", "results": {"o": {"status": "fail", "outcome": {"c": {"r": 1}}}}}',
     "must be text"),
    ('{"version": 1, "results": {}}', "'version' must be text"),
])
def test_malformed_results_json(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "results.json"
    path.write_text(content)
    with pytest.raises(AcroFormatError, match=problem) as info:
        read_acro_results(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, EvidenceError)


def test_missing_file_and_malformed_config(tmp_path: Path) -> None:
    with pytest.raises(AcroFormatError, match="not found"):
        read_acro_results(tmp_path / "nope.json")
    (tmp_path / "results.json").write_text('{"version": "1.0.2", "results": {}}')
    (tmp_path / "config.json").write_text("[]")
    with pytest.raises(AcroFormatError, match=r"config\.json"):
        read_acro_results(tmp_path)


def test_legacy_acro_outcome_tokens(tmp_path: Path) -> None:
    """ACRO 0.4 files: ``threshold; ``, ``p-ratio; ``, ``nk-rule; ``, ``negative``."""
    results = {"version": "0.4.5", "results": {
        "output_0": {"uid": "output_0", "status": "fail", "type": "table",
                     "properties": {"method": "crosstab"},
                     "files": [{"name": "output_0_0.csv", "sdc": {}}],
                     "outcome": {"c0": {"r0": "threshold; p-ratio; nk-rule; ", "r1": "ok"},
                                 "c1": {"r0": "ok", "r1": "threshold; "}},
                     "command": "acro.crosstab(df.a, df.b, values=df.v, aggfunc='mean')",
                     "summary": "fail; threshold: 2 cells may need suppressing; ",
                     "timestamp": "2023-06-23T11:47:20", "comments": [], "exception": ""},
        "output_1": {"uid": "output_1", "status": "review", "type": "table",
                     "files": [{"name": "output_1_0.csv", "sdc": {}}],
                     "outcome": {"c0": {"r0": "negative", "r1": "ok"}},
                     "summary": "review; negative values found"}}}
    (tmp_path / "results.json").write_text(json.dumps(results))
    first, second = read_acro_results(tmp_path)
    a = first.assessment(sb.Profile(min_count=5))
    assert a.verdict is Verdict.FAIL
    assert {(f.rule, f.row, f.col) for f in a.flags} == {
        ("threshold", "r0", "c0"), ("p_percent", "r0", "c0"), ("nk_dominance", "r0", "c0"),
        ("threshold", "r1", "c1")}
    # no ACRO config beside the file: limits come from the profile
    assert {f.limit for f in a.flags if f.rule == "threshold"} == {5}
    b = second.assessment()
    assert b.verdict is Verdict.ESCALATE
    assert {(f.rule, f.verdict) for f in b.flags} == {
        ("nk_dominance", Verdict.ESCALATE), ("p_percent", Verdict.ESCALATE)}


def test_rule_name_mappings() -> None:
    assert statbarn_to_acro_rule(Rule.THRESHOLD) == "MinimumThresholdCheck"
    assert statbarn_to_acro_rule("nk_dominance") == "NKCheck"
    assert statbarn_to_acro_rule("p_percent") == "PPercentCheck"
    assert statbarn_to_acro_rule("zeros") == "PresenceOfZeroCheck"
    assert statbarn_to_acro_rule("dof") == "MinimumDoFCheck"
    assert statbarn_to_acro_rule("class_disclosure") == "ClassDisclosureCheck"
    assert statbarn_to_acro_rule("p_percent", legacy=True) == "p-ratio"
    assert statbarn_to_acro_rule("nk_dominance", legacy=True) == "nk-rule"
    assert statbarn_to_acro_rule("zeros", legacy=True) is None
    assert statbarn_to_acro_rule("no such rule") is None
    for rule in Rule:
        name = statbarn_to_acro_rule(rule)
        assert name is not None and acro_to_statbarn_rule(name) is rule
    assert acro_to_statbarn_rule("threshold; ") is Rule.THRESHOLD
    assert acro_to_statbarn_rule("p-ratio") is Rule.P_PERCENT
    assert acro_to_statbarn_rules("negative") == (Rule.NK_DOMINANCE, Rule.P_PERCENT)
    assert acro_to_statbarn_rule("PresenceOfLinkedTableCheck") is None
    assert parse_outcome_cell("okMinimumDoFCheck; ") == ["MinimumDoFCheck"]
    assert parse_outcome_cell("NKCheck; PPercentCheck; ") == ["NKCheck", "PPercentCheck"]
    assert parse_outcome_cell("ok") == [] and parse_outcome_cell(None) == []
    assert isinstance(AcroOutput, type)
