"""How ``tre airlock serve`` runs uvicorn: every connection bounded in time and number.

uvicorn (0.55, h11) offers a connection limit (``limit_concurrency``: beyond it a
503), an idle keep-alive timeout and a bound on the size of an incomplete request
head (``h11_max_incomplete_event_size``), but no deadline for the head itself: a
client that connects and sends nothing, or sends its headers a byte a minute
(slowloris), holds its connection for ever.  :class:`HeaderDeadlineH11` adds one:
from the moment a connection waits for a request head (on connect, and again
after each response on a kept-alive connection), the head must be complete within
``TRE_AIRLOCK_HEADER_TIMEOUT_SECONDS``, or the connection is closed.  A slow
*body* is the upload intake's business (``TRE_AIRLOCK_BODY_TIMEOUT_SECONDS``,
answered 408: :func:`airlock.intake.receive`).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

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
