"""Reading output files into frames, refusing malformed ones with a clear reason."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from statbarn.errors import (
    DeclaredSizeError,
    DuplicateHeaderError,
    EmptyInputError,
    MalformedTableError,
    UnsupportedError,
)
from statbarn.wording import counted, csv_problem, mb

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None}
PARQUET_MAGIC = b"PAR1"

# Small tables in the plainest form are built from the rows already parsed for the
# strict checks (pandas' read_csv costs about a millisecond, whatever the size), with
# exactly the frame read_csv gives them; anything else goes to read_csv.
SIMPLE_MAX_CHARS = 1 << 20
_INT = re.compile(r"-?[0-9]{1,18}")
_FLOAT = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]{1,4}))?")
# Words read_csv turns into something else than text: its missing values, infinity,
# not-a-number and booleans (compared in lower case: stricter than read_csv).
_NOT_TEXT = frozenset({
    "", "#n/a", "#n/a n/a", "#na", "-1.#ind", "-1.#qnan", "-nan", "1.#ind", "1.#qnan",
    "<na>", "n/a", "na", "null", "nan", "none", "inf", "infinity", "true", "false",
})


def sniff_kind(path: Path, head: bytes) -> str:
    """'parquet', 'csv', 'tsv' or 'other', from content first and the suffix second."""
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if b"\x00" in head:
        return "other"
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".tab"):
        return "tsv" if suffix != ".csv" else "csv"
    return "other"


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedTableError(
            f"{path.name}: not UTF-8 text (byte {exc.start}); save the table as UTF-8 CSV"
        ) from None


def read_delimited(
    path: Path, delimiter: str, header_rows: int = 1, index_cols: int | None = None
) -> pd.DataFrame:
    """Parse a CSV/TSV strictly: every row the same width, unique header names."""
    data = path.read_bytes()
    if not data.strip():
        raise EmptyInputError(f"{path.name}: the file is empty")
    text = _decode(data, path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    width = None
    headers: list[list[str]] = []
    # The rows, kept only for a small table that may be simple (see _simple_frame).
    rows: list[list[str]] | None = (
        [] if header_rows == 1 and index_cols in (None, 1) and len(text) <= SIMPLE_MAX_CHARS
        and '"' not in text and "\r" not in text else None
    )
    try:
        for lineno, row in enumerate(reader, start=1):
            if not row:
                continue
            if width is None:
                width = len(row)
                hint = _other_delimiter(row, delimiter)
                if width == 1 and hint:
                    raise MalformedTableError(f"{path.name}: {hint}")
            elif len(row) != width:
                hint = _other_delimiter(headers[0] if headers else row, delimiter)
                raise MalformedTableError(
                    f"{path.name}: line {lineno} has {counted(len(row), 'field')} but the "
                    f"header has {counted(width, 'field')}" + (f"; {hint}" if hint else "")
                )
            if len(headers) < header_rows:
                headers.append(row)
            elif rows is not None:
                rows.append(row)
    except csv.Error as exc:
        raise MalformedTableError(
            f"{path.name}: not a valid CSV file (line {reader.line_num}): {csv_problem(exc)}"
        ) from None
    if width is None or not headers:
        raise EmptyInputError(f"{path.name}: the file is empty")
    if header_rows == 1:
        names = [h.strip() for h in headers[0]]
        seen: set[str] = set()
        for name in names:
            if name and name in seen:
                raise DuplicateHeaderError(
                    f"{path.name}: the column name '{name}' appears more than once; "
                    "give every column a unique name"
                )
            seen.add(name)
    simple = _simple_frame(headers[0], rows, index_cols) if rows else None
    if simple is not None:
        return simple
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=list(range(header_rows)) if header_rows > 1 else 0,
            index_col=list(range(index_cols)) if index_cols else None,
            skip_blank_lines=True,
            keep_default_na=True,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise MalformedTableError(f"{path.name}: cannot be read as a table: {exc}") from None
    if frame.shape[0] == 0 and header_rows == 1 and index_cols is None:
        raise EmptyInputError(f"{path.name}: the table has a header but no rows")
    return frame


# A delimiter: (one, several) in words.
_DELIMITERS = {";": ("semicolon (;)", "semicolons (;)"), "\t": ("tab", "tabs"),
               "|": ("vertical bar (|)", "vertical bars (|)"), ",": ("comma", "commas (,)")}


def _other_delimiter(header: list[str], delimiter: str) -> str | None:
    """When the header is one field holding another delimiter: which one, in words."""
    if len(header) != 1:
        return None
    ours = _DELIMITERS.get(delimiter, (repr(delimiter), repr(delimiter)))
    for other, (one, several) in _DELIMITERS.items():
        n = header[0].count(other)
        if other != delimiter and n:
            return (f"the header has no {ours[0]} but {counted(n, one, several)}: the file "
                    f"seems to be separated by {several}; save it with {ours[1]} between "
                    "the fields")
    return None


def _column(cells: list[str]) -> np.ndarray | None:
    """The column as read_csv infers it, when that is certain: whole numbers (int64);
    numbers of at most 15 significant digits and empty cells (float64: read_csv's
    parser is exact on those, as Python's is on all); or text that no cell can be
    taken for a number, a boolean or a missing value (object).  Else None."""
    if all(_INT.fullmatch(c) for c in cells):
        return np.array([int(c) for c in cells], dtype=np.int64)
    if cells[0][:1].isalpha():
        if all(c[:1].isalpha() and c == c.strip() and c.lower() not in _NOT_TEXT
               for c in cells):
            return np.array(cells, dtype=object)
        return None
    values = np.empty(len(cells), dtype=np.float64)
    for i, c in enumerate(cells):
        if not c:
            values[i] = np.nan
            continue
        m = _FLOAT.fullmatch(c)
        if m is None:
            return None
        whole, frac, exp = m.group(1), m.group(2) or "", m.group(3)
        if len(whole) + len(frac) > 15 or abs(int(exp or 0) - len(frac)) > 22:
            return None
        values[i] = float(c)
    return values


def _simple_frame(
    header: list[str], rows: list[list[str]], index_cols: int | None
) -> pd.DataFrame | None:
    """read_csv's frame of a small, plain table (one header row, at most one index column,
    no quotes), built from the parsed rows; None when read_csv must decide."""
    if len(set(header)) < len(header) or any(
        name != name.strip() or name.startswith("Unnamed") or (not name and j)
        for j, name in enumerate(header)
    ):
        return None  # read_csv renames duplicate and missing names
    columns = []
    for j in range(len(header)):
        col = _column([row[j] for row in rows])
        if col is None:
            return None
        columns.append(col)
    if index_cols is None:
        if not header[0] or header[0].startswith("Unnamed"):
            return None
        return pd.DataFrame(dict(zip(header, columns, strict=True)))
    if columns[0].dtype != object or header[0].startswith("Unnamed") or len(header) < 2:
        return None
    index = pd.Index(columns[0], dtype=object, name=header[0] or None)
    return pd.DataFrame(dict(zip(header[1:], columns[1:], strict=True)), index=index)


# What a Parquet file may declare in its footer before any of it is read: an 11 KB
# file can declare hundreds of millions of rows (a dictionary or run-length bomb), so
# the footer is read first and the table only when it fits.
MAX_PARQUET_ROWS = 1_000_000
MAX_PARQUET_COLUMNS = 1_000
MAX_PARQUET_CELLS = 10_000_000
MAX_PARQUET_BYTES = 256 * 1024**2  # declared uncompressed size of every column chunk
MAX_PARQUET_FOOTER = 16 * 1024**2


def check_parquet_footer(path: Path) -> None:
    """Refuse, from the footer alone, a Parquet file that declares more than is read."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UnsupportedError(
            "reading Parquet needs pyarrow (pip install 'tre[parquet]')"
        ) from None
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(size - 8, 0))
        tail = fh.read(8)
    footer = int.from_bytes(tail[:4], "little") if len(tail) == 8 else 0
    if tail[4:] != PARQUET_MAGIC or footer <= 0 or footer > size - 12:
        raise MalformedTableError(f"{path.name}: not a readable Parquet file (its footer is "
                                  "missing or damaged)")
    if footer > MAX_PARQUET_FOOTER:
        raise DeclaredSizeError(
            f"{path.name}: its Parquet footer is {mb(footer)}, more than the "
            f"{mb(MAX_PARQUET_FOOTER)} the airlock reads; write fewer row groups or columns"
        )
    try:
        meta = pq.ParquetFile(path).metadata
    except Exception as exc:  # pyarrow raises many unrelated types for corrupt footers
        if isinstance(exc, MemoryError):
            raise
        raise MalformedTableError(f"{path.name}: not a readable Parquet file: {exc}") from None
    rows, cols = meta.num_rows, meta.num_columns
    groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
    if rows < 0 or sum(g.num_rows for g in groups) != rows:
        raise MalformedTableError(f"{path.name}: its Parquet footer is inconsistent (the row "
                                  "groups do not add up to the rows it declares)")
    declared = sum(g.column(j).total_uncompressed_size for g in groups
                   for j in range(g.num_columns))
    what = ""
    if rows > MAX_PARQUET_ROWS:
        what = f"{rows:,} rows (at most {MAX_PARQUET_ROWS:,})"
    elif cols > MAX_PARQUET_COLUMNS:
        what = f"{cols:,} columns (at most {MAX_PARQUET_COLUMNS:,})"
    elif rows * cols > MAX_PARQUET_CELLS:
        what = f"{rows * cols:,} cells (at most {MAX_PARQUET_CELLS:,})"
    elif declared > MAX_PARQUET_BYTES:
        what = f"{mb(declared)} of uncompressed data (at most {mb(MAX_PARQUET_BYTES)})"
    if what:
        raise DeclaredSizeError(
            f"{path.name}: the Parquet file declares {what} in a file of {mb(size)}, more "
            "than is read for checking; an output table is far smaller: export the "
            "aggregated table, or split row-level data and ask a checker first"
        )


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a Parquet table, after :func:`check_parquet_footer` has bounded its size."""
    check_parquet_footer(path)
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise UnsupportedError(
            "reading Parquet needs pyarrow (pip install 'tre[parquet]')"
        ) from None
    except MemoryError:  # the sandbox's limit: not a damaged file
        raise
    except Exception as exc:  # pyarrow raises many unrelated types for corrupt files
        raise MalformedTableError(f"{path.name}: not a readable Parquet file: {exc}") from None
    if frame.shape[0] == 0:
        raise EmptyInputError(f"{path.name}: the table has no rows")
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise DuplicateHeaderError(f"{path.name}: the column name '{dup}' appears more than once")
    return frame
