"""Creating requests: check the files, store them, decide, all or nothing.

The order matters for "nothing stored half": files are checked while they are
still temporary files; only then are they moved into the store, and the
request, its files, checks, decision (and release) are written in one
transaction with their audit events.  A failure before the commit leaves no
request; blobs stored just before a crash are swept at the next start.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from airlock import guarded
from airlock import ledger as ledger_mod
from airlock.checks import CheckRefused, CheckTooLarge, FileResult, Subject
from airlock.db import repo
from airlock.db.models import FileCheck, Release, Request, RequestFile
from airlock.domain import decisions
from airlock.domain.states import Owner, State
from airlock.filetypes import MEDIA_TYPES
from airlock.intake import IntakeError
from airlock.origin import Origin
from airlock.sandbox import LimitExceeded, Sandbox, SandboxLimits, sandbox_for
from airlock.service import recheck
from airlock.service.context import SYSTEM, Changes, Ctx, move, require
from airlock.service.incoming import Incoming, Submission
from airlock.service.release import release_request
from airlock.views import request_view
from airlock.visibility import content_visible, details_visible
from statbarn.profile import Profile
from statbarn.verdict import CheckResult
from tre import audit
from tre.authz import Decision
from tre.authz.events import AuditAction, decision_details
from tre.db import transaction

NEW = "(new)"


def sandbox(ctx: Ctx) -> Sandbox:
    """The check workers of this process (see :mod:`airlock.sandbox`)."""
    a = ctx.settings.airlock
    limits = SandboxLimits(memory_bytes=a.check_memory_mb * 1024**2,
                           cpu_seconds=a.check_cpu_seconds, file_bytes=a.check_file_mb * 1024**2,
                           wall_seconds=a.check_wall_seconds)
    return sandbox_for(limits, a.check_concurrency)


def too_costly(name: str, exc: LimitExceeded) -> IntakeError:
    return IntakeError(413, f"{name}: reading it took {exc.what}, more than the airlock "
                       "allows for one file, so it was not checked; if it is a genuine "
                       "output, split it into smaller files or export a summary table",
                       "too_costly")


def run_checks(ctx: Ctx, profile: Profile, ledger: ledger_mod.Ledger,
               files: Sequence[Incoming], dataset: str | None, work: Path,
               free_names: bool = False) -> list[FileResult]:
    """Each file's checks in a check worker (under limits), then differencing here
    (``free_names``: the project has no catalogue; see :func:`airlock.ledger.differencing`)."""
    box = sandbox(ctx)
    results = []
    for f in files:
        subject = Subject(f.path, f.name, f.kind, f.sidecar, f.sidecar_path, dataset,
                          f.population, f.statistic)
        try:
            res = box.call(guarded.check_subject, profile, ctx.settings.airlock.max_check_bytes,
                           work, subject)
        except LimitExceeded as exc:
            raise too_costly(f.name, exc) from None
        except CheckTooLarge as exc:
            raise IntakeError(413, str(exc), "too_large") from None
        except CheckRefused as exc:
            raise IntakeError(exc.status, str(exc), exc.code) from None
        ev = res.records[0].evidence
        refused = ledger_mod.records_refusal(ev) if ev is not None else None
        if refused is not None:  # before the server decodes a byte of them
            raise IntakeError(413, f"{f.name}: {refused}", "too_large")
        diff = ledger_mod.differencing(ev, ledger, profile, dataset, f.population,
                                       any_dataset=free_names) \
            if ev is not None else None
        if diff is not None:
            _late_check(res, diff)
        results.append(res)
    return results


def fresh(results: Sequence[FileResult]) -> list[FileResult]:
    """Copies of the results that :func:`_late_check` can change without touching the
    originals (a transaction done again starts from the checks as they ran)."""
    return [replace(res, records=[replace(rec, result={**rec.result,
                                                       "checks": list(rec.result["checks"])})
                                  for rec in res.records])
            for res in results]


def _late_check(result: FileResult, check: CheckResult) -> None:
    """Add a check found inside the transaction (a release that committed meanwhile)."""
    rec = result.records[0]
    rec.result["checks"].append(check.to_dict())
    order = {"pass": 0, "escalate": 1, "fail": 2}
    worst = max((c["verdict"] for c in rec.result["checks"]), key=order.__getitem__)
    rec.verdict = rec.result["verdict"] = worst
    result.verdict = max((r.verdict for r in result.records), key=order.__getitem__)


def create_request(
    ctx: Ctx, user: str, sub: Submission, work: Path, *,
    derived_from: str | None = None, replaces: str | None = None,
    origin: Origin = Origin.OUTSIDE,
    also: Callable[[Session, Request], None] | None = None, answered: bool = False,
) -> dict[str, Any]:
    """Check, store and record a new request; returns the requester's view of it.

    ``also``: more to write in the same transaction, once the request is in it (a
    revision's own audit event and the researcher's answer); ``answered``: the request
    carries an answer to the checkers, so a person reads it (never released unread)."""
    decisions_made = [require(ctx, user, sub.project, "request", "create", NEW, user)]
    info = ctx.profiles.info(sub.project)
    if sub.dataset is not None and info.in_catalog and sub.dataset not in info.datasets:
        raise IntakeError(422, f"dataset {sub.dataset!r} is not granted to project "
                          f"{sub.project!r}", "bad_field")
    if not sub.draft:
        decisions_made.append(require(ctx, user, sub.project, "request", "submit", NEW, user))
    results: list[FileResult] = []
    seen = 0
    if sub.draft:
        profile = ctx.profiles(sub.project)
    else:
        profile, results, seen = check_files(ctx, sub.project, sub.dataset, sub.files, work)
    stored_alternatives = _store(ctx, sub.files, results)

    def attempt(lock_first: bool) -> tuple[Changes, dict[str, Any]]:
        changes = Changes()
        checked = fresh(results)  # a late check is added to this attempt's alone
        with transaction(ctx.db) as s:
            # The request replaced is locked before the ledger (at the commit, or first in
            # submit_in_tx), the order a vote takes them in (request, then ledger on
            # release): no lock cycle between them.
            old = repo.get_request(s, replaces, lock=True) if replaces is not None else None
            now = ctx.clock.now()
            req = Request(id=uuid.uuid4().hex, project=sub.project, dataset=sub.dataset,
                          title=sub.title, requester=user, state=State.DRAFT.value,
                          profile_name=profile.name,
                          profile_version=profile.version, profile=profile.params(),
                          reviewers_required=profile.reviewers_required, derived_from=derived_from,
                          created_at=now, updated_at=now)
            audit.record(s, actor=user, action=AuditAction.REQUEST_CREATE, object_type="request",
                         object_id=req.id, project=sub.project, clock=ctx.clock, details={
                             "dataset": sub.dataset, "derived_from": derived_from,
                             "title": sub.title,
                             "files": [{"name": f.name, "sha256": f.sha256, "size": f.size,
                                        "kind": f.kind.value, "evidence_sha256": f.sidecar_sha256}
                                       for f in sub.files],
                             **decision_details(decisions_made)})
            rows = [RequestFile(id=uuid.uuid4().hex, position=i, name=f.name,
                                kind=f.kind.value, media_type=MEDIA_TYPES[f.kind], size=f.size,
                                sha256=f.sha256, sidecar_sha256=f.sidecar_sha256, context=f.context,
                                exception=f.exception, population=f.population,
                                statistic=f.statistic, checks=[])
                    for i, f in enumerate(sub.files)]
            req.files = rows
            release = None
            if not sub.draft:
                release = submit_in_tx(ctx, s, changes, req, user, sub.files, checked,
                                       stored_alternatives, profile, seen,
                                       in_catalog=info.in_catalog, lock_first=lock_first,
                                       answered=answered)
            # Added last: the request walks its automatic steps in memory (each audited as it
            # goes), then is inserted once, with its final state, files, checks and release,
            # rather than updated at every step.
            s.add(req)
            if release is not None:
                s.flush()  # the request (and its files) before the release that refers to them
                s.add(release)
            if old is not None:
                move(ctx, s, changes, old, State.WITHDRAWN, actor=user, role=Owner.RESEARCHER,
                     details={"replaced_by": req.id})
            if also is not None:
                s.flush()
                also(s, req)
            # The creator is the requester: a reviewer's view does not arise here.
            shown = content_visible(req.state, requester=True, origin=origin, reviewer=False)
            view = request_view(req, user, content=shown, release=release,
                                base=ctx.settings.airlock.base_path,
                                check_details=details_visible(requester=True, origin=origin,
                                                              reviewer=False))
        return changes, view

    changes, view = ledger_last(attempt)
    changes.publish(ctx)
    return view


def submit_in_tx(
    ctx: Ctx, s: Session, changes: Changes, req: Request, user: str,
    files: Sequence[Incoming], results: Sequence[FileResult],
    alternatives: Sequence[dict[str, Any] | None], profile: Profile, seen: int,
    authz: Sequence[Decision] = (), *, in_catalog: bool, lock_first: bool = True,
    answered: bool = False,
) -> Release | None:
    """draft -> submitted, then the checks' results and the decision.

    The ledger is re-read here, so releases committed since the checks ran are checked
    too.  ``lock_first`` false: the project's ledger lock is taken at the commit, which
    fails with :class:`airlock.db.repo.LedgerMoved` if a release came in meanwhile
    (:func:`airlock.db.repo.defer_ledger_lock`; the caller then does it all again with
    ``lock_first``, see :func:`ledger_last`); true: it is taken now, before the re-read.
    """
    if lock_first:
        repo.lock_ledger(s, req.project)
    # A draft's submission records its own decision (a new request's is on its create).
    move(ctx, s, changes, req, State.SUBMITTED, actor=user, role=Owner.RESEARCHER,
         details=decision_details(authz) if authz else None)
    newer, newest = ledger_mod.load(s, req.project, after_id=seen)
    if not lock_first:
        repo.defer_ledger_lock(s, req.project, newest)
    # ``in_catalog`` is read by the caller before the transaction: the profile resolver
    # opens a session of its own, which on SQLite waits for this one's turn (a deadlock).
    free_names = not in_catalog
    for f, res in zip(files, results, strict=True):
        ev = res.records[0].evidence
        late = ledger_mod.differencing(ev, newer, profile, req.dataset, f.population,
                                       any_dataset=free_names) \
            if ev is not None and newer else None
        if late is not None:
            _late_check(res, late)
    req.profile_name, req.profile_version = profile.name, profile.version
    req.profile, req.reviewers_required = profile.params(), profile.reviewers_required
    release = check_and_decide(ctx, s, changes, req, req.files, results, alternatives,
                               profile, answered=answered)
    recheck.note_seen(req, newest)  # an approval compares with what came after (recheck)
    return release


T = TypeVar("T")


def ledger_last(attempt: Callable[[bool], T]) -> T:
    """``attempt(lock_first)``: a whole submission transaction.  First with the ledger
    lock taken at its commit; if a release of the project came in meanwhile (it was
    rolled back), once more with the lock taken first, which cannot be overtaken."""
    try:
        return attempt(False)
    except repo.LedgerMoved:
        return attempt(True)


def check_files(ctx: Ctx, project: str, dataset: str | None, files: Sequence[Incoming],
                work: Path) -> tuple[Profile, list[FileResult], int]:
    """Run the checks outside any transaction; returns the ledger position they saw."""
    profile = ctx.profiles(project)
    with ctx.db() as s:
        ledger, seen = ledger_mod.load(s, project)
    free_names = not ctx.profiles.info(project).in_catalog
    return profile, run_checks(ctx, profile, ledger, files, dataset, work, free_names), seen


def store_files(ctx: Ctx, files: Sequence[Incoming], results: Sequence[FileResult]
                ) -> list[dict[str, Any] | None]:
    return _store(ctx, files, results)


def _store(ctx: Ctx, files: Sequence[Incoming], results: Sequence[FileResult]
           ) -> list[dict[str, Any] | None]:
    """Move checked files (and sidecars, and safe alternatives) into the store."""
    for f in files:
        if f.temp is not None:
            ctx.store.commit(f.temp)
        if f.sidecar_temp is not None:
            ctx.store.commit(f.sidecar_temp)
    stored: list[dict[str, Any] | None] = []
    for res in results:
        if res.canonical is not None:  # the copy that was checked, stored beside the original
            res.canonical.sha256 = ctx.store.put_file(res.canonical.path)
            res.canonical.size = res.canonical.path.stat().st_size
        alt = res.alternative
        if alt is None:
            stored.append(None)
            continue
        stored.append({"name": alt.name, "sha256": ctx.store.put_file(alt.csv_path),
                       "size": alt.csv_path.stat().st_size,
                       "sidecar_sha256": ctx.store.put_file(alt.sidecar_path),
                       "method": alt.method, "verdict": alt.verdict,
                       "suppressed": alt.suppressed})
    return stored


def check_and_decide(
    ctx: Ctx, s: Session, changes: Changes, req: Request, rows: Sequence[RequestFile],
    results: Sequence[FileResult], alternatives: Sequence[dict[str, Any] | None],
    profile: Profile, *, answered: bool = False,
) -> Release | None:
    """submitted -> checking -> approved (-> released) | rejected | in_review."""
    move(ctx, s, changes, req, State.CHECKING, actor=SYSTEM, role=Owner.SYSTEM)
    now = ctx.clock.now()
    for row, res, alt in zip(rows, results, alternatives, strict=True):
        row.verdict = res.verdict
        row.alternative = alt
        canon = res.canonical
        if canon is not None and canon.sha256 and canon.sha256 != row.sha256:
            # What was checked is what is shown and released: the canonical copy.
            row.canonical = canon.to_json(row.sha256, row.size)
            row.sha256, row.size = canon.sha256, canon.size
        row.checks.extend(
            FileCheck(subject=rec.subject, verdict=rec.verdict, profile_name=profile.name,
                      profile_version=profile.version,
                      tool_version=rec.result.get("statbarn_version", ""),
                      result=rec.result, evidence=rec.evidence, created_at=now)
            for rec in res.records)
    outcome = decisions.decide(
        [decisions.FileVerdict(row.name, res.verdict, res.reasons, row.exception,
                               alt is not None)
         for row, res, alt in zip(rows, results, alternatives, strict=True)],
        allow_auto_release=profile.allow_auto_release and ctx.settings.airlock.auto_release,
        text_chars=decisions.free_text_chars(
            t for row in rows for t in (row.context, row.exception, row.population)),
        auto_release_text_chars=ctx.settings.airlock.auto_release_text_chars,
        answered=answered,
    )
    req.decision = {**outcome.to_dict(), "by": "automatic"}
    move(ctx, s, changes, req, outcome.state, actor=SYSTEM, role=Owner.SYSTEM, details={
        "profile": {"name": profile.name, "version": profile.version},
        "files": [{"id": row.id, "name": row.name, "verdict": row.verdict,
                   "rules": sorted({c["rule"] for r in res.records
                                    for c in r.result.get("checks", [])
                                    if c["verdict"] != "pass"})}
                  for row, res in zip(rows, results, strict=True)]})
    if outcome.release:
        return release_request(ctx, s, changes, req)
    return None
