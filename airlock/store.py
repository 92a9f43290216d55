"""Content-addressed, immutable file store.

A file is stored under its SHA-256 (``blobs/ab/abcdef...``).  Uploads stream
into a temporary file in ``tmp/`` (always local: the scratch directory) while being
hashed, are fsynced, and only then put in place, so a blob either exists whole or
not at all.  Every read that leaves the airlock re-hashes the bytes
(:meth:`Store.copy_verified`), so a blob changed where it is kept is refused, not
served.

Where blobs are kept is a backend behind one small interface (:class:`Blobs`):

* :class:`LocalBlobs` (the default): a directory, made read-only blob by blob; a
  ReadWriteMany volume shared by several airlock replicas is one too;
* :class:`airlock.store_s3.S3Blobs`: an S3-compatible object store
  (``TRE_AIRLOCK_STORE_BACKEND=s3``).

Crash safety: temporary files carry the writing process's id; :meth:`Store.sweep`
(run by ``tre airlock serve`` before it accepts requests) deletes those of dead
processes and blobs no request refers to.  With several replicas another process
may have stored a blob it is about to record, so blobs younger than the grace
period (``TRE_AIRLOCK_ORPHAN_GRACE_SECONDS``) are kept.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from tre.errors import TreError

if TYPE_CHECKING:
    from airlock.settings import Resolved

CHUNK = 1 << 16
_SHA = re.compile(r"^[0-9a-f]{64}$")
_TEMP = re.compile(r"^(\d+)-[0-9a-f]+\.(part|work)$")


class StoreError(TreError):
    """The store cannot do what was asked (missing blob, bad hash)."""

    code = "store"
    status = 500


class TamperedError(StoreError):
    """A stored blob's bytes no longer match the hash it was stored (and checked) under."""

    code = "integrity"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class TempBlob:
    """A file being received: hashed and counted as it is written.

    :meth:`end` closes it when its last byte has arrived (readable, hash known);
    :meth:`finish` makes it durable (fsync), as :meth:`Store.commit` does before the
    file takes its place in the store.  Receiving an upload only ends its files, so
    the event loop never waits on the disk, and a refused upload is never synced.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[bytes] | None = open(path, "xb")  # noqa: SIM115 - closed in end/discard
        self._hash = hashlib.sha256()
        self._synced = False
        self.size = 0
        self.sha256 = ""

    def write(self, data: bytes) -> None:
        assert self._fh is not None, "write after end"
        self._fh.write(data)
        self._hash.update(data)
        self.size += len(data)

    def end(self) -> str:
        """No more data: close the file (its bytes are readable); returns the SHA-256."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self.sha256 = self._hash.hexdigest()
        return self.sha256

    def finish(self) -> str:
        """Flush to disk; returns the SHA-256."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self.end()
        elif not self._synced and self.sha256:  # ended before: its data may be in memory
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._synced = True
        return self.sha256

    def discard(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass(frozen=True)
class SweepResult:
    temp_files: int
    orphan_blobs: int


def check_sha(sha256: str) -> str:
    if not _SHA.match(sha256):
        raise StoreError(f"not a SHA-256: {sha256!r}")
    return sha256


class Blobs(Protocol):
    """Where finished blobs are kept.  ``put`` receives a finished, fsynced file named
    by its hash and may move it; every other method is given a checked hash."""

    def exists(self, sha256: str) -> bool: ...

    def put(self, sha256: str, path: Path) -> None: ...

    def chunks(self, sha256: str) -> Iterator[bytes]: ...

    def delete(self, sha256: str) -> bool: ...

    def listing(self) -> Iterator[tuple[str, float]]:
        """(hash, time stored as a Unix time) of every blob."""
        ...

    def local_path(self, sha256: str) -> Path | None:
        """The blob as a local file, when it is one."""
        ...


class LocalBlobs:
    """Blobs in a directory (local disk, or a volume shared by replicas)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, sha256: str, path: Path) -> None:
        target = self.path(sha256)
        target.parent.mkdir(exist_ok=True)
        os.chmod(path, stat.S_IRUSR | stat.S_IRGRP)
        try:
            os.replace(path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # The scratch directory is on another file system (a pod's own disk, the
            # blobs on a shared volume): copy next to the target, sync, then rename.
            part = target.parent / f".{sha256}.{secrets.token_hex(8)}.part"
            try:
                shutil.copyfile(path, part)
                os.chmod(part, stat.S_IRUSR | stat.S_IRGRP)
                fd = os.open(part, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(part, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
            path.unlink()
        _fsync_dir(target.parent)

    def chunks(self, sha256: str) -> Iterator[bytes]:
        try:
            fh = open(self.path(sha256), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise StoreError(f"stored file {sha256[:12]}... is missing") from None
        with fh:
            while block := fh.read(CHUNK):
                yield block

    def delete(self, sha256: str) -> bool:
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            return False
        return True

    def listing(self) -> Iterator[tuple[str, float]]:
        for sub in self.root.iterdir():
            if sub.is_dir():
                for blob in sub.iterdir():
                    if _SHA.match(blob.name):
                        with contextlib.suppress(FileNotFoundError):
                            yield blob.name, blob.stat().st_mtime

    def local_path(self, sha256: str) -> Path | None:
        return self.path(sha256)


class Store:
    def __init__(self, root: Path, blobs: Blobs | None = None,
                 scratch: Path | None = None) -> None:
        """``root``: the store directory (local blobs under ``blobs/``); ``scratch``:
        where uploads are received (default ``root/tmp``; a pod's own disk when the
        blobs are shared)."""
        self.root = root
        self.backend: Blobs = blobs if blobs is not None else LocalBlobs(root / "blobs")
        self.tmp = scratch if scratch is not None else root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    # ---- writing --------------------------------------------------------------------------------
    def new_temp(self) -> TempBlob:
        return TempBlob(self.tmp / f"{os.getpid()}-{secrets.token_hex(8)}.part")

    @contextlib.contextmanager
    def work_dir(self) -> Iterator[Path]:
        """A scratch directory (checks, bundles), deleted afterwards and swept after a crash."""
        path = self.tmp / f"{os.getpid()}-{secrets.token_hex(8)}.work"
        path.mkdir()
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def put_file(self, path: Path) -> str:
        """Store a copy of a file made in a work directory; returns its SHA-256."""
        temp = self.new_temp()
        try:
            with open(path, "rb") as fh:
                while block := fh.read(CHUNK):
                    temp.write(block)
            return self.commit(temp)
        except BaseException:
            temp.discard()
            raise

    def put_bytes(self, data: bytes) -> str:
        temp = self.new_temp()
        try:
            temp.write(data)
            return self.commit(temp)
        except BaseException:
            temp.discard()
            raise

    def commit(self, temp: TempBlob) -> str:
        """Put a finished temporary file at its content address; returns the SHA-256."""
        sha = temp.end()
        try:
            # Same content already stored (and made durable when it was): keep that blob,
            # and do not wait for this copy to reach the disk only to delete it.
            if self.backend.exists(sha):
                return sha
            temp.finish()
            self.backend.put(sha, temp.path)
        finally:
            temp.discard()
        return sha

    # ---- reading --------------------------------------------------------------------------------
    def path(self, sha256: str) -> Path:
        """The blob's local file (local backend only; see :meth:`local_file`)."""
        found = self.backend.local_path(check_sha(sha256))
        if found is None:
            raise StoreError(f"stored file {sha256[:12]}... is not on local disk")
        return found

    def local_file(self, sha256: str, work: Path) -> Path:
        """The blob as a local file for reading: its own file when the blobs are local,
        else a verified copy in ``work`` (a :meth:`work_dir`, deleted with it)."""
        found = self.backend.local_path(check_sha(sha256))
        if found is not None:
            return found
        target = work / ".blobs" / sha256
        if not target.is_file():
            target.parent.mkdir(exist_ok=True)
            part = target.with_suffix(".part")
            try:
                with open(part, "xb") as fh:
                    self.copy_verified(sha256, fh)
                os.chmod(part, stat.S_IRUSR)
                os.replace(part, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    part.unlink()
        return target

    def exists(self, sha256: str) -> bool:
        return self.backend.exists(check_sha(sha256))

    def chunks(self, sha256: str) -> Iterator[bytes]:
        return self.backend.chunks(check_sha(sha256))

    def copy_verified(self, sha256: str, out: IO[bytes]) -> int:
        """Copy a blob to ``out``, raising :class:`TamperedError` if its hash changed.

        The caller must discard what was written to ``out`` when this raises.
        """
        digest, size = hashlib.sha256(), 0
        for block in self.chunks(sha256):
            digest.update(block)
            out.write(block)
            size += len(block)
        if digest.hexdigest() != sha256:
            raise TamperedError(
                f"stored file {sha256[:12]}... no longer matches the hash it was checked under"
            )
        return size

    def verify(self, sha256: str) -> bool:
        digest = hashlib.sha256()
        try:
            for block in self.chunks(sha256):
                digest.update(block)
        except StoreError:
            return False
        return digest.hexdigest() == sha256

    def read_bytes(self, sha256: str, limit: int) -> bytes:
        """A small blob in memory (sidecars), verified."""
        data = b"".join(self.chunks(sha256))
        if len(data) > limit:
            raise StoreError(f"stored file {sha256[:12]}... is larger than {limit} bytes")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise TamperedError(f"stored file {sha256[:12]}... does not match its hash")
        return data

    def all_blobs(self) -> Iterator[str]:
        for sha, _ in self.backend.listing():
            yield sha

    # ---- crash recovery -------------------------------------------------------------------------
    def sweep(self, referenced: Iterable[str] | None = None,
              older_than: float = 0.0) -> SweepResult:
        """Delete temporary files of dead processes and, given the referenced hashes,
        blobs nothing refers to (left when a process died between storing and committing)
        that were stored more than ``older_than`` seconds ago."""
        temps = 0
        for entry in self.tmp.iterdir():
            match = _TEMP.match(entry.name)
            if match and _alive(int(match.group(1))) and int(match.group(1)) != os.getpid():
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
            temps += 1
        orphans = 0
        if referenced is not None:
            keep, cutoff = set(referenced), time.time() - older_than
            for sha, stored in list(self.backend.listing()):
                if sha not in keep and stored <= cutoff and self.backend.delete(sha):
                    orphans += 1
        return SweepResult(temps, orphans)


def open_store(settings: Resolved) -> Store:
    """The store the settings name: local blobs (default) or an S3-compatible bucket."""
    a = settings.airlock
    scratch = a.scratch_dir
    if a.store_backend == "s3":
        from airlock.store_s3 import S3Blobs

        blobs = S3Blobs.from_settings(a)
        return Store(settings.store_dir, blobs=blobs,
                     scratch=scratch or settings.store_dir / "tmp")
    return Store(settings.store_dir, scratch=scratch)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
