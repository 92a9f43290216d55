"""statbarn.microdata: k-anonymity, distinct l-diversity and the microdata release rule."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statbarn.errors import (
    DuplicateHeaderError,
    EmptyInputError,
    InputError,
    UsageError,
)
from statbarn.kinds import Statbarn
from statbarn.microdata import MAX_FLAGS, MicrodataResult, check_microdata
from statbarn.profile import Profile
from statbarn.verdict import Rule, Verdict

pytestmark = pytest.mark.unit

ALLOW = Profile(name="open", allow_microdata_release=True)


def frame_with_class_sizes(sizes: list[int]) -> pd.DataFrame:
    """One QI 'g' with classes of the given sizes; each class has two diagnoses."""
    g = np.repeat(np.arange(len(sizes)), sizes)
    dx = np.where(np.arange(len(g)) % 2 == 0, "x", "y")
    # make sure a class of size >= 2 has both values
    return pd.DataFrame({"g": g, "sex": "F", "dx": dx})


# ----------------------------------------------------------------- hand-computed


def test_k_l_sizes_and_risky_rows_by_label() -> None:
    df = pd.DataFrame(
        {
            "age": [30, 30, 30, 30, 30, 40, 40, 50],
            "sex": ["F", "F", "F", "F", "F", "M", "M", "M"],
            "dx": ["a", "b", "a", "a", "c", "c", "c", "d"],
        },
        index=["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"],
    )
    r = check_microdata(df, ["age", "sex"], "dx")
    assert isinstance(r, MicrodataResult)
    assert r.k == 1
    assert r.l == 1
    assert r.verdict is Verdict.FAIL
    assert list(r.risky_rows) == ["r6", "r7", "r8"]
    assert r.class_sizes.to_dict() == {
        "r1": 5, "r2": 5, "r3": 5, "r4": 5, "r5": 5, "r6": 2, "r7": 2, "r8": 1,
    }
    assert [c.rule for c in r.checks] == [Rule.K_ANONYMITY, Rule.L_DIVERSITY, Rule.MICRODATA]
    assert r.assessment.statbarn is Statbarn.MICRODATA
    assert r.assessment.verdict is Verdict.FAIL
    # flags: smallest class first, keyed by the QI values
    k_flags = [f for f in r.flags if f.rule == Rule.K_ANONYMITY]
    assert [(f.row, f.col, f.value, f.limit) for f in k_flags] == [
        ((50, "M"), None, 1, 5),
        ((40, "M"), None, 2, 5),
    ]
    assert all(f.verdict is Verdict.FAIL for f in k_flags)
    assert "age=50, sex='M'" in k_flags[0].message
    l_flags = [f for f in r.flags if f.rule == Rule.L_DIVERSITY]
    assert {(f.row, f.col, f.value, f.limit) for f in l_flags} == {
        ((50, "M"), "dx", 1, 2),
        ((40, "M"), "dx", 1, 2),
    }
    # the sensitive value itself is never written into a message
    assert all("'c'" not in f.message and "'d'" not in f.message for f in l_flags)
    json.dumps(r.assessment.to_dict())


def test_missing_qi_value_is_its_own_class() -> None:
    df = pd.DataFrame(
        {
            "region": ["N"] * 5 + [np.nan, None, np.nan],
            "dx": ["a", "b"] * 4,
        },
        index=range(10, 18),
    )
    r = check_microdata(df, ["region"], "dx")
    assert r.k == 3  # None and NaN are the same "missing" class
    assert list(r.risky_rows) == [15, 16, 17]
    assert r.class_sizes.tolist() == [5] * 5 + [3] * 3
    (flag,) = [f for f in r.flags if f.rule == Rule.K_ANONYMITY]
    assert flag.value == 3
    assert "region=missing" in flag.message
    assert flag.to_dict()["row"] == [None]


def test_missing_sensitive_values_do_not_count_for_l() -> None:
    df = pd.DataFrame(
        {
            "g": ["a"] * 5 + ["b"] * 5 + ["c"] * 5,
            "dx": ["x", "x", np.nan, None, "x"]  # one distinct value + missing -> 1
            + ["x", "y", "y", "y", "y"]  # 2
            + [np.nan] * 5,  # no value at all -> 0
        }
    )
    r = check_microdata(df, ["g"], "dx")
    assert r.k == 5
    assert r.l == 0
    assert r.verdict is Verdict.FAIL
    assert list(r.risky_rows) == [0, 1, 2, 3, 4, 10, 11, 12, 13, 14]
    l_flags = {f.row: f.value for f in r.flags if f.rule == Rule.L_DIVERSITY}
    assert l_flags == {("a",): 1, ("c",): 0}

    r2 = check_microdata(df[df.g != "c"], ["g"], "dx")
    assert r2.l == 1
    assert list(r2.risky_rows) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("smallest", "verdict"),
    [(4, Verdict.FAIL), (5, Verdict.ESCALATE), (6, Verdict.ESCALATE)],
)
def test_k_boundary_with_default_profile(smallest: int, verdict: Verdict) -> None:
    df = frame_with_class_sizes([smallest, 7, 9])
    r = check_microdata(df, ["g", "sex"], "dx")
    assert r.k == smallest
    assert r.l == 2
    assert r.verdict is verdict
    k_check = r.assessment.check(Rule.K_ANONYMITY)
    assert k_check is not None
    assert k_check.verdict is (Verdict.FAIL if smallest < 5 else Verdict.PASS)
    expected_risky = list(range(smallest)) if smallest < 5 else []
    assert list(r.risky_rows) == expected_risky
    assert bool(r.suggestions) is (smallest < 5)


@pytest.mark.parametrize(("second", "l_value", "verdict"), [("x", 1, Verdict.FAIL),
                                                             ("y", 2, Verdict.ESCALATE)])
def test_l_boundary(second: str, l_value: int, verdict: Verdict) -> None:
    df = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 5, "dx": ["x"] * 4 + [second] + ["y", "z"] * 2
                       + ["y"]})
    r = check_microdata(df, ["g"], ["dx"])
    assert r.k == 5
    assert r.l == l_value
    assert r.verdict is verdict
    l_check = r.assessment.check(Rule.L_DIVERSITY)
    assert l_check is not None
    assert l_check.verdict is (Verdict.FAIL if l_value < 2 else Verdict.PASS)


def test_several_sensitive_attributes_take_the_minimum() -> None:
    df = pd.DataFrame(
        {
            "g": ["a"] * 5 + ["b"] * 5,
            "dx": list("xyzxy") + list("xyxyx"),  # 3, 2
            "income": [1, 2, 1, 2, 1] + [7] * 5,  # 2, 1
        }
    )
    r = check_microdata(df, ["g"], ["dx", "income"])
    assert r.l == 1
    (flag,) = [f for f in r.flags if f.rule == Rule.L_DIVERSITY]
    assert (flag.row, flag.col, flag.value) == (("b",), "income", 1)
    assert list(r.risky_rows) == [5, 6, 7, 8, 9]
    assert check_microdata(df, ["g"], "dx").l == 2


def test_no_sensitive_attribute() -> None:
    r = check_microdata(frame_with_class_sizes([5, 6]), ["g"])
    assert r.l is None
    assert [c.rule for c in r.checks] == [Rule.K_ANONYMITY, Rule.MICRODATA]
    assert r.verdict is Verdict.ESCALATE
    assert r.suggestions == []
    assert r.risky_rows.empty


def test_microdata_release_allowed_by_profile() -> None:
    safe = frame_with_class_sizes([5, 6])
    assert check_microdata(safe, ["g"], "dx", profile=ALLOW).verdict is Verdict.PASS
    default = check_microdata(safe, ["g"], "dx", profile="default")
    assert default.verdict is Verdict.ESCALATE
    micro = default.assessment.check(Rule.MICRODATA)
    assert micro is not None
    assert micro.verdict is Verdict.ESCALATE
    # allowed, but k fails: still a fail, and the microdata rule does not pass
    unsafe = check_microdata(frame_with_class_sizes([2, 6]), ["g"], "dx", profile=ALLOW)
    assert unsafe.verdict is Verdict.FAIL
    micro = unsafe.assessment.check(Rule.MICRODATA)
    assert micro is not None
    assert micro.verdict is Verdict.ESCALATE


def test_profile_thresholds_are_used() -> None:
    df = frame_with_class_sizes([3, 3])
    strict = Profile(name="strict", k_anonymity=4, l_diversity=3)
    r = check_microdata(df, ["g"], "dx", profile=strict)
    assert r.verdict is Verdict.FAIL
    assert {f.limit for f in r.flags} == {3, 4}
    lenient = Profile(name="lenient", k_anonymity=3, l_diversity=1, allow_microdata_release=True)
    assert check_microdata(df, ["g"], "dx", profile=lenient).verdict is Verdict.PASS


def test_suggestions_name_the_quasi_identifier_to_coarsen() -> None:
    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame(
        {
            "sex": rng.choice(["F", "M"], n),
            "postcode": [f"AB{i}" for i in range(n)],  # unique: k = 1 because of it
            "band": rng.choice(["young", "old"], n),
        }
    )
    r = check_microdata(df, ["sex", "postcode", "band"])
    assert r.k == 1
    assert "'postcode'" in r.suggestions[0]
    k_without = int(df.groupby(["sex", "band"]).size().min())
    assert f"smallest group has {k_without} records instead of 1" in r.suggestions[0]
    assert "suppress the 200 records in the 200 groups smaller than 5" in r.suggestions[1]


def test_suggestion_counts_records_to_suppress() -> None:
    df = frame_with_class_sizes([1, 2, 4, 5, 8])
    r = check_microdata(df, ["g", "sex"], "dx")
    assert r.k == 1
    assert "'g'" in r.suggestions[0]  # dropping sex changes nothing
    assert "suppress the 7 records in the 3 groups smaller than 5" in r.suggestions[1]


def test_suggestion_when_no_single_drop_helps() -> None:
    df = pd.DataFrame({"a": range(10), "b": range(10)})
    r = check_microdata(df, ["a", "b"])
    assert "Dropping any single quasi-identifier leaves k at 1" in r.suggestions[0]
    assert "suppress the 10 records" in r.suggestions[1]


def test_suggestion_for_an_output_smaller_than_k() -> None:
    r = check_microdata(pd.DataFrame({"a": [1, 1, 2], "dx": ["x", "y", "z"]}), ["a"], "dx")
    assert r.k == 1
    assert r.suggestions[0].startswith("The output has only 3 records, fewer than 5")
    assert r.flags[0].message.startswith("Only 1 record has a=2;")


def test_flags_are_capped_smallest_first() -> None:
    sizes = [1] * (MAX_FLAGS + 200) + [2] * 300 + [5] * 3
    r = check_microdata(frame_with_class_sizes(sizes), ["g"])
    k_check = r.assessment.check(Rule.K_ANONYMITY)
    assert k_check is not None
    assert len(k_check.cells) == MAX_FLAGS
    assert all(c.value == 1 for c in k_check.cells)
    assert "500 more are left out" in k_check.summary
    assert len(r.risky_rows) == MAX_FLAGS + 200 + 600


def test_single_name_and_categorical_and_many_columns() -> None:
    df = pd.DataFrame({"g": pd.Categorical(["a"] * 5, categories=["a", "unused"]), "dx": "x"})
    r = check_microdata(df, "g", "dx")
    assert (r.k, r.l) == (5, 1)  # unused categories are not classes


def test_combined_key_does_not_overflow() -> None:
    # 8 columns x 2000 levels: the mixed-radix key must be re-factorized on the way
    rng = np.random.default_rng(7)
    n = 3000
    qis = [f"q{i}" for i in range(8)]
    df = pd.DataFrame({q: rng.integers(0, 2000, n).astype(float) for q in qis})
    df.loc[:9, qis] = 1.0  # one class of 10 identical records
    df.loc[100:104, qis] = np.nan  # and one of 5 all-missing records
    df["dx"] = rng.choice(["a", "b", None], n)
    r = check_microdata(df, qis, "dx")
    grouped = df.groupby(qis, dropna=False, sort=False)
    assert r.k == grouped.size().min() == 1
    assert r.l == grouped["dx"].nunique().min()
    sizes = grouped["dx"].transform("size")
    assert (r.class_sizes.to_numpy() == sizes.to_numpy()).all()
    assert r.class_sizes.max() == 10
    assert r.class_sizes.loc[100] == 5


# -------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("qis", "sensitive", "error", "words"),
    [
        ([], None, UsageError, "no quasi-identifiers"),
        (["age", "nope"], None, UsageError, "'nope'"),
        (["age"], "missing_dx", UsageError, "'missing_dx'"),
        (["age", "dx"], "dx", UsageError, "both quasi-identifier and sensitive"),
        (["age", "age"], None, UsageError, "listed twice"),
    ],
)
def test_bad_arguments(
    qis: list[str], sensitive: str | None, error: type[Exception], words: str
) -> None:
    df = pd.DataFrame({"age": [1, 2], "dx": ["a", "b"]})
    with pytest.raises(error, match=words):
        check_microdata(df, qis, sensitive)


def test_empty_frame() -> None:
    with pytest.raises(EmptyInputError, match="no records"):
        check_microdata(pd.DataFrame({"age": [], "dx": []}), ["age"], "dx")


def test_duplicate_column_names() -> None:
    df = pd.DataFrame([[1, 2, 3]], columns=["age", "age", "dx"])
    with pytest.raises(DuplicateHeaderError):
        check_microdata(df, ["age"], "dx")


def test_not_a_frame_and_unhashable_values() -> None:
    with pytest.raises(UsageError, match="DataFrame"):
        check_microdata([[1, 2]], ["a"])  # type: ignore[arg-type]
    df = pd.DataFrame({"a": [[1], [2]]})
    with pytest.raises(InputError, match="'a'"):
        check_microdata(df, ["a"])


def test_errors_are_input_errors() -> None:
    assert issubclass(UsageError, InputError)


# ------------------------------------------------------------------- properties

VALUES = st.one_of(st.none(), st.just(np.nan), st.integers(0, 3), st.sampled_from("abc"))


@st.composite
def frames(draw: st.DrawFn) -> tuple[pd.DataFrame, list[str], list[str]]:
    n = draw(st.integers(1, 40))
    n_qi = draw(st.integers(1, 3))
    n_sens = draw(st.integers(1, 2))
    cols: dict[str, list[object]] = {}
    for i in range(n_qi + n_sens):
        kind = draw(st.sampled_from(["int", "str", "mixed"]))
        elem: st.SearchStrategy[object]
        if kind == "int":
            elem = st.one_of(st.just(np.nan), st.integers(0, 3).map(float))
        elif kind == "str":
            elem = st.one_of(st.none(), st.sampled_from("abc"))
        else:
            elem = VALUES
        cols[f"c{i}"] = draw(st.lists(elem, min_size=n, max_size=n))
    df = pd.DataFrame(cols, index=draw(st.permutations(range(100, 100 + n))))
    names = list(cols)
    return df, names[:n_qi], names[n_qi:]


PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(frames())
def test_k_and_l_equal_pandas_groupby(case: tuple[pd.DataFrame, list[str], list[str]]) -> None:
    df, qis, sens = case
    r = check_microdata(df, qis, sens)
    grouped = df.groupby(qis, dropna=False, sort=False)
    assert r.k == grouped.size().min()
    assert r.l == min(grouped[s].nunique().min() for s in sens)
    sizes = df.assign(_one=1).groupby(qis, dropna=False, sort=False)["_one"].transform("size")
    assert r.class_sizes.equals(sizes.rename("class_size"))
    nunique = pd.concat([grouped[s].transform("nunique") for s in sens], axis=1).min(axis=1)
    expected_risky = df.index[(sizes < 5) | (nunique < 2)]
    assert list(r.risky_rows) == list(expected_risky)
    assert r.verdict is (Verdict.FAIL if r.k < 5 or r.l < 2 else Verdict.ESCALATE)


@PROPS
@given(frames())
def test_adding_a_record_to_the_smallest_class_never_decreases_k(
    case: tuple[pd.DataFrame, list[str], list[str]],
) -> None:
    df, qis, sens = case
    before = check_microdata(df, qis, sens)
    smallest = before.class_sizes.idxmin()
    extra = df.loc[[smallest]].set_axis([-1])
    after = check_microdata(pd.concat([df, extra]), qis, sens)
    assert after.k >= before.k
    assert after.l is not None
    assert before.l is not None
    assert after.l >= before.l  # a class only gains values


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 60).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 2), min_size=n, max_size=n),
            st.lists(st.sampled_from(["F", "M"]), min_size=n, max_size=n),
            st.lists(st.integers(0, 4), min_size=n, max_size=n),
        )
    )
)
def test_matches_pycanon_on_nan_free_frames(cols: tuple[list[int], list[str], list[int]]) -> None:
    anonymity = pytest.importorskip("pycanon.anonymity")
    df = pd.DataFrame({"age": cols[0], "sex": cols[1], "dx": cols[2]})
    r = check_microdata(df, ["age", "sex"], "dx")
    assert r.k == anonymity.k_anonymity(df, ["age", "sex"])
    assert r.l == anonymity.l_diversity(df, ["age", "sex"], ["dx"])
