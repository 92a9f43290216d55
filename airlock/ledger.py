"""The disclosure ledger: every released table, remembered per project and dataset.

A new table is checked against what the project already released: if adding
it to, or subtracting it from, an earlier release reveals a cell below the
threshold, it escalates and names that release.  The arithmetic lives in
statbarn (``statbarn.differencing``: pure, testable without a database); this
module is the airlock's side: turning stored evidence into ledger tables and
back.  Rounded alternatives are remembered with their true counts: stricter than
what was published, never looser.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from statbarn.differencing import LedgerTable, differencing_check
from statbarn.evidence import TableEvidence
from statbarn.profile import Profile
from statbarn.verdict import CheckResult

CANDIDATE = "(this request)"


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


def differencing(
    evidence: dict[str, Any],
    ledger: Sequence[dict[str, Any]],
    profile: Profile,
    dataset: str | None,
    population: str | None,
) -> CheckResult | None:
    """Check a candidate table against earlier releases (None: nothing to compare with)."""
    if not ledger:
        return None
    candidate = _table(evidence, CANDIDATE, dataset, population)
    return differencing_check(candidate, [LedgerTable.from_json(row) for row in ledger], profile)
