"""The one error root of tre (in the style of Data Safe Haven's ``DataSafeHavenError``).

Every exception tre and the airlock raise on purpose derives from :class:`TreError` and
carries, besides its message (one sentence a person can act on):

- ``exit_code``: what the command line exits with (:class:`ExitCode`);
- ``status``: the HTTP status the airlock's API answers with;
- ``code``: a stable, machine-readable name (the API's ``code`` field; scripts match it).

Subclasses set them as class attributes; an instance may set its own (an upload refused
with 413, a hub that is down: 503).  The boundaries read them and nothing else:
:mod:`tre.cli_errors` for every command, :mod:`airlock.api.errors` for the API.

statbarn is the pure library underneath and imports nothing of tre, so it keeps its own
root, :class:`statbarn.errors.StatbarnError`, with the same three attributes; the
boundaries treat both roots alike (:data:`ERROR_ROOTS`).

Anything else that reaches a boundary is a bug: exit 1 and "internal error" (HTTP 500),
never a refusal, even a ``ValueError``.
"""

from __future__ import annotations

import sys
from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes of every ``tre`` command (stable; scripts and CI rely on them)."""

    OK = 0
    INTERNAL = 1  # a bug: one line on stderr; TRE_LOG_LEVEL=DEBUG shows the traceback
    USAGE = 2  # bad input, a refusal, unusable settings, a schema to migrate
    ESCALATE = 3  # ``tre check``: the output needs a human
    FAIL = 4  # ``tre check``: a disclosure rule fails; ``tre audit``: the log was changed


class TreError(Exception):
    """Base class: something tre refuses or cannot do; ``str(exc)`` says why to a person."""

    exit_code: int = ExitCode.USAGE
    status: int = 400
    code: str = "error"

    def sentence(self) -> str:
        """The message's first line (what a one-line boundary shows)."""
        text = str(self).strip()
        return text.splitlines()[0] if text else (type(self).__doc__ or "").strip()

    def lines(self) -> list[str]:
        """Every line of the message (a policy file's problems come one per line)."""
        text = str(self).strip()
        return text.splitlines() if text else [self.sentence()]


class BadInput(TreError, ValueError):
    """A value given on the command line or in a file that cannot be used as given.

    Also a ``ValueError``, so that a pydantic validator raising it reports the field."""

    code = "bad_input"
    status = 422


class InternalError(TreError):
    """tre is not working as it should (not the caller's fault)."""

    exit_code = ExitCode.INTERNAL
    status = 500
    code = "internal"


class SchemaError(TreError):
    """The database's schema is not the one this version of tre reads and writes."""

    code = "schema"
    status = 503


class SchemaBehind(SchemaError):
    """The database is older than this tre: ``tre db upgrade`` brings it up to date."""

    code = "schema_behind"


class SchemaAhead(SchemaError):
    """The database was migrated by a newer tre than this one."""

    code = "schema_ahead"


def error_roots() -> tuple[type[Exception], ...]:
    """The roots of every exception raised on purpose; anything else at a boundary is a bug.

    statbarn's root only once statbarn is loaded: importing it just in case would load
    pandas and scipy (two seconds) for commands that never read a table or a profile, and
    an exception of a module never imported cannot have been raised.
    """
    module = sys.modules.get("statbarn.errors")
    statbarn_root: type[Exception] | None = getattr(module, "StatbarnError", None)
    return (TreError,) if statbarn_root is None else (TreError, statbarn_root)


def is_ours(exc: BaseException) -> bool:
    """Whether ``exc`` was raised on purpose (a refusal or bad input), not by a bug."""
    return isinstance(exc, error_roots())
