"""Content-addressed, immutable file store on local disk.

A file is stored under its SHA-256 (``blobs/ab/abcdef...``).  Uploads stream
into a temporary file in ``tmp/`` while being hashed, are fsynced, and only
then renamed into place, so a blob either exists whole or not at all.  Blobs are
made read-only; every read that leaves the airlock re-hashes the bytes
(:meth:`Store.copy_verified`), so a blob changed on disk is refused, not served.

Crash safety: temporary files carry the writing process's id; :meth:`Store.sweep`
(run by ``tre airlock serve`` before it accepts requests) deletes those of dead
processes and blobs no request refers to.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

CHUNK = 1 << 16
_SHA = re.compile(r"^[0-9a-f]{64}$")
_TEMP = re.compile(r"^(\d+)-[0-9a-f]+\.(part|work)$")


class StoreError(Exception):
    """The store cannot do what was asked (missing blob, bad hash)."""


class TamperedError(StoreError):
    """A stored blob's bytes no longer match the hash it was stored (and checked) under."""


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


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"
        self.blobs.mkdir(parents=True, exist_ok=True)
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
        """Move a finished temporary file to its content address; returns the SHA-256."""
        sha = temp.finish()
        target = self.path(sha)
        if target.exists():  # same content already stored: keep the existing, immutable blob
            temp.discard()
            return sha
        target.parent.mkdir(exist_ok=True)
        os.chmod(temp.path, stat.S_IRUSR | stat.S_IRGRP)
        os.replace(temp.path, target)
        _fsync_dir(target.parent)
        return sha

    # ---- reading --------------------------------------------------------------------------------
    def path(self, sha256: str) -> Path:
        if not _SHA.match(sha256):
            raise StoreError(f"not a SHA-256: {sha256!r}")
        return self.blobs / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def chunks(self, sha256: str) -> Iterator[bytes]:
        try:
            fh = open(self.path(sha256), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise StoreError(f"stored file {sha256[:12]}... is missing") from None
        with fh:
            while block := fh.read(CHUNK):
                yield block

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
        for sub in self.blobs.iterdir():
            if sub.is_dir():
                for blob in sub.iterdir():
                    if _SHA.match(blob.name):
                        yield blob.name

    # ---- crash recovery -------------------------------------------------------------------------
    def sweep(self, referenced: Iterable[str] | None = None) -> SweepResult:
        """Delete temporary files of dead processes and, given the referenced hashes,
        blobs nothing refers to (left when a process died between storing and committing)."""
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
            keep = set(referenced)
            for sha in list(self.all_blobs()):
                if sha not in keep:
                    with contextlib.suppress(FileNotFoundError):
                        self.path(sha).unlink()
                        orphans += 1
        return SweepResult(temps, orphans)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
