"""Parser bombs at the API: declared sizes are read before anything is loaded, and what
gets past them is stopped by the check worker's limits, while other clients' requests
carry on (issue 11: "a server killed by a tiny file")."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from airlock.db.models import Request
from tests.bombs import parquet_dictionary_bomb, parquet_row_bomb, png_pixel_bomb
from tests.harness.airlock import Api, Harness, api_env, safe_table

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def row_bomb(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return parquet_row_bomb(tmp_path_factory.mktemp("bomb") / "counts.parquet").read_bytes()


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    # A small worker (1 GiB of address space, ~350 MB of it free after the imports) so
    # that an 800 MB table is a bomb here without costing the test machine much.
    with api_env(db_url, tmp_path / "data", check_memory_mb=1024) as env:
        yield env


def requests_stored(h: Harness) -> int:
    with h.ctx.db() as s:
        return int(s.scalar(select(func.count()).select_from(Request)) or 0)


def test_parquet_declaring_300_million_rows_is_refused_from_its_footer(
    env: tuple[Api, Harness], row_bomb: bytes
) -> None:
    api, h = env
    assert len(row_bomb) < 11_000
    r = api.submit("alice", [("counts.parquet", row_bomb)])
    assert r.status_code == 413, r.text
    detail = r.json()["detail"]
    assert "declares 300,000,000 rows (at most 1,000,000)" in detail
    assert "bytes" not in detail and " MB" in detail
    assert requests_stored(h) == 0
    assert list(h.ctx.store.tmp.iterdir()) == []


def test_bombs_past_the_declared_sizes_cost_one_worker_not_the_server(
    env: tuple[Api, Harness], tmp_path: Path
) -> None:
    """A dictionary bomb (footer honest, 800 MB decoded) and a 50,000 x 50,000 PNG are
    submitted at the same time as another client's ordinary table: the bombs get a
    clean answer, the ordinary request is released."""
    api, h = env
    bomb = parquet_dictionary_bomb(tmp_path / "regions.parquet").read_bytes()
    ordinary = safe_table(tmp_path)
    answers: dict[str, Any] = {}

    def send(key: str, user: str, **kw: Any) -> None:
        answers[key] = (api.submit_table(user, kw.pop("pair")) if "pair" in kw
                        else api.submit(user, **kw))

    threads = [
        threading.Thread(target=send, args=("bomb", "alice"),
                         kwargs={"files": [("regions.parquet", bomb)]}),
        threading.Thread(target=send, args=("png", "alice"),
                         kwargs={"files": [("plot.png", png_pixel_bomb())]}),
        threading.Thread(target=send, args=("ordinary", "bob"), kwargs={"pair": ordinary}),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    r = answers["bomb"]
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "too_costly"
    assert "more than 1,024 MB of memory" in r.json()["detail"]
    assert r.json()["detail"].startswith("regions.parquet: ")
    png = answers["png"]
    assert png.status_code < 500, png.text  # refused or sent to a person; never a crash
    ok = answers["ordinary"]
    assert ok.status_code == 201 and ok.json()["state"] == "released", ok.text
    # the worker that ran out was replaced: the next ordinary request is checked as usual
    again = api.submit_table("bob", safe_table(tmp_path, "again.csv"))
    assert again.status_code == 201 and again.json()["state"] == "released", again.text
    assert requests_stored(h) == (3 if png.status_code == 201 else 2)
