"""Durable notifications: a transactional outbox, delivered at least once (issue 13).

The in-memory queues of :class:`airlock.notify.Notifier` lose what they hold when the
process stops, and each replica would deliver its own.  Here:

* **written with the change.**  :meth:`OutboxNotifier.record` adds one row per
  webhook (and one for the checkers' e-mail when a request enters review) to
  ``notify_outbox`` in the transaction that moves the request: the change and its
  notifications commit together, or neither does.
* **delivered at least once.**  A background thread delivers the pending rows,
  oldest first and in order per destination (a row waiting for its retry holds
  back the later rows of its destination, never the others), with the retry rules
  and backoff of :mod:`airlock.notify`.  A row is marked delivered only after the
  receiver said 2xx: a crash in between means it is sent again after the restart,
  with the same ``X-Tre-Event-Id`` (the idempotency key), so the receiver can drop
  the copy.  Pending rows are resumed when the process starts.
* **one deliverer at a time.**  The thread delivers only while it holds the lease
  row (``notify_deliverer``), taken and renewed under a row lock (``SELECT ... FOR
  UPDATE`` on PostgreSQL; on SQLite, the database's write lock).  A deliverer that
  dies loses the lease after ``lease_seconds`` and another replica takes over.

Webhook URLs (which often carry a token) stay in the settings: a row names its
destination by the URL's SHA-256, and a row whose URL is no longer configured is
marked failed with that reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from airlock.db.outbox import DELIVERED, FAILED, PENDING, DelivererLease, OutboxItem
from airlock.notify import (
    Attempt,
    NotifySettings,
    email_message,
    envelope_body,
    load_notify_settings,
    post_webhook,
    review_email,
    send_email_once,
    state_changed_event,
)
from tre.clock import Clock, SystemClock
from tre.db import transaction

log = logging.getLogger("airlock.notify")
EMAIL, WEBHOOK = "email", "webhook"
BATCH = 200  # rows read per pass


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


class OutboxNotifier:
    """The airlock's notifier: rows in the change's transaction, a deliverer thread."""

    def __init__(self, factory: sessionmaker[Session], settings: NotifySettings | None = None,
                 *, clock: Clock | None = None, poll_seconds: float = 1.0,
                 lease_seconds: float | None = None, start: bool = True) -> None:
        self.settings = settings if settings is not None else load_notify_settings()
        self._clock = clock or SystemClock()
        active = bool(self.settings.webhook_urls) or self.settings.email_enabled
        self.deliverer = Deliverer(factory, self.settings, poll_seconds=poll_seconds,
                                   lease_seconds=lease_seconds) if active else None
        if self.deliverer is not None and start:
            self.deliverer.start()  # resumes what an earlier process left pending

    def record(self, session: Session, *, request_id: str, project: str,
               from_state: str | None, to_state: str, actor: str | None = None,
               review_url: str | None = None) -> None:
        """Add the deliveries of a state change to ``session`` (the change's transaction)."""
        if self.deliverer is None:
            return
        now = time.time()
        event_id, event_type, body = envelope_body(state_changed_event(
            request_id=request_id, project=project, from_state=from_state,
            to_state=to_state, actor=actor), self._clock)
        for url in self.settings.webhook_urls:
            session.add(OutboxItem(event_id=event_id, kind=WEBHOOK, destination=url_key(url),
                                   event_type=event_type, payload=body.decode(),
                                   created_at=now, attempts=0, next_at=now, status=PENDING))
        if to_state == "in_review" and self.settings.email_enabled:
            subject, text = review_email(request_id, project, review_url)
            session.add(OutboxItem(event_id=event_id, kind=EMAIL, destination="",
                                   event_type="email.review_needed",
                                   payload=json.dumps({"subject": subject, "body": text}),
                                   created_at=now, attempts=0, next_at=now, status=PENDING))

    def state_changed(self, **_kw: Any) -> None:
        """Called after the commit: the rows are there, wake the deliverer."""
        if self.deliverer is not None:
            self.deliverer.kick()

    def close(self, timeout: float = 10.0) -> bool:
        return self.deliverer.close(timeout) if self.deliverer is not None else True


class Deliverer:
    """Delivers pending outbox rows while holding the lease (see the module doc)."""

    def __init__(self, factory: sessionmaker[Session], settings: NotifySettings, *,
                 poll_seconds: float = 1.0, lease_seconds: float | None = None) -> None:
        self.factory, self.settings = factory, settings
        self.poll_seconds = poll_seconds
        # Longer than one attempt can take, so a live holder never loses it mid-delivery.
        self.lease_seconds = lease_seconds or max(15.0, 3 * settings.timeout_seconds)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._urls = {url_key(u): u for u in settings.webhook_urls}
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._lease_until = 0.0
        self._client = httpx.Client(timeout=settings.timeout_seconds, follow_redirects=False)

    # ---- the thread -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tre-notify outbox",
                                        daemon=True)
        self._thread.start()

    def kick(self) -> None:
        self._wake.set()

    def close(self, timeout: float = 10.0) -> bool:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        alive = self._thread is not None and self._thread.is_alive()
        if not alive:
            self._release()
            self._client.close()
        return not alive

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self._holding():  # renewed at half its time: an idle pass only reads
                    self.run_once()
            except Exception:  # the database away for a moment: try again next pass
                log.exception("the notification outbox could not be read")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    # ---- the lease ------------------------------------------------------------------------
    def take_lease(self) -> bool:
        """Hold (or renew) the lease; False while another live deliverer holds it."""
        now = time.time()
        with transaction(self.factory) as s:
            row = s.get(DelivererLease, 1, with_for_update=True)
            if row is None:
                row = DelivererLease(id=1, holder="", until=0.0)
                s.add(row)
            if row.holder != self.holder and row.until > now:
                return False
            row.holder, row.until = self.holder, now + self.lease_seconds
        self._lease_until = now + self.lease_seconds
        return True

    def _holding(self) -> bool:
        if time.time() < self._lease_until - self.lease_seconds / 2:
            return True
        return self.take_lease()

    def _release(self) -> None:
        try:
            with transaction(self.factory) as s:
                row = s.get(DelivererLease, 1, with_for_update=True)
                if row is not None and row.holder == self.holder:
                    row.until = 0.0
        except Exception:  # it expires by itself
            log.debug("could not release the outbox lease", exc_info=True)

    # ---- delivery -------------------------------------------------------------------------
    def run_once(self) -> int:
        """Deliver what is due now (the caller holds the lease); how many rows were tried."""
        with self.factory() as s:
            rows = list(s.scalars(select(OutboxItem).where(OutboxItem.status == PENDING)
                                  .order_by(OutboxItem.id).limit(BATCH)))
            s.expunge_all()
        held_back: set[tuple[str, str]] = set()
        tried = 0
        for row in rows:
            key = (row.kind, row.destination)
            if key in held_back:
                continue
            if row.next_at > time.time():
                held_back.add(key)  # its retry is not due: keep the destination's order
                continue
            if self._stop.is_set() or not self._holding():
                break
            tried += 1
            ok, retry, why, wait = self._attempt(row)
            if not self._settle(row, ok, retry, why, wait):
                held_back.add(key)
        return tried

    def _attempt(self, row: OutboxItem) -> Attempt:
        n = row.attempts + 1
        if row.kind == WEBHOOK:
            url = self._urls.get(row.destination)
            if url is None:
                return False, False, "the webhook URL is no longer configured", None
            return post_webhook(self._client, url, row.event_id, row.event_type,
                                row.payload.encode(), n, self.settings.webhook_secret)
        if not self.settings.email_enabled:
            return False, False, "e-mail is no longer configured", None
        data = json.loads(row.payload)
        message = email_message(self.settings, str(data["subject"]), str(data["body"]))
        return send_email_once(self.settings, message, f"e-mail {row.event_id}")

    def _settle(self, row: OutboxItem, ok: bool, retry: bool, why: str,
                wait: float | None) -> bool:
        """Record the attempt's outcome; True when the row is done (delivered or failed)."""
        s = self.settings
        now = time.time()
        attempts = row.attempts + 1
        done = ok or not retry or attempts >= s.max_attempts
        with transaction(self.factory) as session:
            item = session.get(OutboxItem, row.id, with_for_update=True)
            if item is None or item.status != PENDING:
                return True
            item.attempts, item.last_error = attempts, None if ok else why
            if done:
                item.status, item.done_at = (DELIVERED if ok else FAILED), now
            else:
                delay = min(s.backoff_max_seconds, s.backoff_seconds * 2 ** (attempts - 1))
                delay *= random.uniform(0.5, 1.0)
                if wait is not None:
                    delay = max(delay, min(wait, s.backoff_max_seconds))
                item.next_at = now + delay
        what = f"{row.kind} {row.event_id} ({row.event_type})"
        if ok:
            log.info("delivered %s (attempt %d)", what, attempts)
        elif done:
            log.error("%s failed after %d attempt(s) (%s); not retried", what, attempts, why)
        else:
            log.warning("%s failed (%s), attempt %d; will retry", what, why, attempts)
        return done
