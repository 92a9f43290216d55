"""The streamed multipart intake: limits while streaming, malformed bodies, no leftovers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from airlock.intake import IntakeError, Limits, Upload, parse_disposition, receive
from airlock.store import Store

pytestmark = pytest.mark.unit

BOUNDARY = "xXxBOUNDARYxXx"
CT = f"multipart/form-data; boundary={BOUNDARY}"
LIMITS = Limits(max_file_bytes=1000, max_request_bytes=1500, max_files=3, max_field_bytes=100)


def part(name: str, body: bytes, filename: str | bytes | None = None) -> bytes:
    disp = f'form-data; name="{name}"'.encode()
    if filename is not None:
        fn = filename if isinstance(filename, bytes) else filename.encode()
        disp += b'; filename="' + fn + b'"'
    return b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: " + disp + b"\r\n\r\n" + \
        body + b"\r\n"


def body(*parts: bytes, end: bool = True) -> bytes:
    return b"".join(parts) + (b"--" + BOUNDARY.encode() + b"--\r\n" if end else b"")


async def chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def run(tmp: Path, data: bytes, limits: Limits = LIMITS, ct: str = CT) -> Upload:
    return asyncio.run(receive(chunks(data), ct, Store(tmp), limits))


def fails(tmp: Path, data: bytes, status: int, text: str, **kw: object) -> None:
    with pytest.raises(IntakeError) as err:
        run(tmp, data, **kw)  # type: ignore[arg-type]
    assert err.value.status == status
    assert text in str(err.value)
    assert list((tmp / "tmp").iterdir()) == []  # nothing left half-written


def test_fields_and_files_stream_to_temp_files(tmp_path: Path) -> None:
    up = run(tmp_path, body(part("project", b"p1"), part("file", b"a,b\n1,2\n", "t.csv"),
                            part("sidecar", b"{}", "t.csv.statbarn.json")))
    assert up.fields == {"project": "p1"}
    assert [(f.name, f.size) for f in up.files] == [("t.csv", 8)]
    assert up.files[0].temp.path.read_bytes() == b"a,b\n1,2\n"
    assert up.files[0].sha256 and up.sidecars[0].name == "t.csv.statbarn.json"
    up.discard()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_limits_while_streaming(tmp_path: Path) -> None:
    fails(tmp_path, body(part("file", b"x" * 1001, "big.csv")), 413, "per file")
    fails(tmp_path, body(part("file", b"x" * 900, "a.csv"), part("file", b"x" * 900, "b.csv")),
          413, "request is larger")
    fails(tmp_path, body(*(part("file", b"x", f"{i}.csv") for i in range(4))), 413,
          "too many files")
    fails(tmp_path, body(part("context", b"x" * 101)), 413, "longer than")


@pytest.mark.parametrize(("data", "text"), [
    (body(part("file", b"x", "../../etc/passwd")), "path"),
    (body(part("file", b"x", "/abs/x.csv")), "path"),
    (body(part("file", b"x", "C:\\temp\\x.csv")), "path"),
    (body(part("file", b"x", b"a\x00b.csv")), "control"),
    (body(part("file", b"x", "a\u202etxt.exe")), "invisible"),
    (body(part("file", b"x", b"\xff\xfe.csv")), "not UTF-8"),
    (body(part("other", b"x", "x.csv")), "unexpected file"),
    (body(part("file", b"x")), "has no file name"),
    (body(part("bogus", b"x")), "unknown form field"),
    (body(part("project", b"a"), part("project", b"b")), "given twice"),
    (body(part("project", b"\xff")), "not UTF-8"),
    (body(part("file", b"x", "a.csv"), end=False), "ended before"),
    (b"this is not multipart at all", "malformed"),
    (b"--" + BOUNDARY.encode() + b"\r\nNo-Colon\r\n\r\n", "malformed"),
])
def test_bad_bodies(tmp_path: Path, data: bytes, text: str) -> None:
    fails(tmp_path, data, 400, text)


def test_not_multipart(tmp_path: Path) -> None:
    fails(tmp_path, b"{}", 415, "multipart/form-data", ct="application/json")
    fails(tmp_path, b"", 415, "boundary", ct="multipart/form-data")


def test_disposition_parsing() -> None:
    kind, params = parse_disposition(b'form-data; name="file"; filename="a \\"q\\" ;b.csv"')
    assert kind == "form-data"
    assert params == {"name": "file", "filename": 'a "q" ;b.csv'}
    # RFC 7578 forbids filename*=; it is ignored, never preferred
    _, params = parse_disposition(b"form-data; name=f; filename*=UTF-8''..%2Fx")
    assert params == {"name": "f"}


def test_client_going_away_discards(tmp_path: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield body(part("file", b"x" * 50, "a.csv"), end=False)[:-10]
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        asyncio.run(receive(broken(), CT, Store(tmp_path), LIMITS))
    assert list((tmp_path / "tmp").iterdir()) == []


def test_received_files_are_synced_when_stored_not_on_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import os

    synced: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    up = run(tmp_path, body(part("project", b"p1"), part("file", b"a,b\n1,2\n", "t.csv")))
    assert synced == []  # receiving only ends the files: readable, hashed
    staged = up.files[0]
    assert staged.temp.path.read_bytes() == b"a,b\n1,2\n"
    assert staged.sha256 == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    store = Store(tmp_path)
    assert store.commit(staged.temp) == staged.sha256
    assert len(synced) == 2  # the file, then its directory in the store
    assert store.path(staged.sha256).read_bytes() == b"a,b\n1,2\n"
    assert staged.temp.finish() == staged.sha256 and len(synced) == 2  # once only
    up.discard()
    refused = run(tmp_path, body(part("project", b"p1"), part("file", b"x", "u.csv")))
    refused.discard()  # a refused upload is deleted, never synced
    assert len(synced) == 2 and list((tmp_path / "tmp").iterdir()) == []
