"""Safe alternatives: suppression with complementary cells and an interval audit, or rounding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import statbarn as sb
from statbarn.errors import UnsupportedError

pytestmark = pytest.mark.unit


def counts_frame(table: dict[tuple[str, str], int]) -> pd.DataFrame:
    rows = [(r, c) for (r, c), n in table.items() for _ in range(n)]
    return pd.DataFrame(rows, columns=["region", "sex"])


def test_suppressed_alternative_protects_the_small_cell(tmp_path: Path) -> None:
    df = counts_frame(
        {
            ("A", "F"): 3,
            ("A", "M"): 20,
            ("B", "F"): 15,
            ("B", "M"): 40,
            ("C", "F"): 25,
            ("C", "M"): 30,
        }
    )
    out = sb.crosstab(df.region, df.sex, margins=True)
    assert out.verdict == "fail"
    alt = out.safe_alternative()
    assert alt.verdict == "pass", [f.message for f in alt.flags]
    assert alt.suppressed is not None
    assert alt.suppressed[0, 0]  # the primary cell
    # A lone suppressed cell in a row and column with published totals is recoverable,
    # so at least one more cell in its row and its column is hidden.
    assert alt.suppressed[0].sum() >= 2 and alt.suppressed[:, 0].sum() >= 2
    assert np.isnan(alt.table.to_numpy(dtype=float, na_value=np.nan)[alt.suppressed]).all()
    assert not np.isnan(alt.table.to_numpy(dtype=float, na_value=np.nan)[~alt.suppressed]).any()
    audit = alt.assessment.check("suppression_audit")
    assert audit is not None and audit.verdict == "pass"
    # The original is untouched and the alternative round-trips through its sidecar.
    assert out.table.loc["A", "F"] == 3
    alt.save(tmp_path / "alt.csv")
    meta = json.loads((tmp_path / "alt.csv.statbarn.json").read_text())
    assert meta["derived_from"] == "suppress"
    assert sb.check_file(tmp_path / "alt.csv").verdict == "pass"


def test_published_suppressed_pattern_that_leaks_fails_recheck(tmp_path: Path) -> None:
    df = counts_frame({("A", "F"): 3, ("A", "M"): 20, ("B", "F"): 15, ("B", "M"): 40})
    alt = sb.crosstab(df.region, df.sex, margins=True).safe_alternative()
    alt.save(tmp_path / "alt.csv")
    side = tmp_path / "alt.csv.statbarn.json"
    meta = json.loads(side.read_text())
    # Doctor the pattern: only the primary cell hidden -> recoverable from the margins.
    only = [[False] * 3 for _ in range(3)]
    only[0][0] = True
    meta["table"]["suppressed"] = only
    table = pd.read_csv(tmp_path / "alt.csv", index_col=0)
    table.iloc[:, :] = [[np.nan, 20, 23], [15, 40, 55], [18, 60, 78]]
    table.to_csv(tmp_path / "alt.csv")
    from statbarn.fileio import sha256_file

    meta["file"]["sha256"] = sha256_file(tmp_path / "alt.csv")
    side.write_text(json.dumps(meta))
    result = sb.check_file(tmp_path / "alt.csv")
    audit = result.check("suppression_audit")
    assert audit is not None and audit.verdict == "fail"
    assert result.verdict == "fail"


def test_mean_table_pattern_uses_totals() -> None:
    rng = np.random.default_rng(0)
    df = counts_frame({("A", "F"): 4, ("A", "M"): 30, ("B", "F"): 30, ("B", "M"): 30})
    df["cost"] = rng.gamma(2.0, 10.0, len(df))
    out = sb.crosstab(df.region, df.sex, values=df.cost, aggfunc="mean", margins=True)
    alt = out.safe_alternative()
    assert alt.verdict == "pass"
    assert alt.suppressed is not None and alt.suppressed.sum() >= 4


def test_median_table_is_primary_suppression_only() -> None:
    df = counts_frame({("A", "F"): 4, ("A", "M"): 30, ("B", "F"): 30, ("B", "M"): 30})
    df["cost"] = np.arange(len(df), dtype=float)
    alt = sb.crosstab(df.region, df.sex, values=df.cost, aggfunc="median").safe_alternative()
    assert alt.suppressed is not None
    assert alt.suppressed.tolist() == [[True, False], [False, False]]
    assert alt.verdict == "pass"


def test_round_alternative() -> None:
    df = counts_frame({("A", "F"): 3, ("A", "M"): 22, ("B", "F"): 17, ("B", "M"): 41})
    alt = sb.crosstab(df.region, df.sex, margins=True).safe_alternative("round")
    published = alt.table.to_numpy(dtype=float, na_value=np.nan)
    shown = published[~np.isnan(published)]
    assert (shown % 5 == 0).all()
    assert alt.verdict == "pass"
    with pytest.raises(UnsupportedError):
        sb.crosstab(df.region, df.sex).safe_alternative("blur")


def test_safe_input_gives_identical_alternative() -> None:
    df = counts_frame({("A", "F"): 30, ("A", "M"): 22, ("B", "F"): 17, ("B", "M"): 41})
    out = sb.crosstab(df.region, df.sex, margins=True)
    alt = out.safe_alternative()
    assert alt.suppressed is not None and not alt.suppressed.any()
    pd.testing.assert_frame_equal(alt.table, out.table, check_dtype=False)
