"""An injectable clock: domain code asks for "now" through this, never datetime.now().

Tests pin time (membership expiry, audit timestamps) with :class:`FixedClock`.
All times are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, **delta: float) -> None:
        self._at += timedelta(**delta)

    def set(self, at: datetime) -> None:
        self._at = at


def utc(at: datetime) -> datetime:
    """Aware UTC; naive values are taken to be UTC already (as SQLite returns them)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
