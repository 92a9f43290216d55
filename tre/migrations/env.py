"""Alembic environment: one migration history over the platform's and the apps' tables.

A composition root (it imports the apps): the platform's ``import_models`` registers
only its own tables; each app's are imported here, and each app's revisions live beside
its models (``alembic.ini``'s version_locations).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool, text

import airlock.db.models
import airlock.db.outbox
import airlock.db.sessions  # noqa: F401  (the airlock's tables)
from tre.db import Base, import_models, make_engine

import_models()
config = context.config
target_metadata = Base.metadata
# PostgreSQL: one migration of a schema at a time.  The hub, every airlock replica and
# the chart's migrations Job each upgrade when they start; without this lock the first
# run on an empty database creates the same tables in each of them and all but one fail.
# Keyed by schema, so that separate schemas (tests) never wait for each other.
MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(hashtext('tre-migrations:' || current_schema()))"


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execution_options(tre_write=True)  # SQLite: the write lock at BEGIN
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # held to the end of the transaction; the next one then finds the schema
                # at head and has nothing to do
                connection.execute(text(MIGRATION_LOCK))
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
