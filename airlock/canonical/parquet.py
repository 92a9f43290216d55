"""Parquet, rewritten from the checked table.

A Parquet file's footer carries key-value metadata (file-wide and per column)
that no table viewer shows: pandas' own schema, Arrow's, and anything a writer
puts there (a thousand patient records fit easily).  Unused dictionary values of
a categorical column are invisible too.  The canonical copy is written from the
table the airlock read (the same frame the checks judge, re-read from the copy),
with no key-value metadata, no Arrow schema, no statistics and no categoricals:
what a viewer shows is all there is.

The table is read by :func:`statbarn.reading.read_parquet` under the limits the
check applies to any Parquet file; nothing here reads the submitted file's data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from airlock.canonical.errors import CanonicalRefused
from airlock.canonical.result import Canonical


def _metadata_keys(path: Path) -> tuple[list[str], int]:
    """The footer's file-level key-value metadata keys, and how many columns carry their
    own (read from the footer only)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
        schema = pq.read_schema(path)
    except Exception:  # pyarrow raises many types for damaged footers
        return [], 0
    keys = sorted(k.decode("utf-8", "replace") for k in (meta.metadata or {}))
    per_column = sum(1 for f in schema if f.metadata)
    return keys, per_column


def rewrite(frame: pd.DataFrame, source: Path, name: str, work: Path) -> Canonical:
    """Write ``frame`` as a plain Parquet file (no metadata) in ``work``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = frame
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        table = frame.reset_index()  # a labelled index becomes a visible column
    table = table.copy()
    for col in table.columns:
        if isinstance(table[col].dtype, pd.CategoricalDtype):  # unused categories go
            table[col] = table[col].astype(table[col].cat.categories.dtype)
    try:
        arrow = pa.Table.from_pandas(table, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise CanonicalRefused(f"{name}: the airlock cannot rewrite this table without its "
                               f"hidden metadata ({exc}); export it as CSV") from None
    flat = [f for f in arrow.schema if pa.types.is_nested(f.type) or pa.types.is_binary(f.type)
            or pa.types.is_large_binary(f.type) or pa.types.is_fixed_size_binary(f.type)]
    if flat:
        raise CanonicalRefused(
            f"{name}: column {flat[0].name!r} holds {flat[0].type} values (lists, records or "
            "raw bytes in one cell), which a table viewer shows only in part; export a flat "
            "table of numbers and labels")
    arrow = arrow.replace_schema_metadata(None)
    arrow = pa.Table.from_arrays(arrow.columns, schema=pa.schema(
        [pa.field(f.name, f.type, f.nullable) for f in arrow.schema]))
    out = work / f"canonical-{source.name}"
    pq.write_table(arrow, out, store_schema=False, write_statistics=False,
                   use_dictionary=False, compression="snappy")
    keys, per_column = _metadata_keys(source)
    removed = []
    if keys:
        shown = ", ".join(repr(k) for k in keys[:5]) + (" ..." if len(keys) > 5 else "")
        removed.append(f"the footer's key-value metadata ({len(keys)} key(s): {shown}), "
                       "which a table viewer does not show")
    if per_column:
        removed.append(f"key-value metadata of {per_column} column(s)")
    return Canonical(out, "rewritten from the checked table, without metadata", removed)
