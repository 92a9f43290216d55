"""The demo dataset: deterministic, with safe common categories and one rare one."""

from __future__ import annotations

import pandas as pd
import pytest

from tre.demo.outputs import RARE_CONDITION, RARE_PATIENTS, REGIONS, make_demo_frame

pytestmark = pytest.mark.unit


def test_same_seed_same_frame() -> None:
    pd.testing.assert_frame_equal(make_demo_frame(500, seed=1), make_demo_frame(500, seed=1))
    assert not make_demo_frame(500, seed=1).equals(make_demo_frame(500, seed=2))


def test_shape_and_columns() -> None:
    df = make_demo_frame()
    assert len(df) == 5000
    assert list(df.columns) == ["patient_id", "region", "sex", "age_band", "diagnosis", "cost"]
    assert set(df["region"]) == set(REGIONS)
    assert set(df["sex"]) == {"F", "M"}
    assert df["patient_id"].is_unique
    assert (df["cost"] > 0).all()


def test_region_by_sex_counts_are_all_safe() -> None:
    df = make_demo_frame()
    assert pd.crosstab(df["region"], df["sex"]).to_numpy().min() >= 10


def test_rare_condition_makes_small_cells() -> None:
    df = make_demo_frame()
    rare = df[df["diagnosis"] == RARE_CONDITION]
    assert len(rare) == RARE_PATIENTS
    assert rare.groupby("sex").size().max() < 10


def test_rejects_empty() -> None:
    with pytest.raises(ValueError, match="n_rows"):
        make_demo_frame(0)
