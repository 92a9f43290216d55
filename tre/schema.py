"""Is the database's schema the one this tre reads and writes?  (docs/database.md)

Only ``tre db upgrade`` migrates (and the Helm chart's migration Job, which runs it).
Every other command, the hub and ``tre airlock serve`` call :func:`require_current` and
refuse a database that is behind (:class:`~tre.errors.SchemaBehind`) or ahead
(:class:`~tre.errors.SchemaAhead`) with a sentence naming what to run: a command that
migrated on the way would change a production schema as a side effect of ``tre project
list``, and two replicas starting at once would race to do it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tre.errors import SchemaAhead, SchemaBehind

State = Literal["current", "behind", "ahead", "empty"]


@dataclass(frozen=True)
class SchemaStatus:
    """Where the database is (``current``) and where this tre's migrations end (``heads``)."""

    database: str  # the URL, password hidden
    current: tuple[str, ...]
    heads: tuple[str, ...]
    state: State

    def sentence(self) -> str:
        at = ", ".join(self.current) or "none"
        head = ", ".join(self.heads)
        if self.state == "current":
            return f"the database schema is current (revision {head})"
        if self.state == "empty":
            return (f"the database {self.database} has no tre schema yet: run `tre db upgrade` "
                    "to create it")
        if self.state == "behind":
            return (f"the database {self.database} is at schema revision {at}, older than this "
                    f"tre's {head}: run `tre db upgrade`")
        return (f"the database {self.database} is at schema revision {at}, which this tre "
                f"does not know (its newest is {head}): it was migrated by a newer tre; run "
                "that version (never downgrade by hand)")


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def schema_status(url: str) -> SchemaStatus:
    """Read the database's revision and compare it with this tre's migrations (no change)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from tre.db import alembic_config, make_engine, normalise_url

    url = normalise_url(url)
    script = ScriptDirectory.from_config(alembic_config(url))
    heads = tuple(sorted(script.get_heads()))
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    finally:
        engine.dispose()
    known = {rev.revision for rev in script.walk_revisions()}
    state: State
    if not current:
        state = "empty"
    elif any(rev not in known for rev in current):
        state = "ahead"
    elif current == heads:
        state = "current"
    else:
        state = "behind"
    return SchemaStatus(_shown(url), current, heads, state)


def require_current(url: str) -> SchemaStatus:
    """The status, if current; else :class:`SchemaBehind` or :class:`SchemaAhead` (exit 2)."""
    status = schema_status(url)
    if status.state in ("behind", "empty"):
        raise SchemaBehind(status.sentence())
    if status.state == "ahead":
        raise SchemaAhead(status.sentence())
    return status


def wait_for_current(url: str, timeout: float, *, interval: float = 2.0,
                     sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic) -> SchemaStatus:
    """:func:`require_current`, retried while the schema is behind for up to ``timeout``
    seconds (a replica started before the migration Job finished).  A schema that is ahead
    is refused at once: waiting will not make this tre newer.  A database that cannot be
    reached yet counts as not ready."""
    from sqlalchemy.exc import OperationalError

    deadline = clock() + timeout
    while True:
        try:
            return require_current(url)
        except (SchemaBehind, OperationalError):
            if clock() >= deadline:
                raise
        sleep(interval)
