"""File names a researcher gives: checked, never trusted.

A name must be a plain base name that every operating system can store and
show honestly: no path (``/``, ``\\``, or look-alikes that normalise to them),
no ``.``/``..`` or hidden (dot) names, no control or invisible characters (NUL, bidi overrides that
make ``evil\u202etxt.exe`` look like ``evilexe.txt``, zero-width spaces), no
characters Windows refuses, no reserved device names, and not too long.
"""

from __future__ import annotations

import unicodedata

from tre.errors import TreError

MAX_NAME_BYTES = 255  # what ext4 and most file systems store
MAX_NAME_CHARS = 200
_WINDOWS_FORBIDDEN = set('<>:"|?*')
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                     *(f"lpt{i}" for i in range(1, 10))}


class BadName(TreError, ValueError):
    """A file name that cannot be accepted; ``str(exc)`` says why."""

    code = "bad_name"
    status = 422


def check_name(raw: str) -> str:
    """The name in NFC form, or :class:`BadName`."""
    shown = repr(raw[:80])
    name = unicodedata.normalize("NFC", raw)
    if not name:
        raise BadName("a file has an empty name")
    compat = unicodedata.normalize("NFKC", name)
    if any(sep in compat for sep in ("/", "\\")):
        raise BadName(f"file name {shown} contains a path; give the file's name only")
    for ch in name:
        if unicodedata.category(ch)[0] == "C":
            raise BadName(f"file name {shown} contains an invisible or control character "
                          f"(U+{ord(ch):04X}); rename the file")
    if name in (".", "..") or compat.strip(".") == "":
        raise BadName(f"file name {shown} is not a file name")
    if compat.startswith("."):  # hidden by file managers and `ls`: easy to miss in a release
        raise BadName(f"file name {shown} starts with a dot, which hides the file; "
                      "rename it")
    if name != name.strip() or name.endswith("."):
        raise BadName(f"file name {shown} starts or ends with a space or ends with a dot")
    bad = sorted(_WINDOWS_FORBIDDEN & set(compat))
    if bad:
        raise BadName(f"file name {shown} contains {' '.join(bad)}, which some systems "
                      "cannot store")
    if compat.split(".")[0].strip().lower() in _WINDOWS_RESERVED:
        raise BadName(f"file name {shown} is a reserved device name on Windows")
    if len(name) > MAX_NAME_CHARS or len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise BadName(f"file name {raw[:40]!r}... is too long (at most {MAX_NAME_CHARS} "
                      f"characters and {MAX_NAME_BYTES} bytes)")
    return name


def same_name_key(name: str) -> str:
    """Names that a case-insensitive file system (or a careless reader) would confuse."""
    return unicodedata.normalize("NFKC", name).casefold()
