"""The content-addressed store: atomic, immutable, verified on the way out, swept."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

import pytest

from airlock.store import Store, StoreError, TamperedError

pytestmark = pytest.mark.unit


def test_put_is_content_addressed_and_read_only(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sha = store.put_bytes(b"hello")
    assert sha == hashlib.sha256(b"hello").hexdigest()
    path = store.path(sha)
    assert path.read_bytes() == b"hello"
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert store.put_bytes(b"hello") == sha  # same content: same blob, no error
    assert list(store.tmp.iterdir()) == []


def test_copy_verified_refuses_a_changed_blob(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sha = store.put_bytes(b"a,b\n1,2\n")
    out = io.BytesIO()
    assert store.copy_verified(sha, out) == 8
    path = store.path(sha)
    os.chmod(path, 0o600)
    path.write_bytes(b"a,b\n1,3\n")
    with pytest.raises(TamperedError):
        store.copy_verified(sha, io.BytesIO())
    assert not store.verify(sha)


def test_missing_blob_and_bad_hash(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(StoreError, match="missing"):
        list(store.chunks("0" * 64))
    with pytest.raises(StoreError, match="not a SHA-256"):
        store.path("../../etc/passwd")


def test_temp_is_discarded_and_sweep_removes_leftovers(tmp_path: Path) -> None:
    store = Store(tmp_path)
    temp = store.new_temp()
    temp.write(b"partial")
    temp.discard()
    assert not temp.path.exists()
    # a temp file of a process that died, and one of this process (e.g. a restart with
    # the same pid, as in a container): both swept; an unreferenced blob too
    (store.tmp / "999999999-abcd.part").write_bytes(b"x")
    (store.tmp / f"{os.getpid()}-abcd.part").write_bytes(b"x")
    (store.tmp / "999999999-abcd.work").mkdir()
    keep = store.put_bytes(b"keep")
    orphan = store.put_bytes(b"orphan")
    result = store.sweep(referenced={keep})
    assert result.temp_files == 3 and result.orphan_blobs == 1
    assert store.exists(keep) and not store.exists(orphan)
    assert list(store.tmp.iterdir()) == []


def test_work_dir_is_removed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.work_dir() as work:
        (work / "x").write_text("y")
    assert not work.exists()


def test_blobs_on_another_file_system_than_the_scratch_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replicas receive uploads on their own disk and keep blobs on a shared volume: a
    rename cannot cross file systems (EXDEV), so the blob is copied next to its place,
    synced and renamed there; nothing is left half-written in either place."""
    import errno

    import airlock.store as store_module

    scratch = tmp_path / "scratch"
    real_replace = os.replace
    crossed: list[str] = []

    def replace(src: str | Path, dst: str | Path) -> None:
        if str(src).startswith(str(scratch)) and "blobs" in str(dst):
            crossed.append(str(src))
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(store_module.os, "replace", replace)  # type: ignore[attr-defined]
    store = Store(tmp_path / "shared", scratch=scratch)
    sha = store.put_bytes(b"a,b\n1,2\n")
    assert crossed  # the cross-device path was taken
    path = store.path(sha)
    assert path.read_bytes() == b"a,b\n1,2\n"
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert sorted(p.name for p in path.parent.iterdir()) == [sha]  # no .part left
    assert list(scratch.iterdir()) == []


def test_the_sweep_spares_blobs_younger_than_the_grace(tmp_path: Path) -> None:
    store = Store(tmp_path)
    young = store.put_bytes(b"another replica is recording me")
    old = store.put_bytes(b"left by a crash long ago")
    os.utime(store.path(old), (0, 1_000_000))  # stored in 1970
    result = store.sweep(referenced=set(), older_than=3600)
    assert result.orphan_blobs == 1
    assert store.exists(young) and not store.exists(old)
