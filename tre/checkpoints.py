"""Signed checkpoints of the audit log, kept outside the database.

A checkpoint says "the log had ``size`` events and its Merkle tree root was ``root`` at
``time``", signed with an Ed25519 key that the database never holds.  The text is a
C2SP signed note (https://c2sp.org/signed-note) whose body is a C2SP tlog checkpoint
(https://c2sp.org/tlog-checkpoint), with a ``Timestamp:`` extension line as Sigstore's
Rekor writes one::

    tre-audit-log
    42
    qINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=
    Timestamp: 1767225600000000000

    \u2014 tre-audit-log Az3grnRHWYjxJkSTxXhXhQzV...

Checkpoints are appended, one JSON line each, to a file opened ``O_APPEND`` and fsync'd
(and to a witness file as well when one is configured): the file only grows, so an
insider who rewrites the database cannot make the checkpoints agree with it without
the key, and cannot remove them without access to the files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tre.errors import TreError
from tre.merkle import HASH_SIZE

SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space, as signed notes begin signature lines
MAX_NOTE = 4096  # a checkpoint is ~200 bytes: a longer line is not one of ours
TAIL = 64 * 1024  # how much of the file's end :func:`latest` reads


class CheckpointError(TreError, ValueError):
    """A checkpoint that is malformed, or not signed by the audit key."""

    code = "checkpoint"
    status = 422


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    timestamp_ns: int
    note: str

    @property
    def when(self) -> str:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(self.timestamp_ns / 1e9, UTC).isoformat(timespec="seconds")


def key_id(name: str, public: Ed25519PublicKey) -> bytes:
    """The signed-note key hash: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4]


def body(origin: str, size: int, root: bytes, timestamp_ns: int) -> str:
    return (f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
            f"Timestamp: {timestamp_ns}\n")


def sign(key: Ed25519PrivateKey, origin: str, size: int, root: bytes, timestamp_ns: int) -> str:
    text = body(origin, size, root, timestamp_ns)
    sig = key.sign(text.encode())
    stamp = base64.b64encode(key_id(origin, key.public_key()) + sig).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{origin} {stamp}\n"


def parse(note: str, public: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint in ``note``, if the audit key signed it; else CheckpointError."""
    if len(note) > MAX_NOTE:
        raise CheckpointError(f"the note is {len(note)} characters, more than {MAX_NOTE}")
    text, sep, sigs = note.partition("\n\n")
    if not sep:
        raise CheckpointError("the note has no signature")
    text += "\n"
    lines = text.split("\n")[:-1]
    if len(lines) != 4 or not lines[3].startswith("Timestamp: "):
        raise CheckpointError("the note is not a checkpoint (origin, size, root, Timestamp)")
    origin = lines[0]
    try:
        size, stamp = int(lines[1]), int(lines[3].removeprefix("Timestamp: "))
        root = base64.b64decode(lines[2], validate=True)
    except ValueError:
        raise CheckpointError("the checkpoint's size, root or timestamp is malformed") from None
    if size < 0 or len(root) != HASH_SIZE:
        raise CheckpointError("the checkpoint's size or root is out of range")
    wanted = key_id(origin, public)
    for line in sigs.split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            continue
        name, _, b64 = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
        try:
            raw = base64.b64decode(b64, validate=True)
        except ValueError:
            continue
        if name != origin or raw[:4] != wanted:
            continue
        try:
            public.verify(raw[4:], text.encode())
        except InvalidSignature:
            raise CheckpointError("the signature does not match the checkpoint (it was "
                                  "altered after signing)") from None
        return Checkpoint(origin, size, root, stamp, note)
    raise CheckpointError("the checkpoint is not signed by this audit key")


# ---- keys ---------------------------------------------------------------------------------------
def load_private(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path}: not an Ed25519 private key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    """A PEM public key, or the public half of a PEM private key."""
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private(path).public_key()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(f"{path}: not an Ed25519 public key")
    return key


def fingerprint(public: Ed25519PublicKey) -> str:
    """A short name of a public key a person can compare: SHA-256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()[:32]


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def create_private(path: Path) -> Ed25519PrivateKey:
    """A new key, readable by its owner only.  Written aside and linked into place, so no
    one ever reads half a key, and an existing file is never overwritten
    (FileExistsError: another process made one first)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(aside, path)
    finally:
        aside.unlink()
    return key


# ---- the append-only files ----------------------------------------------------------------------
def append(path: Path, note: str) -> None:
    """Append one checkpoint line: one write() on an O_APPEND descriptor, so lines written
    by several processes never interleave; fsync'd before returning."""
    line = (json.dumps({"checkpoint": note}, ensure_ascii=True) + "\n").encode()
    new = not path.exists()
    if new:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:  # the file's name must survive a crash too
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _note_of(line: str) -> str:
    try:
        data = json.loads(line)
    except ValueError:
        raise CheckpointError("not a JSON line") from None
    note = data.get("checkpoint") if isinstance(data, dict) else None
    if not isinstance(note, str):
        raise CheckpointError("no checkpoint in the line")
    return note


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, note) of every line; a malformed line raises CheckpointError naming it."""
    with open(path, encoding="ascii", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip() or not line.endswith("\n"):
                continue  # a last line without its newline: a write cut short by a crash
            try:
                yield number, _note_of(line)
            except CheckpointError as exc:
                raise CheckpointError(f"{path} line {number}: {exc}") from None


def latest(path: Path, public: Ed25519PublicKey) -> Checkpoint | None:
    """The largest validly signed checkpoint among the file's last lines (its tail only:
    the file grows by one line per commit)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            fh.seek(max(0, end - TAIL))
            tail = fh.read().decode("ascii", errors="replace")
    except FileNotFoundError:
        return None
    best: Checkpoint | None = None
    for line in tail.splitlines()[1 if end > TAIL else 0:]:
        try:
            cp = parse(_note_of(line), public)
        except CheckpointError:
            continue
        if best is None or cp.size > best.size:
            best = cp
    return best
