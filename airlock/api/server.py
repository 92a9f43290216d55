"""How ``tre airlock serve`` runs uvicorn: every connection bounded in time and number.

uvicorn (0.55, h11) offers a connection limit (``limit_concurrency``: beyond it a
503), an idle keep-alive timeout and a bound on the size of an incomplete request
head (``h11_max_incomplete_event_size``), but no deadline for the head itself: a
client that connects and sends nothing, or sends its headers a byte a minute
(slowloris), holds its connection for ever.  :class:`HeaderDeadlineH11` adds one:
from the moment a connection waits for a request head (on connect, and again
after each response on a kept-alive connection), the head must be complete within
``TRE_AIRLOCK_HEADER_TIMEOUT_SECONDS``, or the connection is closed.  A slow
*body* is answered 408 after ``TRE_AIRLOCK_BODY_TIMEOUT_SECONDS`` without a byte
(:class:`BodyDeadline`, on every route; the upload intake says the same itself).
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

import anyio
import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from statbarn.wording import mb, seconds

MAX_HEAD_BYTES = 16 * 1024  # request line and headers together


@functools.cache
def _header_timeout() -> float:
    from airlock.settings import load_airlock_settings

    return load_airlock_settings().airlock.header_timeout_seconds


class HeaderDeadlineH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for every request head."""

    header_timeout: float | None = None  # None: from the settings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def _timeout(self) -> float:
        return self.header_timeout if self.header_timeout is not None else _header_timeout()

    def _arm(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self._timeout(), self._head_expired)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_expired(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()  # no head in time: the connection is not worth an answer

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        waiting = self.conn.their_state is h11.IDLE
        if waiting:
            self._arm()  # a kept-alive connection starts its next head now
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE:
            # the idle keep-alive timeout runs until the next byte; the head's deadline
            # starts with that byte (data_received)
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def uvicorn_options(settings: Any) -> dict[str, Any]:
    """The options ``tre airlock serve`` passes to ``uvicorn.run`` (``settings``: the
    airlock's :class:`~airlock.settings.AirlockSettings`)."""
    return {
        "http": HeaderDeadlineH11,
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": settings.keepalive_seconds,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
    }


MAX_BODY_BYTES = 32 * 1024**2  # a body other than an upload: votes, forms (JSON, small)
UPLOAD = ("POST", "/api/requests")  # streamed by the intake, with its own limits


class BodyDeadline:
    """ASGI middleware: every request body other than an upload is read here first,
    each piece within ``seconds`` (else 408) and at most :data:`MAX_BODY_BYTES` in all
    (else 413), then handed to the app.  Uploads stream to the intake, which applies
    the same deadline itself, with its own limits.  Read here because the routes'
    own body parsing turns any error into "There was an error parsing the body"."""

    def __init__(self, app: Any, seconds: float, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.seconds, self.max_bytes = app, seconds, max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (
                scope["method"] == UPLOAD[0] and scope["path"].endswith(UPLOAD[1])):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                with anyio.fail_after(self.seconds):
                    message = await receive()
            except TimeoutError:
                await _answer(send, 408, f"the request body stalled: nothing arrived for "
                              f"{seconds(self.seconds)}; send it again", "timeout")
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _answer(send, 413, f"the request body is larger than the limit of "
                              f"{mb(self.max_bytes)}", "too_large")
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:  # afterwards: the client's disconnect, as the server reports it
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _answer(send: Any, status: int, detail: str, code: str) -> None:
    body = json.dumps({"detail": detail, "code": code}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
