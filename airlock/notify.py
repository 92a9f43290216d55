"""Notifications: a webhook on every state change, and e-mail to the output checkers.

Nothing here ever blocks or fails the caller.  :meth:`Notifier.publish` and
:meth:`Notifier.email_checkers` put the work on a queue and return at once; background threads
(one per webhook URL, one for e-mail, started on first use) deliver it, retrying with
exponential backoff.  A failure is logged (logger ``airlock.notify``), never raised.  Each
destination has its own thread and queue, so a dead receiver delays only itself, and events
reach each receiver in the order they were published.

Webhooks: ``POST`` of the JSON event (``type``, ``event_id``, ``at`` in ISO 8601 UTC, and for
state changes ``request_id``, ``project``, ``from_state``, ``to_state``, ``actor``), with the
headers ``X-Tre-Event-Id`` (the same on every attempt: an idempotency key), ``X-Tre-Event-Type``,
``X-Tre-Delivery-Attempt`` (1, 2, ...) and, when ``TRE_NOTIFY_WEBHOOK_SECRET`` is set,
``X-Tre-Signature: sha256=<hex HMAC-SHA256 of the body>``.  The signed body holds the event id
and time, so a receiver can also refuse replays.

A delivery is retried on connection errors, timeouts, 5xx, 408 and 429 (honouring a numeric
``Retry-After`` up to the backoff cap); any other 4xx (and a redirect) is final: the receiver
has said the request itself is wrong, and repeating it will not help.

Settings (environment variables ``TRE_NOTIFY_*``; lists as JSON or comma-separated):

==================================  ===============================================  ==========
``TRE_NOTIFY_WEBHOOK_URLS``         http(s) URLs that receive every event             (none)
``TRE_NOTIFY_WEBHOOK_SECRET``       HMAC-SHA256 key for ``X-Tre-Signature``           (unsigned)
``TRE_NOTIFY_MAX_ATTEMPTS``         attempts per delivery, the first included         5
``TRE_NOTIFY_BACKOFF_SECONDS``      wait after the first failure; doubles each time   0.5
``TRE_NOTIFY_BACKOFF_MAX_SECONDS``  cap on one wait (before jitter)                   30
``TRE_NOTIFY_TIMEOUT_SECONDS``      connect/read timeout of one attempt               10
``TRE_NOTIFY_QUEUE_SIZE``           undelivered items kept per destination            1000
``TRE_NOTIFY_SMTP_HOST``            SMTP server; e-mail is off when empty             (off)
``TRE_NOTIFY_SMTP_PORT``            SMTP port                                         25
``TRE_NOTIFY_SMTP_FROM``            sender address                                    tre@localhost
``TRE_NOTIFY_SMTP_STARTTLS``        upgrade the connection with STARTTLS              false
``TRE_NOTIFY_SMTP_USERNAME``        SMTP login (with the password), if any            (none)
``TRE_NOTIFY_SMTP_PASSWORD``        SMTP password                                     (none)
``TRE_NOTIFY_CHECKER_EMAILS``       output checkers' addresses                        (none)
==================================  ===============================================  ==========

The wait before attempt ``n + 1`` is ``min(cap, backoff * 2**(n-1))`` times a random factor
between 0.5 and 1 (jitter, so that many retrying senders do not arrive together).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import random
import smtplib
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tre.clock import Clock, SystemClock

__all__ = ["STATE_CHANGED", "Notifier", "NotifySettings", "sign", "state_changed_event"]

logger = logging.getLogger(__name__)

STATE_CHANGED = "request.state_changed"
_RETRY_STATUSES = frozenset({408, 429})
_STOP = object()


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def _http_urls(urls: list[str]) -> list[str]:
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"{_redact(url)!r} is not an http(s) URL")
    return urls


def _addresses(addresses: list[str]) -> list[str]:
    for address in addresses:
        if "@" not in address or any(c in address for c in "\r\n,;<> "):
            raise ValueError(f"{address!r} is not a plain e-mail address")
    return addresses


StrList = Annotated[list[str], NoDecode, BeforeValidator(_split_list)]


class NotifySettings(BaseSettings):
    """Notification settings.  Field ``x`` is read from ``TRE_NOTIFY_X``; see the module doc."""

    model_config = SettingsConfigDict(env_prefix="TRE_NOTIFY_", extra="ignore", frozen=True)

    webhook_urls: Annotated[StrList, AfterValidator(_http_urls)] = Field(
        default_factory=list, description="http(s) URLs that receive every event. Default: none."
    )
    webhook_secret: SecretStr | None = Field(
        None, description="Key for the X-Tre-Signature HMAC-SHA256. Default: unsigned."
    )
    max_attempts: int = Field(5, ge=1, le=50, description="Attempts per delivery.")
    backoff_seconds: float = Field(0.5, ge=0, description="Wait after the first failure.")
    backoff_max_seconds: float = Field(30.0, ge=0, description="Cap on one wait.")
    timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one attempt.")
    queue_size: int = Field(1000, ge=1, description="Undelivered items kept per destination.")
    smtp_host: str = Field("", description="SMTP server; e-mail is disabled when empty.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port.")
    smtp_from: str = Field("tre@localhost", description="Sender address of e-mails.")
    smtp_starttls: bool = Field(False, description="Use STARTTLS on the SMTP connection.")
    smtp_username: str | None = Field(None, description="SMTP login, if the server needs one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    checker_emails: Annotated[StrList, AfterValidator(_addresses)] = Field(
        default_factory=list, description="Output checkers' e-mail addresses. Default: none."
    )

    @field_validator("webhook_secret", "smtp_password", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("smtp_host", mode="before")
    @classmethod
    def _none_is_off(cls, value: Any) -> Any:
        return "" if value is None else value

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host.strip()) and bool(self.checker_emails)


def load_notify_settings(**overrides: Any) -> NotifySettings:
    """Read ``TRE_NOTIFY_*`` through the one loader: a bad value is a SettingsError naming
    the variable (never a raw ValidationError, never the value of a secret or a URL's
    credentials)."""
    from tre.settings import load_section

    return load_section(NotifySettings, "settings", **overrides)


def state_changed_event(
    *,
    request_id: str,
    project: str,
    from_state: str | None,
    to_state: str,
    actor: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The event of a request changing state (``publish`` adds ``event_id`` and ``at``)."""
    return {
        "type": STATE_CHANGED,
        "request_id": request_id,
        "project": project,
        "from_state": from_state,
        "to_state": to_state,
        "actor": actor,
        **extra,
    }


def sign(body: bytes, secret: str) -> str:
    """The ``X-Tre-Signature`` value of ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _Worker:
    """One destination: a bounded queue and the daemon thread that empties it."""

    def __init__(
        self,
        name: str,
        deliver: Callable[[Any], None],
        size: int,
        abort: threading.Event,
        cleanup: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.queue: queue.Queue[Any] = queue.Queue(size)
        self._deliver = deliver
        self._abort = abort
        self._cleanup = cleanup
        self.thread = threading.Thread(target=self._run, name=f"tre-notify {name}", daemon=True)

    def _run(self) -> None:
        dropped = 0
        try:
            while True:
                try:
                    item = self.queue.get(timeout=0.2)
                except queue.Empty:
                    if self._abort.is_set():
                        break
                    continue
                if item is _STOP:
                    break
                if self._abort.is_set():
                    dropped += 1
                    continue
                try:
                    self._deliver(item)
                except Exception:  # a surprise in one delivery must not stop the others
                    logger.exception("notification to %s failed unexpectedly", self.name)
        finally:
            if dropped:
                logger.error("dropped %d undelivered notification(s) for %s", dropped, self.name)
            if self._cleanup is not None:
                self._cleanup()


class Notifier:
    """Delivers events to webhooks and e-mails to checkers, in the background.

    Create one per process (the app's lifespan) and :meth:`close` it at shutdown.
    """

    def __init__(
        self, settings: NotifySettings | None = None, *, clock: Clock | None = None
    ) -> None:
        self.settings = settings if settings is not None else load_notify_settings()
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._closed = False
        self._abort = threading.Event()  # set when close() runs out of time: stop retrying
        self._workers: dict[str, _Worker] = {}

    # ---- the caller's side: never blocks, never raises -------------------------------------

    def publish(self, event: Mapping[str, Any]) -> None:
        """Send ``event`` to every webhook (adds ``event_id`` and ``at`` unless present)."""
        try:
            urls = self.settings.webhook_urls
            if not urls:
                return
            delivery = envelope_body(event, self._clock)
            for url in urls:
                self._submit(url, delivery)
        except Exception:
            logger.exception("could not queue event %r", event)

    def email_checkers(self, subject: str, body: str) -> None:
        """E-mail every output checker (nothing happens when e-mail is disabled)."""
        try:
            if not self.settings.email_enabled:
                logger.debug("e-mail disabled (no SMTP host or no checkers): %r", subject)
                return
            self._submit(None, self._message(subject, body))
        except Exception:
            logger.exception("could not queue e-mail %r", subject)

    def state_changed(
        self,
        *,
        request_id: str,
        project: str,
        from_state: str | None,
        to_state: str,
        actor: str | None = None,
        review_url: str | None = None,
    ) -> None:
        """Publish a state change; when the request enters review, e-mail the checkers too."""
        self.publish(
            state_changed_event(
                request_id=request_id,
                project=project,
                from_state=from_state,
                to_state=to_state,
                actor=actor,
            )
        )
        if to_state == "in_review":
            self.email_checkers(*review_email(request_id, project, review_url))

    def close(self, timeout: float = 10.0) -> bool:
        """Deliver what is queued (up to ``timeout`` seconds), then stop the threads.

        Returns whether everything was handled (delivered, or given up after its retries).
        Afterwards, ``publish`` and ``email_checkers`` drop their input with a warning.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            self._closed = True
            workers = list(self._workers.values())
        for worker in workers:
            try:
                worker.queue.put(_STOP, timeout=max(0.0, deadline - time.monotonic()))
            except queue.Full:
                self._abort.set()
        for worker in workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [w.name for w in workers if w.thread.is_alive()]
        if stuck:
            self._abort.set()  # the daemon threads end after their current attempt
            logger.warning("notifications still pending at close for: %s", ", ".join(stuck))
        return not stuck

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the workers' side ------------------------------------------------------------------

    def _submit(self, url: str | None, item: Any) -> None:
        """Queue ``item`` for the webhook ``url``, or for e-mail when ``url`` is None."""
        name = "e-mail" if url is None else f"webhook {_redact(url)}"
        with self._lock:
            if self._closed:
                logger.warning("notifier is closed; dropped a notification for %s", name)
                return
            worker = self._workers.get(url or "")
            if worker is None:
                size, abort = self.settings.queue_size, self._abort
                if url is None:
                    worker = _Worker(name, self._send_email, size, abort)
                else:
                    client = httpx.Client(
                        timeout=self.settings.timeout_seconds, follow_redirects=False
                    )
                    sender = self._webhook_sender(url, client)
                    worker = _Worker(name, sender, size, abort, cleanup=client.close)
                self._workers[url or ""] = worker
                worker.thread.start()
            try:  # under the lock, so that nothing lands behind close()'s stop marker
                worker.queue.put_nowait(item)
            except queue.Full:
                logger.error("notification queue for %s is full; dropped one", name)

    def _webhook_sender(self, url: str, client: httpx.Client) -> Callable[[Any], None]:
        secret = self.settings.webhook_secret

        def send(delivery: tuple[str, str, bytes]) -> None:
            event_id, event_type, body = delivery
            what = f"event {event_id} ({event_type}) to {_redact(url)}"
            self._with_retries(what, lambda n: post_webhook(
                client, url, event_id, event_type, body, n, secret))

        return send

    def _message(self, subject: str, body: str) -> EmailMessage:
        return email_message(self.settings, subject, body)

    def _send_email(self, message: EmailMessage) -> None:
        s = self.settings
        what = f"e-mail {message['Subject']!r} to {len(s.checker_emails)} checker(s)"
        self._with_retries(what, lambda _n: send_email_once(s, message, what))

    def _with_retries(
        self, what: str, attempt: Callable[[int], tuple[bool, bool, str, float | None]]
    ) -> None:
        """Call ``attempt(n)`` -> (ok, retryable, description, wait) until done or given up."""
        s = self.settings
        for n in range(1, s.max_attempts + 1):
            ok, retryable, why, wait = attempt(n)
            if ok:
                logger.info("delivered %s (attempt %d)", what, n)
                return
            if not retryable:
                logger.error("%s refused (%s); not retried", what, why)
                return
            if n == s.max_attempts:
                break
            delay = min(s.backoff_max_seconds, s.backoff_seconds * 2 ** (n - 1))
            delay *= random.uniform(0.5, 1.0)
            if wait is not None:
                delay = max(delay, min(wait, s.backoff_max_seconds))
            logger.warning("%s failed (%s), attempt %d; retrying in %.2fs", what, why, n, delay)
            if self._abort.wait(delay):
                logger.error("%s abandoned at shutdown after %d attempt(s)", what, n)
                return
        logger.error("%s failed after %d attempts; giving up", what, s.max_attempts)


# One attempt of a delivery -> (delivered, worth retrying, what happened, wait asked for).
# Shared by the in-memory Notifier and the durable outbox (airlock.outbox).
Attempt = tuple[bool, bool, str, float | None]


def post_webhook(client: httpx.Client, url: str, event_id: str, event_type: str, body: bytes,
                 attempt: int, secret: SecretStr | None) -> Attempt:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "tre-airlock",
        "X-Tre-Event-Id": event_id,
        "X-Tre-Event-Type": event_type,
        "X-Tre-Delivery-Attempt": str(attempt),
    }
    if secret is not None:
        headers["X-Tre-Signature"] = sign(body, secret.get_secret_value())
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.TransportError as exc:
        return False, True, f"{type(exc).__name__}: {exc}", None
    status = response.status_code
    retry = status >= 500 or status in _RETRY_STATUSES
    return 200 <= status < 300, retry, f"HTTP {status}", _retry_after(response)


def email_message(s: NotifySettings, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = s.smtp_from
    message["To"] = ", ".join(s.checker_emails)
    message["Subject"] = " ".join(subject.split())  # no header injection via newlines
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=s.smtp_from.rpartition("@")[2] or "tre")
    message.set_content(body)
    return message


def send_email_once(s: NotifySettings, message: EmailMessage, what: str) -> Attempt:
    try:
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_seconds) as smtp:
            smtp.ehlo()
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                smtp.login(s.smtp_username, password)
            refused = smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:  # 4xx is "try later", 5xx is final
        return False, 400 <= exc.smtp_code < 500, f"SMTP {exc.smtp_code}", None
    except smtplib.SMTPServerDisconnected as exc:
        return False, True, f"{type(exc).__name__}: {exc}", None
    except smtplib.SMTPException as exc:  # recipients refused, STARTTLS missing, ...
        return False, False, f"{type(exc).__name__}: {exc}", None
    except OSError as exc:  # connection refused, timeout (SMTPException is an OSError)
        return False, True, f"{type(exc).__name__}: {exc}", None
    if refused:
        logger.warning("%s: some recipients were refused: %s", what, sorted(refused))
    return True, False, "sent", None


def envelope_body(event: Mapping[str, Any], clock: Clock) -> tuple[str, str, bytes]:
    """(event id, type, the JSON body) of an event, with ``event_id`` and ``at`` added."""
    envelope = dict(event)
    envelope.setdefault("event_id", uuid.uuid4().hex)
    envelope.setdefault("at", clock.now().isoformat())
    envelope.setdefault("type", "event")
    body = json.dumps(
        envelope, sort_keys=True, separators=(",", ":"), default=_json, ensure_ascii=False
    ).encode()
    return str(envelope["event_id"]), str(envelope["type"]), body


def review_email(request_id: str, project: str, review_url: str | None) -> tuple[str, str]:
    """(subject, body) of the e-mail that asks the checkers for a review."""
    where = f"\n\nReview it at {review_url}" if review_url else ""
    return (f"[tre] Export request {request_id} ({project}) is waiting for review",
            f"Export request {request_id} in project {project} needs an output "
            f"checker's review.{where}\n")


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def _redact(url: str) -> str:
    """``url`` without credentials, path or query (webhook URLs often embed a token)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{rest}"
