"""The review page's derivations: for each differencing flag, the earlier release (title,
file, date), the cells paired with the new table's and the population derived."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import statbarn as sb
from airlock.ui import explain
from statbarn.differencing import differencing_check
from statbarn.evidence import TableEvidence
from statbarn.ledger import LedgerTable
from statbarn.profile import Profile

pytestmark = pytest.mark.unit


def table(df: pd.DataFrame, rid: str, **names: str) -> LedgerTable:
    out = sb.crosstab(df.region, df.sex, margins=True)
    ev = TableEvidence.from_json(out.evidence.to_json())
    t = LedgerTable.from_evidence(ev, rid, "cohort")
    return t.labelled(names.get("title"), names.get("file"), names.get("date"))


def people() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    return pd.DataFrame({"region": rng.choice(["North", "South"], 400),
                         "sex": rng.choice(["F", "M"], 400)})


def test_each_flag_lists_the_earlier_release_the_paired_cells_and_what_is_left() -> None:
    df = people()
    north_f = int(((df.region == "North") & (df.sex == "F")).sum())
    old = table(df, "a" * 32, title="Patients by region", file="by_region.csv",
                date="2026-11-30T10:00:00+00:00")
    fewer = df.drop(df[(df.region == "North") & (df.sex == "F")].index[:3])
    result = differencing_check(table(fewer, "new"), [old], Profile()).to_dict()
    got = explain.derivations(result)
    assert len(got) == len(result["cells"])  # one per flag
    assert {d.leaves for d in got} == {3}
    [cell] = [d for d in got if d.kind == "nested_population"
              and [t.cell for t in d.terms] == ["region=North, sex=F"] * 2]
    assert cell.leaves == 3 and cell.limit == 10 and cell.how == "one population inside another"
    plus, minus = cell.terms
    assert (plus.sign, plus.count, plus.release_id) == (1, north_f, "a" * 32)
    assert plus.source == "\u201cPatients by region\u201d, by_region.csv, released 2026-11-30"
    assert (minus.sign, minus.count, minus.source) == (-1, north_f - 3, "this table")
    assert cell.formula == f"{north_f:,} − {north_f - 3:,} = 3"
    assert [r.name for r in cell.releases] == [plus.source]


def test_structural_findings_pair_the_cells_of_both_tables() -> None:
    df = people()
    old = table(df, "b" * 32, title="Bare", file="bare.csv")
    old = LedgerTable.from_json({**old.to_json(), "records": None})  # a bare table
    fewer = df.drop(df[(df.region == "North") & (df.sex == "F")].index[:3])
    result = differencing_check(table(fewer, "new"), [old], Profile()).to_dict()
    got = explain.derivations(result)
    assert got and all(d.leaves == 3 for d in got)
    assert {r.name for d in got for r in d.releases} == {"\u201cBare\u201d, bare.csv"}
    north_f = int(((df.region == "North") & (df.sex == "F")).sum())
    [cell] = [d for d in got if d.population == "region=North, sex=F"]
    assert [(t.sign, t.count, t.source) for t in cell.terms] == [
        (1, north_f, "\u201cBare\u201d, bare.csv"), (-1, north_f - 3, "this table")]
    assert cell.formula == f"{north_f} − {north_f - 3} = 3"


def test_damaged_details_give_no_derivation_and_no_error() -> None:
    check = {"rule": "differencing", "details": {
        "earlier": ["x", {"release_id": None}],
        "findings": [{"leaves": "3"}, {"leaves": 2, "terms": ["?", {"sign": 5, "cell": 7}]},
                     None]}}
    [d] = explain.derivations(check)
    assert d.leaves == 2 and d.terms[0].cell == "all records" and d.terms[0].sign == 1
    assert explain.derivations({"rule": "threshold", "details": {}}) == []
