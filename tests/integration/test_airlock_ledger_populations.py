"""The disclosure ledger through the airlock, the researcher's way: tables with margins,
saved with statbarn, submitted with a dataset; a decision every time (never a 500), the
earlier release named as the researcher knows it, and record sets that never leave."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

import statbarn as sb
from airlock.db.models import LedgerEntry
from tests.harness.airlock import Api, Harness, api_env, patients
from tre.db import transaction

pytestmark = pytest.mark.integration


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with api_env(db_url, tmp_path / "data") as env:
        yield env


def submit(api: Api, folder: Path, name: str, df: pd.DataFrame, context: str,
           dataset: str | None = "cohort") -> dict[str, object]:
    out = sb.crosstab(df.region, df.sex, margins=True)
    side = out.save(folder / name)
    extra = {"dataset": dataset} if dataset else {}
    r = api.submit_table("alice", (folder / name, side), context=context, extra=extra)
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def test_a_request_with_margins_against_a_release_with_margins_gets_a_decision(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    # Old code: 500 (ValueError: object too deep for desired array) on the second request.
    api, h = env
    df = patients()
    first = submit(api, tmp_path, "by_region.csv", df,
                   "Patients by region and sex\nTable 1 of the paper")
    assert first["state"] == "released"
    fewer = df.drop(df[(df.region == "North") & (df.sex == "F")].index[:3])
    second = submit(api, tmp_path, "fewer.csv", fewer, "Patients again")
    assert second["state"] == "in_review"
    decision = str(second["decision"])
    assert "\u201cPatients by region and sex\u201d, by_region.csv, released " in decision
    assert "leaves 3 record(s)" in decision and "region=North, sex=F" in decision
    # the check's details hold the earlier table's cells for the review page
    with transaction(h.ctx.db) as s:
        entries = s.execute(select(LedgerEntry.table)).scalars().all()
    assert len(entries) == 1 and entries[0]["title"] == "Patients by region and sex"
    assert entries[0]["file_name"] == "by_region.csv" and "records" in entries[0]
    checks = second["files"][0]["checks"][0]["result"]["checks"]  # type: ignore[index]
    diff = next(c for c in checks if c["rule"] == "differencing")
    [earlier] = diff["details"]["earlier"]
    assert (earlier["title"], earlier["file"]) == ("Patients by region and sex", "by_region.csv")
    north = earlier["table"]["rows"].index(["North"])
    assert earlier["table"]["counts"][north][earlier["table"]["cols"].index(["F"])] == \
        int(((df.region == "North") & (df.sex == "F")).sum())
    # approved by a checker and released: the record that leaves has no details
    fid = second["files"][0]["id"]  # type: ignore[index]
    assert api.vote("carol", str(second["id"]), fid, "approve").status_code == 200
    r = api.bundle("alice", str(second["id"]))
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        record = json.loads(zf.read("record.json"))
    [check] = [c for c in record["files"][0]["checks"][0]["result"]["checks"]
               if c["rule"] == "differencing"]
    assert "details" not in check and "leaves 3 record(s)" in json.dumps(check)


def test_the_record_sets_never_leave_in_the_bundle(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    api, _ = env
    df = patients()
    first = submit(api, tmp_path, "by_region.csv", df, "Patients by region and sex")
    assert first["state"] == "released"
    sidecar = json.loads((tmp_path / "by_region.csv.statbarn.json").read_text())
    secret = sidecar["table"]["records"]["cells"]
    r = api.bundle("alice", str(first["id"]))
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        for member in zf.namelist():
            data = zf.read(member).decode("utf-8", "replace")
            assert secret not in data and "statbarn-records" not in data, member
            assert not member.endswith(".statbarn.json")
