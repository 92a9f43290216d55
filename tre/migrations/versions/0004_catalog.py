"""catalog: projects, datasets and the grants of datasets to projects

Revision ID: 0004_catalog
Revises: 0003_governance
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_catalog"
down_revision = "0003_governance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_projects",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("profile", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_catalog_projects")),
    )
    op.create_table(
        "catalog_datasets",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("custodian", sa.String(200), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("profile", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.String(40), nullable=False),
        sa.Column("registered_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_catalog_datasets")),
    )
    op.create_table(
        "catalog_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project", sa.String(63), nullable=False),
        sa.Column("dataset", sa.String(63), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=False),
        sa.Column("granted_at", sa.String(40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("revoked_at", sa.String(40), nullable=True),
        sa.Column("revoked_by", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(["project"], ["catalog_projects.name"],
                                name=op.f("fk_catalog_grants_project_catalog_projects")),
        sa.ForeignKeyConstraint(["dataset"], ["catalog_datasets.name"],
                                name=op.f("fk_catalog_grants_dataset_catalog_datasets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_grants")),
        sa.UniqueConstraint("project", "dataset", name="uq_catalog_grants_pair"),
    )
    op.create_index(op.f("ix_catalog_grants_project"), "catalog_grants", ["project"])
    op.create_index(op.f("ix_catalog_grants_dataset"), "catalog_grants", ["dataset"])


def downgrade() -> None:
    op.drop_table("catalog_grants")
    op.drop_table("catalog_datasets")
    op.drop_table("catalog_projects")
