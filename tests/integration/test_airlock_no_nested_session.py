"""A submission never opens a second database session inside its transaction.

On SQLite the airlock's connections take turns (airlock.db.engine), so a read through a
second session while the unit of work holds its turn waits for ever.  It happened: the
project's catalog entry was read inside ``submit_in_tx`` whenever the profile cache (2 s)
had expired, and a server hung on the first request after two idle seconds.  The cache is
made to expire at every read here, and the submissions must all be answered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airlock import profiles
from tests.harness.airlock import Api, Harness, api_env, safe_table

pytestmark = pytest.mark.integration


@pytest.fixture
def env(db_url: str, data_dir: Path) -> Iterator[tuple[Api, Harness]]:
    with api_env(db_url, data_dir) as pair:
        yield pair


def test_every_submission_is_answered_with_the_profile_cache_expired(
        env: tuple[Api, Harness], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api, _ = env
    monkeypatch.setattr(profiles, "TTL_SECONDS", -1.0)  # every lookup reads the catalog
    answers: list[Any] = []

    def submit_three() -> None:
        for i in range(3):  # the second and third meet the first's release in the ledger
            answers.append(api.submit_table("alice", safe_table(tmp_path / str(i))).json())

    worker = threading.Thread(target=submit_three, daemon=True)
    worker.start()
    # A liveness bound, not a timing: a deadlocked submission never returns at all.
    worker.join(timeout=120)
    assert not worker.is_alive(), "a submission hung (a session opened inside its transaction)"
    assert [a["state"] for a in answers] == ["released"] * 3
