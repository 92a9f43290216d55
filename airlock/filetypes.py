"""What a file is, from its content (never its name alone), and whether it may leave.

Allowed: CSV/TSV, Parquet, XLSX, JSON, plain text and Markdown, PNG/JPEG/SVG,
PDF and Jupyter notebooks.  Refused, with a reason the researcher can act on:
archives (a zip that is not a spreadsheet, tar, gzip, 7z, ...), executables and
scripts, HTML (it can run code in a browser), anything unrecognised, spreadsheet
formulas, and a name whose extension contradicts the content (``evil.exe``
holding CSV text would be opened by the wrong program after release).

Memory stays bounded: files are read in chunks; only JSON up to a limit is parsed.
"""

from __future__ import annotations

import codecs
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from airlock import formulas
from airlock.formulas import FormulaRefused, Refused, looks_like_formula
from statbarn.fileio import loads_json
from statbarn.wording import character, mb

CHUNK = 1 << 16
HEAD = 8192
MAX_XLSX_UNCOMPRESSED = 256 * 1024**2
MAX_ZIP_PARTS = 10_000
MAX_ZIP_RATIO = 200  # real spreadsheet XML compresses 10-50 times


class Kind(StrEnum):
    CSV = "csv"
    TSV = "tsv"
    PARQUET = "parquet"
    XLSX = "xlsx"
    JSON = "json"
    TEXT = "text"
    MARKDOWN = "markdown"
    PNG = "png"
    JPEG = "jpeg"
    SVG = "svg"
    PDF = "pdf"
    NOTEBOOK = "notebook"


MEDIA_TYPES: dict[Kind, str] = {
    Kind.CSV: "text/csv",
    Kind.TSV: "text/tab-separated-values",
    Kind.PARQUET: "application/vnd.apache.parquet",
    Kind.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Kind.JSON: "application/json",
    Kind.TEXT: "text/plain",
    Kind.MARKDOWN: "text/markdown",
    Kind.PNG: "image/png",
    Kind.JPEG: "image/jpeg",
    Kind.SVG: "image/svg+xml",
    Kind.PDF: "application/pdf",
    Kind.NOTEBOOK: "application/x-ipynb+json",
}
EXTENSIONS: dict[Kind, tuple[str, ...]] = {
    Kind.CSV: (".csv",),
    Kind.TSV: (".tsv", ".tab"),
    Kind.PARQUET: (".parquet", ".pq"),
    Kind.XLSX: (".xlsx",),
    Kind.JSON: (".json",),
    Kind.TEXT: (".txt", ".log"),
    Kind.MARKDOWN: (".md", ".markdown"),
    Kind.PNG: (".png",),
    Kind.JPEG: (".jpg", ".jpeg"),
    Kind.SVG: (".svg",),
    Kind.PDF: (".pdf",),
    Kind.NOTEBOOK: (".ipynb",),
}
_BY_EXTENSION = {ext: kind for kind, exts in EXTENSIONS.items() for ext in exts}
TABLE_KINDS = frozenset({Kind.CSV, Kind.TSV, Kind.PARQUET})
TEXT_KINDS = frozenset({Kind.CSV, Kind.TSV, Kind.TEXT, Kind.MARKDOWN, Kind.JSON})

# Signatures of things that must not leave: (magic, offset, reason).
_REFUSED_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x1f\x8b", 0, "a gzip archive"),
    (b"BZh", 0, "a bzip2 archive"),
    (b"\xfd7zXZ\x00", 0, "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "a 7-Zip archive"),
    (b"Rar!\x1a\x07", 0, "a RAR archive"),
    (b"\x28\xb5\x2f\xfd", 0, "a Zstandard archive"),
    (b"\x04\x22\x4d\x18", 0, "an LZ4 archive"),
    (b"LZIP", 0, "an lzip archive"),
    (b"MSCF", 0, "a cabinet archive"),
    (b"!<arch>\n", 0, "an ar archive"),
    (b"070701", 0, "a cpio archive"),
    (b"070707", 0, "a cpio archive"),
    (b"ustar", 257, "a tar archive"),
    (b"\x7fELF", 0, "an executable (ELF)"),
    (b"MZ", 0, "a Windows executable"),
    (b"\xfe\xed\xfa\xce", 0, "an executable (Mach-O)"),
    (b"\xfe\xed\xfa\xcf", 0, "an executable (Mach-O)"),
    (b"\xce\xfa\xed\xfe", 0, "an executable (Mach-O)"),
    (b"\xcf\xfa\xed\xfe", 0, "an executable (Mach-O)"),
    (b"\xca\xfe\xba\xbe", 0, "an executable (Mach-O universal or Java class)"),
    (b"\x00asm", 0, "a WebAssembly module"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "a legacy Office or installer file (it can "
     "carry macros); save tables as CSV or XLSX"),
    (b"SQLite format 3\x00", 0, "a database file"),
)




@dataclass(frozen=True)
class Detected:
    kind: Kind

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.kind]

    @property
    def is_table(self) -> bool:
        return self.kind in TABLE_KINDS


def extension(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def _read_head_tail(path: Path) -> tuple[bytes, bytes, int]:
    with open(path, "rb") as fh:
        head = fh.read(HEAD)
        size = fh.seek(0, 2)
        fh.seek(max(size - 8, 0))
        tail = fh.read(8)
    return head, tail, size


def detect(path: Path, name: str, *, max_parse_bytes: int) -> Detected:
    """The kind of ``path`` (uploaded as ``name``), or :class:`Refused` with the reason."""
    head, tail, size = _read_head_tail(path)
    if size == 0:
        raise Refused(f"{name} is empty")
    kind = _binary_kind(path, name, head, tail) or _text_kind(path, name, head, size,
                                                               max_parse_bytes)
    _check_extension(name, kind)
    from airlock.canonical import refuse_hidden  # (airlock.canonical imports this module)

    refuse_hidden(path, name, kind)  # content a viewer does not show, and no canonical form
    if kind in (Kind.CSV, Kind.TSV):
        formulas.check_delimited(path, name, "\t" if kind is Kind.TSV else ",")
    elif kind is Kind.XLSX:
        formulas.check_xlsx(path, name)
    return Detected(kind)


def _binary_kind(path: Path, name: str, head: bytes, tail: bytes) -> Kind | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Kind.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return Kind.JPEG
    if head.startswith(b"%PDF-"):
        return Kind.PDF
    if head.startswith(b"PAR1"):
        if not tail.endswith(b"PAR1"):
            raise Refused(f"{name} starts like a Parquet file but is truncated or damaged")
        return Kind.PARQUET
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _zip_kind(path, name)
    for magic, offset, what in _REFUSED_MAGIC:
        if head[offset:offset + len(magic)] == magic:
            raise Refused(f"{name} is {what}; archives and executables cannot be exported")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Refused(f"{name} is UTF-16 text; save it as UTF-8")
    return None


# Office documents the airlock does not export, by a part only they have.
def _zip_kind(path: Path, name: str) -> Kind:
    """A zip that is a spreadsheet, within declared sizes; refused otherwise.

    The declared sizes bound what is read: Python's zipfile stops each part at its
    declared size and refuses a part whose content does not match its CRC, so a
    part cannot decompress to more than it declares."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise Refused(f"{name} is a damaged zip file") from None
    names = {i.filename for i in infos}
    if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
        if any(n.lower().endswith("vbaproject.bin") for n in names):
            raise Refused(f"{name} is a spreadsheet with macros (code that runs when it is "
                          "opened); save it as a plain workbook without macros, or export its "
                          "tables as CSV")
        _zip_sizes(name, infos)
        return Kind.XLSX
    from airlock.canonical.messages import zip_refusal

    raise Refused(zip_refusal(name, names))


def _zip_sizes(name: str, infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_ZIP_PARTS:
        raise Refused(f"{name} holds {len(infos):,} parts, more than the {MAX_ZIP_PARTS:,} a "
                      "spreadsheet the airlock reads may have; export its tables as CSV")
    total = sum(i.file_size for i in infos)
    if total > MAX_XLSX_UNCOMPRESSED:
        raise Refused(f"{name} expands to {mb(total)}, more than the "
                      f"{mb(MAX_XLSX_UNCOMPRESSED)} the airlock reads; export its tables as CSV")
    for i in infos:
        if i.file_size > MAX_ZIP_RATIO * max(i.compress_size, 1) and i.file_size > 1024**2:
            raise Refused(f"{name}: its part {i.filename[:80]!r} expands from "
                          f"{mb(i.compress_size)} to {mb(i.file_size)}, more than "
                          f"{MAX_ZIP_RATIO} times (a decompression bomb, or padding); export "
                          "its tables as CSV")


def _iter_text(path: Path, name: str) -> Iterator[str]:
    """Decode the whole file as UTF-8 in chunks, refusing binary content."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    offset = 0
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            if b"\x00" in block:
                raise Refused(f"{name} is not a recognised file type (binary content)")
            try:
                yield decoder.decode(block)
            except UnicodeDecodeError as exc:
                raise Refused(f"{name} is not a recognised file type: not UTF-8 text "
                              f"(byte {offset + exc.start})") from None
            offset += len(block)
        try:
            yield decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise Refused(f"{name} is not UTF-8 text: it ends in the middle of a character") \
                from None


def _text_kind(path: Path, name: str, head: bytes, size: int, max_parse: int) -> Kind:
    for _ in _iter_text(path, name):
        pass
    text = head.decode("utf-8-sig", errors="ignore").lstrip()
    lower = text[:2048].lower()
    if text.startswith("#!"):
        raise Refused(f"{name} is a script (it starts with #!); code cannot be exported")
    ext = extension(name)
    xml_like = lower.startswith(("<?xml", "<svg", "<!--", "<!doctype svg"))
    if ext == ".svg" or (xml_like and "<svg" in lower):  # before HTML: an SVG is not HTML
        return Kind.SVG
    if lower.startswith(("<!doctype html", "<html")) or "<script" in lower:
        raise Refused(f"{name} is HTML, which can run code in a browser; export a PDF, PNG "
                      "or Markdown instead")
    if text.startswith(("{", "[")) or ext in (".json", ".ipynb"):
        return _json_kind(path, name, size, max_parse, ext)
    if ext in _BY_EXTENSION and _BY_EXTENSION[ext] in TEXT_KINDS:
        return _BY_EXTENSION[ext]
    return _sniff_delimited(text)


def _json_kind(path: Path, name: str, size: int, max_parse: int, ext: str) -> Kind:
    if size > max_parse:  # too large to parse here: judged by its name, and a person looks
        return Kind.NOTEBOOK if ext == ".ipynb" else Kind.JSON
    try:
        data = loads_json(path.read_text(encoding="utf-8-sig"), name)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    if is_notebook(data):
        return Kind.NOTEBOOK
    if ext == ".ipynb":
        raise Refused(f"{name} is not a Jupyter notebook (nbformat 4 with cells)")
    return Kind.JSON


def is_notebook(data: Any) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("cells"), list)
            and isinstance(data.get("nbformat"), int) and data["nbformat"] >= 4)


def _sniff_delimited(text: str) -> Kind:
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(lines) >= 2:
        for delim, kind in (("\t", Kind.TSV), (",", Kind.CSV)):
            counts = {line.count(delim) for line in lines[:-1]}  # the last may be cut off
            if len(counts) == 1 and counts.pop() > 0:
                return kind
    return Kind.TEXT


def _check_extension(name: str, kind: Kind) -> None:
    ext = extension(name)
    if not ext or ext in EXTENSIONS[kind]:
        return
    if ext not in _BY_EXTENSION:
        odd = [ch for ch in ext[1:] if not ch.isascii()]  # a look-alike letter (Cyrillic с)
        if odd:
            looks = EXTENSIONS[kind][0]
            raise Refused(f"{name}: its extension {ext} holds {character(odd[0])}, not a "
                          f"plain letter, so it is not {looks} (the content is "
                          f"{kind.value}); rename it to end in {looks}")
        accepted = ", ".join(sorted(_BY_EXTENSION))
        raise Refused(f"{name}: files ending in {ext} cannot be exported (accepted: {accepted})")
    if kind in TEXT_KINDS and _BY_EXTENSION[ext] in TEXT_KINDS:
        return
    raise Refused(f"{name}: its name says {ext} but its content is {kind.value}; "
                  f"rename it to end in {EXTENSIONS[kind][0]}")


__all__ = ["EXTENSIONS", "MEDIA_TYPES", "Detected", "FormulaRefused", "Kind", "Refused", "detect",
           "extension", "is_notebook", "looks_like_formula"]
