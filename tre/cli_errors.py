"""The one error boundary of every ``tre`` command (each typer app uses :func:`boundary`).

What reaches it becomes ``error: ...`` lines on stderr and an exit code (tre.errors.ExitCode):

- an error raised on purpose (:func:`tre.errors.is_ours`: a :class:`~tre.errors.TreError`,
  or statbarn's own root) prints its message and exits with its ``exit_code``; a refusal
  of the authorisation point is audited first;
- a file that cannot be read or decoded, a database that cannot be reached: exit 2, with
  the file or the database named;
- anything else is a bug: exit 1, one line ("unexpected ..."), the traceback only with
  ``TRE_LOG_LEVEL=DEBUG``.  A ``ValueError`` from a bug is such a bug, never a refusal.

No traceback ever reaches the user, except with ``TRE_LOG_LEVEL=DEBUG``.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from tre.errors import ExitCode, is_ours


def debug() -> bool:
    # Read directly: this must work even when the settings themselves are invalid.
    return os.environ.get("TRE_LOG_LEVEL", "").strip().upper() == "DEBUG"


def stderr(line: str) -> None:
    typer.echo(line if line.startswith("error: ") else f"error: {line}", err=True)


def fail(message: str, code: int = ExitCode.USAGE) -> typer.Exit:
    """Print ``error: message`` (each line) and return the exit to raise."""
    for line in message.splitlines() or [message]:
        stderr(line)
    return typer.Exit(code)


def internal(exc: BaseException) -> typer.Exit:
    """One line on stderr for a bug; the traceback only with TRE_LOG_LEVEL=DEBUG."""
    if debug():
        traceback.print_exception(exc, file=sys.stderr)
    hint = "" if debug() else " (set TRE_LOG_LEVEL=DEBUG for the traceback)"
    detail = str(exc).splitlines()[0] if str(exc) else ""
    stderr(f"unexpected {type(exc).__name__}: {detail}{hint}")
    return typer.Exit(ExitCode.INTERNAL)


def _lines(exc: BaseException) -> list[str]:
    lines = getattr(exc, "lines", None)
    if callable(lines):
        return list(lines())
    text = str(exc).strip()
    return text.splitlines() or [type(exc).__name__]


def _database_unusable(exc: BaseException) -> bool:
    """A database that cannot be reached or a URL that cannot be used (not a bug)."""
    module = sys.modules.get("sqlalchemy.exc")
    if module is None:
        return False
    return isinstance(exc, (module.OperationalError, module.ArgumentError,
                            module.InterfaceError))


def _audit_refusal(exc: BaseException) -> None:
    """A refusal of the authorisation point, recorded in the audit log (tre.authz.refusals)."""
    decision = getattr(exc, "decision", None)
    if decision is None or "tre.authz.enforcer" not in sys.modules:
        return
    from tre.authz.apply import Refused
    from tre.authz.enforcer import Forbidden

    if not isinstance(exc, (Forbidden, Refused)):
        return
    from tre.authz.cli_support import database
    from tre.authz.refusals import record_refusal

    try:
        factory = database(create=False)
    except Exception:  # no usable database: nothing to record in, the refusal stands
        return
    if factory is not None:
        record_refusal(factory, decision, decision.obj, decision.domain)


def exit_for(exc: BaseException) -> typer.Exit:
    """The lines on stderr (printed now) and the exit for an exception at the boundary."""
    if isinstance(exc, typer.Exit):
        return exc
    if is_ours(exc):
        _audit_refusal(exc)
        for line in _lines(exc):
            stderr(line)
        return typer.Exit(int(getattr(exc, "exit_code", ExitCode.USAGE)))
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return fail(f"{where}{exc.strerror or exc}")
    if isinstance(exc, UnicodeError):
        return fail(f"cannot decode the file as text: {exc}")
    if _database_unusable(exc):
        return fail(f"database: {str(exc).splitlines()[0]}")
    return internal(exc)


@contextmanager
def boundary() -> Iterator[None]:
    """Run a command's body: every exception becomes ``error: ...`` and an exit code."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        raise exit_for(exc) from None
