"""The disclosure ledger: every released table, remembered per project and dataset.

A new table is checked against what the project already released: if adding
it to, or subtracting it from, an earlier release reveals a cell below the
threshold, it escalates and names that release.  The arithmetic lives in
statbarn (``statbarn.differencing``: pure, testable without a database); this
module is the airlock's side: turning stored evidence into ledger tables and
back.  Rounded alternatives are remembered with their true counts: stricter than
what was published, never looser.

Ledger entries are never changed once written, so a process remembers the tables
it has parsed (with what statbarn derived from them for comparisons), keyed by
the entry's content digest and release: each request then reads only the
entries' ids and digests, and the tables of entries it has not seen yet.  A
table is remembered only when its content matches the digest stored with it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from statbarn.differencing import LedgerTable, differencing_check
from statbarn.evidence import TableEvidence
from statbarn.profile import Profile
from statbarn.verdict import CheckResult

if TYPE_CHECKING:  # the checks (and ``tre check`` in a workspace) need no database
    from sqlalchemy.orm import Session

CANDIDATE = "(this request)"
MAX_REMEMBERED = 20_000  # parsed ledger tables kept per process (least recently used go)


def _table(evidence: dict[str, Any], release_id: str, dataset: str | None,
           population: str | None) -> LedgerTable:
    """``evidence`` is the sidecar's ``table`` (or a bare table's evidence): its
    ``suppressed`` mask, when present, says which cells were never shown, so the
    ledger does not hold (or compare) values that did not leave."""
    ev = TableEvidence.from_json(evidence)
    mask = evidence.get("suppressed")
    suppressed = None if mask is None else np.asarray(mask, dtype=bool)
    return LedgerTable.from_evidence(ev, release_id, dataset=dataset, population=population,
                                     suppressed=suppressed)


def digest(table: dict[str, Any]) -> str:
    """What a ledger table says, without which release said it."""
    body = {k: v for k, v in table.items() if k != "release_id"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def ledger_table(
    evidence: dict[str, Any], release_id: str, dataset: str | None, population: str | None
) -> dict[str, Any]:
    """The ledger entry (JSON) of a released table, from its stored evidence."""
    return _table(evidence, release_id, dataset, population).to_json()


class _Remembered:
    """Parsed ledger tables by (content digest, release id), least recently used first."""

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self.limit = limit
        self._tables: OrderedDict[tuple[str, str], LedgerTable] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> LedgerTable | None:
        with self._lock:
            table = self._tables.get(key)
            if table is not None:
                self._tables.move_to_end(key)
            return table

    def put(self, key: tuple[str, str], table: LedgerTable) -> None:
        with self._lock:
            self._tables[key] = table
            self._tables.move_to_end(key)
            while len(self._tables) > self.limit:
                self._tables.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._tables.clear()


REMEMBERED = _Remembered()


class Ledger:
    """A project's released tables as read from the database, parsed on first use
    (a request without a table to compare never parses them)."""

    def __init__(self, entries: Sequence[tuple[str, str, LedgerTable | dict[str, Any]]]
                 ) -> None:
        self._entries = list(entries)  # (digest, release id, parsed table or its JSON)
        self._tables: list[LedgerTable] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def tables(self) -> list[LedgerTable]:
        with self._lock:
            if self._tables is None:
                self._tables = [_parsed(*entry) for entry in self._entries]
            return self._tables


def _parsed(key: str, release_id: str, entry: LedgerTable | dict[str, Any]) -> LedgerTable:
    if isinstance(entry, LedgerTable):
        return entry
    table = LedgerTable.from_json(entry)
    if digest(entry) == key and table.release_id == release_id:
        REMEMBERED.put((key, release_id), table)
    return table


def load(session: Session, project: str, after_id: int = 0) -> tuple[Ledger, int]:
    """The project's ledger newer than ``after_id``, and the newest entry's id."""
    from airlock.db import repo  # the ledger's arithmetic does not need the database

    heads = repo.ledger_heads(session, project, after_id)
    known = {h[0]: REMEMBERED.get((h[1], h[2])) for h in heads}
    missing = [i for i, table in known.items() if table is None]
    read = repo.ledger_tables_by_id(session, missing) if missing else {}
    ledger = Ledger([(key, release, known[i] or read[i]) for i, key, release in heads])
    return ledger, heads[-1][0] if heads else after_id


def differencing(
    evidence: dict[str, Any],
    ledger: Ledger | Sequence[dict[str, Any]],
    profile: Profile,
    dataset: str | None,
    population: str | None,
) -> CheckResult | None:
    """Check a candidate table against earlier releases (None: nothing to compare with).

    ``ledger``: from :func:`load`, or the ledger tables' JSON."""
    if not ledger:
        return None
    candidate = _table(evidence, CANDIDATE, dataset, population)
    tables = ledger.tables() if isinstance(ledger, Ledger) else \
        [LedgerTable.from_json(row) for row in ledger]
    return differencing_check(candidate, tables, profile)
