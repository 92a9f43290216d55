"""The airlock wired to its neighbours: webhooks on every state change (a real receiver
on loopback), the audit trail of every change, reviewers' previews, other file kinds,
and the models agreeing with migration 0002_airlock on both engines."""

from __future__ import annotations

import io
import json
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]
import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from airlock.notify import Notifier, NotifySettings
from tests.harness.airlock import (
    WORKSPACE_ADDRESS,
    Api,
    Harness,
    airlock_app,
    failing_table,
    patients,
    safe_table,
)
from tre import audit
from tre.db import Base, import_models, make_engine, transaction

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette prefers httpx2; httpx is what we ship
    from starlette.testclient import TestClient

pytestmark = pytest.mark.integration


class Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", server.received  # type: ignore
    server.shutdown()


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Harness]]:
    with airlock_app(db_url, tmp_path / "data") as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        yield Api(client), h


def test_every_state_change_reaches_the_webhook(
    db_url: str, tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = receiver
    notifier = Notifier(NotifySettings(webhook_urls=[url], backoff_seconds=0.05))
    with airlock_app(db_url, tmp_path / "data", notifier=notifier) as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        api = Api(client)
        released = api.submit_table("alice", safe_table(tmp_path)).json()
        rejected = api.submit_table("alice", failing_table(tmp_path)).json()
        assert api.submit("alice", [("a.csv", b"")]).status_code == 422  # no change, no event
        assert notifier.close(10)
    moves = {(e["request_id"], e["from_state"], e["to_state"]) for e in received}
    rid, bad = released["id"], rejected["id"]
    assert moves == {
        (rid, "draft", "submitted"), (rid, "submitted", "checking"),
        (rid, "checking", "approved"), (rid, "approved", "released"),
        (bad, "draft", "submitted"), (bad, "submitted", "checking"),
        (bad, "checking", "rejected"),
    }
    assert all(e["type"] == "request.state_changed" and e["project"] == "demo-project"
               for e in received)


def test_the_history_is_the_audit_trail(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, h = env
    req = api.submit_table("alice", safe_table(tmp_path)).json()
    history = api.get("alice", f"/api/requests/{req['id']}/history").json()["events"]
    actions = [e["action"] for e in history]
    assert actions == ["airlock.request.create"] + ["airlock.request.transition"] * 4
    steps = [(e["details"]["from"], e["details"]["to"]) for e in history[1:]]
    assert steps == [("draft", "submitted"), ("submitted", "checking"),
                     ("checking", "approved"), ("approved", "released")]
    assert history[0]["details"]["authz"][0]["allowed"] is True
    assert history[3]["details"]["files"][0]["verdict"] == "pass"
    assert history[4]["details"]["release_id"] == req["release"]["id"]
    with transaction(h.ctx.db) as s:
        assert audit.verify(s).ok


def test_reviewers_preview_files_and_alternatives(env: tuple[Api, Harness],
                                                 tmp_path: Path) -> None:
    api, h = env
    path, side = failing_table(tmp_path)
    req = api.submit_table("alice", (path, side), manifest=[
        {"name": path.name, "exception": "please look"}]).json()
    f = req["files"][0]
    url = f"/api/requests/{req['id']}/files/{f['id']}/content"
    r = api.get("carol", url)
    assert r.status_code == 200 and r.content == path.read_bytes()
    assert r.headers["content-security-policy"].startswith("sandbox")
    assert r.headers["x-content-type-options"] == "nosniff"
    alt = api.get("carol", url + "?alternative=true")
    assert alt.status_code == 200 and b"Islands" in alt.content
    assert api.get("alice", url).status_code == 403  # never to the requester
    assert api.get("zoe", url).status_code == 404
    assert api.get("carol", f"/api/requests/{req['id']}/files/nope/content").status_code == 404
    with transaction(h.ctx.db) as s:
        views = [e for e in audit.iter_events(s) if e.action == "airlock.file.view"]
    assert len(views) == 2


def _xlsx(rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_other_kinds(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, _ = env
    df = patients()
    table = pd.crosstab(df.region, df.sex)
    small = table.copy()
    small.iloc[0, 0] = 2
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "source": "t", "metadata": {}, "execution_count": 1,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": repr(small)}]}]}
    r = api.submit("alice", [("analysis.ipynb", json.dumps(nb).encode())])
    assert r.status_code == 201 and r.json()["state"] == "rejected"
    assert any("cell 1, output 1" in x["message"] for x in r.json()["decision"]["reasons"])
    table.reset_index().to_parquet(tmp_path / "t.parquet")
    r = api.submit("alice", [("t.parquet", (tmp_path / "t.parquet").read_bytes())])
    assert r.status_code == 201 and r.json()["files"][0]["kind"] == "parquet"
    # whole numbers alone are not counts: without a declared statistic a person looks
    assert r.json()["state"] == "in_review"
    assert "declare what its cells hold" in r.json()["decision"]["reasons"][0]["message"]
    r = api.submit("alice", [("t.parquet", (tmp_path / "t.parquet").read_bytes())],
                   manifest=[{"name": "t.parquet", "statistic": "count"}])
    assert r.json()["state"] == "released"  # a declared frequency table without evidence
    r = api.submit("alice", [("t.xlsx", _xlsx([["region", "n"], ["North", 12]]))])
    assert r.status_code == 201 and r.json()["state"] == "in_review", r.text
    r = api.submit("alice", [("a.json", b'{"n": 3}'), ("fig.pdf", b"%PDF-1.4\n%%EOF\n")])
    assert [f["kind"] for f in r.json()["files"]] == ["json", "pdf"]


def test_models_match_the_migration(db_url: str) -> None:
    import airlock.db.models
    import airlock.db.outbox
    import airlock.db.sessions  # noqa: F401  (the app's tables, as the migrations' env does)

    import_models()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    # Every table of every package, not only the airlock's: a model changed without its
    # migration (or the reverse) anywhere is caught here.
    assert diff == []


def test_notifications_come_after_the_commit(env: tuple[Api, Harness]) -> None:
    """A failing transaction announces nothing."""
    api, h = env
    calls: list[tuple[str, str]] = []

    class Recorder:
        def state_changed(self, **kw: Any) -> None:
            calls.append((kw["from_state"], kw["to_state"]))

        def close(self, timeout: float = 10.0) -> bool:
            return True

    h.ctx.notifier = Recorder()
    req = api.submit("alice", [("n.md", b"# n\n")]).json()
    assert calls == [("draft", "submitted"), ("submitted", "checking"),
                     ("checking", "in_review")]
    calls.clear()
    original = h.ctx.clock

    class Broken:
        def now(self) -> Any:
            raise RuntimeError("clock failure")

    h.ctx.clock = Broken()
    quiet = Api(TestClient(h.app, raise_server_exceptions=False,  # as a real server answers
                           client=WORKSPACE_ADDRESS))
    r = quiet.vote("carol", req["id"], req["files"][0]["id"], "approve")
    h.ctx.clock = original
    assert r.status_code == 500 and "Traceback" not in r.text
    assert calls == []
    assert r.json()["code"] == "internal" and "reference" in r.json()["detail"]
    assert api.request("alice", req["id"]).json()["state"] == "in_review"
