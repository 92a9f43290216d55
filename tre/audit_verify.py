"""Checking the audit log against its signed checkpoints, and proofs for release bundles.

:func:`verify_log` recomputes every leaf and, in one pass, the root of every prefix of
the log that a checkpoint signed (a compact range gives each in O(log n)).  Equal roots
are what a consistency proof from each checkpoint to the log would show, with no proof
to trust: this verifier holds the leaves.  What it names:

=============  ============================================================================
modified       an event's contents no longer give its stored hash (a clumsy edit)
missing        an index is absent, or the head row disagrees with the events
rewritten      events were changed *and* re-hashed: a signed root no longer matches
truncated      the newest events were deleted: a checkpoint covers more than the log holds
emptied        every event was deleted, yet checkpoints say there were some
forged         a checkpoint line is malformed or not signed by the audit key
unanchored     events exist but no checkpoint covers any (the checkpoint files are gone)
=============  ============================================================================

:func:`bundle_proof` gives a release bundle its events, their inclusion proofs and the
checkpoint that covers them; :func:`verify_bundle` checks all of it offline.
"""

from __future__ import annotations

import json
import zipfile
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tre import checkpoints, merkle
from tre.audit import AuditEvent, AuditHead, Verification, event_leaf, iter_events
from tre.checkpoints import Checkpoint, CheckpointError
from tre.errors import ExitCode, TreError
from tre.notary import Paths

PROOF_FORMAT = "tre-audit-proof"
MAX_PROOF_BYTES = 16 * 1024**2  # audit.json in a bundle: far more than any request's events


def load_checkpoints(paths: Paths, public: Ed25519PublicKey) -> list[Checkpoint]:
    """Every checkpoint in the checkpoint file and the witness (CheckpointError names the
    first line that is malformed or not signed by ``public``)."""
    found: dict[str, Checkpoint] = {}
    for path in paths.checkpoint_files():
        if not path.exists():
            continue
        for number, note in checkpoints.read_lines(path):
            try:
                found.setdefault(note, checkpoints.parse(note, public))
            except CheckpointError as exc:
                raise CheckpointError(f"{path} line {number}: {exc}") from None
    return sorted(found.values(), key=lambda c: (c.size, c.timestamp_ns))


UNANCHORED = ("cannot tell truncation from an intact log without a pinned key and a "
              "witness: {missing} (docs/audit.md)")


def verify_log(session: Session, paths: Paths | None = None, anchored: bool = False
               ) -> Verification:
    """The log checked; says which key it trusted, pinned or taken from beside the log.

    ``anchored`` (production): an intact log is reported as intact only with a pinned
    public key and a witness file.  Without them an insider who writes the database and
    the data directory can cut the checkpoint file's tail with the log, or replace key
    and checkpoints together, and the log still verifies."""
    paths = paths or Paths.from_settings()
    result = _verify_log(session, paths)
    pinned, witness = paths.public_key_file is not None, paths.witness_file is not None
    try:
        fp = checkpoints.fingerprint(paths.public_key())
    except (FileNotFoundError, ValueError):
        fp = ""
    result = replace(result, key_fingerprint=fp, key_pinned=pinned, witness=witness)
    if anchored and result.ok and not (pinned and witness):
        missing = [what for what, ok in [
            ("set TRE_AUDIT_PUBLIC_KEY_FILE to a copy of `tre audit public-key` kept away "
             "from the server", pinned),
            ("set TRE_AUDIT_WITNESS_FILE to storage the database's administrators cannot "
             "write", witness)] if not ok]
        return replace(result, ok=False, attack="unanchored", first_bad=None,
                       reason=UNANCHORED.format(missing="; ".join(missing)))
    return result


def _verify_log(session: Session, paths: Paths) -> Verification:
    no_key = ""
    try:
        public = paths.public_key()
        cps = load_checkpoints(paths, public)
    except FileNotFoundError as exc:
        if any(p.exists() for p in paths.checkpoint_files()):
            return Verification(False, 0, None, f"no key to verify the checkpoints with: "
                                f"{exc.filename} is missing (set TRE_AUDIT_PUBLIC_KEY_FILE)",
                                "unanchored")
        cps, no_key = [], f" and no audit key ({exc.filename})"
    except (CheckpointError, ValueError) as exc:
        return Verification(False, 0, None, f"a checkpoint is not to be trusted: {exc}",
                            "forged")
    by_size: dict[int, list[Checkpoint]] = defaultdict(list)
    for cp in cps:
        by_size[cp.size].append(cp)
    sizes = sorted(by_size)
    covered = sizes[-1] if sizes else 0
    compact = merkle.CompactRange()
    matched = 0  # the largest checkpointed prefix that still matches
    pointer = 0

    def check_prefix() -> Verification | None:
        nonlocal pointer, matched
        while pointer < len(sizes) and sizes[pointer] == compact.size:
            for cp in by_size[compact.size]:
                if cp.root != compact.root():
                    since = f"; the first {matched} still match" if matched else ""
                    return Verification(
                        False, compact.size, matched + 1,
                        f"events {matched + 1}..{compact.size} were rewritten: the log's first "
                        f"{compact.size} events no longer match the checkpoint signed at "
                        f"{cp.when}{since}", "rewritten", len(cps), covered)
            matched = compact.size
            pointer += 1
        return None

    if (bad := check_prefix()) is not None:
        return bad
    for ev in iter_events(session):
        expected = compact.size + 1
        if ev.seq != expected:
            return Verification(False, compact.size, expected, f"event {expected} is missing",
                                "missing", len(cps), covered)
        leaf = event_leaf(ev)
        if leaf.hex() != ev.hash:
            return Verification(False, compact.size, ev.seq,
                                f"event {ev.seq} was modified (its contents no longer give "
                                "its stored hash)", "modified", len(cps), covered)
        compact.append(leaf)
        if (bad := check_prefix()) is not None:
            return bad
    count = compact.size
    if pointer < len(sizes):
        cp = by_size[covered][-1]
        if count == 0:
            return Verification(False, 0, 1, f"every event was deleted: the log holds none, but "
                                f"the checkpoint signed at {cp.when} covers {covered}",
                                "emptied", len(cps), covered)
        return Verification(False, count, count + 1,
                            f"events {count + 1}..{covered} were deleted: the checkpoint signed "
                            f"at {cp.when} covers {covered} events, the log holds {count}",
                            "truncated", len(cps), covered)
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq, head.hash) != (count, compact.root().hex()):
        return Verification(False, count, count + 1, f"events after {count} are missing (the "
                            f"log's head is at {head.seq})", "missing", len(cps), covered)
    if count and not cps:
        files = ", ".join(str(p) for p in paths.checkpoint_files())
        return Verification(False, count, 1, f"no signed checkpoint covers the log ({files}: "
                            f"missing or empty{no_key}), so nothing outside the database "
                            "vouches for it", "unanchored", 0, 0)
    queued = session.scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.seq < 0)) or 0
    return Verification(True, count, checkpoints=len(cps), covered=covered, queued=queued)


# ---- release bundles ----------------------------------------------------------------------------
class ProofError(TreError, ValueError):
    """No proof can be given (or a given one does not hold): the sentence says why."""

    code = "proof"
    status = 422
    exit_code = ExitCode.FAIL


def bundle_proof(session: Session, object_ids: list[str], paths: Paths) -> dict[str, Any]:
    """The events about these objects, each with its inclusion proof in the tree of the
    latest checkpoint, and that checkpoint: enough to check them with the public key alone."""
    public = paths.public_key()
    cp = checkpoints.latest(paths.checkpoint_file, public)
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.object_id.in_(object_ids),
                                                           AuditEvent.seq > 0)
                                  .order_by(AuditEvent.seq)))
    newest = events[-1].seq if events else 0
    if cp is None or cp.size < newest:
        raise ProofError(f"no checkpoint covers event {newest} yet")
    leaves = [bytes.fromhex(h) for h in session.scalars(
        select(AuditEvent.hash).where(AuditEvent.seq > 0, AuditEvent.seq <= cp.size)
        .order_by(AuditEvent.seq))]
    if len(leaves) != cp.size or merkle.root(leaves) != cp.root:
        raise ProofError("the audit log does not match its latest checkpoint (run tre audit "
                         "verify)")
    return {
        "format": PROOF_FORMAT, "format_version": 1,
        "checkpoint": cp.note, "public_key": checkpoints.public_pem(public),
        "events": [{"event": ev.as_dict(), "leaf_index": ev.seq - 1,
                    "proof": [p.hex() for p in merkle.inclusion_proof(ev.seq - 1, leaves)]}
                   for ev in events],
    }


def verify_proof(proof: dict[str, Any], public: Ed25519PublicKey) -> tuple[Checkpoint,
                                                                            list[dict[str, Any]]]:
    """The checkpoint and the events of a :func:`bundle_proof`, each proven; else ProofError."""
    if not isinstance(proof, dict) or proof.get("format") != PROOF_FORMAT:
        raise ProofError(f"not a {PROOF_FORMAT} document")
    try:
        cp = checkpoints.parse(str(proof.get("checkpoint")), public)
    except CheckpointError as exc:
        raise ProofError(f"the checkpoint does not verify: {exc}") from None
    events = []
    for i, item in enumerate(proof.get("events") or []):
        try:
            ev, path = item["event"], [bytes.fromhex(p) for p in item["proof"]]
            leaf = event_leaf(ev)
            index = int(ev["seq"]) - 1
        except (KeyError, TypeError, ValueError):
            raise ProofError(f"event entry {i + 1} is malformed") from None
        if leaf.hex() != ev.get("hash"):
            raise ProofError(f"event {ev['seq']} was altered: its contents do not give its hash")
        if not merkle.verify_inclusion(index, cp.size, leaf, path, cp.root):
            raise ProofError(f"event {ev['seq']} is not in the log of the checkpoint signed at "
                             f"{cp.when} (its inclusion proof fails)")
        events.append(ev)
    return cp, events


def verify_bundle(bundle: Path, public: Ed25519PublicKey) -> tuple[Checkpoint, list[str]]:
    """Check a release bundle offline: the checkpoint's signature, every event's inclusion,
    and that record.json and every file are the ones the release event recorded."""
    import hashlib

    try:
        zf = zipfile.ZipFile(bundle)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ProofError(f"{bundle}: not a readable zip ({exc})") from None
    with zf:
        names = set(zf.namelist())
        if "audit.json" not in names or "record.json" not in names:
            raise ProofError("the bundle has no audit.json or record.json (made before "
                             "bundles carried proofs?)")
        if zf.getinfo("audit.json").file_size > MAX_PROOF_BYTES:
            raise ProofError(f"audit.json is larger than {MAX_PROOF_BYTES // 1024**2} MB")
        proof = json.loads(zf.read("audit.json"))
        if "error" in proof:
            raise ProofError(f"the airlock could not prove this bundle: {proof['error']}")
        cp, events = verify_proof(proof, public)
        record_sha = hashlib.sha256(_canonical(json.loads(zf.read("record.json")))).hexdigest()
        released = [e for e in events if e["action"] == "airlock.request.transition"
                    and e["details"].get("to") == "released"]
        if not released:
            raise ProofError("the proof holds no release event")
        details = released[-1]["details"]
        if details.get("record_sha256") != record_sha:
            raise ProofError("record.json is not the record the release event recorded")
        lines = [f"release event {released[-1]['seq']} at {released[-1]['at']}"]
        for f in details.get("files", []):
            member = f"files/{f['name']}"
            if member not in names:
                raise ProofError(f"{member} is missing from the bundle")
            digest = hashlib.sha256()
            with zf.open(member) as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            if digest.hexdigest() != f["sha256"]:
                raise ProofError(f"{member} is not the file that was released")
            lines.append(f"{member}: sha256 {f['sha256'][:16]}… as released")
        lines.insert(0, f"{len(events)} event(s) proven in the log of {cp.size} event(s), "
                        f"checkpoint signed at {cp.when}")
        return cp, lines


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")
