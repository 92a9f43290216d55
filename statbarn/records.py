"""The records behind each cell: which rows of the dataset a table's body cells count.

statbarn's wrappers see the rows they tabulate (the index of the Series they
are given), so a sidecar can say, exactly, which records each body cell holds.
The airlock keeps these sets in its disclosure ledger, server side, and never
releases them; with them, differencing between releases is set arithmetic on
records, whatever the variables were called, banded or filtered by.

Encoding (``statbarn-records-1``): the contributors' record ids, sorted and
delta-encoded, and the body cell of each (``row * body_cols + col``), each as
little-endian unsigned integers of the smallest width that fits, zlib-compressed
and base64-encoded.  A whole-dataset table's ids are all deltas of 1 and
compress to almost nothing; the cells cost about log2(cells) bits a record.
Decoding is bounded (the declared record count, and a decompression limit
derived from it), so a forged sidecar cannot blow up in memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import weakref
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from statbarn.errors import EvidenceError

ENCODING = "statbarn-records-1"
# Tables over one population hold the same ids: decoded once, shared (read-only) while
# any table holds them (memory, and the join of two tables over one population is free).
_SHARED: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
# A table over more records is kept without its record sets (compared by its variables),
# and a sidecar declaring more is refused before anything is decoded: the airlock decodes
# record sets in its server process (the ledger), outside the check worker's limits, and
# zlib makes ten million ids a few kilobytes.  Decoded, a table costs at most ~2 x 8 bytes
# a record while it is being compared (ids and cells at their narrowest width, after).
MAX_RECORDS = 10_000_000
IntArray = NDArray[np.int64]
# Decoded record sets by content digest, least recently used first, bounded in memory:
# the airlock decodes one table's record sets when it reads the sidecar, again when it
# compares the table with the ledger and again when it releases it, and a released
# table's at every later comparison.  What is kept is what was decoded and checked
# (read-only arrays), keyed by everything the decoding and its checks depend on.
# 32 MB by default (a check worker); the airlock's server raises it (set_cache_bytes).
DEFAULT_CACHE_BYTES = 32 << 20


def _width(top: int) -> np.dtype[Any]:
    for dt in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dt).max:
            return np.dtype(dt).newbyteorder("<")
    return np.dtype(np.uint64).newbyteorder("<")


def _pack(values: IntArray) -> tuple[str, str]:
    dt = _width(int(values.max()) if len(values) else 0)
    raw = values.astype(dt).tobytes()
    return dt.str, base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def _unpack(text: Any, dtype: Any, n: int, what: str) -> IntArray:
    if not isinstance(text, str) or dtype not in ("|u1", "<u2", "<u4", "<u8"):
        raise EvidenceError(f"record sets: '{what}' is not encoded as {ENCODING}")
    try:
        packed = base64.b64decode(text.encode("ascii"), validate=True)
        width = np.dtype(dtype).itemsize
        d = zlib.decompressobj()
        raw = d.decompress(packed, n * width + 1)  # never more than the declared count
    except (binascii.Error, zlib.error, UnicodeEncodeError) as exc:
        raise EvidenceError(f"record sets: '{what}' cannot be decoded: {exc}") from None
    if len(raw) != n * width or d.unconsumed_tail:
        raise EvidenceError(f"record sets: '{what}' does not hold {n} values")
    # At their stored width (no 8-byte copy): memory is what was declared, no more.
    return np.frombuffer(raw, dtype=dtype)


def _narrow(values: IntArray) -> Any:
    """The smallest unsigned type that holds the values (memory: the ledger keeps them)."""
    return values.astype(_width(int(values.max()) if len(values) else 0).newbyteorder("="))


class _Decoded:
    """An LRU of decoded :class:`RecordSets` by content digest, at most ``max_bytes``."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes, self.bytes = max_bytes, 0
        self._sets: OrderedDict[str, RecordSets] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> RecordSets | None:
        with self._lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
            return found

    def put(self, key: str, sets: RecordSets) -> None:
        if sets.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._sets.pop(key, None)
            self.bytes += sets.nbytes - (old.nbytes if old is not None else 0)
            self._sets[key] = sets
            while self.bytes > self.max_bytes and self._sets:
                self.bytes -= self._sets.popitem(last=False)[1].nbytes

    def resize(self, max_bytes: int) -> None:
        with self._lock:
            self.max_bytes = max_bytes
            while self.bytes > self.max_bytes and self._sets:
                self.bytes -= self._sets.popitem(last=False)[1].nbytes

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._sets)


DECODED = _Decoded()


def set_cache_bytes(max_bytes: int) -> None:
    """Bound the memory of decoded record sets kept for reuse (0: keep none)."""
    DECODED.resize(max(0, max_bytes))


def _content_key(data: dict[str, Any], n: int, n_cells: int) -> str:
    """What a decoding depends on: the declared counts, the types and the encoded text."""
    h = hashlib.sha256(f"{ENCODING}:{n}:{n_cells}:{data.get('id_type')}:"
                       f"{data.get('cell_type')}:".encode())
    for part in ("ids", "cells"):
        value = data.get(part)
        text = value if isinstance(value, str) else repr(value)
        h.update(f"{len(text)}:".encode())
        h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class RecordSets:
    """Sorted record ids of a table's contributors and the body cell (flat) of each."""

    ids: Any  # unsigned, as narrow as they fit
    cells: Any
    n_cells: int
    _counts: Any = field(default=None, init=False, repr=False, compare=False)

    def cell_counts(self) -> IntArray:
        """Records per body cell (computed once: the sets never change)."""
        if self._counts is None:
            counts = np.bincount(self.cells, minlength=self.n_cells).astype(np.int64)
            counts.flags.writeable = False
            object.__setattr__(self, "_counts", counts)
        return self._counts  # type: ignore[no-any-return]

    def to_json(self) -> dict[str, Any]:
        ids = self.ids.astype(np.int64)
        deltas = np.diff(ids, prepend=np.int64(0)) if len(ids) else ids
        id_type, ids = _pack(deltas)
        cell_type, cells = _pack(self.cells.astype(np.int64))
        return {"encoding": ENCODING, "n": len(self.ids), "cells_total": self.n_cells,
                "id_type": id_type, "ids": ids, "cell_type": cell_type, "cells": cells}

    @classmethod
    def from_json(cls, data: Any, n_cells: int, total: int | None = None) -> RecordSets:
        """Decoded, after the declared count is checked (against ``total``, the body's
        cells summed, when given, and :data:`MAX_RECORDS`) before anything is decoded."""
        n = declared(data)
        if total is not None and n != total:
            raise EvidenceError(f"record sets declare {n} records, the table's cells count "
                                f"{total}")
        if data.get("cells_total") != n_cells:
            raise EvidenceError(f"record sets are for {data.get('cells_total')!r} body cells, "
                                f"the table has {n_cells}")
        content = _content_key(data, n, n_cells)
        cached = DECODED.get(content)
        if cached is not None:
            return cached
        sets = cls._decode(data, n, n_cells)
        DECODED.put(content, sets)
        return sets

    @classmethod
    def _decode(cls, data: Any, n: int, n_cells: int) -> RecordSets:
        key = hashlib.sha256(f"{data.get('id_type')}:{data.get('ids')}".encode()).hexdigest()
        ids = _SHARED.get(key)
        if ids is None or len(ids) != n:
            deltas = _unpack(data.get("ids"), data.get("id_type"), n, "ids")
            if n and (deltas[1:] < 1).any():
                raise EvidenceError("record sets: record ids must be distinct and sorted")
            # The largest id; a float sum first, as the unsigned one wraps past 2**64
            # (ids [0, 0] from deltas of 2**63 each).  Record ids are a pandas index:
            # int64, so below 2**63.
            if n and float(deltas.sum(dtype=np.float64)) >= 2.0**63:
                raise EvidenceError("record sets: record ids must be below 2**63")
            top = int(deltas.sum(dtype=np.uint64)) if n else 0
            ids = np.cumsum(deltas, dtype=_width(top).newbyteorder("="))
            ids.flags.writeable = False
            _SHARED[key] = ids
        cells = _unpack(data.get("cells"), data.get("cell_type"), n, "cells")
        if n and int(cells.max()) >= n_cells:
            raise EvidenceError("record sets: a record belongs to a cell the table lacks")
        cells = _narrow(cells) if n else cells.astype(np.uint8)
        cells.flags.writeable = False  # shared through the cache: never changed in place
        return cls(ids, cells, n_cells)

    @property
    def nbytes(self) -> int:
        return int(self.ids.nbytes + self.cells.nbytes)


def declared(data: Any) -> int:
    """The count of records a sidecar's record sets declare (nothing decoded), checked
    against :data:`MAX_RECORDS`."""
    if not isinstance(data, dict) or data.get("encoding") != ENCODING:
        raise EvidenceError(f"record sets are not encoded as {ENCODING}")
    n = data.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise EvidenceError("record sets: a whole count of records is needed")
    if n > MAX_RECORDS:
        raise EvidenceError(f"record sets declare {n:,} records, more than the {MAX_RECORDS:,} "
                            "the airlock keeps for a table: save the table without record "
                            "sets (it is then compared by its variables)")
    return n


def record_ids(index: pd.Index) -> IntArray | None:
    """The record ids of rows: the index, when it is whole, non-negative and unique.

    A dataset read with pandas has the row number as its index, and filtering
    keeps it; an index statbarn cannot use (text, duplicates after a merge)
    leaves the table without record sets: it is then compared by its variables.
    """
    if len(index) > MAX_RECORDS or isinstance(index, pd.MultiIndex):
        return None
    if not pd.api.types.is_integer_dtype(index.dtype):
        return None
    ids = index.to_numpy(dtype=np.int64)
    if len(ids) and (ids.min() < 0 or not index.is_unique):
        return None
    return ids


def build(ids: IntArray, cells: IntArray, n_cells: int) -> RecordSets:
    """Record sets from each contributor's id and flat body cell (any order)."""
    order = np.argsort(ids, kind="stable")
    return RecordSets(_narrow(ids[order]), _narrow(cells[order]), n_cells)


__all__ = ["ENCODING", "MAX_RECORDS", "RecordSets", "build", "declared", "record_ids",
           "set_cache_bytes"]
