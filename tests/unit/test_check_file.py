"""sb.check_file: saved outputs with their sidecars, bare files, and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import statbarn as sb
from statbarn.errors import (
    DuplicateHeaderError,
    EmptyInputError,
    EvidenceError,
    EvidenceMismatchError,
    MalformedTableError,
    NonFiniteError,
    NonNumericError,
    ProfileError,
    TableTooLargeError,
)

pytestmark = pytest.mark.unit


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 3000
    d = pd.DataFrame(
        {
            "region": rng.choice(list("ABCDEF"), n),
            "sex": rng.choice(["F", "M"], n),
            "cost": rng.gamma(2.0, 50.0, n),
        }
    )
    d.loc[:2, "region"] = "Z"  # a rare region: three people
    return d


def test_save_writes_csv_and_sidecar_bound_by_sha(df: pd.DataFrame, tmp_path: Path) -> None:
    out = sb.crosstab(df.region, df.sex, values=df.cost, aggfunc="mean", margins=True)
    side = out.save(tmp_path / "cost.csv")
    assert side == tmp_path / "cost.csv.statbarn.json"
    meta = json.loads(side.read_text())
    import hashlib

    assert (
        meta["file"]["sha256"] == hashlib.sha256((tmp_path / "cost.csv").read_bytes()).hexdigest()
    )
    assert meta["profile"]["name"] == "default" and meta["statbarn_version"] == sb.__version__
    cells = meta["table"]["cells"]
    assert {"count", "sum", "top", "negative"} <= set(cells)
    result = sb.check_file(tmp_path / "cost.csv")
    assert result.verdict == out.assessment.verdict == "fail"
    assert {(f.rule, f.row, f.col) for f in result.flags} == {
        (f.rule, f.row, f.col) for f in out.flags
    }


def test_sidecar_recheck_uses_the_profile_in_force(df: pd.DataFrame, tmp_path: Path) -> None:
    safe = df[df.region != "Z"]
    out = sb.crosstab(safe.region, safe.sex)
    out.save(tmp_path / "n.csv")
    assert sb.check_file(tmp_path / "n.csv").verdict == "pass"
    strict = sb.Profile(name="huge", min_count=10_000)
    assert sb.check_file(tmp_path / "n.csv", profile=strict).verdict == "fail"


def test_tampered_file_is_refused(df: pd.DataFrame, tmp_path: Path) -> None:
    sb.crosstab(df.region, df.sex).save(tmp_path / "n.csv")
    text = (tmp_path / "n.csv").read_text().replace("Z,", "Q,")
    (tmp_path / "n.csv").write_text(text)
    with pytest.raises(EvidenceMismatchError, match="sha256"):
        sb.check_file(tmp_path / "n.csv")


def test_tampered_evidence_escalates(df: pd.DataFrame, tmp_path: Path) -> None:
    """Evidence doctored to hide a small cell no longer matches the published counts."""
    sb.crosstab(df.region, df.sex).save(tmp_path / "n.csv")
    side = tmp_path / "n.csv.statbarn.json"
    meta = json.loads(side.read_text())
    meta["table"]["cells"]["count"] = [
        [max(c, 50) for c in row] for row in meta["table"]["cells"]["count"]
    ]
    side.write_text(json.dumps(meta))
    result = sb.check_file(tmp_path / "n.csv")
    assert result.verdict == "escalate"
    assert result.check("evidence") is not None


def test_bare_count_table(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("region,F,M\nA,12,30\nB,3,40\n")
    result = sb.check_file(p, statistic="count")  # declared: whole numbers alone are not
    assert result.statbarn == "frequency" and result.verdict == "fail"
    assert [(f.row, f.col, f.value, f.limit) for f in result.flags] == [("B", "F", 3, 10)]


def test_bare_count_table_with_margins(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("region,F,M,All\nA,12,30,42\nB,0,40,40\nAll,12,70,82\n")
    result = sb.check_file(p, statistic="count")
    cls = result.check("class_disclosure")
    assert cls is not None and [(f.row, f.col) for f in cls.cells] == [("B", "M"), ("A", "F")]


def test_bare_magnitude_table_escalates(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("region,F,M\nA,12.5,30.1\nB,3.2,40.0\n")
    result = sb.check_file(p)
    assert result.verdict == "escalate"
    assert "declare what its cells hold" in result.flags[0].message
    result = sb.check_file(p, statistic="mean")
    assert result.verdict == "escalate" and result.statbarn == "linear_aggregate"
    assert "dominance" in result.flags[0].message


def test_tsv_and_parquet(tmp_path: Path) -> None:
    (tmp_path / "t.tsv").write_text("region\tF\nA\t12\nB\t30\n")
    assert sb.check_file(tmp_path / "t.tsv", statistic="count").verdict == "pass"
    pd.DataFrame({"region": ["A", "B"], "F": [12, 3]}).to_parquet(tmp_path / "t.parquet")
    assert sb.check_file(tmp_path / "t.parquet", statistic="count").verdict == "fail"


def test_microdata_file_escalates(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = pd.DataFrame(
        {
            "patient_id": np.arange(500),
            "age": rng.integers(0, 90, 500),
            "cost": rng.gamma(2, 2, 500),
        }
    )
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = sb.check_file(tmp_path / "rows.csv")
    assert result.statbarn == "microdata" and result.verdict == "escalate"
    assert "patient_id" in result.flags[0].message


def test_unknown_file_kind_escalates(tmp_path: Path) -> None:
    p = tmp_path / "plot.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    result = sb.check_file(p)
    assert result.statbarn == "unknown" and result.verdict == "escalate"


@pytest.mark.parametrize(
    ("content", "error", "match"),
    [
        (b"", EmptyInputError, "empty"),
        (b"   \n\n", EmptyInputError, "empty"),
        (b"a,b\n", EmptyInputError, "no rows"),
        (b"region,F,M\nA,1,2\nB,3\n", MalformedTableError, "line 3 has 2 fields"),
        (b"region,F,M\nA,1,2,4\n", MalformedTableError, "line 2 has 4 fields"),
        (b"region,F,F\nA,1,2\n", DuplicateHeaderError, "'F' appears more than once"),
        (b"region,F,M\nA,12,x\nB,11,12\n", NonNumericError, "column 'M' holds text"),
        (b"region,F,M\nA,12,\nB,11,12\n", NonFiniteError, "empty"),
        (b"region,F,M\nA,12,inf\nB,11,12\n", NonFiniteError, "infinite"),
        (b"region,F\n\xff\xfe,1\n", MalformedTableError, "UTF-8"),
        (b'region,F\n"A,1\n', MalformedTableError, "not a valid CSV"),
    ],
)
def test_bad_files(tmp_path: Path, content: bytes, error: type[Exception], match: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    with pytest.raises(error, match=match):
        sb.check_file(p)


def test_huge_bare_table_is_refused(tmp_path: Path) -> None:
    grid = pd.DataFrame(np.full((1000, 1000), 20), index=[f"r{i}" for i in range(1000)])
    grid.index.name = "row"
    grid.to_csv(tmp_path / "big.csv")
    with pytest.raises(TableTooLargeError, match="1000000 cells"):
        sb.check_file(tmp_path / "big.csv")


def test_bad_sidecars(df: pd.DataFrame, tmp_path: Path) -> None:
    sb.crosstab(df.region, df.sex).save(tmp_path / "n.csv")
    side = tmp_path / "n.csv.statbarn.json"
    side.write_text("{not json")
    with pytest.raises(EvidenceError, match="not valid JSON"):
        sb.check_file(tmp_path / "n.csv")
    side.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(EvidenceError, match="not a statbarn evidence"):
        sb.check_file(tmp_path / "n.csv")
    with pytest.raises(EvidenceError, match="not found"):
        sb.check_file(tmp_path / "n.csv", evidence=tmp_path / "missing.json")


def test_profile_errors_name_file_and_key(tmp_path: Path) -> None:
    p = tmp_path / "mine.yaml"
    p.write_text("name: mine\nversion: '1'\nmin_cont: 5\n")
    with pytest.raises(ProfileError, match=r"mine.yaml: unknown key 'min_cont'"):
        sb.load_profile(p)
    p.write_text("name: mine\nversion: '1'\nmin_count: 0\n")
    with pytest.raises(ProfileError, match=r"mine.yaml: key 'min_count'"):
        sb.load_profile(p)
    p.write_text("name: mine\nextends: nowhere\n")
    with pytest.raises(ProfileError, match="extends unknown profile 'nowhere'"):
        sb.load_profile(p)
    p.write_text("- a list\n")
    with pytest.raises(ProfileError, match="mapping"):
        sb.load_profile(p)
    with pytest.raises(ProfileError, match="no profile named"):
        sb.load_profile("does-not-exist")


def test_shipped_profiles() -> None:
    default = sb.load_profile("default")
    assert default == sb.Profile(description=default.description)  # file equals ACRO defaults
    assert (default.min_count, default.nk_n, default.nk_k, default.p_ratio, default.min_dof) == (
        10,
        2,
        0.9,
        0.1,
        10,
    )
    strict = sb.load_profile("strict")
    assert strict.name == "strict" and strict.min_count == 20 and strict.reviewers_required == 2
    assert strict.zeros_are_disclosive is True  # inherited from default


def test_extends_chain(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("name: base\nversion: '3'\nmin_count: 15\nnk_k: 0.8\n")
    (tmp_path / "child.yaml").write_text("name: child\nversion: '1'\nextends: base\nnk_k: 0.7\n")
    child = sb.load_profile(tmp_path / "child.yaml")
    assert (child.min_count, child.nk_k, child.version) == (15, 0.7, "1")


def test_model_output(tmp_path: Path) -> None:
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    x = sm.add_constant(rng.normal(size=(13, 3)))  # 13 obs, 4 params: dof 9
    fit = sm.OLS(rng.normal(size=13), x).fit()
    out = sb.model_output(fit)
    assert out.dof == 9 and out.verdict == "fail"
    assert out.flags[0].rule == "dof" and out.flags[0].value == 9 and out.flags[0].limit == 10
    out.save(tmp_path / "m.csv")
    assert sb.check_file(tmp_path / "m.csv").verdict == "fail"
    x = sm.add_constant(rng.normal(size=(14, 3)))  # dof 10: passes
    assert sb.model_output(sm.OLS(rng.normal(size=14), x).fit()).verdict == "pass"
    logit = sm.Logit(rng.integers(0, 2, 200), sm.add_constant(rng.normal(size=(200, 2)))).fit(
        disp=0
    )
    assert sb.model_output(logit).verdict == "pass"


@pytest.mark.parametrize("columns", [
    {"a": [1, 2], "b": [3, 4]},
    {"a": [1.5, np.nan], "b": [3, 4]},
    {"a": [True, False], "b": np.array([1, 2], dtype=np.uint8)},
    {"a": np.array([1, 2], dtype=np.float32), "b": np.array([2**62, 5], dtype=np.int64)},
    {"a": ["1", "2.5"], "b": [3, 4]},  # text that is numbers
    {"a": ["x", "2"], "b": [3, 4]},  # text
    {"a": pd.array([1, None], dtype="Int64"), "b": [3, 4]},  # an extension dtype
])
def test_numbers_of_a_published_table_as_to_numeric_gives_them(columns: dict[str, Any]) -> None:
    from statbarn.checking import _as_numbers

    frame = pd.DataFrame(columns, index=["r1", "r2"])

    def reference() -> np.ndarray | str:
        try:
            return frame.apply(pd.to_numeric, errors="raise").to_numpy(dtype=np.float64)
        except (ValueError, TypeError) as exc:
            return type(exc).__name__

    def shortcut() -> np.ndarray | str:
        try:
            return _as_numbers(frame)
        except (ValueError, TypeError) as exc:
            return type(exc).__name__

    want, got = reference(), shortcut()
    if isinstance(want, str) or isinstance(got, str):
        assert got == want
    else:
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype
