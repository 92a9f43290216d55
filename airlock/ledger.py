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
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from airlock.jsonenc import dumps
from statbarn.differencing import LedgerTable, differencing_check
from statbarn.errors import EvidenceError
from statbarn.evidence import TableEvidence
from statbarn.profile import Profile
from statbarn.records import MAX_RECORDS
from statbarn.verdict import CheckResult, Rule, Verdict

if TYPE_CHECKING:  # the checks (and ``tre check`` in a workspace) need no database
    from sqlalchemy.orm import Session

CANDIDATE = "(this request)"
MAX_REMEMBERED = 20_000  # parsed ledger tables kept per process (least recently used go)
MAX_REMEMBERED_BYTES = 2 << 30  # and their memory at most (record sets dominate it)


def weight(table: LedgerTable) -> int:
    """The memory a remembered table takes once compared: its counts, its record sets
    (as stored, and decoded: about 6 bytes a record) and their views."""
    rec = table.records or {}
    stored = len(str(rec.get("ids", ""))) + len(str(rec.get("cells", "")))
    n = rec.get("n", 0) if isinstance(rec.get("n", 0), int) else 0
    return 2048 + 3 * int(table.counts.nbytes) + stored + 6 * n


def records_refusal(evidence: dict[str, Any]) -> str | None:
    """Why a table's record sets are refused before the server decodes them (None: they
    are not): more records declared than :data:`statbarn.records.MAX_RECORDS`.  The
    server decodes them (the ledger compares them here, outside the check worker's
    limits), and a few kilobytes of zlib can declare tens of millions."""
    records = evidence.get("records")
    if records is None or not isinstance(records, dict):
        return None
    n = records.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > MAX_RECORDS:
        return (f"the table's record sets declare {n:,} records, more than the "
                f"{MAX_RECORDS:,} the airlock keeps for one table: save it without record "
                "sets (it is then compared with earlier releases by its variables)")
    return None


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


_NOT_CONTENT = frozenset({"release_id", "title", "file_name", "released_at"})


def digest(table: dict[str, Any]) -> str:
    """What a ledger table says, without which release said it (or its title and date)."""
    body = {k: v for k, v in table.items() if k not in _NOT_CONTENT}
    text = dumps(body, sort_keys=True, separators=(",", ":"), default=str)  # json.dumps's
    return hashlib.sha256(text.encode()).hexdigest()


def ledger_table(
    evidence: dict[str, Any], release_id: str, dataset: str | None, population: str | None,
    title: str | None = None, file_name: str | None = None, released_at: str | None = None,
) -> dict[str, Any]:
    """The ledger entry (JSON) of a released table, from its stored evidence, with the
    names the researcher knows it by.  It keeps the evidence's record sets: the ledger
    is the airlock's, and nothing in it is ever released."""
    table = _table(evidence, release_id, dataset, population)
    return table.labelled(title, file_name, released_at).to_json()


def title_of(context: str | None) -> str | None:
    """A request's title: the first line of its context (there is no title field)."""
    first = (context or "").strip().splitlines()
    return first[0].strip()[:200] or None if first else None


class _Remembered:
    """Parsed ledger tables by (content digest, release id), least recently used first."""

    def __init__(self, limit: int = MAX_REMEMBERED, max_bytes: int = MAX_REMEMBERED_BYTES
                 ) -> None:
        self.limit, self.max_bytes, self.bytes = limit, max_bytes, 0
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
            old = self._tables.pop(key, None)
            self.bytes -= weight(old) if old is not None else 0
            self._tables[key] = table
            self.bytes += weight(table)
            while len(self._tables) > self.limit or (self.bytes > self.max_bytes
                                                     and len(self._tables) > 1):
                self.bytes -= weight(self._tables.popitem(last=False)[1])

    def clear(self) -> None:
        with self._lock:
            self._tables.clear()
            self.bytes = 0


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
    any_dataset: bool = False,
) -> CheckResult | None:
    """Check a candidate table against earlier releases (None: nothing to compare with).

    ``ledger``: from :func:`load`, or the ledger tables' JSON.  ``any_dataset``: the
    project has no catalogue, so its dataset names are free text (a researcher names
    the same data twice): the comparison by variables spans every release of the
    project, whatever its dataset name."""
    if not ledger:
        return None
    candidate = _table(evidence, CANDIDATE, dataset, population)
    tables = ledger.tables() if isinstance(ledger, Ledger) else \
        [LedgerTable.from_json(row) for row in ledger]
    try:
        return differencing_check(candidate, tables, profile, any_dataset)
    except EvidenceError as exc:  # record sets that do not add up: a person decides
        return CheckResult(Rule.DIFFERENCING, Verdict.ESCALATE, [],
                           f"The table could not be compared with earlier releases: {exc}.")
