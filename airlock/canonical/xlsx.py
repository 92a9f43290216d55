"""Spreadsheets: refused when they hold what Excel does not show.

A spreadsheet is a zip of XML parts.  A checker who opens it sees the visible
sheets' cells.  What they do not see: hidden and *very hidden* sheets (the
latter cannot even be unhidden from Excel's menus), hidden rows and columns,
values formatted away (``;;;``), defined names (a name can hold any text),
custom XML parts, external links, pivot caches (a row-by-row copy of a pivot
table's source data), embedded files, comments, connections, printer settings
(binary), and macros.

Choice: such a spreadsheet is **refused**, naming what was found, rather than
converted to one CSV per visible sheet.  A conversion would silently change what
the researcher asked to release (one file becomes several, formatting and
layout go, and the checker would review files the researcher never saw); and
a CSV is what the researcher can export themselves in a minute, with the sheet
they mean.  The airlock knows every part a plain workbook is made of
(:data:`_PLAIN`), so anything else is refused too, by name.

Shared strings no cell refers to are refused too (text in the file no sheet
shows).  Not verified: cells far outside the used range, white-on-white text,
conditional formats and data-validation lists.  A person reviews every
spreadsheet (statbarn does not check them).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from airlock.canonical.errors import CanonicalRefused

MAX_PART = 16 * 1024**2  # largest workbook.xml / styles.xml parsed
CHUNK = 1 << 20
_PLAIN = re.compile(
    r"^(\[Content_Types\]\.xml|_rels/\.rels|docProps/(core|app)\.xml|xl/workbook\.xml|"
    r"xl/_rels/workbook\.xml\.rels|xl/styles\.xml|xl/sharedStrings\.xml|xl/calcChain\.xml|"
    r"xl/theme/theme\d+\.xml|xl/worksheets/sheet\d+\.xml|"
    r"xl/worksheets/_rels/sheet\d+\.xml\.rels)$")
_PARTS: tuple[tuple[str, str], ...] = (
    ("customxml/", "custom XML parts (data stored in the file that Excel does not show)"),
    ("xl/externallinks/", "external links (references to other workbooks)"),
    ("xl/pivotcache/", "a pivot cache (a row-by-row copy of a pivot table's source data)"),
    ("xl/pivottables/", "a pivot table (with its cache of the source data)"),
    ("xl/embeddings/", "embedded files (OLE objects)"),
    ("xl/media/", "images"),
    ("xl/drawings/", "drawings or images"),
    ("xl/charts/", "charts (export them as PNG)"),
    ("xl/chartsheets/", "chart sheets (export them as PNG)"),
    ("xl/comments", "cell comments"),
    ("xl/threadedcomments/", "cell comments"),
    ("xl/persons/", "comment authors"),
    ("xl/connections.xml", "data connections"),
    ("xl/querytables/", "queries"),
    ("xl/printersettings/", "printer settings (binary data no one sees)"),
    ("xl/activex/", "ActiveX controls"),
    ("xl/ctrlprops/", "form controls"),
    ("xl/macrosheets/", "Excel 4 macro sheets"),
    ("xl/dialogsheets/", "dialog sheets"),
    ("xl/vbaproject.bin", "macros"),
    ("docprops/custom.xml", "custom document properties"),
)
_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_SHARED_REF = re.compile(rb"<(?:\w+:)?c\b[^>]*\bt=\"s\"[^>]*>\s*<(?:\w+:)?v>(\d+)<")
_SI = re.compile(rb"<(?:\w+:)?si[\s>/]")
_HIDDEN_ROW_COL = re.compile(rb"<(?:\w+:)?(row|col)\b[^>]*\bhidden=\"(?:1|true)\"")
_REFERENCE = re.compile(r"^(?:'[^']+'|[A-Za-z0-9_.]+)!\$?[A-Z]{1,3}\$?\d*(?::\$?[A-Z]{1,3}\$?\d*)?"
                        r"(?:,(?:'[^']+'|[A-Za-z0-9_.]+)!\$?[A-Z]{1,3}\$?\d*"
                        r"(?::\$?[A-Z]{1,3}\$?\d*)?)*$")


def _xml(zf: zipfile.ZipFile, part: str, name: str) -> ElementTree.Element | None:
    try:
        info = zf.getinfo(part)
    except KeyError:
        return None
    if info.file_size > MAX_PART:
        raise CanonicalRefused(f"{name}: its part {part} is larger than "
                               f"{MAX_PART // 1024**2} MB; export the tables as CSV")
    data = zf.read(info)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise CanonicalRefused(f"{name}: its part {part} declares XML entities, which Excel "
                               "never writes (an entity expansion bomb?); export the tables "
                               "as CSV")
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise CanonicalRefused(f"{name} is a damaged spreadsheet ({part}: {exc})") from None


def _parts(names: list[str]) -> list[str]:
    found: dict[str, None] = {}
    for part in names:
        if part.endswith("/") or _PLAIN.match(part):
            continue
        low = part.lower()
        what = next((w for prefix, w in _PARTS if low.startswith(prefix)), None)
        found.setdefault(what or f"a part the airlock does not recognise ({part[:80]})")
    return list(found)


def _workbook(zf: zipfile.ZipFile, name: str) -> list[str]:
    found: list[str] = []
    root = _xml(zf, "xl/workbook.xml", name)
    if root is None:
        return found
    hidden = [(s.get("name", "?"), s.get("state")) for s in root.iter(f"{_NS}sheet")
              if s.get("state") in ("hidden", "veryHidden")]
    very = [n for n, st in hidden if st == "veryHidden"]
    plain = [n for n, st in hidden if st == "hidden"]
    if very:
        found.append(f"very hidden sheet(s) {', '.join(repr(n) for n in very[:5])} (Excel's "
                     "menus cannot even unhide them)")
    if plain:
        found.append(f"hidden sheet(s) {', '.join(repr(n) for n in plain[:5])}")
    names = []
    for dn in root.iter(f"{_NS}definedName"):
        label, value = dn.get("name", "?"), (dn.text or "").strip()
        if label.startswith("_xlnm.") and _REFERENCE.match(value):
            continue  # a print area or filter range: a reference, no text of its own
        names.append(label)
    if names:
        found.append(f"defined name(s) {', '.join(repr(n) for n in names[:5])} (a name can "
                     "hold text no cell shows)")
    if any(v.get("visibility") in ("hidden", "veryHidden")
           for v in root.iter(f"{_NS}workbookView")):
        found.append("a hidden workbook window")
    return found


def _sheets(zf: zipfile.ZipFile, names: list[str]) -> tuple[list[str], set[int]]:
    """Hidden rows or columns, and the shared strings the cells refer to (read in chunks;
    a tag cut by a chunk's end is found in the next, which starts with the last 256 bytes)."""
    found: list[str] = []
    used: set[int] = set()
    for part in names:
        if not re.match(r"^xl/worksheets/sheet\d+\.xml$", part):
            continue
        tail, hidden = b"", False
        with zf.open(part) as fh:
            while block := fh.read(CHUNK):
                text = tail + block
                if not hidden and (m := _HIDDEN_ROW_COL.search(text)) is not None:
                    found.append(f"hidden {m.group(1).decode()}s ({part})")
                    hidden = True
                used.update(int(i) for i in _SHARED_REF.findall(text))
                tail = text[-256:]
    return found, used


def _unreferenced_strings(zf: zipfile.ZipFile, used: set[int]) -> list[str]:
    """Shared strings no cell refers to: text in the file that no sheet shows."""
    try:
        info = zf.getinfo("xl/sharedStrings.xml")
    except KeyError:
        return []
    count, tail = 0, b""
    with zf.open(info) as fh:
        while block := fh.read(CHUNK):
            text = tail + block
            cut = max(0, len(text) - 8)  # an <si> cut at the end is counted next time
            count += len(_SI.findall(text, 0, cut))
            tail = text[cut:]
    count += len(_SI.findall(tail))
    unused = count - len({i for i in used if 0 <= i < count})
    return [f"{unused:,} shared string(s) that no cell shows"] if unused > 0 else []


def _styles(zf: zipfile.ZipFile, name: str) -> list[str]:
    root = _xml(zf, "xl/styles.xml", name)
    if root is None:
        return []
    codes = [f.get("formatCode", "").replace(" ", "") for f in root.iter(f"{_NS}numFmt")]
    if any(c in (";;", ";;;") for c in codes):
        return ["a number format that hides its cells' values (;;;)"]
    return []


def check_xlsx(path: Path, name: str) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            hidden, used = _sheets(zf, names)
            found = [*_parts(names), *_workbook(zf, name), *_styles(zf, name), *hidden,
                     *_unreferenced_strings(zf, used)]
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise CanonicalRefused(f"{name} is a damaged spreadsheet ({exc})") from None
    if found:
        raise CanonicalRefused(
            f"{name} holds {'; '.join(found)}. A checker opening it in Excel would not see "
            "these, so it cannot be exported as it is: export each table you mean to release "
            "as CSV (one file per table), which is also checked automatically")
