"""The platform database: one SQLAlchemy 2 engine, sessions, and Alembic migrations.

SQLite (a file under the data directory) is the embedded default; a
``postgresql+psycopg://`` URL selects PostgreSQL.  Nothing is created at import
time: callers build an engine from settings and pass sessions down.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see make_engine)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


WRITE = "tre_write"  # execution option: this connection's transactions will write


def _sqlite_begin(conn: Any) -> None:
    """A unit of work (:func:`transaction`, migrations) takes SQLite's write lock at
    BEGIN, so read-then-write sequences (the audit chain's head) serialise.  Anything
    else only reads: a deferred BEGIN, which in WAL mode never waits for a writer
    (SQLite's busy handler would poll with sleeps of up to 100 ms)."""
    immediate = conn.get_execution_options().get(WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed on success, rolled back on any error."""
    with factory() as session, session.begin():
        session.connection(execution_options={WRITE: True})  # BEGIN IMMEDIATE on SQLite
        yield session


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    # version_locations (the platform's and each app's) are named in the migrations'
    # environment, the composition root, not here: the platform knows no app
    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema up to date (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def import_models() -> None:
    """Import the platform's modules that define tables.  The apps' tables are
    registered by the composition roots (the migrations' env, the CLI) that import
    the apps; ``Base.metadata`` is complete once they have."""
    import tre.audit
    import tre.catalog.models  # noqa: F401
    from tre.authz import records, store  # noqa: F401
