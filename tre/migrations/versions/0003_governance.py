"""governance tables (filled by the governance issue)

Revision ID: 0003_governance
Revises: 0002_airlock
Create Date: 2026-11-22
"""

from __future__ import annotations

revision = "0003_governance"
down_revision = "0002_airlock"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
