"""Shared pieces of the governance commands (tre/cli_governance.py): errors, database, output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

EXIT_USAGE, EXIT_FAIL = 2, 4


def stderr(line: str) -> None:
    typer.echo(line if line.startswith("error: ") else f"error: {line}", err=True)


def _profile_error() -> tuple[type[Exception], ...]:
    # statbarn's ProfileError, if statbarn is loaded: importing it just in case would load
    # pandas and scipy (most of a second) for commands that never read a profile.
    module = sys.modules.get("statbarn.errors")
    return (module.ProfileError,) if module is not None else ()


@contextmanager
def errors() -> Iterator[None]:
    """Every refusal becomes ``error: ...`` lines and exit 2; a bug, exit 1 (tre.cli).
    A refusal of the authorisation point is audited first (tre.authz.refusals)."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        _audit_refusal(exc)
        lines = _refusal(exc)
        if lines is None:
            from tre.cli import _unexpected

            raise _unexpected(exc) from None
        for line in lines:
            stderr(line)
        raise typer.Exit(EXIT_USAGE) from None


def _audit_refusal(exc: Exception) -> None:
    from tre.authz.apply import Refused
    from tre.authz.enforcer import Forbidden

    if not isinstance(exc, (Forbidden, Refused)):
        return
    from tre.authz.refusals import record_refusal

    try:
        factory = database(create=False)
    except Exception:  # no usable database: nothing to record in, the refusal stands
        return
    if factory is not None:
        d = exc.decision
        record_refusal(factory, d, d.obj, d.domain)


def ask(authz: Any, caller: Any, domain: str, obj: str, action: str) -> Any:
    """The decision for a command's caller; raises Forbidden (audited by :func:`errors`)."""
    return authz.check(caller.name, domain, obj, action)


def _refusal(exc: Exception) -> list[str] | None:
    """The lines that explain a refused input or change; None for a bug."""
    from sqlalchemy.exc import SQLAlchemyError

    from tre.authz.apply import GovernanceError
    from tre.authz.enforcer import Forbidden
    from tre.authz.policyfile import PolicyError
    from tre.authz.truthtable import TableError
    from tre.settings import SettingsError

    if isinstance(exc, PolicyError):
        return [
            f"{p.source}:{p.line}: {p.message}" if p.line else f"{p.source}: {p.message}"
            for p in exc.problems
        ]
    if isinstance(exc, (GovernanceError, TableError, SettingsError, Forbidden, *_profile_error())):
        return str(exc).splitlines()
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return [f"{where}{exc.strerror or exc}"]
    if isinstance(exc, (UnicodeError, ValueError)):
        return [str(exc).splitlines()[0] if str(exc) else type(exc).__name__]
    if isinstance(exc, SQLAlchemyError):
        return [f"database: {str(exc).splitlines()[0]}"]
    return None


def when(at: str | None) -> datetime:
    from tre.authz.policyfile import parse_time
    from tre.clock import SystemClock

    return parse_time(at) if at else SystemClock().now()


@overload
def database(create: Literal[True]) -> sessionmaker[Session]: ...
@overload
def database(create: bool) -> sessionmaker[Session] | None: ...
def database(create: bool) -> sessionmaker[Session] | None:
    """The platform database (migrated when ``create``); None if absent and not wanted."""
    from tre.db import make_engine, normalise_url, session_factory, upgrade
    from tre.settings import get_settings

    url = normalise_url(get_settings().database_url)
    if not create and url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if not path or path == ":memory:" or not Path(path).is_file():
            return None
    if create:
        upgrade(url)
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
