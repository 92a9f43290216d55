"""Signed checkpoints: the C2SP note format, signatures, and the append-only file."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tre import checkpoints, merkle

ROOT = merkle.root([merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")])


def test_a_checkpoint_is_a_c2sp_signed_note(tmp_path: Path) -> None:
    key = checkpoints.create_private(tmp_path / "k.pem")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    note = checkpoints.sign(key, "tre-audit-log", 2, ROOT, 1_767_225_600_000_000_000)
    body, sig = note.split("\n\n")
    assert body.split("\n") == ["tre-audit-log", "2", base64.b64encode(ROOT).decode(),
                                "Timestamp: 1767225600000000000"]
    name, stamp = sig.removeprefix("\u2014 ").rstrip("\n").split(" ")
    raw = base64.b64decode(stamp)
    pub = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    assert name == "tre-audit-log" and len(raw) == 4 + 64
    assert raw[:4] == hashlib.sha256(b"tre-audit-log\n\x01" + pub).digest()[:4]
    cp = checkpoints.parse(note, key.public_key())
    assert (cp.size, cp.root, cp.when) == (2, ROOT, "2026-01-01T00:00:00+00:00")


def test_altered_or_foreign_checkpoints_are_refused(tmp_path: Path) -> None:
    key = checkpoints.create_private(tmp_path / "k.pem")
    other = checkpoints.create_private(tmp_path / "o.pem")
    note = checkpoints.sign(key, "tre-audit-log", 2, ROOT, 1)
    with pytest.raises(checkpoints.CheckpointError, match="altered after signing"):
        checkpoints.parse(note.replace("\n2\n", "\n3\n", 1), key.public_key())
    with pytest.raises(checkpoints.CheckpointError, match="not signed by this audit key"):
        checkpoints.parse(note, other.public_key())
    with pytest.raises(checkpoints.CheckpointError, match="no signature"):
        checkpoints.parse("tre-audit-log\n2\n", key.public_key())
    with pytest.raises(checkpoints.CheckpointError, match="more than 4096"):
        checkpoints.parse("x" * 5000, key.public_key())
    with pytest.raises(FileExistsError):
        checkpoints.create_private(tmp_path / "k.pem")  # never overwrites a key


def test_the_file_only_grows_and_latest_reads_its_tail(tmp_path: Path) -> None:
    key = checkpoints.create_private(tmp_path / "k.pem")
    path = tmp_path / "cp" / "checkpoints.jsonl"
    for size in (1, 3, 2):  # commits may finish out of order
        checkpoints.append(path, checkpoints.sign(key, "o", size, ROOT, size))
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[1])["checkpoint"].startswith("o\n3\n")
    latest = checkpoints.latest(path, key.public_key())
    assert latest is not None and latest.size == 3
    assert [n for n, _ in checkpoints.read_lines(path)] == [1, 2, 3]
    assert os.stat(path).st_mode & 0o777 == 0o600
    with open(path, "a") as fh:
        fh.write("not json\n")
    with pytest.raises(checkpoints.CheckpointError, match="line 4: not a JSON line"):
        list(checkpoints.read_lines(path))
