"""Shared pieces of the governance commands (tre/cli_governance.py): database, output.

Their errors go through the one boundary, :mod:`tre.cli_errors`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from tre.cli_errors import boundary
from tre.errors import ExitCode

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

EXIT_USAGE, EXIT_FAIL = ExitCode.USAGE, ExitCode.FAIL

# The one boundary of every command (tre.cli_errors): a refusal is audited and exits 2, a
# bug (even a ValueError) exits 1.  Under its old name for the governance commands.
errors = boundary


def ask(authz: Any, caller: Any, domain: str, obj: str, action: str) -> Any:
    """The decision for a command's caller; raises Forbidden (audited by :func:`errors`)."""
    return authz.check(caller.name, domain, obj, action)


def when(at: str | None) -> datetime:
    from tre.authz.policyfile import parse_time
    from tre.clock import SystemClock

    return parse_time(at) if at else SystemClock().now()


@overload
def database(create: Literal[True]) -> sessionmaker[Session]: ...
@overload
def database(create: bool) -> sessionmaker[Session] | None: ...
def database(create: bool) -> sessionmaker[Session] | None:
    """The platform database, required to be current when ``create`` (never migrated here:
    ``tre db upgrade`` is the one command that migrates); None if absent and not wanted."""
    from tre.db import make_engine, normalise_url, session_factory
    from tre.schema import require_current
    from tre.settings import get_settings

    url = normalise_url(get_settings().database_url)
    if not create and url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if not path or path == ":memory:" or not Path(path).is_file():
            return None
    if create:
        require_current(url)  # SchemaBehind / SchemaAhead: exit 2, naming the command
    return session_factory(make_engine(url))


def known_and_current(factory: sessionmaker[Session] | None) -> tuple[Any, Any, Any]:
    """(known names, policy in force, its version) from the database, or Nones."""
    from sqlalchemy.exc import SQLAlchemyError

    from tre.authz.store import current_version, known_names, load_version

    if factory is None:
        return None, None, None
    try:
        with factory() as session:
            version = current_version(session)
            policy = load_version(session, version) if version else None
            return known_names(session), policy, version
    except SQLAlchemyError:  # a database without the governance tables: files only
        return None, None, None


def render_diff(diff: dict[str, Any]) -> list[str]:
    """The diff (``PolicyDiff.to_dict()``) as text for people."""

    def permission(p: dict[str, str]) -> str:
        return f"{p['user']} may {p['action']} {p['obj']} in {p['domain']}"

    lines = [f"effective permissions at {diff['at']}:"]
    lines += [f"  + {permission(p)}" for p in diff["gained"]]
    lines += [f"  - {permission(p)}" for p in diff["lost"]]
    if not (diff["gained"] or diff["lost"]):
        lines.append("  (no change)")
    for key in (
        "rules_added",
        "rules_removed",
        "memberships_added",
        "memberships_removed",
        "memberships_redated",
    ):
        if diff[key]:
            lines += [f"{key.replace('_', ' ')}:", *(f"  {item}" for item in diff[key])]
    tables = diff.get("truth_tables") or {}
    if tables:
        lines.append("truth tables (a second governance user must approve this change):")
        lines += [f"  {how} {name}" for how in ("added", "removed", "changed")
                  for name in tables.get(how, [])]
        lines += [f"  breaks case in force: {case}" for case in
                  tables.get("cases_in_force_broken", [])]
    lines.append(
        f"replayed {diff['replayed']} audited decision(s): "
        f"{len(diff['replay_changes'])} would change"
    )
    verdict = {True: "allowed", False: "denied"}
    lines += [
        f"  event {r['seq']} ({r['at']}): {r['subject']} {r['action']} {r['obj']} in "
        f"{r['domain']}: was {verdict[r['was']]}, would be {verdict[r['would_be']]}"
        for r in diff["replay_changes"]
    ]
    return lines
