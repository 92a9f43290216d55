"""Browser sessions ended before their cookie expires (airlock.ui.revocation; migration
0008_ui_ended_sessions)."""

from __future__ import annotations

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from tre.db import Base


class EndedSession(Base):
    __tablename__ = "airlock_ended_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(200))
    ended_at: Mapped[float] = mapped_column(Float)
    expires: Mapped[float] = mapped_column(Float, index=True)  # the cookie's own end
    why: Mapped[str] = mapped_column(String(40))  # logout | suspended
