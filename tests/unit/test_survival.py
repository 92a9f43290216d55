"""Survival tables and hypothesis tests, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

import statbarn as sb
from statbarn.errors import EmptyInputError, InputError

pytestmark = pytest.mark.unit


def test_survival_exact_times_flag_small_steps() -> None:
    # 4 people: events at 1 and 3, censored at 2 and 4.
    out = sb.survival_table([1, 2, 3, 4], [True, False, True, False])
    t = out.table
    assert list(t.at_risk) == [4, 3, 2, 1]
    assert list(t.events) == [1, 0, 1, 0]
    assert t.survival.tolist() == pytest.approx([0.75, 0.75, 0.375, 0.375])
    assert out.assessment.statbarn == "survival"
    assert out.verdict == "fail"


def test_survival_binned_large_groups_pass() -> None:
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 10, 2000)
    e = rng.random(2000) < 0.5
    out = sb.survival_table(d, e, bins=[0, 2.5, 5, 7.5, 10])
    assert len(out.table) == 4
    assert out.verdict == "pass"
    assert out.table.at_risk.iloc[0] == 2000


def test_survival_bad_input() -> None:
    with pytest.raises(EmptyInputError):
        sb.survival_table([], [])
    with pytest.raises(InputError, match="same length"):
        sb.survival_table([1, 2], [True])
    with pytest.raises(InputError, match="non-negative"):
        sb.survival_table([1, -2], [True, False])
    with pytest.raises(InputError, match="cover"):
        sb.survival_table([1, 20], [True, False], bins=[0, 10])


@pytest.mark.parametrize(("dof", "verdict"), [(9, "fail"), (10, "pass"), (None, "escalate")])
def test_hypothesis_test_dof(dof: int | None, verdict: str) -> None:
    out = sb.hypothesis_test(2.1, 0.04, dof, name="t-test")
    assert out.verdict == verdict
    assert out.assessment.statbarn == "hypothesis_test"
