"""Typed errors. Every way bad input can reach statbarn ends in one of these.

Callers (the CLI, the airlock) show ``str(error)`` to a person, so each message
says what is wrong and, where it can, what to do about it.
"""

from __future__ import annotations


class StatbarnError(Exception):
    """Base class: bad input or a request statbarn cannot answer safely.

    statbarn imports nothing of tre, so this is its own root; it carries the same
    attributes as ``tre.errors.TreError`` (the exit code of the command line, the HTTP
    status, a stable code), which every boundary of tre reads alike.
    """

    exit_code: int = 2  # tre.errors.ExitCode.USAGE: bad input
    status: int = 422
    code: str = "statbarn"


class InputError(StatbarnError):
    """The data handed to statbarn cannot be used as given."""


class EmptyInputError(InputError):
    """A file or frame with no data in it."""


class MalformedTableError(InputError):
    """A file that does not parse as a table (ragged rows, bad encoding, ...)."""


class DuplicateHeaderError(MalformedTableError):
    """Two columns share a name, so cells cannot be addressed unambiguously."""


class NonNumericError(InputError):
    """A cell that should hold a number holds something else."""


class NonFiniteError(InputError):
    """NaN or infinity where a finite number is required."""


class TableTooLargeError(InputError):
    """A table beyond the size statbarn will check or protect in bounded time."""


class DeclaredSizeError(TableTooLargeError):
    """A file whose own header or footer declares more than statbarn reads (rows, cells,
    bytes): refused before it is loaded, so a tiny file cannot claim gigabytes."""


class UnsupportedError(InputError):
    """An argument combination statbarn does not check (rather than guess)."""


class EvidenceError(StatbarnError):
    """An evidence sidecar that is missing, malformed or inconsistent."""


class EvidenceMismatchError(EvidenceError):
    """The sidecar does not belong to this file (sha256 differs)."""


class ProfileError(StatbarnError):
    """A disclosure profile that is missing, malformed or out of range."""

    status = 500  # in the airlock, the project's profile is the operators' to fix
    code = "profile"


class UsageError(InputError):
    """Arguments that contradict each other or the data (a column that does not exist, ...)."""


class SuppressionError(StatbarnError):
    """Secondary suppression or its interval audit could not produce a safe pattern."""


class AcroFormatError(EvidenceError):
    """An ACRO ``results.json`` that cannot be read (bad JSON, missing or mistyped keys)."""
