"""airlock: requests, files, checks, votes, releases and the disclosure ledger

Revision ID: 0002_airlock
Revises: 0001_audit
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_airlock"
down_revision = "0001_audit"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "airlock_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=True),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("profile_name", sa.String(200), nullable=False),
        sa.Column("profile_version", sa.String(50), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("reviewers_required", sa.Integer(), nullable=False),
        sa.Column("derived_from", sa.String(32), nullable=True),
        sa.Column("decision", sa.JSON(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["derived_from"], ["airlock_requests.id"],
            name=op.f("fk_airlock_requests_derived_from_airlock_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_airlock_requests")),
    )
    op.create_index(op.f("ix_airlock_requests_project"), "airlock_requests", ["project"])
    op.create_index(op.f("ix_airlock_requests_requester"), "airlock_requests", ["requester"])
    op.create_index(op.f("ix_airlock_requests_state"), "airlock_requests", ["state"])

    op.create_table(
        "airlock_files",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", BIG, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("sidecar_sha256", sa.String(64), nullable=True),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("exception", sa.Text(), nullable=True),
        sa.Column("population", sa.String(500), nullable=True),
        sa.Column("verdict", sa.String(10), nullable=True),
        sa.Column("alternative", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"], ["airlock_requests.id"],
            name=op.f("fk_airlock_files_request_id_airlock_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_airlock_files")),
        sa.UniqueConstraint("request_id", "name", name=op.f("uq_airlock_files_request_id")),
    )
    op.create_index(op.f("ix_airlock_files_request_id"), "airlock_files", ["request_id"])
    op.create_index(op.f("ix_airlock_files_sha256"), "airlock_files", ["sha256"])

    op.create_table(
        "airlock_file_checks",
        sa.Column("id", BIG, autoincrement=True, nullable=False),
        sa.Column("file_id", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("verdict", sa.String(10), nullable=False),
        sa.Column("profile_name", sa.String(200), nullable=False),
        sa.Column("profile_version", sa.String(50), nullable=False),
        sa.Column("tool_version", sa.String(50), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["airlock_files.id"],
            name=op.f("fk_airlock_file_checks_file_id_airlock_files"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_airlock_file_checks")),
    )
    op.create_index(op.f("ix_airlock_file_checks_file_id"), "airlock_file_checks", ["file_id"])

    op.create_table(
        "airlock_votes",
        sa.Column("id", BIG, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("file_id", sa.String(32), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("choice", sa.String(20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["airlock_files.id"],
            name=op.f("fk_airlock_votes_file_id_airlock_files"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["airlock_requests.id"],
            name=op.f("fk_airlock_votes_request_id_airlock_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_airlock_votes")),
        sa.UniqueConstraint("file_id", "reviewer", name=op.f("uq_airlock_votes_file_id")),
    )
    op.create_index(op.f("ix_airlock_votes_request_id"), "airlock_votes", ["request_id"])

    op.create_table(
        "airlock_releases",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(32), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("released_at", TS, nullable=False),
        sa.Column("released_by", sa.String(200), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["airlock_requests.id"],
            name=op.f("fk_airlock_releases_request_id_airlock_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_airlock_releases")),
        sa.UniqueConstraint("request_id", name=op.f("uq_airlock_releases_request_id")),
    )
    op.create_index(op.f("ix_airlock_releases_project"), "airlock_releases", ["project"])

    op.create_table(
        "airlock_ledger",
        sa.Column("id", BIG, autoincrement=True, nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=True),
        sa.Column("release_id", sa.String(32), nullable=False),
        sa.Column("file_id", sa.String(32), nullable=False),
        sa.Column("table", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["airlock_files.id"],
            name=op.f("fk_airlock_ledger_file_id_airlock_files"),
        ),
        sa.ForeignKeyConstraint(
            ["release_id"], ["airlock_releases.id"],
            name=op.f("fk_airlock_ledger_release_id_airlock_releases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_airlock_ledger")),
    )
    op.create_index("ix_airlock_ledger_project_dataset", "airlock_ledger", ["project", "dataset"])
    op.create_index("ix_airlock_ledger_project_digest", "airlock_ledger", ["project", "digest"])
    op.create_index(op.f("ix_airlock_ledger_release_id"), "airlock_ledger", ["release_id"])


def downgrade() -> None:
    op.drop_table("airlock_ledger")
    op.drop_table("airlock_releases")
    op.drop_table("airlock_votes")
    op.drop_table("airlock_file_checks")
    op.drop_table("airlock_files")
    op.drop_table("airlock_requests")
