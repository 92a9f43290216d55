"""Atomic writes and hashing: a saved output and its sidecar are never half-written."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


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


_SPECIAL = np.zeros(256, dtype=bool)
_SPECIAL[[ord(c) for c in '"\\[]{}']] = True


def json_too_deep(text: str, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``text`` nests lists and objects more than ``max_depth`` deep, without
    recursion and without a Python loop over the text (a sidecar with record sets holds
    hundreds of kilobytes): on the bytes, a quote escaped by an odd run of backslashes is
    no quote, a bracket between quotes is no bracket, and the depth is one cumulative sum
    of the brackets left.  Mismatched brackets are the parser's to report.

    One pass over the bytes finds the few that matter (quotes, backslashes, brackets);
    the rest works on those alone (a sidecar's record sets are long base64 strings,
    which hold none of them)."""
    if text.count("[") + text.count("{") <= max_depth:
        return False
    b = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    pos = np.flatnonzero(_SPECIAL[b])
    c = b[pos]
    backslash = c == ord("\\")
    # a backslash right after another (the byte before it) continues that one's run
    cont = np.zeros(c.size, dtype=bool)
    cont[1:] = backslash[1:] & backslash[:-1] & (pos[1:] == pos[:-1] + 1)
    run_start = np.maximum.accumulate(np.where(backslash & ~cont, pos, -1)) if c.size \
        else pos
    quote = np.flatnonzero(c == ord('"'))
    prev = np.maximum(quote - 1, 0)
    after_run = (quote > 0) & backslash[prev] & (pos[prev] == pos[quote] - 1)
    escaped = after_run & ((pos[quote] - run_start[prev]) % 2 == 1)  # an odd run before it
    toggles = np.zeros(c.size, dtype=np.int64)
    toggles[quote[~escaped]] = 1
    in_string = (np.cumsum(toggles) % 2) == 1  # a closing quote counts as inside: no matter
    opening = ((c == ord("[")) | (c == ord("{"))) & ~in_string
    closing = ((c == ord("]")) | (c == ord("}"))) & ~in_string
    steps = opening.astype(np.int64) - closing.astype(np.int64)
    return bool(np.cumsum(steps).max(initial=0) > max_depth)


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
