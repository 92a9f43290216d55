"""Atomic writes and hashing: a saved output and its sidecar are never half-written."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file beside the target, fsync, then rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# JSON nested deeper than this is refused before it is parsed: Python's parser recurses,
# so a valid file of 100,000 brackets ends in RecursionError (or worse) otherwise.
MAX_JSON_DEPTH = 100
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_too_deep(text: str, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``text`` nests lists and objects more than ``max_depth`` deep, without
    recursion: strings are blanked, then innermost ``[]``/``{}`` pairs are removed
    once per level (at most ``max_depth`` passes, each at C speed)."""
    if text.count("[") + text.count("{") <= max_depth:
        return False
    brackets = re.sub(r"[^\[\]{}]+", "", _JSON_STRING.sub("", text))
    for _ in range(max_depth):
        shorter = brackets.replace("[]", "").replace("{}", "")
        if shorter == brackets:
            return False  # nothing left to unnest (or mismatched: the parser says so)
        brackets = shorter
    return "[]" in brackets or "{}" in brackets


def loads_json(text: str, what: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` with the depth bounded first; ``ValueError`` with a sentence that
    names ``what`` (the file or field) on bad or too deeply nested JSON."""
    if json_too_deep(text, max_depth):
        raise ValueError(f"{what} nests lists or objects more than {max_depth} levels deep; "
                         f"the airlock reads JSON up to {max_depth} levels: flatten it")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}") from None
    except RecursionError:  # a parser limit below max_depth (a small stack)
        raise ValueError(f"{what} nests lists or objects too deeply to read; flatten it") \
            from None
