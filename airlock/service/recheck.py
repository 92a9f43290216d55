"""An approval is compared with what was released while the request waited.

A request's tables are checked against the ledger as it is when the request is
submitted.  While it waits for a person, other requests of the project may be released
automatically, and they were compared only with *released* tables, so never with this
one.  Released as approved, the two could be subtracted (an attacker's finding: one
table of all patients waiting, one with three fewer released meanwhile).  So the
transaction that reaches an approval takes the ledger lock, compares the request's
tables with every entry added since its checks ran (``decision["ledger_seen"]``, the
newest entry they saw), and a table that differences one of them is not released: the
request is returned with the reason, to be revised (and re-checked as new).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from airlock import ledger as ledger_mod
from airlock.db import repo
from airlock.db.models import LedgerEntry, Request
from statbarn.profile import profile_from_mapping
from statbarn.verdict import Verdict


def ledger_seen(session: Session, req: Request) -> int:
    """The newest ledger entry the request's checks saw.  A request checked before this
    was recorded: the entries made before it was created."""
    seen = (req.decision or {}).get("ledger_seen")
    if isinstance(seen, int):
        return seen
    first_after = session.scalar(select(func.min(LedgerEntry.id)).where(
        LedgerEntry.project == req.project, LedgerEntry.created_at > req.created_at))
    if first_after is None:
        return int(session.scalar(select(func.max(LedgerEntry.id)).where(
            LedgerEntry.project == req.project)) or 0)
    return int(first_after) - 1


def released_meanwhile(session: Session, req: Request, *, any_dataset: bool) -> list[str]:
    """A sentence per file whose table differences a release made since its checks; empty
    when none does.  Takes the project's ledger lock (held to the commit, so nothing is
    released between this comparison and the request's own release)."""
    repo.lock_ledger(session, req.project)
    newer, _ = ledger_mod.load(session, req.project, after_id=ledger_seen(session, req))
    if not newer:
        return []
    profile = profile_from_mapping({"name": req.profile_name, "version": req.profile_version,
                                    **(req.profile or {})}, "the request's profile")
    found: list[str] = []
    for f in req.files:
        for check in f.checks:
            if check.subject != "file" or check.evidence is None:
                continue
            result = ledger_mod.differencing(check.evidence, newer, profile, req.dataset,
                                             f.population, any_dataset=any_dataset)
            if result is not None and result.verdict is not Verdict.PASS:
                found.append(f"{f.name}: compared with what was released while it waited "
                             f"for review: {result.summary}")
    return found


def note_seen(req: Request, newest: int) -> None:
    """Record on the automatic decision the newest ledger entry the checks saw."""
    decision: dict[str, Any] = dict(req.decision or {})
    decision["ledger_seen"] = newest
    req.decision = decision
