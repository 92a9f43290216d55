"""Releasing an approved request, and the release bundle the requester downloads.

The release record is the machine-readable account SATRE 3.3.09 asks for: every
check of every file with its thresholds and observed values, the profile
(name, version and every parameter), the tool versions, the reviews, and the
files' SHA-256.  It is fixed at release time (stored, and its hash audited), so
the bundle says what was decided then, whenever it is downloaded.

A file the airlock re-made in a canonical form (:mod:`airlock.canonical`) is
released as that copy, the bytes that were checked and shown: the record names
both hashes (``submitted_sha256`` and ``sha256``) and what was removed.

The bundle is a zip built at download time from the stored blobs, each re-hashed
as it is copied: a blob that changed on disk stops the download.  It holds
``files/<name>``, ``record.json``, ACRO's ``results.json`` (with its ``config.json``
and ``checksums/``) so SACRO's viewer and ACRO's tools read it, and ``audit.json``: the
request's audit events with their inclusion proofs and the signed checkpoint that
covers them, which ``tre audit verify-bundle`` checks offline with the audit public key.
Evidence sidecars are never included: they hold the largest individual
contributions, which must not leave.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import uuid
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from airlock import ledger as ledger_mod
from airlock.db import repo
from airlock.db.models import LedgerEntry, Release, Request
from airlock.domain.states import Owner, State
from airlock.service.context import SYSTEM, Changes, Ctx, move
from airlock.views import when
from statbarn.acro_compat import write_acro_results
from statbarn.kinds import Statbarn
from statbarn.profile import Profile, profile_from_mapping
from statbarn.result import STATBARN_VERSION, Assessment
from statbarn.verdict import CellFlag, CheckResult, Verdict
from tre import __version__ as tre_version

log = logging.getLogger(__name__)
RECORD_FORMAT = "tre-release-record"
SATRE = ("SATRE 3.3.09: a machine-readable record of the thresholds, rules and tool versions "
         "applied to each egressed output, attached to the release.")


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def build_record(session: Session, req: Request, release_id: str, at: str, by: str
                 ) -> dict[str, Any]:
    votes = repo.votes_of(session, req.id) if inspect(req).persistent else []
    names = {f.id: f.name for f in req.files}
    return {
        "format": RECORD_FORMAT,
        "format_version": 1,
        "satre": SATRE,
        "release": {"id": release_id, "request_id": req.id, "project": req.project,
                    "dataset": req.dataset, "requester": req.requester, "released_at": at,
                    "released_by": by, "derived_from": req.derived_from},
        "decision": req.decision,
        "profile": {"name": req.profile_name, "version": req.profile_version,
                    "params": req.profile},
        "tools": {"tre": tre_version, "statbarn": STATBARN_VERSION,
                  "python": platform.python_version()},
        "files": [
            {"id": f.id, "name": f.name, "kind": f.kind, "media_type": f.media_type,
             "size": f.size, "sha256": f.sha256,
             # the file as submitted; differs from sha256 (the released bytes) when the
             # airlock released a canonical copy, which "canonical" describes
             "submitted_sha256": (f.canonical or {}).get("submitted_sha256", f.sha256),
             "canonical": f.canonical, "context": f.context,
             "exception": f.exception, "population": f.population, "verdict": f.verdict,
             "evidence_sha256": f.sidecar_sha256,
             "checks": [{"subject": c.subject, "verdict": c.verdict,
                         "profile": {"name": c.profile_name, "version": c.profile_version},
                         "tool": c.tool_version, "result": _leaving(c.result)}
                        for c in f.checks]}
            for f in req.files
        ],
        "reviews": [{"reviewer": v.reviewer, "file": names.get(v.file_id, v.file_id),
                     "file_id": v.file_id, "choice": v.choice, "comment": v.comment,
                     "override_reason": v.override_reason, "at": when(v.created_at)}
                    for v in votes],
    }


def _leaving(result: dict[str, Any]) -> dict[str, Any]:
    """A check's result as the record (which leaves) holds it: without its ``details``,
    which are for the review page (earlier tables' contributor counts among them)."""
    checks = result.get("checks")
    if not isinstance(checks, list):
        return result
    return {**result, "checks": [{k: v for k, v in c.items() if k != "details"}
                                 if isinstance(c, dict) else c for c in checks]}


def release_request(ctx: Ctx, session: Session, changes: Changes, req: Request) -> Release:
    """approved -> released: the record, the ledger entries and the audit event, together.

    The release and its ledger entries are attached to the request's relationships
    rather than flushed here, so a request created in this transaction (not inserted
    yet) is inserted before them.
    """
    # A submission takes it at its commit (repo.defer_ledger_lock); a vote takes it here.
    repo.lock_ledger(session, req.project)
    release_id = uuid.uuid4().hex
    now = ctx.clock.now()
    record = build_record(session, req, release_id, now.isoformat(), SYSTEM)
    digest = hashlib.sha256(canonical(record)).hexdigest()
    release = Release(id=release_id, request_id=req.id, project=req.project, released_at=now,
                      released_by=SYSTEM, record=record, record_sha256=digest)
    tables: dict[str, tuple[str, dict[str, Any]]] = {}
    for f in req.files:
        for check in f.checks:
            if check.subject == "file" and check.evidence is not None:
                table = ledger_mod.ledger_table(check.evidence, release_id, req.dataset,
                                                f.population, ledger_mod.title_of(f.context),
                                                f.name, now.isoformat())
                tables.setdefault(ledger_mod.digest(table), (f.id, table))
    known = repo.ledger_digests(session, req.project, list(tables))
    # A table released before adds nothing that can be derived: it is remembered once.
    release.ledger = [LedgerEntry(project=req.project, dataset=req.dataset, file_id=file_id,
                                  table=table, digest=key, created_at=now)
                      for key, (file_id, table) in tables.items() if key not in known]
    repo.own_ledger_entries(session, release.ledger)  # not a release that came in meanwhile
    move(ctx, session, changes, req, State.RELEASED, actor=SYSTEM, role=Owner.SYSTEM,
         details={"release_id": release_id, "record_sha256": digest,
                  "ledger_tables": len(release.ledger),
                  "files": [{"name": f.name, "sha256": f.sha256,
                             "submitted_sha256": (f.canonical or {}).get("submitted_sha256",
                                                                         f.sha256)}
                            for f in req.files]})
    if inspect(req).persistent:  # a new request adds its release with itself
        session.add(release)
    return release


# ---- the bundle -------------------------------------------------------------------------------
def _label(value: Any) -> Any:
    return tuple(_label(v) for v in value) if isinstance(value, list) else value


def assessment_from_dict(data: dict[str, Any], profile: Profile, file: str) -> Assessment:
    """Rebuild a stored ``Assessment.to_dict()`` (for ACRO's results.json)."""
    try:
        kind = Statbarn(str(data.get("statbarn")))
    except ValueError:
        kind = Statbarn.UNKNOWN
    checks = [
        CheckResult(
            c["rule"], Verdict(c["verdict"]),
            [CellFlag(c["rule"], Verdict(f["verdict"]), _label(f.get("row")),
                      _label(f.get("col")), f.get("value"), f.get("limit"),
                      f.get("message", "")) for f in c.get("cells", [])],
            c.get("summary", ""),
        )
        for c in data.get("checks", [])
    ]
    return Assessment(kind, checks, profile, data.get("statistic"), file,
                      list(data.get("notes", [])))


def write_bundle(ctx: Ctx, record: dict[str, Any], out: Path) -> None:
    """Write the release bundle zip to ``out``; raises TamperedError (and leaves a partial
    file for the caller to delete) when a stored file no longer matches its hash."""
    prof = record["profile"]
    profile = profile_from_mapping({"name": prof["name"], "version": prof["version"],
                                    **prof["params"]}, "release record")
    with ctx.store.work_dir() as work, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        outputs: list[tuple[str, Assessment]] = []
        for i, f in enumerate(record["files"], start=1):
            member = f"files/{f['name']}"
            with zf.open(member, "w", force_zip64=True) as dst:
                ctx.store.copy_verified(f["sha256"], dst)
            (work / "acro" / "files").mkdir(parents=True, exist_ok=True)
            (work / "acro" / member).symlink_to(ctx.store.local_file(f["sha256"], work))
            main = next((c for c in f["checks"] if c["subject"] == "file"), None)
            if main is not None:
                outputs.append((f"output_{i}", assessment_from_dict(main["result"], profile,
                                                                    member)))
        zf.writestr("record.json", json.dumps(record, indent=1, ensure_ascii=False,
                                              default=str))
        zf.writestr("audit.json", json.dumps(audit_proof(ctx, record), indent=1,
                                             ensure_ascii=False))
        if outputs:
            results = write_acro_results(outputs, work / "acro")
            data = json.loads(results.read_text())
            for entry in data["results"].values():  # the time of the decision, not of download
                entry["timestamp"] = record["release"]["released_at"]
            text = json.dumps(data, indent=4).encode("utf-8")
            results.write_bytes(text)
            (work / "acro" / "checksums" / "results.json.txt").write_text(
                hashlib.sha256(text).hexdigest())
            for path in sorted((work / "acro").rglob("*")):
                rel = path.relative_to(work / "acro").as_posix()
                if path.is_file() and not rel.startswith("files/"):
                    zf.write(path, rel)


def audit_proof(ctx: Ctx, record: dict[str, Any]) -> dict[str, Any]:
    """The request's and release's events, proven against the latest checkpoint; if no
    proof can be given, a document that says why (the download still goes ahead: the
    files are checked against their record either way, and the operator is told)."""
    from tre.audit_verify import bundle_proof
    from tre.notary import Paths

    ids = [record["release"]["request_id"], record["release"]["id"]]
    try:
        with ctx.db() as s:
            return bundle_proof(s, ids, Paths.from_settings())
    except Exception as exc:  # no key, no checkpoint yet, a log that no longer matches
        log.error("audit: no inclusion proof for release %s: %s", record["release"]["id"], exc)
        return {"format": "tre-audit-proof", "format_version": 1, "error": str(exc)}
