"""Safe alternatives worth releasing: whole counts stay whole, suppressed cells are empty
(missing to every CSV parser, and listed in the sidecar), an alternative that hides most
of its table is never a pass, and an empty cell is flagged once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import statbarn as sb
from statbarn.profile import Profile, load_profile

pytestmark = pytest.mark.unit


def with_rare(n_rare: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"region": rng.choice(["North", "South", "East", "West"], 2000),
                       "sex": rng.choice(["F", "M"], 2000)})
    rare = pd.DataFrame({"region": ["Islands"] * n_rare, "sex": ["F"] * n_rare})
    return pd.concat([df, rare], ignore_index=True)


def test_counts_stay_whole_numbers_and_suppressed_cells_are_empty(tmp_path: Path) -> None:
    # Old code: the alternative's counts were floats ("246.0") in the CSV.
    df = with_rare()
    alt = sb.crosstab(df.region, df.sex, margins=True).safe_alternative()
    alt.save(tmp_path / "t.csv")
    text = (tmp_path / "t.csv").read_text()
    assert ".0" not in text
    north_f = int(((df.region == "North") & (df.sex == "F")).sum())
    assert f"North,{north_f}," in text
    assert "Islands,,," in text  # the unsafe row: empty, i.e. missing
    back = pd.read_csv(tmp_path / "t.csv", index_col=0)
    assert back.loc["Islands"].isna().all() and back.loc["North", "F"] == north_f
    assert str(alt.table.dtypes.iloc[0]) == "Int64"
    assert sb.check_file(tmp_path / "t.csv").verdict == "pass"  # re-checked with its sidecar


def test_an_alternative_that_suppresses_most_of_the_table_is_not_a_pass(tmp_path: Path) -> None:
    # Old code: 7 x 7 sparse table -> every cell suppressed, verdict "pass", released.
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"a": rng.choice(list("ABCDEFG"), 60), "b": rng.choice(list("tuvwxyz"), 60)})
    alt = sb.crosstab(df.a, df.b).safe_alternative()
    assert alt.suppressed is not None
    share = alt.suppressed.mean()
    assert share > 0.5
    check = alt.assessment.check("suppressed_share")
    assert check is not None and check.verdict == "escalate"
    assert alt.verdict == "escalate"
    assert f"suppresses {int(alt.suppressed.sum())} of its 49 cells" in check.cells[0].message
    alt.save(tmp_path / "sparse.csv")
    again = sb.check_file(tmp_path / "sparse.csv")
    assert again.verdict == "escalate"
    assert again.check("suppressed_share").verdict == "escalate"  # type: ignore[union-attr]
    # a profile may allow more
    lenient = Profile(max_suppressed_share=1.0)
    assert sb.check_file(tmp_path / "sparse.csv", profile=lenient).check(
        "suppressed_share").verdict == "pass"  # type: ignore[union-attr]


def test_the_limit_is_in_the_default_profile() -> None:
    assert load_profile("default").max_suppressed_share == 0.5
    assert Profile().params()["max_suppressed_share"] == 0.5


def test_an_empty_cell_is_flagged_once() -> None:
    # Old code: Islands/M (no records) was flagged by threshold and by zeros.
    df = with_rare()
    out = sb.crosstab(df.region, df.sex)
    flags = [(f.rule, f.row, f.col) for f in out.flags if (f.row, f.col) == ("Islands", "M")]
    assert flags == [("zeros", "Islands", "M")]
    th = out.assessment.check("threshold")
    assert th is not None
    assert [(f.row, f.col, f.value) for f in th.cells] == [("Islands", "F", 3)]
    # when zeros are not disclosive the empty cell is not flagged at all (as before)
    calm = sb.crosstab(df.region, df.sex, profile=Profile(zeros_are_disclosive=False))
    assert [(f.row, f.col) for f in calm.flags if f.rule in ("threshold", "zeros")] == \
        [("Islands", "F")]
    # a table of means has no zeros rule: its empty cells stay under the threshold
    df["cost"] = 1.0
    means = sb.crosstab(df.region, df.sex, values=df.cost, aggfunc="mean", dropna=False)
    assert ("Islands", "M") in {(f.row, f.col) for f in means.flags if f.rule == "threshold"}
