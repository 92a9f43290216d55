"""airlock UI: browser sessions ended before their cookie expires (logout, suspension)

Revision ID: 0008_ui_ended_sessions
Revises: 0007_governance_tables
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_ui_ended_sessions"
down_revision = "0007_governance_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "airlock_ended_sessions",
        sa.Column("sid", sa.String(64), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("why", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("sid", name=op.f("pk_airlock_ended_sessions")),
    )
    op.create_index(op.f("ix_airlock_ended_sessions_expires"), "airlock_ended_sessions",
                    ["expires"])


def downgrade() -> None:
    op.drop_index(op.f("ix_airlock_ended_sessions_expires"), "airlock_ended_sessions")
    op.drop_table("airlock_ended_sessions")
