"""governance: the policy in the database, applied profile versions, proposals

Revision ID: 0003_governance
Revises: 0002_airlock
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_governance"
down_revision = "0002_airlock"
branch_labels = None
depends_on = None


def upgrade() -> None:
    head = op.create_table(
        "policy_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_head")),
    )
    # Seeded so that concurrent first users lock an existing row instead of racing to insert.
    op.bulk_insert(head, [{"id": 1, "version": 0, "changed_at": ""}])
    op.create_table(
        "policy_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("editor", sa.String(200), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_policy_versions")),
    )
    op.create_table(
        "policy_rules",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("line", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ptype", sa.String(1), nullable=False),
        *(sa.Column(f"v{i}", sa.String(200), nullable=False) for i in range(5)),
        sa.ForeignKeyConstraint(
            ["version"], ["policy_versions.version"],
            name=op.f("fk_policy_rules_version_policy_versions"),
        ),
        sa.PrimaryKeyConstraint("version", "line", name=op.f("pk_policy_rules")),
    )
    op.create_table(
        "profile_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("editor", sa.String(200), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_versions")),
        sa.UniqueConstraint("name", "version", name="uq_profile_versions_name_version"),
    )
    op.create_index(op.f("ix_profile_versions_name"), "profile_versions", ["name"])
    op.create_table(
        "governance_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("base", sa.String(100), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("params", sa.Text(), nullable=True),
        sa.Column("editor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_proposals")),
    )
    op.create_index(op.f("ix_governance_proposals_status"), "governance_proposals", ["status"])


def downgrade() -> None:
    op.drop_table("governance_proposals")
    op.drop_table("profile_versions")
    op.drop_table("policy_rules")
    op.drop_table("policy_versions")
    op.drop_table("policy_head")
