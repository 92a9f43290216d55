"""airlock: a file keeps the statistic its researcher declared

A bare table (no evidence sidecar) is judged as counts only with a declared statistic
(issue 11).  A draft is checked when it is submitted, perhaps days later, so the
declaration is stored with the file; None: nothing was declared.

Revision ID: 0012_file_statistic
Revises: 0011_request_messages
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_file_statistic"
down_revision = "0011_request_messages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("airlock_files") as batch:
        batch.add_column(sa.Column("statistic", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("airlock_files") as batch:
        batch.drop_column("statistic")
