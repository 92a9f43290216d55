"""Parser bombs, made deterministically (issue 11): small files that declare, or decode
to, far more than they weigh.  Used by the limit tests and benchmarks/bench_bombs.py."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROWS = 300_000_000


def parquet_row_bomb(path: Path, rows: int = ROWS) -> Path:
    """Under 1 KB on disk, ``rows`` declared (one all-null column, one page)."""
    table = pa.table({"x": pa.nulls(rows, pa.int8())})
    pq.write_table(table, path, row_group_size=rows, data_page_size=1 << 30,
                   max_rows_per_page=rows, write_batch_size=rows, compression="zstd",
                   write_statistics=False)
    return path


def parquet_dictionary_bomb(path: Path, rows: int = 100_000, width: int = 8000) -> Path:
    """An honest footer (``rows`` rows, 2 columns, about 1 MB declared) that decodes to
    ``rows * width`` bytes: one long label, dictionary-encoded."""
    labels = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()),
                                            pa.array(["x" * width]))
    table = pa.table({"region": labels, "count": pa.array([12] * rows, pa.int64())})
    pq.write_table(table, path, compression="zstd", store_schema=False)
    return path


def png_pixel_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A PNG whose header declares width x height pixels, with one tiny IDAT chunk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b""))


def deep_json(depth: int = 100_000) -> bytes:
    """Valid JSON nested ``depth`` lists deep."""
    return b"[" * depth + b"]" * depth


def expanding_xlsx(size: int = 200_000_000) -> bytes:
    """A spreadsheet whose one sheet part inflates ``size`` bytes of spaces."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as part:
            block = b" " * (1 << 20)
            for _ in range(size // len(block)):
                part.write(block)
    return buf.getvalue()
