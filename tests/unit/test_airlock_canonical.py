"""Canonical forms and hidden-content refusals, format by format (airlock.canonical)."""

from __future__ import annotations

import base64
import io
import json
import zipfile
import zlib
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pandas as pd
import pytest
from PIL import Image

from airlock.canonical import CanonicalRefused, ImageTooLarge, make, refuse_hidden
from airlock.canonical.messages import zip_refusal
from airlock.canonical.notebook import strip, visible_text
from airlock.canonical.parquet import rewrite
from airlock.filetypes import Kind, Refused, detect
from tests import hostile

pytestmark = pytest.mark.unit


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def refusal(tmp: Path, name: str, data: bytes, kind: Kind) -> str:
    with pytest.raises(CanonicalRefused) as err:
        refuse_hidden(write(tmp, name, data), name, kind)
    return str(err.value)


# ---- PDF --------------------------------------------------------------------------------------
def test_a_plain_pdf_passes_and_a_destination_openaction_is_not_an_action(tmp_path: Path
                                                                          ) -> None:
    refuse_hidden(write(tmp_path, "a.pdf", hostile.pdf_plain()), "a.pdf", Kind.PDF)
    opens_page = hostile.pdf_plain().replace(b"/Pages 2 0 R >>",
                                             b"/Pages 2 0 R /OpenAction [3 0 R /Fit] >>")
    refuse_hidden(write(tmp_path, "b.pdf", opens_page), "b.pdf", Kind.PDF)


def test_a_pdf_key_escaped_inside_a_compressed_object_stream_is_found(tmp_path: Path) -> None:
    data = hostile.pdf_js_in_object_stream()
    assert b"/JavaScript" not in data and b"/JS" not in data  # not visible in the raw bytes
    assert "JavaScript" in refusal(tmp_path, "a.pdf", data, Kind.PDF)


def test_pdf_bombs_and_trailing_bytes_are_refused(tmp_path: Path) -> None:
    comp = zlib.compress(b" " * (50 * 1024**2))  # 50 MB of spaces in ~50 KB
    bomb = hostile._pdf([b"<< /Type /Catalog /Pages 2 0 R >>", *hostile._PAGE,
                         b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
                         + str(len(comp)).encode() + b" >>\nstream\n" + comp + b"\nendstream"])
    assert "decompresses to more than" in refusal(tmp_path, "bomb.pdf", bomb, Kind.PDF)
    trailing = hostile.pdf_plain() + hostile.records(3).encode()
    assert "after the end of the PDF" in refusal(tmp_path, "t.pdf", trailing, Kind.PDF)
    lzw = hostile._pdf([b"<< /Type /Catalog /Pages 2 0 R >>", *hostile._PAGE,
                        b"<< /Type /ObjStm /Filter /LZWDecode /Length 3 >>\nstream\nabc"
                        b"\nendstream"])
    assert "compression the airlock cannot read" in refusal(tmp_path, "l.pdf", lzw, Kind.PDF)


def test_a_linearized_pdf_is_not_an_incremental_update(tmp_path: Path) -> None:
    plain = hostile.pdf_plain()
    linear = plain.replace(b"%PDF-1.7\n", b"%PDF-1.7\n%%EOF\n<< /Linearized 1 >>\n", 1)
    refuse_hidden(write(tmp_path, "l.pdf", linear), "l.pdf", Kind.PDF)
    assert "1 incremental update" in refusal(tmp_path, "u.pdf", hostile.pdf_incremental(),
                                             Kind.PDF)


# ---- Markdown and SVG ---------------------------------------------------------------------------
def test_markdown_data_uris_are_named_by_line_and_prose_is_not(tmp_path: Path) -> None:
    prose = b"# Notes\n\nThe data: 5 records, all counted.\nSee data:, never mind.\n"
    refuse_hidden(write(tmp_path, "ok.md", prose.replace(b"data:,", b"it")), "ok.md",
                  Kind.MARKDOWN)
    text = b"x\n" * 700_000 + b"![f](DATA:image/png;base64,iVBORw0KGgo=)\n"  # past a chunk
    assert "line 700001 holds a data: URI" in refusal(tmp_path, "m.md", text, Kind.MARKDOWN)


def test_svg_is_refused_as_svg_not_html(tmp_path: Path) -> None:
    path = write(tmp_path, "f.svg", hostile.svg_script())
    with pytest.raises(Refused) as err:
        detect(path, "f.svg", max_parse_bytes=1 << 20)
    assert "SVG drawing with a script" in str(err.value) and "HTML" not in str(err.value)
    assert "as PNG" in str(err.value)


# ---- spreadsheets -------------------------------------------------------------------------------
def _book(**kw: object) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["region", "n"])
    ws.append(["North", 20])
    if kw.get("hidden_row"):
        ws.row_dimensions[2].hidden = True
    if kw.get("print_area"):
        ws.print_area = "A1:B2"
    if kw.get("hide_format"):
        ws["B2"].number_format = ";;;"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_a_plain_spreadsheet_with_a_print_area_passes(tmp_path: Path) -> None:
    refuse_hidden(write(tmp_path, "a.xlsx", _book(print_area=True)), "a.xlsx", Kind.XLSX)


def test_hidden_rows_formats_and_unknown_parts_are_refused(tmp_path: Path) -> None:
    assert "hidden rows" in refusal(tmp_path, "a.xlsx", _book(hidden_row=True), Kind.XLSX)
    assert "(;;;)" in refusal(tmp_path, "b.xlsx", _book(hide_format=True), Kind.XLSX)
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_book())) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("xl/pivotCache/pivotCacheRecords1.xml", hostile.records(3))
    assert "pivot cache" in refusal(tmp_path, "c.xlsx", buf.getvalue(), Kind.XLSX)


@pytest.mark.parametrize(("part", "words"), [
    ("word/document.xml", "is a Word document"), ("ppt/presentation.xml", "PowerPoint"),
    ("other.txt", "unzip it and submit the files")])
def test_zip_based_files_are_named_for_what_they_are(part: str, words: str) -> None:
    message = zip_refusal("report.docx", ["[Content_Types].xml", part])
    assert words in message and "report.docx" in message


# ---- images -------------------------------------------------------------------------------------
def test_an_image_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    with pytest.raises(ImageTooLarge, match="at most 25 megapixels"):
        refuse_hidden(write(tmp_path, "b.png", hostile.png_bomb()), "b.png", Kind.PNG)


def test_a_jpeg_keeps_its_orientation_and_loses_its_exif(tmp_path: Path) -> None:
    im = Image.new("RGB", (30, 10), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes())
    work = tmp_path / "w"
    work.mkdir()
    canon = make(write(tmp_path, "p.jpg", buf.getvalue()), "p.jpg", Kind.JPEG, work, 1 << 20)
    assert canon is not None
    out = Image.open(canon.path)
    assert out.size == (10, 30) and not out.info.get("exif")
    assert canon.removed == ["EXIF metadata"]


def test_an_animated_png_and_a_palette_png(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:])
    work = tmp_path / "w"
    work.mkdir()
    with pytest.raises(CanonicalRefused, match="animated image \\(2 frames\\)"):
        make(write(tmp_path, "a.png", buf.getvalue()), "a.png", Kind.PNG, work, 1 << 20)
    pal = Image.new("P", (4, 4), 3)
    pal.putpalette([i % 256 for i in range(768)])
    buf = io.BytesIO()
    pal.save(buf, "PNG")
    canon = make(write(tmp_path, "p.png", buf.getvalue()), "p.png", Kind.PNG, work, 1 << 20)
    assert canon is not None
    assert Image.open(canon.path).convert("RGB").getpixel((0, 0)) == (9, 10, 11)


# ---- notebooks ----------------------------------------------------------------------------------
def test_a_notebook_keeps_what_the_review_page_shows() -> None:
    nb = {"nbformat": 4, "nbformat_minor": 4, "metadata": {"widgets": {}, "x": 1},
          "cells": [
              {"cell_type": "code", "metadata": {"jupyter": {"source_hidden": True}},
               "source": "df", "execution_count": 2, "outputs": [
                   {"output_type": "execute_result", "execution_count": 2, "metadata": {},
                    "data": {"text/html": "<table><!-- secret --></table>",
                             "text/plain": "   a\n0  1"}},
                   {"output_type": "error", "ename": "KeyError", "evalue": "'b'",
                    "traceback": ["secret frames"]}]},
              {"cell_type": "markdown", "metadata": {}, "source": "# Done",
               "attachments": {"a.png": {"image/png": "AAAA"}}}]}
    clean, removed = strip(nb, "n.ipynb")
    code, md = clean["cells"]
    assert code["metadata"] == {} and md["metadata"] == {} and "attachments" not in md
    assert code["outputs"][0]["data"] == {"text/plain": ["   a\n", "0  1"]}
    assert code["outputs"][1]["traceback"] == []
    assert clean["metadata"] == {}
    text = " ".join(removed)
    for words in ("widget state", "text/html output data", "error tracebacks",
                  "cell metadata", "cell attachments", "notebook metadata (x)"):
        assert words in text
    assert "secret" not in json.dumps(clean)
    assert visible_text(clean) == [("cell 1", "df"), ("cell 1, output 1", "   a\n0  1"),
                                   ("cell 1, output 2", "KeyError: 'b'"), ("cell 2", "# Done")]


def test_a_notebook_markdown_cell_with_a_data_uri_is_refused() -> None:
    data = base64.b64encode(b"x" * 30).decode()
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "markdown", "source": f"![a](data:image/png;base64,{data})"}]}
    with pytest.raises(CanonicalRefused, match="Markdown of cell 1 holds a data: URI"):
        strip(nb, "n.ipynb")


# ---- Parquet ------------------------------------------------------------------------------------
def test_parquet_keeps_a_labelled_index_and_drops_unused_categories(tmp_path: Path) -> None:
    frame = pd.DataFrame({"n": [20, 30]},
                         index=pd.CategoricalIndex(["North", "South"],
                                                   categories=["North", "South", "SECRET"],
                                                   name="region"))
    canon = rewrite(frame, tmp_path / "t.parquet", "t.parquet", tmp_path)
    back = pd.read_parquet(canon.path)
    assert list(back.columns) == ["region", "n"] and list(back["region"]) == ["North", "South"]
    assert b"SECRET" not in canon.path.read_bytes()


def test_sixteen_bit_grey_is_scaled_and_large_files_are_refused(tmp_path: Path) -> None:
    im = Image.new("I;16", (4, 4), 32768)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    work = tmp_path / "w"
    work.mkdir()
    path = write(tmp_path, "g.png", buf.getvalue())
    canon = make(path, "g.png", Kind.PNG, work, 1 << 20)
    assert canon is not None and Image.open(canon.path).getpixel((0, 0)) == 128
    with pytest.raises(CanonicalRefused, match="larger than 0 MB"):
        make(path, "g.png", Kind.PNG, work, 10)


def test_colours_under_full_transparency_are_cleared(tmp_path: Path) -> None:
    im = Image.new("RGBA", (4, 1), (0, 0, 0, 0))
    im.putpixel((0, 0), (72, 79, 83, 0))  # "HOS", invisible
    im.putpixel((1, 0), (10, 20, 30, 255))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    work = tmp_path / "w"
    work.mkdir()
    canon = make(write(tmp_path, "t.png", buf.getvalue()), "t.png", Kind.PNG, work, 1 << 20)
    assert canon is not None
    out = Image.open(canon.path)
    assert out.getpixel((0, 0)) == (0, 0, 0, 0) and out.getpixel((1, 0)) == (10, 20, 30, 255)
    assert "1 fully transparent pixel(s)" in canon.removed[-1]


def test_parquet_with_nested_cells_is_refused(tmp_path: Path) -> None:
    frame = pd.DataFrame({"region": ["North"], "n": [[1, 2, 3]]})
    with pytest.raises(CanonicalRefused, match="column 'n' holds list"):
        rewrite(frame, tmp_path / "t.parquet", "t.parquet", tmp_path)


def _with_shared_strings(strings: int, refs: list[int]) -> bytes:
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    cells = "".join(f'<c r="A{i + 1}" t="s"><v>{r}</v></c>' for i, r in enumerate(refs))
    sheet = f"<worksheet {ns}><sheetData><row r=\"1\">{cells}</row></sheetData></worksheet>"
    sst = f"<sst {ns}>" + "".join(f"<si><t>s{i}</t></si>" for i in range(strings)) + "</sst>"
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_book())) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            data = sheet.encode() if info.filename == "xl/worksheets/sheet1.xml" else \
                src.read(info)
            dst.writestr(info, data)
        dst.writestr("xl/sharedStrings.xml", sst)
    return buf.getvalue()


def test_shared_strings_no_cell_shows_are_refused(tmp_path: Path) -> None:
    refuse_hidden(write(tmp_path, "a.xlsx", _with_shared_strings(2, [0, 1, 1])), "a.xlsx",
                  Kind.XLSX)
    assert "1 shared string(s) that no cell shows" in refusal(
        tmp_path, "b.xlsx", _with_shared_strings(3, [0, 2]), Kind.XLSX)


def test_terminal_control_sequences_that_hide_text_are_removed() -> None:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "source": "print()", "outputs": [
            {"output_type": "stream", "name": "stdout",
             "text": "total 40\x1b[8m HIDDEN\x1b[0m\rok 41\x08\n"}]}]}
    clean, removed = strip(nb, "n.ipynb")
    assert clean["cells"][0]["outputs"][0]["text"] == ["total 40 HIDDEN\n", "ok 41\n"]
    assert any("terminal control characters" in r for r in removed)


def test_pdf_hidden_layers_and_notes_are_refused_and_procsets_are_not(tmp_path: Path) -> None:
    plain = hostile.pdf_plain()
    procset = plain.replace(b"/MediaBox", b"/Resources << /ProcSet [/PDF /Text] >> /MediaBox")
    refuse_hidden(write(tmp_path, "p.pdf", procset), "p.pdf", Kind.PDF)
    layers = plain.replace(b"/Pages 2 0 R >>", b"/Pages 2 0 R /OCProperties << /D << "
                           b"/OFF [5 0 R] >> >> >>")
    assert "layers switched off" in refusal(tmp_path, "l.pdf", layers, Kind.PDF)
    note = plain.replace(b"/MediaBox", b"/Annots [<< /Subtype /Text /Contents (x) >>] /MediaBox")
    assert "comments (notes" in refusal(tmp_path, "n.pdf", note, Kind.PDF)


def test_the_researcher_is_told_what_the_copy_leaves_out() -> None:
    from tre.cli_airlock import _summary

    req = {"id": "r1", "state": "in_review", "project": "p", "decision": None, "files": [
        {"name": "plot.png", "verdict": "escalate", "alternative": None,
         "canonical": {"made": "re-encoded from its pixels alone",
                       "removed": ["1 text chunk(s) (tEXt/zTXt/iTXt), which an image viewer "
                                   "does not show"]}}]}
    lines = _summary(req)
    assert lines[2].strip() == ("the airlock's copy (re-encoded from its pixels alone) leaves "
                                "out: 1 text chunk(s) (tEXt/zTXt/iTXt), which an image viewer "
                                "does not show")


def test_pdf_document_properties_and_xmp_of_record_size_are_refused(tmp_path: Path) -> None:
    short = hostile._pdf([b"<< /Type /Catalog /Pages 2 0 R >>", *hostile._PAGE,
                          b"<< /Title (Admissions \\(2026\\)) /Producer (matplotlib) >>"])
    refuse_hidden(write(tmp_path, "s.pdf", short), "s.pdf", Kind.PDF)
    keywords = hostile.records(60).replace("\n", " ").encode()
    long = hostile._pdf([b"<< /Type /Catalog /Pages 2 0 R >>", *hostile._PAGE,
                         b"<< /Keywords (" + keywords + b") >>"])
    assert "document property (Keywords)" in refusal(tmp_path, "k.pdf", long, Kind.PDF)
    xmp = zlib.compress(b"<x:xmpmeta>" + hostile.records(1500).encode() + b"</x:xmpmeta>")
    meta = hostile._pdf([b"<< /Type /Catalog /Pages 2 0 R /Metadata 5 0 R >>", *hostile._PAGE,
                         b"<< /Type /Metadata /Subtype /XML /Filter /FlateDecode /Length "
                         + str(len(xmp)).encode() + b" >>\nstream\n" + xmp + b"\nendstream"])
    assert len(meta) < 64 * 1024  # small on disk: it is the inflated size that counts
    assert "XMP metadata of more than 64 KB" in refusal(tmp_path, "x.pdf", meta, Kind.PDF)


def test_a_pdf_object_stream_cannot_hide_behind_a_fake_endstream(tmp_path: Path) -> None:
    """Stored (uncompressed) deflate blocks can hold any bytes, "endstream" included: the
    stream's own /Length decides where it ends, as it does for a reader."""
    inner = b"6 0 endstream << /S /JavaScript /JS (app.alert(1)) >>"
    comp = zlib.compressobj(0)  # level 0: stored blocks, the bytes as they are
    body = comp.compress(inner) + comp.flush()
    assert b"endstream" in body
    data = hostile._pdf([b"<< /Type /Catalog /Pages 2 0 R /Names 6 0 R >>", *hostile._PAGE,
                         b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
                         + str(len(body)).encode() + b" >>\nstream\n" + body + b"\nendstream"])
    assert "JavaScript" in refusal(tmp_path, "e.pdf", data, Kind.PDF)
    # and an object stream labelled as metadata is still read as an object stream
    labelled = data.replace(b"/Type /ObjStm", b"/Type /ObjStm /Metadata 9 0 R")
    assert "JavaScript" in refusal(tmp_path, "m.pdf", labelled, Kind.PDF)


def test_almost_transparent_pixels_keep_only_what_shows(tmp_path: Path) -> None:
    """Opacity rounded to 16 levels (multiples of 17), colour to what shows at it:
    (200, 100, 50) at 20/255 -> opacity 17; 200*17/255 = 13.3 -> 13 -> 13*15 = 195,
    100 -> 6.67 -> 7 -> 105, 50 -> 3.33 -> 3 -> 45.  8/255 rounds to 0: cleared."""
    im = Image.new("RGBA", (3, 1), (0, 0, 0, 0))
    im.putpixel((0, 0), (200, 100, 50, 20))
    im.putpixel((1, 0), (1, 2, 3, 8))
    im.putpixel((2, 0), (10, 20, 30, 255))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    work = tmp_path / "w"
    work.mkdir()
    canon = make(write(tmp_path, "t.png", buf.getvalue()), "t.png", Kind.PNG, work, 1 << 20)
    assert canon is not None
    out = Image.open(canon.path)
    assert [out.getpixel((x, 0)) for x in range(3)] == [
        (195, 105, 45, 17), (0, 0, 0, 0), (10, 20, 30, 255)]
    assert any("1 partly transparent pixel(s)" in r for r in canon.removed)
    assert "1 fully transparent pixel(s)" in canon.removed[-1]
