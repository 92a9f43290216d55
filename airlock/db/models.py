"""SQLAlchemy models of the airlock (migration ``0002_airlock`` creates the same tables).

A request is immutable once submitted except for its ``state`` (and the
timestamps and decision that go with it); files, checks, votes, releases and
ledger entries are only ever inserted.  The audit log (:mod:`tre.audit`) records
every change in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tre.db import Base

BIG = BigInteger().with_variant(Integer, "sqlite")
ID = String(32)  # uuid4 hex
SHA = String(64)
USER = String(200)
PROJECT = String(200)


class Request(Base):
    __tablename__ = "airlock_requests"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project: Mapped[str] = mapped_column(PROJECT, index=True)
    dataset: Mapped[str | None] = mapped_column(String(200))
    # The researcher's one-line title (migration 0009; limit in airlock.review_limits).
    title: Mapped[str | None] = mapped_column(String(200))
    requester: Mapped[str] = mapped_column(USER, index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    profile_name: Mapped[str] = mapped_column(String(200))
    profile_version: Mapped[str] = mapped_column(String(50))
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)  # parameters in force when checked
    reviewers_required: Mapped[int] = mapped_column(Integer)
    derived_from: Mapped[str | None] = mapped_column(ForeignKey("airlock_requests.id"))
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    files: Mapped[list[RequestFile]] = relationship(
        order_by="RequestFile.position", lazy="selectin", back_populates="request"
    )


class RequestFile(Base):
    __tablename__ = "airlock_files"
    __table_args__ = (UniqueConstraint("request_id", "name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("airlock_requests.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BIG)
    sha256: Mapped[str] = mapped_column(SHA, index=True)
    sidecar_sha256: Mapped[str | None] = mapped_column(SHA)
    context: Mapped[str] = mapped_column(Text)
    exception: Mapped[str | None] = mapped_column(Text)  # "please review despite a fail: ..."
    population: Mapped[str | None] = mapped_column(String(500))
    # What a bare table holds ("count", "mean", ...), as declared (migration 0012): a draft
    # is checked when submitted, and keeps its declaration until then.
    statistic: Mapped[str | None] = mapped_column(String(40))
    verdict: Mapped[str | None] = mapped_column(String(10))  # None while a draft
    # The safe alternative of a failing table: {name, sha256, size, sidecar_sha256, method,
    # verdict, suppressed}.
    alternative: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The airlock's canonical copy (migration 0005): ``sha256`` above is then the copy's
    # (checked, shown, released); this keeps {submitted_sha256, submitted_size, made,
    # removed}.  None: the file is released byte for byte as submitted.
    canonical: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    request: Mapped[Request] = relationship(back_populates="files")
    checks: Mapped[list[FileCheck]] = relationship(
        order_by="FileCheck.id", lazy="selectin", back_populates="file"
    )


class FileCheck(Base):
    """One assessment of a file (the file itself, or an output embedded in a notebook)."""

    __tablename__ = "airlock_file_checks"

    id: Mapped[int] = mapped_column(BIG, primary_key=True, autoincrement=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("airlock_files.id"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    verdict: Mapped[str] = mapped_column(String(10))
    profile_name: Mapped[str] = mapped_column(String(200))
    profile_version: Mapped[str] = mapped_column(String(50))
    tool_version: Mapped[str] = mapped_column(String(50))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # statbarn Assessment.to_dict()
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # TableEvidence.to_json()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    file: Mapped[RequestFile] = relationship(back_populates="checks")


class Vote(Base):
    __tablename__ = "airlock_votes"
    __table_args__ = (UniqueConstraint("file_id", "reviewer"),)

    id: Mapped[int] = mapped_column(BIG, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("airlock_requests.id"), index=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("airlock_files.id"))
    reviewer: Mapped[str] = mapped_column(USER)
    choice: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)
    override_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The vote's opening, kept until the quorum reveals it (airlock.domain.sealing): the
    # nonce and what the audit commitment covers besides the columns above.
    seal: Mapped[str | None] = mapped_column(Text)


class Message(Base):
    """One message of a request's conversation (migration 0010).  ``audience`` "all":
    the researcher and the checkers; "checkers": a checker's note, never shown to the
    requester.  Only inserted, never edited; each is audited (``airlock.message.post``)."""

    __tablename__ = "airlock_messages"

    id: Mapped[int] = mapped_column(BIG, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("airlock_requests.id"), index=True)
    author: Mapped[str] = mapped_column(USER)
    audience: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)  # at most airlock.review_limits.MESSAGE_MAX_CHARS
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Release(Base):
    __tablename__ = "airlock_releases"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("airlock_requests.id"), unique=True)
    project: Mapped[str] = mapped_column(PROJECT, index=True)
    released_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[str] = mapped_column(USER)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)  # the machine-readable record
    record_sha256: Mapped[str] = mapped_column(SHA)

    ledger: Mapped[list[LedgerEntry]] = relationship(lazy="raise_on_sql")


class LedgerEntry(Base):
    """One released table, remembered for the differencing check of later requests."""

    __tablename__ = "airlock_ledger"
    __table_args__ = (Index("ix_airlock_ledger_project_dataset", "project", "dataset"),
                      Index("ix_airlock_ledger_project_digest", "project", "digest"))

    id: Mapped[int] = mapped_column(BIG, primary_key=True, autoincrement=True)
    project: Mapped[str] = mapped_column(PROJECT)
    dataset: Mapped[str | None] = mapped_column(String(200))
    release_id: Mapped[str] = mapped_column(ForeignKey("airlock_releases.id"), index=True)
    file_id: Mapped[str] = mapped_column(ForeignKey("airlock_files.id"))
    table: Mapped[dict[str, Any]] = mapped_column(JSON)  # statbarn LedgerTable.to_json()
    # The table's content without its release id: the same table released again adds
    # nothing to what can be derived, so it is remembered once.
    digest: Mapped[str] = mapped_column(SHA)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
