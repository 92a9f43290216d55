"""Bare tables are not trusted to be counts (issue 11): a table without evidence is
released automatically only when its statistic is known, declared in the manifest or
named by the profile; whole numbers alone never make a frequency table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.harness.airlock import PROJECT, Api, Harness, api_env

pytestmark = pytest.mark.integration
# "mean income (thousands)" by ward: whole numbers, and not counts
MEAN_INCOME = b"ward,mean_income_k\nAbbey,31\nBridge,28\nCastle,45\n"
SUMMED_COSTS = b"ward,F,M\nAbbey,120400,98000\nBridge,75300,66100\n"
MEDIAN_AGE = b"ward,F,M\nAbbey,4,5\nBridge,6,4\n"  # medians of 4: not "4 contributors"
COUNTS = b"region,F,M\nNorth,25,31\nSouth,40,18\n"
SMALL_COUNTS = b"region,F,M\nNorth,25,3\nSouth,40,18\n"


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with api_env(db_url, tmp_path / "data") as env:
        yield env


def reasons(r: Any) -> str:
    return " ".join(x["message"] for x in r.json()["decision"]["reasons"])


def declared(name: str, statistic: str) -> list[dict[str, str]]:
    return [{"name": name, "statistic": statistic}]


def test_whole_numbers_without_a_statistic_go_to_a_person(env: tuple[Api, Harness]) -> None:
    api, _ = env
    r = api.submit("alice", [("income.csv", MEAN_INCOME)])
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "in_review"  # was released, checked as a frequency table
    text = reasons(r)
    assert "without a declared statistic" in text
    assert '"statistic": "count"' in text and "--statistic" in text


def test_declared_magnitudes_without_evidence_escalate(env: tuple[Api, Harness]) -> None:
    api, _ = env
    r = api.submit("alice", [("costs.csv", SUMMED_COSTS)],
                   manifest=declared("costs.csv", "sum"))
    assert r.status_code == 201 and r.json()["state"] == "in_review", r.text
    assert "declared to hold sum values" in reasons(r) and "dominance" in reasons(r)
    check = r.json()["files"][0]
    assert check["verdict"] == "escalate"


def test_a_median_table_of_small_whole_numbers_is_not_rejected(
    env: tuple[Api, Harness]
) -> None:
    api, _ = env
    for manifest in (None, declared("median.csv", "median")):
        r = api.submit("alice", [("median.csv", MEDIAN_AGE)], manifest=manifest)
        assert r.status_code == 201, r.text
        assert r.json()["state"] == "in_review"  # was rejected as "made of 4 contributors"
        assert "contributors" not in reasons(r)


def test_declared_counts_are_checked_as_frequency_tables(env: tuple[Api, Harness]) -> None:
    api, _ = env
    r = api.submit("alice", [("t.csv", COUNTS)], manifest=declared("t.csv", "count"))
    assert r.status_code == 201 and r.json()["state"] == "released", r.text
    r = api.submit("alice", [("t.csv", SMALL_COUNTS)],
                   manifest=declared("t.csv", "Frequency"))  # statbarn's words or common ones
    assert r.status_code == 201 and r.json()["state"] == "rejected", r.text
    assert r.json()["files"][0]["alternative"] is not None


def test_a_declared_count_that_is_not_whole_is_refused_in_words(
    env: tuple[Api, Harness]
) -> None:
    api, _ = env
    r = api.submit("alice", [("t.csv", b"region,F,M\nNorth,25,31.5\nSouth,40,18\n")],
                   manifest=declared("t.csv", "count"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == (
        "t.csv: the table is declared to hold counts, but the cell in row 2, column 'M' is "
        "31.5, not a whole number of people; declare the statistic it holds (mean, median, "
        "sum, ...) instead")


def test_unknown_or_misplaced_statistics_are_refused(env: tuple[Api, Harness]) -> None:
    api, _ = env
    r = api.submit("alice", [("t.csv", COUNTS)], manifest=declared("t.csv", "avg"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("t.csv: the statistic 'avg' is not one statbarn "
                                         "knows; declare one of count, max, mean, median")
    r = api.submit("alice", [("notes.md", b"# notes\n")], manifest=declared("notes.md", "count"))
    assert r.status_code == 422, r.text
    assert "notes.md is not a table (markdown)" in r.json()["detail"]


def test_the_profile_may_name_the_statistic_of_bare_tables(db_url: str, tmp_path: Path) -> None:
    profile = tmp_path / "counts-only.yaml"
    profile.write_text("name: counts-only\nversion: '1'\nbare_table_statistic: count\n")
    with api_env(db_url, tmp_path / "data", project_profiles={PROJECT: str(profile)}) as (api, _):
        r = api.submit("alice", [("t.csv", COUNTS)])
        assert r.status_code == 201 and r.json()["state"] == "released", r.text
        r = api.submit("alice", [("m.csv", MEDIAN_AGE)], manifest=declared("m.csv", "median"))
        assert r.json()["state"] == "in_review"  # a declaration wins over the profile's rule


def test_counts_written_as_text_are_named_not_called_records(env: tuple[Api, Harness]) -> None:
    api, _ = env
    body = b'region,F,M\nNorth,"1,234","2,001"\nSouth,"1,040","1,118"\n'
    r = api.submit("alice", [("t.csv", body)], manifest=declared("t.csv", "count"))
    assert r.status_code == 201, r.text
    text = reasons(r)
    assert "row-level" not in text
    assert "column 'F' holds numbers written as text ('1,234' in row 2)" in text


def test_a_long_parquet_tables_label_columns_are_labels(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    api, _ = env
    long = pd.DataFrame({"year": [2023, 2023, 2024, 2024],
                         "region": ["North", "South", "North", "South"],
                         "n": [25, 40, 31, 18]})
    long.to_parquet(tmp_path / "long.parquet")
    r = api.submit("alice", [("long.parquet", (tmp_path / "long.parquet").read_bytes())],
                   manifest=declared("long.parquet", "count"))
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "released"  # was escalated: "column 'region' holds text"


def test_pandas_unnamed_columns_are_never_shown(env: tuple[Api, Harness]) -> None:
    api, _ = env
    r = api.submit("alice", [("t.csv", b"region,F,\nNorth,25,a\nSouth,40,b\nEast,12,c\n")],
                   manifest=declared("t.csv", "count"))
    assert r.status_code == 201, r.text
    text = reasons(r)
    assert "Unnamed" not in text
    assert "column 3 (it has no header) holds text ('a' in row 2)" in text


def test_a_draft_keeps_its_declared_statistic_until_submitted(
    env: tuple[Api, Harness]
) -> None:
    # The declaration was not stored with a draft: submitted later, its bare table of
    # counts went to a person as if nothing had been declared.
    api, _ = env
    draft = api.submit("alice", [("t.csv", COUNTS)], manifest=declared("t.csv", "count"),
                       extra={"draft": "true"}).json()
    assert draft["state"] == "draft"
    r = api.post("alice", f"/api/requests/{draft['id']}/submit")
    assert r.status_code == 200 and r.json()["state"] == "released", r.text
    # and a draft with nothing declared still goes to a person when submitted
    bare = api.submit("alice", [("income.csv", MEAN_INCOME)], extra={"draft": "true"}).json()
    r = api.post("alice", f"/api/requests/{bare['id']}/submit")
    assert r.status_code == 200 and r.json()["state"] == "in_review", r.text
