"""The notification outbox (airlock.outbox; migration 0009_notify_outbox)."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tre.db import Base

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class OutboxItem(Base):
    """One delivery to one destination, written in the transaction of the change."""

    __tablename__ = "notify_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), index=True)  # the idempotency key
    kind: Mapped[str] = mapped_column(String(10))  # webhook | email
    # sha256 of the webhook URL (URLs often carry a token: it stays in the settings only);
    # "" for e-mail.
    destination: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)  # webhook: the JSON body; e-mail: JSON
    created_at: Mapped[float] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12), index=True)  # pending|delivered|failed
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[float | None] = mapped_column(Float)


class DelivererLease(Base):
    """One row: which process delivers now, and until when (renewed while it runs)."""

    __tablename__ = "notify_deliverer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder: Mapped[str] = mapped_column(String(200))
    until: Mapped[float] = mapped_column(Float)
