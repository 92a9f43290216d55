"""What the service runs on an uploaded file inside the sandbox (:mod:`airlock.sandbox`).

Type detection and the check runner read untrusted bytes, so they run in a check
worker under memory, CPU and file-size limits.  These are module-level functions
(a worker imports them by name) that return plain, picklable values; their errors
are the single-message exceptions of the modules they call, which pickle too.

The disclosure ledger is not sent to the worker: differencing compares parsed
evidence with tables the airlock itself wrote, so the service does it in its own
process after the worker has returned the evidence (the same check the runner
would make: it only ever escalates, so it never changes whether a safe
alternative is made).
"""

from __future__ import annotations

from pathlib import Path

from airlock.checks import CheckRunner, FileResult, Subject
from airlock.filetypes import Kind, detect
from statbarn.profile import Profile


def detect_kind(path: Path, name: str, max_parse_bytes: int) -> Kind:
    return detect(path, name, max_parse_bytes=max_parse_bytes).kind


def check_subject(profile: Profile, max_check_bytes: int, work: Path, subject: Subject
                  ) -> FileResult:
    return CheckRunner(profile, [], max_check_bytes, work).run(subject)
