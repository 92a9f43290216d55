"""Spreadsheet formula injection: cells a spreadsheet would run, refused by name.

A label such as ``=HYPERLINK("http://...")`` or ``@SUM(...)`` in a released CSV
runs when someone opens it in a spreadsheet.  Any cell that starts with ``=``,
``+``, ``-`` or ``@`` and is not a number is refused, naming the cell, so the
researcher can rename the label (negative numbers are of course fine).  XLSX
cells holding formulas are refused too.  Files are read row by row.
"""

from __future__ import annotations

import csv
from pathlib import Path

from statbarn.wording import column, csv_problem
from tre.errors import TreError

MAX_FORMULA_REPORTS = 5


class Refused(TreError):
    """This file may not be exported; ``str(exc)`` tells the researcher why."""

    code = "refused_type"
    status = 415


class FormulaRefused(Refused):
    """A cell a spreadsheet would run as a formula (the file type itself is fine)."""


_FORMULA_START = ("=", "+", "-", "@")


def looks_like_formula(cell: str) -> bool:
    """Text a spreadsheet would run: starts with =, +, - or @ and is not a number."""
    if cell[:1].isalnum():  # most cells: no space to strip, and no formula's first sign
        return False
    text = cell.strip()
    if not text.startswith(_FORMULA_START):
        return False
    try:
        float(text)
    except ValueError:
        return True
    return False


def _formula_refusal(name: str, found: list[str]) -> Refused:
    more = "" if len(found) < MAX_FORMULA_REPORTS else " (and maybe more)"
    what = "this as a formula; rename the label" if len(found) == 1 else \
        "these as formulas; rename the labels"
    return FormulaRefused(
        f"{name}: {'; '.join(found)}{more}: a spreadsheet would run {what} (for example, "
        "put a letter or a quote before it)"
    )


def check_delimited(path: Path, name: str, delimiter: str) -> None:
    found: list[str] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header: list[str] = []
        try:
            for row in reader:
                if not header:
                    header = row
                for j, cell in enumerate(row):
                    if looks_like_formula(cell):
                        col = (column(header[j], j) if j < len(header) and row is not header
                               else f"column {j + 1}")
                        found.append(f"the cell in row {reader.line_num}, {col} holds "
                                     f"{cell[:40]!r}")
                        if len(found) >= MAX_FORMULA_REPORTS:
                            raise _formula_refusal(name, found)
        except csv.Error as exc:
            raise Refused(f"{name}: not a valid delimited table (line {reader.line_num}): "
                          f"{csv_problem(exc)}") from None
    if found:
        raise _formula_refusal(name, found)


def check_xlsx(path: Path, name: str) -> None:
    import openpyxl  # type: ignore[import-untyped]

    found: list[str] = []
    # A file object, not the path: openpyxl judges a path by its extension, and the
    # upload's temporary file has none.
    fh = open(path, "rb")  # noqa: SIM115 - closed below, after the workbook
    try:
        wb = openpyxl.load_workbook(fh, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for damaged files
        fh.close()
        if isinstance(exc, MemoryError):  # the check worker's limit: not a damaged file
            raise
        raise Refused(f"{name} is not a readable XLSX spreadsheet: {exc}") from None
    try:
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    value = getattr(cell, "value", None)
                    formula = getattr(cell, "data_type", "") == "f"
                    if formula or (isinstance(value, str) and looks_like_formula(value)):
                        where = f"{ws.title}!{getattr(cell, 'coordinate', '?')}"
                        found.append(f"cell {where} holds {str(value)[:40]!r}")
                        if len(found) >= MAX_FORMULA_REPORTS:
                            raise _formula_refusal(name, found)
    finally:
        wb.close()
        fh.close()
    if found:
        raise _formula_refusal(name, found)
