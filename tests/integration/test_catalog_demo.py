"""The demo's synthetic OMOP-shaped health record: deterministic, consistent, realistic."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from tre.demo import ehr as demo_ehr
from tre.demo.ehr import TABLES, write_ehr


def _digests(path: Path) -> dict[str, str]:
    return {t: hashlib.sha256((path / f"{t}.parquet").read_bytes()).hexdigest()
            for t in TABLES}


def test_same_arguments_same_files(tmp_path: Path) -> None:
    a = write_ehr(tmp_path / "a", 2_000, seed=7)
    b = write_ehr(tmp_path / "b", 2_000, seed=7)
    assert _digests(a) == _digests(b)
    assert _digests(write_ehr(tmp_path / "c", 2_000, seed=8)) != _digests(a)
    assert not list(a.glob(".*.part"))


def test_tables_hold_together_across_chunks(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_ehr, "CHUNK", 700)  # several chunks from a small demo
    d = write_ehr(tmp_path, 2_500)
    t = {name: pd.read_parquet(d / f"{name}.parquet") for name in TABLES}
    persons = t["person"]
    assert len(persons) == 2_500 and persons["person_id"].is_unique
    for name in TABLES[1:]:
        ids = t[name].iloc[:, 0]
        assert ids.is_unique and ids.min() == 1, name
        assert t[name]["person_id"].isin(persons["person_id"]).all(), name
    visits = t["condition_occurrence"]["visit_occurrence_id"].dropna()
    assert visits.isin(t["visit_occurrence"]["visit_occurrence_id"]).all()
    assert set(persons["sex"]) == {"F", "M"} and persons["region"].nunique() == 10
    cost = t["visit_occurrence"]["total_cost"]
    assert cost.min() > 0 and cost.max() > 20 * cost.median()  # a heavy tail
    codes = t["condition_occurrence"]["condition_code"].value_counts()
    assert codes["I10"] > codes["C50"]  # common conditions are common


def test_rare_conditions_make_small_cells(tmp_path: Path) -> None:
    d = write_ehr(tmp_path, 100_000)
    codes = pd.read_parquet(d / "condition_occurrence.parquet")["condition_code"]
    rare = codes.value_counts().reindex(["E84", "G12.2"]).fillna(0)
    assert (rare > 0).all() and (rare < 10).all()


def test_size_is_bounded(tmp_path: Path) -> None:
    for persons in (999, 10_000_001):
        with pytest.raises(ValueError, match="outside"):
            write_ehr(tmp_path, persons)
