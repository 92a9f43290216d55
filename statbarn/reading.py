"""Reading output files into frames, refusing malformed ones with a clear reason."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from statbarn.errors import (
    DuplicateHeaderError,
    EmptyInputError,
    MalformedTableError,
    UnsupportedError,
)

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None}
PARQUET_MAGIC = b"PAR1"


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
