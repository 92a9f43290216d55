"""Durable notifications (issue 13): the outbox is written with the change, delivered at
least once with its idempotency key, resumed after a crash, by one deliverer at a time.

The receiver is a real HTTP server on 127.0.0.1; the crash is a SIGKILL of a real
``tre airlock serve`` process.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from airlock.db.outbox import DELIVERED, PENDING, OutboxItem
from airlock.notify import NotifySettings
from airlock.outbox import OutboxNotifier
from tests.harness.airlock import TOKENS, auth
from tests.hostile import png_bytes
from tests.integration.test_airlock_notify import CHECKERS, parse, smtp_server, smtp_settings
from tests.integration.test_airlock_serve import REPO, Server, free_port
from tre.db import make_engine, session_factory, transaction

pytestmark = pytest.mark.integration
__all__ = ["smtp_server"]  # the SMTP server fixture, shared with the Notifier's tests
# a real image (fake ones are refused); escalates: created, submitted, checking, review
PNG = png_bytes()


class Receiver:
    """A webhook receiver: answers ``status`` and records each event it accepted."""

    def __init__(self) -> None:
        self.status = 200
        self.accepted: list[dict[str, Any]] = []
        self.refused = 0
        me = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_a: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = me.status
                if status == 200:
                    me.accepted.append({"id": self.headers["X-Tre-Event-Id"],
                                        "attempt": self.headers["X-Tre-Delivery-Attempt"],
                                        "body": json.loads(body)})
                else:
                    me.refused += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def rows(factory: sessionmaker[Session]) -> list[OutboxItem]:
    with factory() as s:
        found = list(s.scalars(select(OutboxItem).order_by(OutboxItem.id)))
        s.expunge_all()
        return found


def settings(url: str) -> NotifySettings:
    return NotifySettings(webhook_urls=[url], backoff_seconds=0.01, backoff_max_seconds=0.05)


def test_written_with_the_change_and_delivered_once_by_one_deliverer(
    db: sessionmaker[Session], receiver: Receiver
) -> None:
    first = OutboxNotifier(db, settings(receiver.url), start=False)
    second = OutboxNotifier(db, settings(receiver.url), start=False)
    change = {"request_id": "r1", "project": "p", "from_state": "draft",
              "to_state": "submitted", "actor": "alice"}
    with pytest.raises(RuntimeError), transaction(db) as s:  # the change is rolled back:
        first.record(s, **change)
        raise RuntimeError("the change failed")
    assert rows(db) == []  # ... and so are its notifications
    with transaction(db) as s:
        first.record(s, **change)
    [row] = rows(db)
    assert (row.status, row.attempts, row.kind) == (PENDING, 0, "webhook")
    assert receiver.url not in row.payload + row.destination  # the URL stays in settings
    assert first.deliverer is not None and second.deliverer is not None
    assert first.deliverer.take_lease()
    assert not second.deliverer.take_lease()  # one deliverer at a time
    assert second.deliverer.run_once() == 0  # without the lease it delivers nothing
    assert first.deliverer.run_once() == 1
    assert [a["id"] for a in receiver.accepted] == [row.event_id]
    assert receiver.accepted[0]["body"]["to_state"] == "submitted"
    [done] = rows(db)
    assert (done.status, done.attempts) == (DELIVERED, 1)
    assert first.deliverer.run_once() == 0  # nothing twice
    first.close()
    assert second.deliverer.take_lease()  # released at close: the other takes over
    second.close()


def test_a_failing_receiver_is_retried_in_order(db: sessionmaker[Session],
                                                receiver: Receiver) -> None:
    notifier = OutboxNotifier(db, settings(receiver.url), start=False)
    with transaction(db) as s:
        for to in ("submitted", "checking", "in_review"):
            notifier.record(s, request_id="r1", project="p", from_state=None, to_state=to)
    assert notifier.deliverer is not None and notifier.deliverer.take_lease()
    receiver.status = 503
    assert notifier.deliverer.run_once() == 1  # the first fails: the others wait behind it
    assert [r.attempts for r in rows(db)] == [1, 0, 0]
    receiver.status = 200
    deadline = time.monotonic() + 30
    while any(r.status == PENDING for r in rows(db)) and time.monotonic() < deadline:
        notifier.deliverer.run_once()
    assert [a["body"]["to_state"] for a in receiver.accepted] == [
        "submitted", "checking", "in_review"]
    assert [a["attempt"] for a in receiver.accepted] == ["2", "1", "1"]
    notifier.close()


def test_deliveries_pending_at_a_crash_all_arrive_after_the_restart(
    db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    import os

    data = tmp_path / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRE_", "JUPYTERHUB_"))}
    env.update({
        "PYTHONPATH": str(REPO), "TRE_DATA_DIR": str(data), "TRE_DATABASE_URL": db_url,
        "TRE_ENVIRONMENT": "development", "TRE_AIRLOCK_IDENTITY": "dev",
        "TRE_AIRLOCK_DEV_TOKENS": json.dumps(TOKENS), "TRE_LOG_LEVEL": "WARNING",
        "TRE_NOTIFY_WEBHOOK_URLS": receiver.url, "TRE_NOTIFY_BACKOFF_SECONDS": "0.05",
        "TRE_NOTIFY_BACKOFF_MAX_SECONDS": "0.2", "TRE_NOTIFY_MAX_ATTEMPTS": "50",
    })
    server = Server(env, free_port(), data)
    receiver.status = 503  # the receiver is down: every delivery stays pending
    server.start()
    try:
        ids = []
        for _ in range(3):
            r = httpx.post(f"{server.url}/api/requests", headers=auth("alice"),
                           data={"project": "demo-project", "context": "a plot"},
                           files=[("file", ("plot.png", PNG, "image/png"))], timeout=60)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        factory = session_factory(make_engine(db_url))
        pending = rows(factory)
        assert len(pending) == 9  # 3 requests x (draft->submitted->checking->in_review)
        assert all(p.status == PENDING for p in pending)
        server.kill()  # SIGKILL, deliveries pending
    finally:
        server.stop()
    receiver.status = 200
    server = Server(env, free_port(), data)
    server.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if {a["id"] for a in receiver.accepted} >= {p.event_id for p in pending}:
                break
            time.sleep(0.2)
    finally:
        server.stop()
    arrived = {a["id"] for a in receiver.accepted}
    assert arrived == {p.event_id for p in pending}  # every one, and nothing else
    by_request = {i: [a["body"]["to_state"] for a in receiver.accepted
                      if a["body"]["request_id"] == i] for i in ids}
    assert all(states[-3:] == ["submitted", "checking", "in_review"]
               for states in by_request.values()), by_request
    assert all(r.status == DELIVERED for r in rows(factory))


def test_entering_review_emails_the_checkers_from_the_outbox(
    db: sessionmaker[Session], smtp_server: Any
) -> None:
    server = smtp_server(refuse_first=1)  # busy at first: retried from the outbox
    s = smtp_settings(server)
    notifier = OutboxNotifier(db, s, start=False)
    with transaction(db) as session:
        notifier.record(session, request_id="r9", project="demo-project",
                        from_state="checking", to_state="in_review",
                        review_url="https://airlock.example.org/requests/r9")
    [row] = rows(db)
    assert (row.kind, row.event_type) == ("email", "email.review_needed")
    assert notifier.deliverer is not None and notifier.deliverer.take_lease()
    deadline = time.monotonic() + 30
    while rows(db)[0].status == PENDING and time.monotonic() < deadline:
        notifier.deliverer.run_once()
    assert (rows(db)[0].status, rows(db)[0].attempts) == (DELIVERED, 2)
    [(_sender, recipients, data)] = server.mails
    assert recipients == CHECKERS
    message = parse(data)
    assert message["Subject"] == "[tre] Export request r9 (demo-project) is waiting for review"
    assert "Review it at https://airlock.example.org/requests/r9" in message.get_content()
    notifier.close()
