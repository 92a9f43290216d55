"""statbarn.reading: small plain tables are built without read_csv, and exactly as it would.

``read_delimited`` builds the frame of a small, plain table from the rows its strict
checks have parsed already; every other table goes to pandas' ``read_csv``.  Both
must give the same frame (values, dtypes, labels, names) or the same error, for any
input: compared here on generated tables, with the shortcut switched off for the
reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import statbarn as sb
from statbarn import reading
from statbarn.errors import StatbarnError

pytestmark = pytest.mark.unit

NUMBERS = st.one_of(
    st.integers(-(10**19), 10**19).map(str),
    st.integers(0, 10**6).map(lambda n: f"{n:07d}"),  # leading zeros
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.floats(-1e6, 1e6).map(lambda x: f"{x:.3f}"),
    st.floats(-1e6, 1e6).map(lambda x: f"{x:.12e}"),
    st.integers(0, 20).flatmap(lambda places: st.decimals(
        places=places, allow_nan=False, allow_infinity=False)).map(str),
    st.sampled_from(["1e5", "1E-3", "-0", "-0.0", "5.", ".5", "+5", " 5", "5 ", "1_000",
                     "0x10", "1e400", "1e-400", "123456789012345678", "1234567890123456789"]),
)
WORDS = st.one_of(
    st.sampled_from(["North", "South", "area-00", "All", "Total", "x", "e", "e5", "NaN", "nan",
                     "NA", "N/A", "null", "None", "NULL", "inf", "Inf", "-inf", "Infinity",
                     "True", "false", "TRUE", "#N/A", "<NA>", " North", "North ", "North East",
                     "Ärzte", "16-24", "1st", "Unnamed: 0", "a#b", "=SUM(A1)"]),
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
            min_size=1, max_size=6),
)
CELLS = st.one_of(NUMBERS, WORDS, st.just(""))


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, str, int | None]:
    delimiter = draw(st.sampled_from([",", "\t"]))
    width = draw(st.integers(1, 4))
    rows = draw(st.integers(1, 5))
    header = draw(st.lists(st.one_of(WORDS, st.just(""), NUMBERS), min_size=width,
                           max_size=width))
    # Mostly columns of one kind (as real tables are), sometimes anything at all.
    kinds = [draw(st.sampled_from([NUMBERS, WORDS, CELLS, st.integers(0, 999).map(str)]))
             for _ in range(width)]
    body = [[draw(kinds[j]) for j in range(width)] for _ in range(rows)]
    lines = [header, *body]
    text = "\n".join(delimiter.join(cells) for cells in lines)
    if draw(st.booleans()):
        text += "\n"
    return text, delimiter, draw(st.sampled_from([None, 1]))


def read(path: Path, delimiter: str, index_cols: int | None) -> pd.DataFrame | str:
    try:
        return reading.read_delimited(path, delimiter, index_cols=index_cols)
    except (StatbarnError, ValueError) as exc:  # the same error, whichever way
        return f"{type(exc).__name__}: {exc}"


def same(a: pd.DataFrame | str, b: pd.DataFrame | str) -> None:
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    pd.testing.assert_frame_equal(a, b, check_exact=True, check_index_type=True,
                                  check_column_type=True, check_names=True)
    assert [a[c].dtype for c in a.columns] == [b[c].dtype for c in b.columns]
    assert a.index.names == b.index.names and a.columns.names == b.columns.names


@settings(max_examples=1500, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(table=tables())
def test_the_shortcut_gives_read_csvs_frame(
    table: tuple[str, str, int | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, delimiter, index_cols = table
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    fast = read(path, delimiter, index_cols)
    with monkeypatch.context() as m:
        m.setattr(reading, "SIMPLE_MAX_CHARS", -1)  # read_csv for everything
        slow = read(path, delimiter, index_cols)
    same(fast, slow)


def test_statbarns_own_tables_take_the_shortcut(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"area": rng.choice([f"area-{i:02d}" for i in range(30)], 20_000),
                       "group": rng.choice([f"group-{i:02d}" for i in range(20)], 20_000)})
    out = sb.crosstab(df.area, df.group)
    out.save(tmp_path / "counts.csv")
    expected = reading.read_delimited(tmp_path / "counts.csv", ",", index_cols=1)

    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError("read_csv was called")

    monkeypatch.setattr(pd, "read_csv", refuse)
    got = reading.read_delimited(tmp_path / "counts.csv", ",", index_cols=1)
    same(got, expected)
    assert sb.check_file(tmp_path / "counts.csv").verdict == "pass"


@pytest.mark.parametrize("text", [
    'area,a\n"x",1\n',             # quotes: read_csv decides
    "area,a\r\nx,1\r\n",           # carriage returns
    "area,a\nx,1.23456789012345678\n",  # more digits than read_csv parses exactly
    "area,a\nx,1e-30\n",
    "area,,b\nx,1,2\n",            # an unnamed column
    ",a\n1,2\n",
])
def test_anything_less_plain_goes_to_read_csv(text: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text, newline="")
    calls: list[int] = []
    real = pd.read_csv

    def counting(*args: object, **kw: object) -> pd.DataFrame:
        calls.append(1)
        return real(*args, **kw)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(pd, "read_csv", counting)
    for index_cols in (None, 1):
        read(path, ",", index_cols)
    assert len(calls) == 2


def test_json_depth_is_read_past_strings_and_escaped_quotes() -> None:
    """The depth check runs on the bytes (numpy), so it must know a bracket inside a string,
    and a quote escaped inside one, from the real thing."""
    from statbarn.fileio import MAX_JSON_DEPTH, json_too_deep

    deep, shallow = MAX_JSON_DEPTH + 1, MAX_JSON_DEPTH
    assert json_too_deep("[" * deep + "]" * deep)
    assert not json_too_deep("[" * shallow + "]" * shallow)
    assert not json_too_deep('["' + "[" * 300 + '"]')  # brackets in a string
    assert not json_too_deep('["\\"' + "[" * 300 + '"]')  # an escaped quote stays inside
    assert json_too_deep('["\\\\"' + "[" * deep + "]" * deep + "]")  # \\ then a real quote
    assert json_too_deep('{"a":' * deep + "1" + "}" * deep)
