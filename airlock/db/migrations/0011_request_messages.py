"""airlock: a request's conversation (researcher and checkers) and checkers' notes

One row per message, only ever inserted; ``audience`` is "all" or "checkers".
Bodies are bounded by ``airlock.review_limits.MESSAGE_MAX_CHARS``.

Revision ID: 0011_request_messages
Revises: 0010_request_title
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_request_messages"
down_revision = "0010_request_title"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "airlock_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(32), sa.ForeignKey("airlock_requests.id"),
                  nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("audience", sa.String(10), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_airlock_messages_request_id", "airlock_messages", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_airlock_messages_request_id", table_name="airlock_messages")
    op.drop_table("airlock_messages")
