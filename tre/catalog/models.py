"""Catalog tables (migration 0004_catalog).

Times are ISO 8601 strings in UTC, like the audit log's, so they sort and compare
the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tre.db import Base

# Sensitivity tiers, as in the Turing's Data Safe Haven classification.
TIERS = {
    0: "open data",
    1: "public, but not yet published",
    2: "pseudonymised or low-risk personal data",
    3: "personal data, or commercially sensitive",
    4: "highly sensitive (e.g. could endanger people)",
}


class Project(Base):
    __tablename__ = "catalog_projects"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    # the disclosure profile the airlock checks this project's outputs with
    profile: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(200))


class Dataset(Base):
    __tablename__ = "catalog_datasets"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    location: Mapped[str] = mapped_column(Text)  # a directory of Parquet/CSV files
    custodian: Mapped[str] = mapped_column(String(200))
    tier: Mapped[int] = mapped_column(Integer)
    profile: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[str] = mapped_column(String(40))
    registered_by: Mapped[str] = mapped_column(String(200))


class Grant(Base):
    """A dataset granted to a project; one row per pair, revoked in place (history: audit)."""

    __tablename__ = "catalog_grants"
    __table_args__ = (UniqueConstraint("project", "dataset", name="uq_catalog_grants_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project: Mapped[str] = mapped_column(ForeignKey("catalog_projects.name"), index=True)
    dataset: Mapped[str] = mapped_column(ForeignKey("catalog_datasets.name"), index=True)
    approved_by: Mapped[str] = mapped_column(String(200))  # the dataset's custodian
    granted_at: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[str | None] = mapped_column(String(40))
    revoked_by: Mapped[str | None] = mapped_column(String(200))
