"""airlock: a request's title (one line the researcher gives, shown in the queue)

Nullable: requests made before it have none, and the queue shows their file
names instead.  At most 200 characters (``airlock.review_limits.TITLE_MAX_CHARS``).

Revision ID: 0010_request_title
Revises: 0009_notify_outbox
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_request_title"
down_revision = "0009_notify_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("airlock_requests") as batch:
        batch.add_column(sa.Column("title", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("airlock_requests") as batch:
        batch.drop_column("title")
