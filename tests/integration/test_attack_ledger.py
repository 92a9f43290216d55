"""The differencing ledger attacked the researcher's way (round review): a sidecar whose
record sets cost the server memory, an index shifted so two populations look disjoint, a
dataset renamed so there is nothing to compare.  Each asserts the safe behaviour."""

from __future__ import annotations

import base64
import hashlib
import json
import tracemalloc
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import statbarn as sb
from statbarn.records import MAX_RECORDS
from tests.harness.airlock import Api, Harness, api_env, patients


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with api_env(db_url, tmp_path / "data") as (api, h):
            yield api, h


def submit(api: Api, folder: Path, name: str, df: pd.DataFrame, dataset: str | None
           ) -> dict[str, Any]:
    out = sb.crosstab(df.region, df.sex, margins=True)
    sidecar = out.save(folder / name)
    extra = {"dataset": dataset} if dataset else {}
    r = api.submit_table("alice", (folder / name, sidecar), context="patients by region",
                         extra=extra)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def fewer(df: pd.DataFrame) -> pd.DataFrame:
    """The population less 3 women of the North: differencing isolates them."""
    return df.drop(df[(df.region == "North") & (df.sex == "F")].index[:3])


def test_the_same_pair_with_the_index_shifted(env: Any, tmp_path: Path) -> None:
    """The record ids come from the frame's index, which the researcher controls: shifted,
    the two populations look disjoint although their variables say they are one."""
    api, _ = env
    df = patients()
    assert submit(api, tmp_path, "a.csv", df, "cohort")["state"] == "released"
    f = fewer(df)
    f.index = f.index + 10_000_000
    second = submit(api, tmp_path, "b.csv", f, "cohort")
    assert second["state"] == "in_review", "3 records isolated: released automatically"


def test_the_same_pair_under_another_dataset_name(env: Any, tmp_path: Path) -> None:
    """The project has no catalogue, so the dataset is free text: another name for the
    same data must not leave the ledger with nothing to compare."""
    api, _ = env
    df = patients()
    assert submit(api, tmp_path, "a.csv", df, "cohort")["state"] == "released"
    second = submit(api, tmp_path, "b.csv", fewer(df), "cohort-v2")
    assert second["state"] == "in_review", "3 records isolated: released automatically"


def _packed(raw: bytes) -> str:
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def _forged(tmp: Path, n: int) -> tuple[Path, Path]:
    """A one-cell table whose sidecar declares ``n`` records (consistent with its count):
    zlib makes them a few tens of kilobytes."""
    df = pd.DataFrame({"region": ["All"] * 20, "sex": ["F"] * 20})
    path = tmp / "all.csv"
    side = sb.crosstab(df.region, df.sex).save(path)
    path.write_text(path.read_text().replace(",20", f",{n}"))
    d = json.loads(side.read_text())
    d["file"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    d["table"]["cells"]["count"] = [[n]]
    ids = np.ones(n, dtype=np.uint8)
    ids[0] = 0
    d["table"]["records"].update(n=n, id_type="|u1", ids=_packed(ids.tobytes()),
                                 cell_type="|u1", cells=_packed(bytes(n)))
    side.write_text(json.dumps(d))
    return path, side


def test_a_small_sidecar_does_not_cost_the_server_a_gigabyte(env: Any, tmp_path: Path
                                                              ) -> None:
    api, _ = env
    n = 2 * MAX_RECORDS  # 20,000,000 records declared
    path, side = _forged(tmp_path, n)
    assert side.stat().st_size < 200_000
    tracemalloc.start()
    try:
        r = api.submit_table("alice", (path, side), context="all patients",
                             extra={"dataset": "cohort"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 413, r.text
    assert "20,000,000 records" in r.text and "10,000,000" in r.text
    # Decoded, 20M ids and cells would cost 320 MB at 8 bytes; nothing is decoded.
    assert peak < 100 * 2**20, f"the server traced {peak / 2**20:.0f} MB"
