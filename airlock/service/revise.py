"""Revising a returned request in place: replace, add or remove files, answer the checkers.

The result is a new request (``derived_from`` the returned one) checked as new, with the
kept files read back from the store (hash verified) and the uploaded ones validated like
a submission's; the returned request is withdrawn in the same transaction, and the
revision is audited as its own action (``airlock.request.revise``) beside the new
request's creation.

Only from inside a workspace (:class:`airlock.origin.Origin`): the files come from
where the outputs were made, never from a browser, which is outside the TRE.

Every request-wide limit holds for the request *as revised*, not only for the upload:
the number of files, their bytes (sidecars included) and the free text of all of them.
Otherwise a revision could grow a request past what a submission may carry, fifty
files at a time.

A revision carrying an answer goes to a person, however well its files pass: the answer
is free text written inside the workspace, and the conversation of a released request
is shown to the requester's browser, so it is never released unread.

What a replacement keeps: a file uploaded under the name of one of the request's files
replaces it; without a context of its own (manifest or ``context``) it keeps the earlier
file's context and population.  An exception request is never carried over: it was
asked about the earlier file, and is asked again if still wanted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from airlock.db import repo
from airlock.db.models import Message, Request
from airlock.domain.states import State
from airlock.freetext import TextRefused as FreeTextRefused
from airlock.freetext import check_text
from airlock.intake import IntakeError, Upload
from airlock.names import same_name_key
from airlock.origin import Origin
from airlock.review_limits import (
    MESSAGE_MAX_CHARS,
    REQUESTER_MESSAGE_CHARS,
    TextRefused,
    check_message,
)
from airlock.service.actions import detector_for, from_file
from airlock.service.context import Conflict, Ctx, readable, require
from airlock.service.incoming import (
    Incoming,
    Submission,
    check_request_text,
    files_of,
    manifest_of,
)
from airlock.service.requests import NEW, create_request
from statbarn.fileio import loads_json
from statbarn.wording import mb
from tre import audit
from tre.authz.events import AuditAction
from tre.db import transaction

OUTSIDE = ("a request is revised from inside a workspace of the TRE (tre airlock revise, "
           "or airlock.revise in a notebook), where its files are: this call came from "
           "outside")


def allowed(ctx: Ctx, user: str, request_id: str, origin: Origin) -> None:
    """Everything that refuses a revision before its body is read: where the call comes
    from, who asks, and the request's state.  :func:`revise` asks again."""
    if origin is not Origin.WORKSPACE:
        _refuse_outside(ctx, user, request_id)
    with ctx.db() as s:
        req = readable(ctx, user, repo.get_request(s, request_id), request_id)
        _may_revise(ctx, user, req)


def _refuse_outside(ctx: Ctx, user: str, request_id: str) -> None:
    with transaction(ctx.db) as s:  # the refusal is audited, in its own transaction
        audit.record(s, actor=user, action=AuditAction.ACCESS_DENIED, object_type="request",
                     object_id=request_id, clock=ctx.clock,
                     details={"action": "revise", "object": "request",
                              "reason": "outside the workspace network"})
    raise IntakeError(403, OUTSIDE, "outside_workspace")


def _may_revise(ctx: Ctx, user: str, req: Request) -> None:
    require(ctx, user, req.project, "request", "create", NEW, user)
    # Only the requester revises their own request (the own-only rule of "submit").
    require(ctx, user, req.project, "request", "submit", req.id, req.requester)
    if req.state != State.RETURNED.value:
        raise Conflict(f"the request is {req.state}; only a returned request is revised "
                       "(a rejected one is submitted afresh)")


def _names(raw: str | None) -> list[str]:
    if raw is None or not raw.strip():
        return []
    try:
        data = loads_json(raw, "remove")
    except ValueError as exc:
        raise IntakeError(422, str(exc), "bad_field") from None
    if not isinstance(data, list) or not all(isinstance(n, str) for n in data):
        raise IntakeError(422, "remove must be a JSON list of file names, e.g. "
                          '["old.csv"]', "bad_field")
    return data


def answer_of(raw: str | None) -> str | None:
    """The researcher's answer: a conversation message, bounded and scanned as one."""
    if raw is None or not raw.strip():
        return None
    try:
        text = check_message(raw)
        check_text(text, "the answer", MESSAGE_MAX_CHARS)
    except (TextRefused, FreeTextRefused) as exc:
        raise IntakeError(422, str(exc), "bad_field") from None
    if len(text) > REQUESTER_MESSAGE_CHARS:
        raise IntakeError(422, f"the answer is {len(text):,} characters long; at most "
                          f"{REQUESTER_MESSAGE_CHARS:,} are taken: say it in fewer words",
                          "text_too_long")
    return text


def _check_whole(ctx: Ctx, items: list[Incoming]) -> None:
    """The request-wide limits, on the request as revised."""
    if not items:
        raise IntakeError(422, "the revision would leave the request with no file: keep or "
                          "add at least one (or withdraw the request)", "no_files")
    most = ctx.settings.airlock.max_files
    if len(items) > most:
        raise IntakeError(413, f"the request as revised would hold {len(items)} files; at "
                          f"most {most} are accepted per request: remove some",
                          "too_large")
    size = sum(i.size + (i.sidecar_path.stat().st_size if i.sidecar_path else 0)
               for i in items)
    limit = ctx.settings.max_request_bytes
    if size > limit:
        raise IntakeError(413, f"the request as revised would be {mb(size)}, larger than "
                          f"the limit of {mb(limit)} per request: remove or shrink files",
                          "too_large")
    check_request_text(items, ctx.settings.airlock.max_request_text_chars)


def revise(ctx: Ctx, user: str, request_id: str, upload: Upload, work: Path,
           origin: Origin = Origin.OUTSIDE) -> dict[str, Any]:
    """The returned request ``request_id`` with the upload's files in place of (or
    beside) its own, ``remove``'s gone: a new request, checked as new."""
    if origin is not Origin.WORKSPACE:
        _refuse_outside(ctx, user, request_id)
    with ctx.db() as s:
        req = readable(ctx, user, repo.get_request(s, request_id), request_id)
        _may_revise(ctx, user, req)
        rows = list(req.files)
        project, dataset, title = req.project, req.dataset, req.title
    fields = upload.fields
    limit = ctx.settings.airlock.max_text_chars
    remove = _names(fields.get("remove"))
    answer = answer_of(fields.get("answer"))
    by_key = {same_name_key(r.name): r for r in rows}
    removed = {same_name_key(n): n for n in remove}
    for key, name in removed.items():
        if key not in by_key:
            raise IntakeError(422, f"remove names {name[:200]!r}, which is not a file of "
                              f"this request (its files: "
                              f"{', '.join(r.name for r in rows)[:500]})", "bad_field")
    uploaded = {same_name_key(f.name): f.name for f in upload.files}
    both = sorted(n for k, n in uploaded.items() if k in removed)
    if both:
        raise IntakeError(422, f"{both[0]} is both removed and uploaded: upload it to "
                          "replace it, or remove it", "bad_field")
    if not upload.files and not removed and answer is None:
        raise IntakeError(422, "nothing to revise: give files to replace or add, names to "
                          "remove, or an answer to the checkers", "no_files")
    context = check_text(fields.get("context"), "the context", limit) \
        if fields.get("context") is not None else None
    new = files_of(upload, work, ctx.settings.airlock.max_check_bytes, detector_for(ctx),
                   text_limit=limit, default_context=context,
                   manifest=manifest_of(fields.get("manifest")),
                   earlier={k: (r.context, r.population) for k, r in by_key.items()})
    new_by_key = {same_name_key(i.name): i for i in new}
    items: list[Incoming] = []
    replaced, kept = [], []
    for row in rows:  # the request's order, a replacement where its file was
        key = same_name_key(row.name)
        if key in removed:
            continue
        if key in new_by_key:
            items.append(new_by_key.pop(key))
            replaced.append(row.name)
        else:
            items.append(from_file(ctx, work, row))
            kept.append(row.name)
    added = [i.name for i in new_by_key.values()]
    items.extend(new_by_key.values())
    _check_whole(ctx, items)

    def record(s: Session, created: Request) -> None:
        audit.record(s, actor=user, action=AuditAction.REQUEST_REVISE, object_type="request",
                     object_id=request_id, project=project, clock=ctx.clock, details={
                         "revision": created.id, "replaced": replaced,
                         "removed": sorted(removed.values()), "added": added, "kept": kept,
                         "answer_chars": len(answer) if answer else 0})
        if answer is not None:
            s.add(Message(request_id=created.id, author=user, audience="all", body=answer,
                          created_at=ctx.clock.now()))
            audit.record(s, actor=user, action=AuditAction.MESSAGE_POST,
                         object_type="request", object_id=created.id, project=project,
                         clock=ctx.clock, details={"audience": "all", "body": answer,
                                                   "chars": len(answer)})

    sub = Submission(project, dataset, False, items, title=title)
    return create_request(ctx, user, sub, work, derived_from=request_id, replaces=request_id,
                          origin=origin, also=record, answered=answer is not None)
