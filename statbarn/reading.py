"""Reading output files into frames, refusing malformed ones with a clear reason."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from statbarn.errors import (
    DuplicateHeaderError,
    EmptyInputError,
    MalformedTableError,
    UnsupportedError,
)

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
            elif len(row) != width:
                raise MalformedTableError(
                    f"{path.name}: line {lineno} has {len(row)} fields but the header has {width}"
                )
            if len(headers) < header_rows:
                headers.append(row)
            elif rows is not None:
                rows.append(row)
    except csv.Error as exc:
        raise MalformedTableError(f"{path.name}: not a valid CSV file: {exc}") from None
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


def read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise UnsupportedError(
            "reading Parquet needs pyarrow (pip install 'tre[parquet]')"
        ) from None
    except Exception as exc:  # pyarrow raises many unrelated types for corrupt files
        raise MalformedTableError(f"{path.name}: not a readable Parquet file: {exc}") from None
    if frame.shape[0] == 0:
        raise EmptyInputError(f"{path.name}: the table has no rows")
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()][0]
        raise DuplicateHeaderError(f"{path.name}: the column name '{dup}' appears more than once")
    return frame
