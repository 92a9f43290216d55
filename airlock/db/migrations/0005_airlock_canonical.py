"""airlock: a file's canonical copy (what was submitted, and what was removed)

``airlock_files.sha256`` stays "the bytes that were checked, shown and released";
for a file the airlock re-made (an image re-encoded from its pixels, a Parquet
table rewritten, a notebook stripped to its shown outputs), ``canonical`` keeps
the submitted file's sha256 and size and what was removed.

Revision ID: 0005_airlock_canonical
Revises: 0004_catalog
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_airlock_canonical"
down_revision = "0004_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("airlock_files") as batch:
        batch.add_column(sa.Column("canonical", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("airlock_files") as batch:
        batch.drop_column("canonical")
