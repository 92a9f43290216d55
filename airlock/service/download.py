"""Everything that leaves the airlock's store: release bundles and reviewers' previews.

Both re-hash the stored bytes as they copy them (a changed blob is refused and
the refusal audited), and both are audited before the first byte is sent.
Only a released request's bundle can be downloaded, only by its requester (the
separation-of-duty rules say "own release only"); a file under review can be
viewed only by someone allowed to review it, which never includes its requester.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from airlock.db import repo
from airlock.domain.states import State
from airlock.service.context import Conflict, Ctx, NotFound, readable, require
from airlock.service.release import write_bundle
from airlock.store import TamperedError
from tre import audit
from tre.authz.events import AuditAction, decision_details
from tre.db import transaction


@dataclass(frozen=True)
class Outgoing:
    path: Path  # a temporary file the caller deletes after sending
    filename: str
    media_type: str
    sha256: str
    size: int


def _temp(ctx: Ctx) -> Path:
    return ctx.store.tmp / f"{os.getpid()}-{secrets.token_hex(8)}.part"


def _digest(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 16):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def _refused(ctx: Ctx, user: str, project: str, object_id: str, why: str) -> None:
    with transaction(ctx.db) as s:
        audit.record(s, actor=user, action=AuditAction.INTEGRITY_REFUSED, object_type="request",
                     object_id=object_id, project=project, details={"reason": why},
                     clock=ctx.clock)


def _send(ctx: Ctx, user: str, project: str, request_id: str,
          fill: Callable[[Path], tuple[str, int]],
          log: Callable[[Session, str, int], None]) -> tuple[Path, str, int]:
    """Fill a temporary file from the store (``fill`` re-hashes what it copies and returns
    the file's sha256 and size), then audit the sending in its own transaction.  On any
    failure nothing is left behind; a changed blob is refused with an audit event."""
    out = _temp(ctx)
    try:
        try:
            sha, size = fill(out)
        except TamperedError as exc:
            _refused(ctx, user, project, request_id, str(exc))
            raise
        with transaction(ctx.db) as s:
            log(s, sha, size)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return out, sha, size


def bundle(ctx: Ctx, user: str, request_id: str) -> Outgoing:
    with ctx.db() as s:
        req = readable(ctx, user, repo.get_request(s, request_id), request_id)
        d = require(ctx, user, req.project, "release", "download", req.id, req.requester)
        if req.state != State.RELEASED.value:
            raise Conflict(f"the request is {req.state}: only released requests can be "
                           "downloaded")
        release = repo.release_of(s, req.id)
        if release is None:
            raise Conflict("the request has no release record")

    def fill(out: Path) -> tuple[str, int]:
        write_bundle(ctx, release.record, out)
        return _digest(out)

    def log(s: Session, sha: str, size: int) -> None:
        audit.record(s, actor=user, action=AuditAction.RELEASE_DOWNLOAD, object_type="release",
                     object_id=release.id, project=req.project, clock=ctx.clock,
                     details={"request_id": req.id, "bundle_sha256": sha, "size": size,
                              **decision_details(d)})

    out, sha, size = _send(ctx, user, req.project, req.id, fill, log)
    return Outgoing(out, f"release-{req.id}.zip", "application/zip", sha, size)


# A checker previews files once a request has been put to review (issue 13: drafts and
# withdrawn requests were previewable): not before, and not after the requester took it back.
PREVIEWABLE = frozenset({State.IN_REVIEW.value, State.APPROVED.value, State.REJECTED.value,
                         State.RETURNED.value, State.RELEASED.value})


def preview(ctx: Ctx, user: str, request_id: str, file_id: str,
            alternative: bool = False) -> Outgoing:
    """A file (or its safe alternative) for a reviewer to look at."""
    with ctx.db() as s:
        req = readable(ctx, user, repo.get_request(s, request_id), request_id)
        d = require(ctx, user, req.project, "request", "review", req.id, req.requester)
        if req.state not in PREVIEWABLE:
            raise Conflict(f"the request is {req.state}: checkers see the files of requests "
                           "that were put to review, not drafts, requests still being "
                           "checked or withdrawn ones")
        f = next((x for x in req.files if x.id == file_id), None)
        if f is None or (alternative and not f.alternative):
            raise NotFound(f"no such file in request {request_id!r}")
    sha = f.alternative["sha256"] if alternative and f.alternative else f.sha256
    name = f.alternative["name"] if alternative and f.alternative else f.name

    def fill(out: Path) -> tuple[str, int]:
        with open(out, "wb") as fh:
            ctx.store.copy_verified(sha, fh)  # raises TamperedError unless it hashes to sha
        return sha, out.stat().st_size

    def log(s: Session, _sha: str, _size: int) -> None:
        audit.record(s, actor=user, action=AuditAction.FILE_VIEW, object_type="request",
                     object_id=req.id, project=req.project, clock=ctx.clock,
                     details={"file_id": f.id, "name": name, "sha256": sha,
                              "alternative": alternative, **decision_details(d)})

    out, _, size = _send(ctx, user, req.project, req.id, fill, log)
    return Outgoing(out, name, f.media_type, sha, size)
