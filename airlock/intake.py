"""Receiving an upload: a streamed multipart body straight into the store's temp files.

Nothing is buffered in memory beyond one chunk: each file part is hashed and
written as it arrives, and every limit (file size, request size, number of
files, field size) is enforced while streaming, so an oversized upload is cut
off at the limit instead of after it has filled a disk.  Until the request is
committed everything lives in temporary files, which :meth:`Upload.discard`
deletes on any error: nothing is ever stored half.

Form fields: ``project`` (required), ``dataset``, ``title`` (one line, see
:mod:`airlock.review_limits`), ``context`` (default for every
file), ``manifest`` (JSON list of ``{"name", "context", "exception",
"population"}``), ``draft``; file parts ``file`` (repeated) and ``sidecar``
(``<file name>.statbarn.json``, repeated).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser

from airlock.names import BadName, check_name
from airlock.store import Store, TempBlob
from statbarn.wording import mb, seconds
from tre.errors import TreError

FIELDS = frozenset({"project", "dataset", "title", "context", "manifest", "draft"})
# A revision of a returned request (airlock.service.revise): the project and title are
# the request's own; ``remove`` is a JSON list of file names, ``answer`` the researcher's
# answer to the checkers.
REVISE_FIELDS = frozenset({"context", "manifest", "remove", "answer"})
FILE_FIELDS = frozenset({"file", "sidecar"})
MAX_FIELDS = 20
# Multipart framing around the files: generous, so only real content hits the limit.
OVERHEAD_PER_PART = 16 * 1024


class IntakeError(TreError):
    """A bad upload; ``status`` is the HTTP status, ``str(exc)`` the message."""

    code = "bad_upload"

    def __init__(self, status: int, message: str, code: str = "bad_upload") -> None:
        self.status, self.code = status, code
        super().__init__(message)


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_request_bytes: int
    max_files: int  # file parts; sidecar parts too (each at most one per file)
    max_field_bytes: int
    max_parts: int | None = None  # every part (default: 2 x max_files + MAX_FIELDS)
    body_timeout: float | None = None  # seconds to wait for the next piece of the body

    @property
    def parts(self) -> int:
        return self.max_parts or 2 * self.max_files + MAX_FIELDS


@dataclass
class StagedFile:
    field: str
    name: str
    temp: TempBlob

    @property
    def sha256(self) -> str:
        return self.temp.sha256

    @property
    def size(self) -> int:
        return self.temp.size


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[StagedFile] = field(default_factory=list)
    sidecars: list[StagedFile] = field(default_factory=list)

    def discard(self) -> None:
        for staged in (*self.files, *self.sidecars):
            staged.temp.discard()


def parse_disposition(value: bytes) -> tuple[str, dict[str, str]]:
    """``form-data; name="x"; filename="y"`` -> ("form-data", {...}).

    Written here rather than borrowed: python-multipart silently strips
    ``C:\\...`` prefixes from file names, and an absolute path must be refused,
    not quietly fixed.
    """
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raise IntakeError(400, "a part's Content-Disposition header is not UTF-8") from None
    parts: list[str] = []
    current, quoted, i = "", False, 0
    while i < len(text):
        ch = text[i]
        i += 1
        # Inside quotes only \" and \\ are escapes: browsers send other backslashes
        # raw (C:\temp\x.csv), and those must reach the name check as they are.
        if ch == "\\" and quoted and i < len(text) and text[i] in '"\\':
            current += text[i]
            i += 1
        elif ch == '"':
            quoted = not quoted
            current += ch
        elif ch == ";" and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, val = part.partition("=")
        key, val = key.strip().lower(), val.strip()
        if not sep or "*" in key:  # RFC 7578 forbids the extended key*= syntax
            continue
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        params[key] = val
    return parts[0].strip().lower(), params


class _Receiver:
    def __init__(self, store: Store, limits: Limits, on_field: Callable[[str, str], None],
                 fields: frozenset[str] = FIELDS):
        self.store, self.limits, self.on_field = store, limits, on_field
        self.fields = fields
        self.upload = Upload()
        self.total = 0
        self.parts = 0
        self.ended = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._field: str | None = None
        self._data = bytearray()
        self._file: StagedFile | None = None

    def on_part_begin(self) -> None:
        # Counted here, before the part's headers are even read: a body of 20,000 tiny
        # parts is refused at the limit, not after it has made 20,000 temporary files.
        self.parts += 1
        if self.parts > self.limits.parts:
            raise IntakeError(413, f"too many parts in the upload: at most "
                              f"{self.limits.parts} (files, sidecars and fields together)",
                              "too_large")
        self._disposition, self._field, self._file = b"", None, None
        self._data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        kind, params = parse_disposition(self._disposition)
        name = params.get("name")
        if kind != "form-data" or name is None:
            raise IntakeError(400, "every part needs Content-Disposition: form-data; name=...")
        if "filename" in params:
            if name not in FILE_FIELDS:
                raise IntakeError(400, f"unexpected file in field {name!r} (use 'file' or "
                                  "'sidecar')")
            try:
                filename = check_name(params["filename"])
            except BadName as exc:
                raise IntakeError(400, str(exc), "bad_name") from None
            target = self.upload.files if name == "file" else self.upload.sidecars
            if len(target) >= self.limits.max_files:  # before its temp file is made
                what = "files" if name == "file" else "sidecars"
                raise IntakeError(413, f"too many {what}: at most {self.limits.max_files} "
                                  "per request", "too_large")
            staged = StagedFile(name, filename, self.store.new_temp())
            target.append(staged)
            self._file = staged
            return
        if name in FILE_FIELDS:
            raise IntakeError(400, f"the {name!r} part has no file name")
        if name not in self.fields:
            raise IntakeError(400, f"unknown form field {name!r} (expected: "
                              f"{', '.join(sorted(self.fields | FILE_FIELDS))})")
        if name in self.upload.fields:
            raise IntakeError(400, f"form field {name!r} is given twice")
        self._field = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        if self._file is not None:
            if self._file.size + size > self.limits.max_file_bytes:
                raise IntakeError(413, f"{self._file.name} is larger than the limit of "
                                  f"{mb(self.limits.max_file_bytes)} per file", "too_large")
            self.total += size
            if self.total > self.limits.max_request_bytes:
                raise IntakeError(413, f"the request is larger than the limit of "
                                  f"{mb(self.limits.max_request_bytes)}", "too_large")
            self._file.temp.write(data[start:end])
        elif self._field is not None:
            if len(self._data) + size > self.limits.max_field_bytes:
                raise IntakeError(413, f"form field {self._field!r} is longer than "
                                  f"{mb(self.limits.max_field_bytes)}", "too_large")
            self._data += data[start:end]

    def on_part_end(self) -> None:
        if self._file is not None:
            self._file.temp.end()  # synced when stored (Store.commit), off the event loop
        elif self._field is not None:
            try:
                value = self._data.decode("utf-8")
            except UnicodeDecodeError:
                raise IntakeError(400, f"form field {self._field!r} is not UTF-8 text") from None
            self.upload.fields[self._field] = value
            self.on_field(self._field, value)
        self._file, self._field = None, None

    def on_end(self) -> None:
        self.ended = True


def boundary_of(content_type: str) -> bytes:
    kind, params = parse_disposition(content_type.encode("utf-8", "replace"))
    if kind != "multipart/form-data" or not params.get("boundary"):
        raise IntakeError(415, "send the request as multipart/form-data with a boundary",
                          "unsupported_media_type")
    return params["boundary"].encode("latin-1", "replace")


async def receive(
    stream: AsyncIterator[bytes],
    content_type: str,
    store: Store,
    limits: Limits,
    on_field: Callable[[str, str], None] = lambda _n, _v: None,
    fields: frozenset[str] = FIELDS,
) -> Upload:
    """Parse the body into temp files; on any error (including the client going away)
    every temp file is deleted and the error propagates."""
    rx = _Receiver(store, limits, on_field, fields)
    parser = MultipartParser(
        boundary_of(content_type),
        {
            "on_part_begin": rx.on_part_begin,
            "on_part_data": rx.on_part_data,
            "on_part_end": rx.on_part_end,
            "on_header_field": rx.on_header_field,
            "on_header_value": rx.on_header_value,
            "on_header_end": rx.on_header_end,
            "on_headers_finished": rx.on_headers_finished,
            "on_end": rx.on_end,
        },
    )
    chunks = aiter(stream)
    wait = limits.body_timeout
    try:
        while True:
            try:
                with anyio.fail_after(wait):  # None: no deadline
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise IntakeError(408, f"the upload stalled: nothing arrived for "
                                  f"{seconds(wait or 0)}; send it again", "timeout") from None
            parser.write(chunk)
            if len(rx.upload.fields) > MAX_FIELDS:
                raise IntakeError(400, "too many form fields")
        parser.finalize()
        if not rx.ended:
            raise IntakeError(400, "the upload ended before the multipart body was complete")
    except MultipartParseError as exc:
        rx.upload.discard()
        raise IntakeError(400, f"malformed multipart body: {exc}") from None
    except BaseException:
        rx.upload.discard()
        raise
    return rx.upload
