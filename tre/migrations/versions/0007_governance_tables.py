"""governance: the truth tables in force, stored with the policy version that brought them

Revision ID: 0007_governance_tables
Revises: 0006_audit_merkle
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_governance_tables"
down_revision = "0006_audit_merkle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_truth_tables",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["version"], ["policy_versions.version"],
                                name=op.f("fk_policy_truth_tables_version_policy_versions")),
        sa.PrimaryKeyConstraint("version", "name", name=op.f("pk_policy_truth_tables")),
    )


def downgrade() -> None:
    op.drop_table("policy_truth_tables")
