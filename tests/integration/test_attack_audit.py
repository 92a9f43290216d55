"""The audit log attacked by an insider who writes the database and the default data
directory (round review).  The default configuration cannot catch a log cut together with
its checkpoint file's tail, or a key and checkpoints replaced together: production
verification refuses to call such a log intact, and the configuration that catches them
(a pinned key and a witness) does."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, text
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.test_audit import append, paths, rehash_everything
from tre import audit, checkpoints, notary
from tre.db import transaction
from tre.settings import reset_settings


def check(db: sessionmaker[Session], anchored: bool | None = None) -> audit.Verification:
    with transaction(db) as s:
        return audit.verify(s, anchored=anchored)


def anchor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A witness from the start, and the public key pinned once the key exists."""
    monkeypatch.setenv("TRE_AUDIT_WITNESS_FILE", str(tmp_path / "witness" / "checkpoints"))
    return tmp_path / "audit.pub"


def pin(pinned: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pinned.write_text(checkpoints.public_pem(paths().public_key()))
    monkeypatch.setenv("TRE_AUDIT_PUBLIC_KEY_FILE", str(pinned))


def test_production_verify_without_a_pinned_key_or_witness_is_not_intact(
        db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    append(db, 3)
    assert check(db, anchored=False).ok  # development: intact, and says what it trusted
    monkeypatch.setenv("TRE_ENVIRONMENT", "production")
    reset_settings()
    result = check(db)
    assert not result.ok and result.attack == "unanchored"
    assert result.reason.startswith("cannot tell truncation from an intact log without a "
                                    "pinned key and a witness")
    assert "TRE_AUDIT_PUBLIC_KEY_FILE" in result.reason
    assert "TRE_AUDIT_WITNESS_FILE" in result.reason
    assert result.key_fingerprint == checkpoints.fingerprint(paths().public_key())
    assert not result.key_pinned and not result.witness and result.events == 3


def test_production_verify_with_a_pinned_key_and_witness_is_intact(
        db: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pinned = anchor(tmp_path, monkeypatch)
    append(db, 2)
    pin(pinned, monkeypatch)
    result = check(db, anchored=True)
    assert result.ok and result.key_pinned and result.witness and result.covered == 2
    assert result.key_fingerprint.startswith("SHA256:") and len(result.key_fingerprint) == 39


def test_truncating_the_log_and_the_checkpoint_files_tail_is_not_intact(
        db: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pinned = anchor(tmp_path, monkeypatch)
    append(db, 15)
    pin(pinned, monkeypatch)
    with transaction(db) as s:
        s.execute(delete(audit.AuditEvent).where(audit.AuditEvent.seq > 5))
        rehash_everything(s)
    f = paths().checkpoint_file
    f.write_text("".join(f.read_text().splitlines(keepends=True)[:5]))
    result = check(db, anchored=True)
    assert not result.ok and result.attack == "truncated" and "events 6..15" in result.reason
    # The default configuration cannot tell (docs/audit.md says so), and production
    # refuses to call the log intact rather than say it is.
    monkeypatch.delenv("TRE_AUDIT_WITNESS_FILE")
    monkeypatch.delenv("TRE_AUDIT_PUBLIC_KEY_FILE")
    assert check(db, anchored=False).ok
    assert check(db, anchored=True).attack == "unanchored"


def test_replacing_key_and_checkpoints_is_caught_with_a_pinned_key(
        db: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pinned = anchor(tmp_path, monkeypatch)
    append(db, 3)
    pin(pinned, monkeypatch)
    paths().key_file.unlink()
    paths().checkpoint_file.unlink()
    (tmp_path / "witness" / "checkpoints").unlink()  # even the witness, were it writable
    notary._notaries.clear()
    with transaction(db) as s:
        s.execute(text("UPDATE audit_events SET actor = 'mallory'"))
        rehash_everything(s)
    append(db, 1)
    result = check(db, anchored=True)
    assert not result.ok and result.attack == "forged"


def test_the_notary_never_recreates_a_key_beside_existing_checkpoints(
        db: sessionmaker[Session]) -> None:
    append(db, 3)
    key = paths().key_file
    key.unlink()
    notary._notaries.clear()
    with pytest.raises(notary.KeyMissingError, match="already holds checkpoints"):
        notary.default().key()
    append(db, 1)  # committed; its checkpoint is refused (and logged), no key is made
    assert not key.exists()
    assert len(paths().checkpoint_file.read_text().splitlines()) == 3
    result = check(db, anchored=False)
    assert not result.ok and result.attack == "unanchored" and "is missing" in result.reason
