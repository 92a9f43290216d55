"""PDFs: refused when they hold what a reader does not show (or runs).

A PDF reader shows pages.  It does not show an embedded attachment
(``/EmbeddedFiles``, ``/FileAttachment``) unless asked; it *runs* JavaScript
(``/JavaScript``, ``/JS``), automatic actions (``/OpenAction`` with an action,
``/AA``) and launches (``/Launch``); a form (``/AcroForm``, ``/XFA``) holds field
values a page need not show; and an incremental update (a second body appended
after the first ``%%EOF``) can hide the previous version of every page.  The
airlock has no PDF renderer to make a canonical copy from, so such a PDF is
refused, naming what was found.

What is verified, byte by byte (no PDF library): every dictionary key in the
file's bytes **and in every Flate-compressed stream**, so a key inside a
compressed object stream (PDF 1.5+) is found too, after undoing ``#xx`` escapes
in names (``/J#61vaScript`` is ``/JavaScript``).  Decompression is bounded
(:data:`MAX_INFLATE` in all, :data:`MAX_RATIO` per stream); an object stream or
cross-reference stream in another compression is refused, since it could hide
keys.  Bytes after the last ``%%EOF`` are refused.

Also refused: layers switched off (``/OFF``, ``/BaseState /OFF``) and note
annotations (``/Subtype /Text`` or ``/Popup``), whose contents a reader hides.

Document properties longer than :data:`MAX_PROPERTY` bytes (a title, keywords)
and XMP metadata over :data:`MAX_XMP` are refused too.

What is *not* verified (a person reviews every PDF): text drawn invisibly or off
the page, unreferenced objects, ``%`` comments, and metadata under those sizes.
See docs/intake.md.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

from airlock.canonical.errors import CanonicalRefused

MAX_SCAN = 256 * 1024**2  # bytes of PDF read
MAX_INFLATE = 256 * 1024**2  # bytes decompressed from all its streams together
MAX_RATIO = 200  # a stream inflating more than this is a bomb, not a page

_NAME = re.compile(rb"/[^\s/<>\[\]()%{}]*")
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"stream[ \t]*(?:\r\n|\n|\r)")  # readers tolerate CR alone, spaces
_AFTER = re.compile(rb"\s*endstream")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)")
_ENDSTREAM = re.compile(rb"\r?\n?endstream")
_WHAT = {
    b"/JavaScript": "JavaScript (it runs when the file is opened)",
    b"/JS": "JavaScript (it runs when the file is opened)",
    b"/AA": "automatic actions (/AA: they run when a page or field is opened)",
    b"/Launch": "a launch action (it starts another program)",
    b"/EmbeddedFiles": "an embedded attachment (a file inside the PDF that its pages do "
                       "not show)",
    b"/EmbeddedFile": "an embedded attachment (a file inside the PDF that its pages do "
                      "not show)",
    b"/FileAttachment": "a file attachment annotation",
    b"/AcroForm": "a form (its field values need not appear on any page)",
    b"/XFA": "an XFA form",
    b"/RichMedia": "embedded media (/RichMedia)",
    b"/SubmitForm": "a form-submission action",
    b"/ImportData": "a data-import action",
}
_DICT_STREAM_TYPES = (b"/ObjStm", b"/XRef")
_PROPERTIES = (b"/Title", b"/Author", b"/Subject", b"/Keywords", b"/Creator", b"/Producer")
MAX_PROPERTY = 2000  # bytes of one document property (a title, the keywords)
MAX_XMP = 64 * 1024  # bytes of XMP metadata (a typical packet is 3-10 KB with padding)


def _unescape(name: bytes) -> bytes:
    return _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), name)


def _string_length(data: bytes, at: int) -> int:
    """The length of the PDF string (literal or hex) starting after ``at`` (0: none)."""
    i = at
    while i < len(data) and data[i] in b" \t\r\n\f\x00":
        i += 1
    if i >= len(data):
        return 0
    if data[i:i + 1] == b"<" and data[i + 1:i + 2] != b"<":
        end = data.find(b">", i)
        return (end if end != -1 else len(data)) - i
    if data[i:i + 1] != b"(":
        return 0
    depth, j, limit = 0, i, min(len(data), i + MAX_PROPERTY * 4 + 2)
    while j < limit:
        c = data[j]
        if c == 0x5C:  # backslash: the next byte is escaped
            j += 2
            continue
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return j - i
        j += 1
    return j - i


def _keys(data: bytes, found: dict[str, None]) -> None:
    for m in _NAME.finditer(data):
        raw = m.group(0)
        name = _unescape(raw) if b"#" in raw else raw
        if name in _WHAT:
            found.setdefault(_WHAT[name])
        elif name == b"/OpenAction":
            rest = data[m.end():m.end() + 64].lstrip()
            if not rest.startswith(b"["):  # a destination array only opens a page
                found.setdefault("an action run when the file is opened (/OpenAction)")
        elif name in _PROPERTIES:
            length = _string_length(data, m.end())
            if length > MAX_PROPERTY:
                found.setdefault(f"a document property ({name.decode()[1:]}) of {length:,} "
                                 "bytes, which no page shows")
        elif name in (b"/OFF", b"/BaseState", b"/Subtype"):
            rest = _unescape(data[m.end():m.end() + 64]).lstrip()
            if (name == b"/OFF" and rest.startswith(b"[") and not rest[1:].lstrip()
                    .startswith(b"]")) or (name == b"/BaseState" and rest.startswith(b"/OFF")):
                found.setdefault("layers switched off (optional content a reader hides)")
            elif name == b"/Subtype" and re.match(rb"/(Text|Popup)(?![A-Za-z])", rest):
                found.setdefault("comments (notes whose text a reader shows only when opened)")


_OBJ = re.compile(rb"\d+\s+\d+\s+obj\b")
_HEADER_WINDOW = 16 * 1024
_OTHER_FILTERS = (b"/ASCIIHexDecode", b"/ASCII85Decode", b"/LZWDecode", b"/RunLengthDecode",
                  b"/Crypt", b"/AHx", b"/A85", b"/LZW", b"/RL")


def _header(data: bytes, stream_at: int) -> bytes | None:
    """The dictionary of the stream starting at ``stream_at`` (None: not found nearby)."""
    window = data[max(0, stream_at - _HEADER_WINDOW):stream_at]
    last = None
    for last in _OBJ.finditer(window):  # noqa: B007 - the last match is the one wanted
        pass
    return _unescape(window[last.end():]) if last is not None else None


def _streams(data: bytes, name: str, found: dict[str, None]) -> None:
    """Inflate every object stream and cross-reference stream (bounded) and look for the
    same keys inside: in PDF 1.5+ dictionaries can live compressed in object streams.
    Page contents and images are not read: a key there means nothing to a reader."""
    budget = MAX_INFLATE
    pos = 0
    while (m := _STREAM.search(data, pos)) is not None:
        start = m.end()
        end_m = _ENDSTREAM.search(data, start)
        end = end_m.start() if end_m else len(data)
        pos = end_m.end() if end_m else len(data)
        header = _header(data, m.start())
        length = _LENGTH.search(header or b"")
        if length is not None and start + int(length.group(1)) <= len(data):
            # The reader's own bound: "endstream" inside the data must not cut it short.
            by_length = start + int(length.group(1))
            after = _AFTER.match(data, by_length)
            if after is not None:
                end, pos = by_length, after.end()
            else:  # a wrong /Length: read the longer of the two (a reader may use either)
                end = max(end, by_length)
                pos = max(pos, end)
        structure = header is None or any(t in header for t in _DICT_STREAM_TYPES)
        if not structure and header is not None and b"/Metadata" in header:
            _xmp(data[start:end], header, name, found)
            continue
        if not structure:
            continue  # page content, an image, a font: no dictionaries a reader acts on
        header = header or b""
        if b"/Filter" not in header and header:
            _keys(data[start:end], found)
            continue
        if any(f in header for f in _OTHER_FILTERS) or (
                header and b"/FlateDecode" not in header and b"/Fl" not in header):
            raise CanonicalRefused(
                f"{name}: its object stream uses a compression the airlock cannot read, "
                "which could hide what the PDF holds; save it again as a plain PDF (for "
                "example with 'Print to PDF' or matplotlib's savefig)")
        body = data[start:end]
        limit = min(budget, max(len(body), 1) * MAX_RATIO)
        d = zlib.decompressobj()
        try:
            out = d.decompress(body, limit + 1)
        except zlib.error:
            if not header:
                continue  # not a stream we could place; not compressed with Flate
            raise CanonicalRefused(f"{name}: an object stream of this PDF is damaged; "
                                   "save it again") from None
        if len(out) > limit:
            raise CanonicalRefused(
                f"{name}: an object stream of this PDF decompresses to more than "
                f"{limit / 1024**2:,.1f} MB; the airlock does not read it (a decompression "
                "bomb?); save the PDF again")
        budget -= len(out)
        _keys(out, found)


def _xmp(body: bytes, header: bytes, name: str, found: dict[str, None]) -> None:
    """XMP metadata (document properties as XML) larger than a real packet is refused."""
    size = len(body)
    if b"/FlateDecode" in header or b"/Fl" in header:
        d = zlib.decompressobj()
        try:
            size = len(d.decompress(body, MAX_XMP + 1))
        except zlib.error:
            size = len(body)
    if size > MAX_XMP:
        found.setdefault(f"XMP metadata of more than {MAX_XMP // 1024} KB (document "
                         "properties no page shows)")


def _updates(data: bytes) -> int:
    """How many times the file was saved incrementally (bodies after the first)."""
    eofs = len(re.findall(rb"%%EOF", data))
    linearized = b"/Linearized" in data[:2048]
    return max(0, eofs - (2 if linearized else 1))


def check_pdf(path: Path, name: str) -> None:
    size = path.stat().st_size
    if size > MAX_SCAN:
        raise CanonicalRefused(f"{name} is larger than {MAX_SCAN // 1024**2} MB, more than the "
                               "airlock reads of a PDF; split it or export its figures as PNG")
    data = path.read_bytes()
    found: dict[str, None] = {}
    _keys(data, found)
    _streams(data, name, found)
    last = data.rfind(b"%%EOF")
    if last == -1:
        raise CanonicalRefused(f"{name} has no end-of-file marker (%%EOF): it is truncated "
                               "or not a PDF; save it again")
    if data[last + 5:].strip(b"\r\n\t \x00"):
        found.setdefault(f"{len(data) - last - 5:,} byte(s) after the end of the PDF (%%EOF)")
    updates = _updates(data)
    if updates:
        found.setdefault(f"{updates} incremental update(s) (earlier versions of its pages "
                         "are still inside)")
    if found:
        raise CanonicalRefused(
            f"{name} holds {'; '.join(found)}. A PDF reader does not show these, so the "
            "airlock cannot send this file to a person or release it. Save the document "
            "again without them (print it to a new PDF, or export the figures as PNG)")
