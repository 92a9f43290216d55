"""airlock tables (filled by the airlock issue)

Revision ID: 0002_airlock
Revises: 0001_audit
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0002_airlock"
down_revision = "0001_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
