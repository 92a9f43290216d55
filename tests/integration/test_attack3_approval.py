"""Attack: two tables that difference each other, one waiting for a person, the other
released automatically meanwhile.  The first was checked against the ledger as it was
when it was submitted (empty); the second against the ledger of *released* tables (the
first was not released yet).  When a checker then approves the first, it is released
without being compared with the second: the pair leaves 3 patients of North/F, and no
check ever said so.

A checker approving a table they were told was clean ("No differencing against 0
comparable earlier release(s)") cannot see the second release either."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import statbarn as sb
from airlock.db.models import Request
from tests.harness.airlock import Api, Harness, api_env, patients

pytestmark = pytest.mark.integration


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    # free text over 60 characters goes to a person: that is how the first waits
    with api_env(db_url, tmp_path / "data", auto_release_text_chars=60) as env:
        yield env


def _submit(api: Api, folder: Path, name: str, df: Any, context: str) -> dict[str, Any]:
    out = sb.crosstab(df.region, df.sex, margins=True)
    side = out.save(folder / name)
    r = api.submit_table("alice", (folder / name, side), context=context,
                         extra={"dataset": "cohort"})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_an_approval_is_compared_with_what_was_released_meanwhile(
        env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    df = patients()
    first = _submit(api, tmp_path, "all.csv", df,
                    "Patients by region and sex, all of them, for table one of the paper")
    assert first["state"] == "in_review"  # its text is long: a person reads it
    fewer = df.drop(df[(df.region == "North") & (df.sex == "F")].index[:3])
    second = _submit(api, tmp_path, "fewer.csv", fewer, "Patients by region")
    assert second["state"] == "released"  # nothing released to compare it with
    fid = first["files"][0]["id"]
    r = api.vote("carol", first["id"], fid, "approve")
    assert r.status_code in (200, 409), r.text
    with h.ctx.db() as s:
        state, decision = s.execute(select(Request.state, Request.decision)
                                    .where(Request.id == first["id"])).one()
    # released now, the two releases give away 3 patients (hand check: North/F 3 fewer)
    assert state != "released", "released without comparing it with fewer.csv"
    # returned to the researcher, with the reason (a revision is checked as new)
    assert state == "returned"
    [reason] = decision["released_meanwhile"]
    assert reason.startswith("all.csv: compared with what was released while it waited")
    assert "fewer.csv" in reason and "differencing" in reason, reason


def test_an_approval_with_nothing_released_meanwhile_is_released(
        env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    first = _submit(api, tmp_path, "all.csv", patients(),
                    "Patients by region and sex, all of them, for table one of the paper")
    assert first["state"] == "in_review"
    r = api.vote("carol", first["id"], first["files"][0]["id"], "approve")
    assert r.status_code == 200, r.text
    with h.ctx.db() as s:
        state = s.scalars(select(Request.state).where(Request.id == first["id"])).one()
    assert state == "released"
