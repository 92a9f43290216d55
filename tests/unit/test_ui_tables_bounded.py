"""The review page parses only what it shows (issue 11: six concurrent views of an 8 MB
table took 1.1 GB): a large table is read up to the page's cell budget, and the rows
left unread are counted, not parsed."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from airlock.ui.tables import MAX_CELLS, Evidence, build, parse

pytestmark = pytest.mark.unit
ROWS, COLS = 200_000, 20


def big_csv() -> bytes:
    head = "region," + ",".join(f"c{j}" for j in range(COLS)) + "\n"
    body = "".join(f"r{i}," + ",".join(str(j) for j in range(COLS)) + "\n" for i in range(ROWS))
    return (head + body).encode()


def test_a_large_csv_is_parsed_only_as_far_as_the_page_shows() -> None:
    data = big_csv()
    assert len(data) > 8_000_000
    rows = parse(data, "csv")
    assert len(rows) < 2 * MAX_CELLS // COLS  # not 200,001 rows
    assert len(rows) - 1 + rows.more == ROWS  # every row is accounted for
    grid = build(rows, [], Evidence(None), "f")
    shown = MAX_CELLS // COLS  # one label column, 20 values: 1,250 rows
    assert len(grid.rows) == shown
    assert grid.hidden_rows == ROWS - shown


def test_a_small_csv_is_parsed_whole() -> None:
    rows = parse(b"region,n\nNorth,25\nSouth,30", "csv")
    assert rows == [["region", "n"], ["North", "25"], ["South", "30"]] and rows.more == 0


def test_a_large_parquet_table_is_read_one_batch() -> None:
    frame = pd.DataFrame({"region": [f"r{i}" for i in range(100_000)], "n": range(100_000)})
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    rows = parse(buf.getvalue(), "parquet")
    assert len(rows) == 1 + MAX_CELLS // 2  # the header and one batch of 12,500 rows
    assert rows.more == 100_000 - MAX_CELLS // 2
    assert rows[1] == ["r0", "0"]
