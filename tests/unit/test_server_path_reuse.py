"""Work the airlock's server no longer repeats per request: decoded record sets kept by
content, blobs already stored not synced again, the JSON depth check on the bytes that
matter.  Each is checked for what it must still refuse or decide."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from airlock.store import Store
from statbarn import records
from statbarn.errors import EvidenceError
from statbarn.fileio import json_too_deep
from statbarn.records import RecordSets, build

pytestmark = pytest.mark.unit


def _sets() -> dict[str, Any]:
    # ids 0..9; cells: 4 in cell 0, 6 in cell 1 (hand-made)
    return build(np.arange(10), np.array([0, 1] * 4 + [1, 1]), 2).to_json()


@pytest.fixture(autouse=True)
def _empty_cache() -> Any:
    records.DECODED.clear()
    yield
    records.set_cache_bytes(records.DEFAULT_CACHE_BYTES)
    records.DECODED.clear()


def test_record_sets_are_decoded_once_per_content() -> None:
    data = _sets()
    first = RecordSets.from_json(data, 2, 10)
    again = RecordSets.from_json(dict(data), 2, 10)  # an equal copy (another request's)
    assert again is first
    assert first.cell_counts().tolist() == [4, 6]
    assert not first.cells.flags.writeable and not first.ids.flags.writeable
    assert not first.cell_counts().flags.writeable


def test_the_cache_never_skips_the_checks_of_other_content() -> None:
    data = _sets()
    RecordSets.from_json(data, 2, 10)
    # the same encoded ids and cells declared for a table of 3 cells: checked, not served
    with pytest.raises(EvidenceError, match="body cells"):
        RecordSets.from_json(data, 3, 10)
    with pytest.raises(EvidenceError, match="declare 10 records"):
        RecordSets.from_json(data, 2, 11)
    other = build(np.arange(10), np.array([1] * 10), 2).to_json()
    assert RecordSets.from_json(other, 2, 10).cell_counts().tolist() == [0, 10]
    forged = {**data, "cells": other["cells"][:-4] + "AAAA"}
    with pytest.raises(EvidenceError):
        RecordSets.from_json(forged, 2, 10)


def test_the_cache_is_bounded_in_memory() -> None:
    records.set_cache_bytes(100)  # one table of 10 ids and 10 cells at one byte: 20 bytes
    tables = [build(np.arange(10) + 10 * i, np.zeros(10, dtype=np.int64), 1).to_json()
              for i in range(8)]
    for t in tables:
        RecordSets.from_json(t, 1, 10)
    assert records.DECODED.bytes <= 100 and len(records.DECODED) == 5
    records.set_cache_bytes(0)
    assert len(records.DECODED) == 0
    RecordSets.from_json(tables[0], 1, 10)
    assert len(records.DECODED) == 0


def test_a_blob_already_stored_is_not_synced_again(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path)
    synced: list[int] = []
    real = os.fsync
    # Counting the calls: the disk's own behaviour cannot be observed from a test.

    def counting(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    sha = store.put_bytes(b"a,b\n1,2\n")
    first = len(synced)
    assert first >= 1  # a new blob is made durable
    assert store.put_bytes(b"a,b\n1,2\n") == sha
    assert len(synced) == first  # the same content again: kept, not written to disk twice
    assert list(store.tmp.iterdir()) == []
    assert store.path(sha).read_bytes() == b"a,b\n1,2\n"


def _depth(text: str) -> int:
    """The reference: a plain walk over the characters.  A quote after an odd run of
    backslashes is no quote, in a string or not (outside one, the JSON is invalid and
    the parser refuses it; the check only has to be bounded)."""
    depth = top = 0
    inside = escaped = False
    for ch in text:
        if ch == "\\":
            escaped = not escaped
            continue
        if ch == '"' and not escaped:
            inside = not inside
        elif not inside and ch in "[{":
            depth += 1
            top = max(top, depth)
        elif not inside and ch in "]}":
            depth -= 1
        escaped = False
    return top


def test_the_depth_check_agrees_with_a_plain_walk() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        text = "".join(rng.choice('"\\[]{}a ') for _ in range(rng.randint(0, 40)))
        for limit in (0, 1, 2, 3):
            assert json_too_deep(text, limit) == (_depth(text) > limit), (text, limit)
    long = '{"ids": "' + "QUJD" * 50_000 + '", "x": ' + "[" * 101 + "]" * 101 + "}"
    assert json_too_deep(long, 100) and not json_too_deep(long, 102)


def test_json_is_written_exactly_as_json_dumps_writes_it() -> None:
    import json

    from airlock.jsonenc import dumps

    rng = np.random.default_rng(5)
    ids = np.unique(rng.integers(0, 10**7, 50_000))
    sets = build(ids, rng.integers(0, 7, len(ids)), 7).to_json()
    assert len(sets["ids"]) >= 4096 and len(sets["cells"]) >= 4096  # swapped, then put back
    doc = {"table": {"records": sets, "cells": [[1, 2.5, None]], "name": "é\u2028\"x\\"},
           "z": ["A" * 5000, {"q": "QUJD" * 2000}], "a": "QUJD" * 2000,
           "nonce-like": "\x00deadbeef:0\x00", "n": 3}
    for options in ({}, {"sort_keys": True, "separators": (",", ":"), "default": str},
                    {"ensure_ascii": False}):
        assert dumps(doc, **options) == json.dumps(doc, **options)
    not_base64 = {"s": "x" * 4095 + "\"" + "y" * 5000, "t": "x" * 5000 + "\n", "u": "é" * 5000}
    assert dumps(not_base64) == json.dumps(not_base64)
    assert dumps([1, "QUJD" * 2000]) == json.dumps([1, "QUJD" * 2000])
