"""Factory helpers for tests: build domain objects with sensible defaults.

Each helper takes keyword overrides for the fields a test cares about, so tests
say only what matters to them.  Grows with the airlock (requests, files, votes)
and workspace issues.
"""

from __future__ import annotations

from pathlib import Path


def write_csv(path: Path, rows: list[list[object]]) -> Path:
    """Write ``rows`` (the first is the header) as a CSV file and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(",".join(str(v) for v in row) for row in rows) + "\n")
    return path


def count_table(
    path: Path, cells: dict[str, dict[str, int]] | None = None, index_name: str = "region"
) -> Path:
    """A count table CSV: one row per row label, one column per column label.

    ``cells`` maps row label -> column label -> count; the default is a 2x2 table
    with every cell well above the threshold.
    """
    cells = cells or {"North": {"F": 25, "M": 31}, "South": {"F": 40, "M": 18}}
    columns = list(next(iter(cells.values())))
    rows: list[list[object]] = [[index_name, *columns]]
    rows += [[label, *(values[c] for c in columns)] for label, values in cells.items()]
    return write_csv(path, rows)
