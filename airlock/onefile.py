"""One file, judged as the airlock judges it: for ``tre check`` in a workspace.

The same two steps as an upload (type from content with :func:`airlock.filetypes.detect`,
then :class:`airlock.checks.CheckRunner`), so a file the airlock refuses is refused
here too, with the same sentence, and a file it checks gets the same verdict.  What
differs is only what a workspace cannot see: the project's disclosure ledger (so no
differencing against earlier releases) and the project's profile as the server holds
it (the profile is the one named here).  No database and no web imports.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from airlock.checks import CheckRefused, CheckRunner, FileResult, Subject
from airlock.filetypes import EXTENSIONS, FormulaRefused, Refused, detect, extension
from statbarn.checking import load_sidecar, sidecar_path
from statbarn.errors import EvidenceError
from statbarn.profile import Profile
from tre.errors import TreError

DEFAULT_MAX_CHECK_BYTES = 32 * 1024**2  # TRE_AIRLOCK_MAX_CHECK_BYTES' default


class FileRefused(TreError):
    """The airlock would refuse this file at intake; ``str(exc)`` says why."""

    code = "file_refused"
    status = 422


@dataclass
class Judged:
    name: str
    kind: str
    result: FileResult


def judge(path: Path, profile: Profile, *, evidence: Path | None = None,
          statistic: str | None = None, max_check_bytes: int = DEFAULT_MAX_CHECK_BYTES
          ) -> Judged:
    """The airlock's verdict on ``path`` (or :class:`FileRefused`)."""
    name = path.name
    try:
        kind = detect(path, name, max_parse_bytes=max_check_bytes).kind
    except (FormulaRefused, Refused) as exc:
        raise FileRefused(str(exc)) from None
    side = evidence if evidence is not None else sidecar_path(path)
    sidecar = None
    if evidence is not None or side.is_file():
        try:
            sidecar = load_sidecar(side)
        except EvidenceError as exc:
            raise FileRefused(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="tre-check-") as tmp:
        work = Path(tmp)
        # The name the airlock reads it under: its kind's suffix (CSV and TSV by suffix).
        readable = work / (name if extension(name) in EXTENSIONS[kind]
                           else name + EXTENSIONS[kind][0])
        readable.symlink_to(path.resolve())
        subject = Subject(readable, name, kind, sidecar, side if sidecar is not None else None,
                          statistic=statistic)
        try:
            result = CheckRunner(profile, [], max_check_bytes, work).run(subject)
        except CheckRefused as exc:
            raise FileRefused(str(exc)) from None
        result.alternative = None  # made in a temporary directory: the airlock makes its own
    return Judged(name, kind.value, result)
