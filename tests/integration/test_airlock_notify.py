"""Notifications against real receivers on loopback: an HTTP webhook receiver and an SMTP server.

Every server binds 127.0.0.1 on a free port, runs in a daemon thread and is shut down by its
fixture; every wait is bounded (``Event.wait(timeout)``, ``Notifier.close(timeout)``).
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airlock.notify import (
    STATE_CHANGED,
    Notifier,
    NotifySettings,
    sign,
    state_changed_event,
)

pytestmark = pytest.mark.integration

WAIT = 10.0  # upper bound of every wait; the tests normally finish in well under a second
SECRET = "webhook-test-secret"


# ---- an HTTP receiver ----------------------------------------------------------------------


@dataclass
class Attempt:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass
class Receiver:
    """Answers each POST with the next status of ``statuses``, then ``default``."""

    statuses: list[int] = field(default_factory=list)
    default: int = 200
    hold: threading.Event | None = None  # when given, answer only once it is set
    headers: dict[str, str] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    delivered: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def accepted(self) -> list[Attempt]:
        with self.lock:
            return [a for a in self.attempts if 200 <= a.status < 300]


class _WebhookHandler(BaseHTTPRequestHandler):
    server: _ReceiverServer

    def do_POST(self) -> None:
        rx = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if rx.hold is not None:
            rx.hold.wait(WAIT)
        with rx.lock:
            status = rx.statuses.pop(0) if rx.statuses else rx.default
            headers = {k.lower(): v for k, v in self.headers.items()}
            rx.attempts.append(Attempt(self.path, headers, body, status))
        self.send_response(status)
        for name, value in rx.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if 200 <= status < 300:
            rx.delivered.set()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(receiver, path="/hook")`` starts an HTTP receiver and returns it with its URL."""
    servers: list[tuple[_ReceiverServer, threading.Thread, Receiver]] = []

    def start(rx: Receiver, path: str = "/hook") -> Receiver:
        server = _ReceiverServer(("127.0.0.1", 0), _WebhookHandler)
        server.receiver = rx
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        servers.append((server, thread, rx))
        rx.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
        return rx

    yield start
    for server, thread, rx in servers:
        if rx.hold is not None:
            rx.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A loopback port that refuses connections (bound, never listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"


def fast(**overrides: Any) -> NotifySettings:
    values: dict[str, Any] = {
        "max_attempts": 5,
        "backoff_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "timeout_seconds": 2.0,
    }
    values.update(overrides)
    return NotifySettings(**values)


def event(request_id: str = "r1", to_state: str = "in_review") -> dict[str, Any]:
    return state_changed_event(
        request_id=request_id, project="p1", from_state="checking", to_state=to_state
    )


# ---- webhooks ------------------------------------------------------------------------------


def test_503_twice_then_accepted_delivers_once_signed_with_one_event_id(serve: Any) -> None:
    rx = serve(Receiver(statuses=[503, 503]))
    notifier = Notifier(fast(webhook_urls=[rx.url], webhook_secret=SECRET))
    notifier.publish(event())
    assert notifier.close(WAIT)

    assert [a.status for a in rx.attempts] == [503, 503, 200]
    assert len(rx.accepted()) == 1
    bodies = {a.body for a in rx.attempts}
    assert len(bodies) == 1  # the same bytes every time
    ids = {a.headers["x-tre-event-id"] for a in rx.attempts}
    assert ids == {rx.attempts[0].event["event_id"]}
    assert [a.headers["x-tre-delivery-attempt"] for a in rx.attempts] == ["1", "2", "3"]
    for a in rx.attempts:
        assert a.headers["x-tre-signature"] == sign(a.body, SECRET)
        assert a.headers["x-tre-event-type"] == STATE_CHANGED
        assert a.headers["content-type"] == "application/json"

    sent = rx.accepted()[0].event
    assert sent["type"] == STATE_CHANGED
    assert (sent["request_id"], sent["project"]) == ("r1", "p1")
    assert (sent["from_state"], sent["to_state"]) == ("checking", "in_review")
    at = datetime.fromisoformat(sent["at"])
    assert at.utcoffset() == timedelta(0)


def test_a_wrong_signature_secret_does_not_verify(serve: Any) -> None:
    rx = serve(Receiver())
    with Notifier(fast(webhook_urls=[rx.url], webhook_secret=SECRET)) as notifier:
        notifier.publish(event())
    (attempt,) = rx.attempts
    assert attempt.headers["x-tre-signature"] != sign(attempt.body, "another secret")
    assert attempt.headers["x-tre-signature"] != sign(attempt.body + b" ", SECRET)


def test_a_400_gets_exactly_one_attempt(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="airlock.notify")
    rx = serve(Receiver(default=400))
    notifier = Notifier(fast(webhook_urls=[rx.url]))
    notifier.publish(event())
    assert notifier.close(WAIT)
    assert [a.status for a in rx.attempts] == [400]
    assert "not retried" in caplog.text


def test_5xx_forever_gives_up_after_max_attempts(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="airlock.notify")
    rx = serve(Receiver(default=502))
    notifier = Notifier(fast(webhook_urls=[rx.url], max_attempts=3))
    notifier.publish(event())
    assert notifier.close(WAIT)
    assert [a.status for a in rx.attempts] == [502, 502, 502]
    assert "failed after 3 attempts" in caplog.text


def test_429_is_retried(serve: Any) -> None:
    rx = serve(Receiver(statuses=[429], headers={"Retry-After": "0"}))
    notifier = Notifier(fast(webhook_urls=[rx.url]))
    notifier.publish(event())
    assert notifier.close(WAIT)
    assert [a.status for a in rx.attempts] == [429, 200]


def test_dead_or_silent_receivers_never_block_publish(
    serve: Any, dead_url: str, silent_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="airlock.notify")
    hold = threading.Event()
    rx = serve(Receiver(hold=hold))
    settings = fast(
        webhook_urls=[dead_url, silent_url, rx.url], max_attempts=2, timeout_seconds=0.5
    )
    notifier = Notifier(settings)
    notifier.publish(event())
    # publish has returned, yet the live receiver cannot have answered: it is held until now.
    with rx.lock:
        assert rx.attempts == []
    hold.set()
    # The live receiver gets its event although the other two never answer.
    assert rx.delivered.wait(WAIT)
    assert notifier.close(WAIT)
    assert len(rx.accepted()) == 1
    assert caplog.text.count("failed after 2 attempts") == 2  # the dead and the silent one
    assert "ConnectError" in caplog.text


def test_every_webhook_gets_every_event_in_order(serve: Any) -> None:
    one, two = serve(Receiver()), serve(Receiver(statuses=[500]))
    notifier = Notifier(fast(webhook_urls=[one.url, two.url]))
    for n in range(3):
        notifier.publish(event(request_id=f"r{n}"))
    assert notifier.close(WAIT)
    got_one = [a.event for a in one.accepted()]
    got_two = [a.event for a in two.accepted()]
    assert [e["request_id"] for e in got_one] == ["r0", "r1", "r2"]
    assert got_one == got_two  # same events, same ids, same times
    assert len({e["event_id"] for e in got_one}) == 3  # a unique id per event
    assert all("x-tre-signature" not in a.headers for a in one.attempts)  # no secret: unsigned


def test_a_caller_supplied_event_id_and_time_are_kept(serve: Any) -> None:
    rx = serve(Receiver())
    with Notifier(fast(webhook_urls=[rx.url])) as notifier:
        notifier.publish({**event(), "event_id": "evt-42", "at": "2024-05-01T12:00:00+00:00"})
    (attempt,) = rx.attempts
    assert attempt.headers["x-tre-event-id"] == "evt-42"
    assert attempt.event["at"] == "2024-05-01T12:00:00+00:00"


def test_secrets_in_webhook_urls_stay_out_of_the_logs(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="airlock.notify")
    rx = serve(Receiver(statuses=[503], default=404), path="/hooks/T0KEN-s3cret?key=abc")
    with Notifier(fast(webhook_urls=[rx.url])) as notifier:
        notifier.publish(event())
    assert len(rx.attempts) == 2
    assert rx.attempts[0].path == "/hooks/T0KEN-s3cret?key=abc"
    assert "T0KEN" not in caplog.text
    assert "key=abc" not in caplog.text


def test_bad_input_and_use_after_close_are_logged_never_raised(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="airlock.notify")
    rx = serve(Receiver())
    notifier = Notifier(fast(webhook_urls=[rx.url]))
    notifier.publish({1: "mixed", "key": "types"})  # type: ignore[dict-item]  # unsortable
    notifier.publish({**event(), "when": datetime(2024, 1, 1), "obj": object()})
    assert notifier.close(WAIT)
    notifier.publish(event())
    notifier.email_checkers("subject", "body")
    assert "could not queue event" in caplog.text
    assert "notifier is closed" in caplog.text
    (attempt,) = rx.attempts
    assert attempt.event["when"] == "2024-01-01T00:00:00"


def test_no_webhooks_no_smtp_is_a_quiet_no_op() -> None:
    before = threading.active_count()
    notifier = Notifier(NotifySettings())
    notifier.publish(event())
    notifier.email_checkers("s", "b")
    assert threading.active_count() == before  # no thread was started for nothing
    assert notifier.close(WAIT)


# ---- settings ------------------------------------------------------------------------------


def test_settings_defaults() -> None:
    s = NotifySettings()
    assert s.webhook_urls == []
    assert s.webhook_secret is None
    assert (s.max_attempts, s.backoff_seconds) == (5, 0.5)
    assert s.smtp_host == ""
    assert not s.email_enabled
    assert NotifySettings(smtp_host=None, checker_emails=["a@example.org"]).smtp_host == ""


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRE_NOTIFY_WEBHOOK_URLS", "http://a.example/x, https://b.example")
    monkeypatch.setenv("TRE_NOTIFY_CHECKER_EMAILS", '["c1@example.org", "c2@example.org"]')
    monkeypatch.setenv("TRE_NOTIFY_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("TRE_NOTIFY_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("TRE_NOTIFY_SMTP_PASSWORD", "  ")
    monkeypatch.setenv("TRE_NOTIFY_MAX_ATTEMPTS", "3")
    s = NotifySettings()
    assert s.webhook_urls == ["http://a.example/x", "https://b.example"]
    assert s.checker_emails == ["c1@example.org", "c2@example.org"]
    assert s.webhook_secret is not None and s.webhook_secret.get_secret_value() == "s"
    assert s.smtp_password is None
    assert s.max_attempts == 3
    assert s.email_enabled


@pytest.mark.parametrize(
    "overrides",
    [
        {"webhook_urls": ["ftp://a.example"]},
        {"webhook_urls": ["not a url"]},
        {"checker_emails": ["nobody"]},
        {"checker_emails": ["a@example.org\r\nBcc: x@evil.example"]},
        {"max_attempts": 0},
    ],
)
def test_settings_refuse_bad_values(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        NotifySettings(**overrides)


# ---- an SMTP server ------------------------------------------------------------------------


class _SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, refuse_first: int = 0, rcpt_reply: str = "250 OK") -> None:
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.refuse_first = refuse_first  # greet this many connections with 421
        self.rcpt_reply = rcpt_reply
        self.connections = 0
        self.mails: list[tuple[str, list[str], bytes]] = []
        self.received = threading.Event()
        self.lock = threading.Lock()


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    server: _SMTPServer
    timeout = WAIT

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self) -> None:
        srv = self.server
        with srv.lock:
            srv.connections += 1
            refuse = srv.connections <= srv.refuse_first
        if refuse:
            self.reply("421 test server busy, try later")
            return
        self.reply("220 test ESMTP")
        sender, recipients = "", list[str]()
        for _ in range(1000):
            line = self.rfile.readline(65536)
            if not line:
                return
            command = line.decode("utf-8", "replace").strip()
            verb = command[:4].upper()
            if verb == "EHLO":
                self.reply("250-test\r\n250-8BITMIME\r\n250 SMTPUTF8")
            elif verb == "HELO":
                self.reply("250 test")
            elif verb == "MAIL":
                sender, recipients = _address(command), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(_address(command))
                self.reply(srv.rcpt_reply)
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                data = self._read_data()
                with srv.lock:
                    srv.mails.append((sender, recipients, data))
                self.reply("250 OK queued")
                srv.received.set()
            elif verb in {"RSET", "NOOP"}:
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")

    def _read_data(self) -> bytes:
        lines: list[bytes] = []
        for _ in range(100_000):
            line = self.rfile.readline(65536)
            if not line or line == b".\r\n":
                break
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)


def _address(command: str) -> str:
    return command.partition("<")[2].partition(">")[0]


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    servers: list[tuple[_SMTPServer, threading.Thread]] = []

    def start(refuse_first: int = 0, rcpt_reply: str = "250 OK") -> _SMTPServer:
        server = _SMTPServer(refuse_first, rcpt_reply)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        servers.append((server, thread))
        return server

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(WAIT)


CHECKERS = ["checker1@example.org", "checker2@example.org"]


def smtp_settings(server: _SMTPServer, **overrides: Any) -> NotifySettings:
    return fast(
        smtp_host="127.0.0.1",
        smtp_port=server.server_address[1],
        smtp_from="airlock@tre.example.org",
        checker_emails=CHECKERS,
        **overrides,
    )


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_checkers_get_the_email(smtp_server: Any) -> None:
    server = smtp_server()
    notifier = Notifier(smtp_settings(server))
    notifier.email_checkers("Request r1 is waiting for review", "Please review r1 (Zoë).")
    assert server.received.wait(WAIT)
    assert notifier.close(WAIT)
    ((sender, recipients, data),) = server.mails
    assert sender == "airlock@tre.example.org"
    assert recipients == CHECKERS
    message = parse(data)
    assert message["Subject"] == "Request r1 is waiting for review"
    assert message["From"] == "airlock@tre.example.org"
    assert [a.strip() for a in str(message["To"]).split(",")] == CHECKERS
    assert message["Message-ID"]
    body = message.get_body()
    assert body is not None
    assert "Please review r1 (Zoë)." in body.get_content()


def test_entering_review_emails_the_checkers_and_publishes(serve: Any, smtp_server: Any) -> None:
    rx, server = serve(Receiver()), smtp_server()
    notifier = Notifier(smtp_settings(server, webhook_urls=[rx.url]))
    notifier.state_changed(
        request_id="r7", project="p2", from_state="submitted", to_state="checking"
    )
    notifier.state_changed(
        request_id="r7",
        project="p2",
        from_state="checking",
        to_state="in_review",
        review_url="https://tre.example/review/r7",
    )
    assert notifier.close(WAIT)
    assert [a.event["to_state"] for a in rx.accepted()] == ["checking", "in_review"]
    ((_, _, data),) = server.mails  # only entering review sends an e-mail
    message = parse(data)
    assert "r7" in str(message["Subject"])
    body = message.get_body()
    assert body is not None
    assert "https://tre.example/review/r7" in body.get_content()


def test_a_busy_smtp_server_is_retried(smtp_server: Any) -> None:
    server = smtp_server(refuse_first=2)
    notifier = Notifier(smtp_settings(server))
    notifier.email_checkers("retry me", "body")
    assert server.received.wait(WAIT)
    assert notifier.close(WAIT)
    assert server.connections == 3
    assert len(server.mails) == 1


def test_refused_recipients_are_final_not_retried(
    smtp_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="airlock.notify")
    server = smtp_server(rcpt_reply="550 no such user")
    notifier = Notifier(smtp_settings(server))
    notifier.email_checkers("nobody is home", "body")
    assert notifier.close(WAIT)
    assert server.connections == 1
    assert server.mails == []
    assert "SMTPRecipientsRefused" in caplog.text
    assert "not retried" in caplog.text


def test_no_header_injection_through_the_subject(smtp_server: Any) -> None:
    server = smtp_server()
    notifier = Notifier(smtp_settings(server))
    notifier.email_checkers("hello\r\nBcc: evil@example.net", "body")
    assert notifier.close(WAIT)
    ((_, recipients, data),) = server.mails
    assert recipients == CHECKERS
    message = parse(data)
    assert message["Bcc"] is None
    assert message["Subject"] == "hello Bcc: evil@example.net"


def test_email_is_off_without_an_smtp_host(smtp_server: Any) -> None:
    server = smtp_server()
    notifier = Notifier(fast(checker_emails=CHECKERS))  # no smtp_host
    notifier.email_checkers("nobody hears this", "body")
    assert notifier.close(WAIT)
    assert server.connections == 0
