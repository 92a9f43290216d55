"""Attack: a differencing check's ``details`` (the earlier releases' cells, the new
table's cells and the terms combined) are the review page's material.  The bundle that
leaves the TRE drops them (test_airlock_ledger_populations), but the request view sent
to a caller *outside* the TRE (a browser, once the request is returned) kept them.

For an earlier release of *means*, ``details.earlier[*].table.counts`` are the cells'
contributor counts, which were never released (the file held means), and the release
was another researcher's (bob's): they reached alice's browser."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import statbarn as sb
from tests.harness.airlock import Api, Harness, api_env, auth, patients

pytestmark = pytest.mark.integration


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with api_env(db_url, tmp_path / "data") as env:
        yield env


def _diff(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for f in view.get("files", []) for fc in f.get("checks", [])
            for c in fc["result"].get("checks", []) if c.get("rule") == "differencing"]


def test_differencing_details_never_reach_a_caller_outside(
        env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    df = patients()
    # bob releases a table of mean cost by region and sex (means only in the file)
    means = sb.crosstab(df.region, df.sex, values=df.cost, aggfunc="mean", margins=True)
    side = means.save(tmp_path / "mean_cost.csv")
    r = api.submit_table("bob", (tmp_path / "mean_cost.csv", side),
                         context="Mean cost by region and sex", extra={"dataset": "cohort"})
    assert r.status_code == 201 and r.json()["state"] == "released", r.text
    assert "North" in (tmp_path / "mean_cost.csv").read_text()
    # alice's table of means of the same patients less 3 in North/F: differencing
    fewer = df.drop(df[(df.region == "North") & (df.sex == "F")].index[:3])
    counts = sb.crosstab(fewer.region, fewer.sex, values=fewer.cost, aggfunc="mean",
                         margins=True)
    side = counts.save(tmp_path / "fewer.csv")
    r = api.submit_table("alice", (tmp_path / "fewer.csv", side), context="Patients",
                         extra={"dataset": "cohort"})
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["state"] == "in_review" and _diff(new)[0]["verdict"] != "pass"
    fid = new["files"][0]["id"]
    assert api.vote("carol", new["id"], fid, "request_changes",
                    comment="please explain").status_code == 200
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    with TestClient(h.app) as outside:  # alice's browser, outside the TRE
        view = outside.get(f"/api/requests/{new['id']}", headers=auth("alice")).json()
    assert view["state"] == "returned" and view.get("files")  # content shown outside
    [diff] = _diff(view)
    # what the checker and researcher need stays: the verdict and its sentences
    assert diff["verdict"] != "pass" and "leaves 3 " in str(diff)
    # bob's unreleased contributor counts (North/F has this many patients) do not
    north_f = int(((df.region == "North") & (df.sex == "F")).sum())
    assert "details" not in diff, f"details reached a browser (North/F n={north_f})"
