"""notifications: the transactional outbox and the deliverer's lease

Revision ID: 0009_notify_outbox
Revises: 0008_ui_ended_sessions
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_notify_outbox"
down_revision = "0008_ui_ended_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.Float(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_outbox")),
    )
    op.create_index(op.f("ix_notify_outbox_event_id"), "notify_outbox", ["event_id"])
    op.create_index(op.f("ix_notify_outbox_status"), "notify_outbox", ["status"])
    lease = op.create_table(
        "notify_deliverer",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_deliverer")),
    )
    # Seeded so that deliverers lock an existing row instead of racing to insert it.
    op.bulk_insert(lease, [{"id": 1, "holder": "", "until": 0.0}])


def downgrade() -> None:
    op.drop_table("notify_deliverer")
    op.drop_index(op.f("ix_notify_outbox_status"), "notify_outbox")
    op.drop_index(op.f("ix_notify_outbox_event_id"), "notify_outbox")
    op.drop_table("notify_outbox")
