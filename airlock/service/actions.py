"""The researcher's actions on an existing request: submit a draft, withdraw, resubmit
the safe alternative.  Each is one transaction; an illegal move is a 409 that
changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airlock import guarded
from airlock.db import repo
from airlock.db.models import RequestFile
from airlock.domain.states import Owner, State, check_transition
from airlock.filetypes import EXTENSIONS, Kind, extension
from airlock.intake import Upload
from airlock.names import same_name_key
from airlock.origin import Origin
from airlock.sandbox import LimitExceeded
from airlock.service.context import Changes, Conflict, Ctx, move, readable, require
from airlock.service.incoming import Detector, Incoming, Submission, from_upload
from airlock.service.requests import (
    NEW,
    check_files,
    create_request,
    fresh,
    ledger_last,
    sandbox,
    store_files,
    submit_in_tx,
    too_costly,
)
from airlock.store import TamperedError
from statbarn.checking import load_sidecar
from statbarn.tables import SIDECAR_SUFFIX
from tre.authz.events import decision_details
from tre.db import transaction


def detector_for(ctx: Ctx) -> Detector:
    """A file's kind told from its content in a check worker, under limits."""
    box = sandbox(ctx)

    def detector(path: Path, name: str, max_parse_bytes: int) -> Kind:
        try:
            return box.call(guarded.detect_kind, path, name, max_parse_bytes)
        except LimitExceeded as exc:
            raise too_costly(name, exc) from None

    return detector


def submit_upload(ctx: Ctx, user: str, upload: Upload, work: Path,
                  origin: Origin = Origin.OUTSIDE) -> dict[str, Any]:
    sub = from_upload(upload, work, ctx.settings.airlock.max_check_bytes, detector_for(ctx),
                      text_limit=ctx.settings.airlock.max_text_chars,
                      request_text_limit=ctx.settings.airlock.max_request_text_chars)
    return create_request(ctx, user, sub, work, origin=origin)


def withdraw(ctx: Ctx, user: str, request_id: str) -> None:
    changes = Changes()
    with transaction(ctx.db) as s:
        req = readable(ctx, user, repo.get_request(s, request_id, lock=True), request_id)
        d = require(ctx, user, req.project, "request", "withdraw", req.id, req.requester)
        check_transition(req.state, State.WITHDRAWN, Owner.RESEARCHER)
        move(ctx, s, changes, req, State.WITHDRAWN, actor=user, role=Owner.RESEARCHER,
             details=decision_details(d))
    changes.publish(ctx)


def _stored(ctx: Ctx, work: Path, name: str, kind: str, sha: str, size: int,
            sidecar_sha: str | None, context: str, exception: str | None,
            population: str | None, statistic: str | None = None) -> Incoming:
    """A file already in the store, made readable for the checks (hash verified first)."""
    if not ctx.store.verify(sha) or (sidecar_sha and not ctx.store.verify(sidecar_sha)):
        raise TamperedError(f"the stored copy of {name} no longer matches its hash")
    k = Kind(kind)
    link = work / (name if extension(name) in EXTENSIONS[k] else name + EXTENSIONS[k][0])
    link.symlink_to(ctx.store.local_file(sha, work))
    item = Incoming(name=name, kind=k, size=size, sha256=sha, path=link, context=context,
                    exception=exception, population=population, statistic=statistic)
    if sidecar_sha:
        side = work / f"{len(list(work.iterdir()))}{SIDECAR_SUFFIX}"
        side.symlink_to(ctx.store.local_file(sidecar_sha, work))
        item.sidecar, item.sidecar_path, item.sidecar_sha256 = load_sidecar(side), side, sidecar_sha
    return item


def from_file(ctx: Ctx, work: Path, f: RequestFile) -> Incoming:
    return _stored(ctx, work, f.name, f.kind, f.sha256, f.size, f.sidecar_sha256, f.context,
                   f.exception, f.population, f.statistic)


def submit_draft(ctx: Ctx, user: str, request_id: str) -> None:
    """draft -> submitted -> checking -> ...: the draft's stored files are checked now,
    with the project's profile as it is now."""
    with ctx.db() as s:
        req = readable(ctx, user, repo.get_request(s, request_id), request_id)
        decision = require(ctx, user, req.project, "request", "submit", req.id, req.requester)
        check_transition(req.state, State.SUBMITTED, Owner.RESEARCHER)
        files = list(req.files)
    with ctx.store.work_dir() as work:
        items = [from_file(ctx, work, f) for f in files]
        profile, results, seen = check_files(ctx, req.project, req.dataset, items, work)
        alternatives = store_files(ctx, items, results)
        in_catalog = ctx.profiles.info(req.project).in_catalog  # never inside the transaction

        def attempt(lock_first: bool) -> Changes:
            changes = Changes()
            with transaction(ctx.db) as s:
                locked = repo.get_request(s, request_id, lock=True, checks=True)
                assert locked is not None
                check_transition(locked.state, State.SUBMITTED, Owner.RESEARCHER)  # raced?
                submit_in_tx(ctx, s, changes, locked, user, items, fresh(results),
                             alternatives, profile, seen, authz=[decision],
                             in_catalog=in_catalog, lock_first=lock_first)
            return changes

        changes = ledger_last(attempt)
    changes.publish(ctx)


def resubmit_safe_alternative(ctx: Ctx, user: str, request_id: str,
                              origin: Origin = Origin.OUTSIDE) -> dict[str, Any]:
    """A new request made of the safe alternatives of the failing files (and the other
    files as they were), in one call.  A returned request is withdrawn at the same time."""
    with ctx.db() as s:
        req = readable(ctx, user, repo.get_request(s, request_id), request_id)
        require(ctx, user, req.project, "request", "create", NEW, user)
        # only the requester turns their own files into a new request (own-only rule)
        require(ctx, user, req.project, "request", "submit", req.id, req.requester)
        if req.state not in (State.REJECTED.value, State.RETURNED.value):
            raise Conflict(f"the request is {req.state}; only a rejected or returned request "
                           "can be resubmitted with its safe alternative")
        if not any(f.alternative for f in req.files):
            raise Conflict("this request has no safe alternative to resubmit")
        files = list(req.files)
    names = [same_name_key(f.alternative["name"] if f.alternative else f.name) for f in files]
    if len(set(names)) != len(names):
        raise Conflict("a safe alternative would have the same name as another file of the "
                       "request; submit the files yourself under distinct names")
    with ctx.store.work_dir() as work:
        items = []
        for f in files:
            alt = f.alternative
            if alt is None:
                items.append(from_file(ctx, work, f))
                continue
            note = (f"{f.context}\n\nSafe alternative of {f.name} made by the airlock "
                    f"({alt['method']}: {alt['suppressed']} cell(s) suppressed).")
            items.append(_stored(ctx, work, alt["name"], f.kind, alt["sha256"], alt["size"],
                                 alt["sidecar_sha256"], note, None, f.population))
        sub = Submission(req.project, req.dataset, False, items, title=req.title)
        replaces = req.id if req.state == State.RETURNED.value else None
        return create_request(ctx, user, sub, work, derived_from=req.id, replaces=replaces,
                              origin=origin)
