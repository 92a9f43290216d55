"""The notary: signs a checkpoint of the audit log after each commit that appended to it.

Settings (``TRE_AUDIT_*``; read here so the platform settings stay as they are):

==============================  ========================================================
``TRE_AUDIT_KEY_FILE``          Ed25519 private key (PEM).  Default
                                ``<TRE_DATA_DIR>/audit/signing-key.pem``, created on
                                first use when missing and no checkpoint file holds a
                                checkpoint (else refused: KeyMissingError).  In
                                production mount it from a secret store, readable by
                                the service only.
``TRE_AUDIT_CHECKPOINT_FILE``   the append-only checkpoint file.  Default
                                ``<TRE_DATA_DIR>/audit/checkpoints.jsonl``.
``TRE_AUDIT_WITNESS_FILE``      optional second copy of every checkpoint, on storage the
                                database's administrators cannot write (another host's
                                mount, WORM storage).
``TRE_AUDIT_PUBLIC_KEY_FILE``   the public key verifiers trust.  Default: derived from
                                the private key.  Pin it (and keep a copy away from the
                                server) so a replaced key is noticed.
``TRE_AUDIT_ORIGIN``            the log's name in its checkpoints (``tre-audit-log``)
==============================  ========================================================

None of these live in the database: that is the point.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tre import checkpoints
from tre.errors import TreError
from tre.settings import Settings, SettingsError, get_settings

log = logging.getLogger(__name__)


class AuditSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRE_AUDIT_", extra="ignore", frozen=True)

    key_file: Path | None = Field(None, description="Ed25519 private key (PEM).")
    checkpoint_file: Path | None = Field(None, description="Append-only checkpoint file.")
    witness_file: Path | None = Field(None, description="Second checkpoint file (optional).")
    public_key_file: Path | None = Field(None, description="The public key verifiers trust.")
    origin: str = Field("tre-audit-log", min_length=1, max_length=200, pattern=r"^[^\s]+$")


@dataclass(frozen=True)
class Paths:
    key_file: Path
    checkpoint_file: Path
    witness_file: Path | None
    public_key_file: Path | None
    origin: str

    @classmethod
    def from_settings(cls, platform: Settings | None = None, **overrides: Any) -> Paths:
        platform = platform or get_settings()
        try:
            audit = AuditSettings(**overrides)
        except ValueError as exc:
            raise SettingsError(f"invalid TRE_AUDIT_* settings: {exc}") from None
        base = platform.data_dir / "audit"
        return cls(
            key_file=(audit.key_file or base / "signing-key.pem").expanduser(),
            checkpoint_file=(audit.checkpoint_file or base / "checkpoints.jsonl").expanduser(),
            witness_file=audit.witness_file.expanduser() if audit.witness_file else None,
            public_key_file=(audit.public_key_file.expanduser() if audit.public_key_file
                             else None),
            origin=audit.origin,
        )

    def checkpoint_files(self) -> list[Path]:
        return [self.checkpoint_file] + ([self.witness_file] if self.witness_file else [])

    def public_key(self) -> Ed25519PublicKey:
        """The key checkpoints are verified with: the pinned public key when one is set."""
        if self.public_key_file is not None:
            return checkpoints.load_public(self.public_key_file)
        return checkpoints.load_public(self.key_file)


class KeyMissingError(TreError, RuntimeError):
    """The signing key is gone while checkpoints signed with it remain (the sentence says
    what to do)."""

    code = "audit_key"
    status = 500


class Notary:
    """Signs and appends checkpoints.  One per process and set of paths (see :func:`for_paths`);
    the key is read once, and created when missing."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self._key: Ed25519PrivateKey | None = None
        self._lock = threading.Lock()

    def key(self) -> Ed25519PrivateKey:
        with self._lock:
            if self._key is None:
                path = self.paths.key_file
                try:
                    self._key = checkpoints.load_private(path)
                except FileNotFoundError:
                    self._refuse_new_key(path)
                    try:
                        self._key = checkpoints.create_private(path)
                    except FileExistsError:  # another process created it first
                        self._key = checkpoints.load_private(path)
                        return self._key
                    log.warning("audit: created a new checkpoint signing key at %s; keep its "
                                "public key (tre audit public-key) somewhere safe", path)
            return self._key

    def _refuse_new_key(self, path: Path) -> None:
        """A key is created only for a log never checkpointed: a new key beside existing
        checkpoints would sign a rewritten log as if it were the original."""
        held = [str(p) for p in self.paths.checkpoint_files() if p.exists() and p.stat().st_size]
        if held:
            raise KeyMissingError(
                f"the audit signing key {path} is missing, but {', '.join(held)} already "
                "holds checkpoints signed with a key: a new one is not created (it would "
                "vouch for whatever the log now holds); restore the key from its backup, or "
                "set TRE_AUDIT_KEY_FILE to it")

    def checkpoint(self, size: int, root: bytes) -> str:
        note = checkpoints.sign(self.key(), self.paths.origin, size, root, time.time_ns())
        for path in self.paths.checkpoint_files():
            checkpoints.append(path, note)
        return note


_notaries: dict[Paths, Notary] = {}
_notaries_lock = threading.Lock()


def for_paths(paths: Paths) -> Notary:
    with _notaries_lock:
        return _notaries.setdefault(paths, Notary(paths))


def default() -> Notary:
    """The notary of the process's settings (``TRE_DATA_DIR``, ``TRE_AUDIT_*``)."""
    return for_paths(Paths.from_settings())
