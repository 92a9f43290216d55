"""What a table carries besides its numbers: labels, headers, column and index names.

statbarn judges a table's cells; the words around them leave with it.  A row label can
hold a name, a date of birth or an NHS number, and a column of 180 long labels holds
kilobytes of records spelt in words.  Every label, header and column/index name of a
table is therefore scanned with :mod:`statbarn.text` (as free text outputs are): a
finding fails the table, with the label named by its place, never by its text.

And every count is a few bits the researcher chose (a file fits in a column of counts,
one byte a cell, each above the threshold), so what leaves without a person is bounded:
a table of more than ``profile.max_auto_release_cells`` cells, with a label longer
than ``profile.max_auto_release_label_chars`` characters, or with more than
``profile.max_auto_release_label_total`` characters of labels in all, goes to a person.

Pure: a frame and a profile in, checks out.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from statbarn.profile import Profile
from statbarn.text import FILE_RULES, MAX_TEXT_BYTES, ROW_LEVEL, scan
from statbarn.verdict import CellFlag, CheckResult, Verdict, whole_output_check

LABELS = "label_identifiers"  # rule: identifiers or encoded data in a label
RELEASE_CELLS = "auto_release_cells"  # rule: too many cells to leave without a person
RELEASE_LABELS = "auto_release_labels"  # rule: labels too long to leave without a person
MAX_LISTED = 5


def _level_texts(index: pd.Index, what: str) -> Iterator[tuple[str, str]]:
    """The names and (unless a plain 0..n-1 range) the values of an index's levels."""
    names = [n for n in index.names]
    for i, name in enumerate(names, start=1):
        if name is not None:
            yield f"the name of {what} level {i}", str(name)
    if isinstance(index, pd.RangeIndex):
        return
    for pos, value in enumerate(index, start=1):
        parts = value if isinstance(value, tuple) else (value,)
        for level, part in enumerate(parts, start=1):
            if part is None or (isinstance(part, float) and pd.isna(part)):
                continue
            where = f"{what} {pos}" + (f" (level {level})" if len(parts) > 1 else "")
            yield where, str(part)


def label_texts(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """(where, text) of every label of ``frame``: its column headers (every level), its
    index names and values, and every cell of a column that does not hold numbers."""
    out: list[tuple[str, str]] = []
    out += [(f"the header of {w}" if not w.startswith("the name") else w, t)
            for w, t in _level_texts(frame.columns, "column")]
    out += [(f"the label of {w}" if not w.startswith("the name") else w, t)
            for w, t in _level_texts(frame.index, "row")]
    for col_pos in range(1, frame.shape[1] + 1):
        series = frame.iloc[:, col_pos - 1]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series):
            continue
        for row_pos, value in enumerate(series.tolist(), start=1):
            if value is None or (isinstance(value, float) and pd.isna(value)):
                continue
            out.append((f"the label in row {row_pos}, column {col_pos}", str(value)))
    return out


def value_cells(frame: pd.DataFrame) -> int:
    """Cells holding numbers (margins included): the table's channel, one value a cell."""
    numeric = sum(1 for i in range(frame.shape[1])
                  if pd.api.types.is_numeric_dtype(frame.iloc[:, i].dtype))
    return int(frame.shape[0]) * numeric


def _listed(places: list[str]) -> str:
    more = len(places) - MAX_LISTED
    return ", ".join(places[:MAX_LISTED]) + (f" and {more} more" if more > 0 else "")


def label_checks(frame: pd.DataFrame, profile: Profile) -> list[CheckResult]:
    """The labels' scan (failing) and the bounds on automatic release (escalating)."""
    texts = label_texts(frame)
    # One label a line (line breaks in a label would shift the places: made spaces).
    joined = "\n".join(t.replace("\r", " ").replace("\n", " ") for _, t in texts)
    if len(joined) > MAX_TEXT_BYTES:  # characters: at least as many bytes; bounded work
        why = (f"The table's labels hold {len(joined) / 1024**2:.1f} MB of text, more than the "
               f"{MAX_TEXT_BYTES // 1024**2} MB that can be scanned for identifiers; shorten "
               "the labels or split the table.")
        return [whole_output_check(LABELS, Verdict.FAIL, why, why),
                *_bounds(frame, texts, profile)]
    # Blocks of delimited lines are the row-level rule of free text; among labels one a
    # line they are ordinary ("18-24; male"): the length bound below covers records.
    found = [f for f in scan(joined, FILE_RULES) if f.rule != ROW_LEVEL]
    checks: list[CheckResult] = []
    if found:
        flags = []
        for f in found[:50]:
            where = texts[f.line - 1][0] if 0 < f.line <= len(texts) else "a label"
            flags.append(CellFlag(LABELS, Verdict.FAIL, None, None, None, None,
                                  f"{where}: {f.what}; remove it before exporting."))
        places = sorted({texts[f.line - 1][0] for f in found if 0 < f.line <= len(texts)})
        checks.append(CheckResult(
            LABELS, Verdict.FAIL, flags,
            f"The table's labels hold direct identifiers or encoded data ({_listed(places)}; "
            f"{len(found)} finding(s)); labels, headers and column names leave with the "
            "table, so they may hold none."))
    else:
        checks.append(CheckResult(LABELS, Verdict.PASS, [], "No identifiers or encoded data "
                                  "in the table's labels, headers or column names."))
    return checks + _bounds(frame, texts, profile)


def _bounds(frame: pd.DataFrame, texts: list[tuple[str, str]], profile: Profile
            ) -> list[CheckResult]:
    out: list[CheckResult] = []
    cells = value_cells(frame)
    if cells > profile.max_auto_release_cells:
        why = (f"The table has {cells:,} cells, more than the {profile.max_auto_release_cells:,} "
               "a table may have to be released without a person (each count could carry "
               "data the researcher chose); a person must review it, or split it into "
               "smaller tables.")
        out.append(whole_output_check(RELEASE_CELLS, Verdict.ESCALATE, why, why, cells,
                                      profile.max_auto_release_cells))
    limit = profile.max_auto_release_label_chars
    long = [w for w, t in texts if len(t) > limit]
    if long:
        why = (f"{_listed(long)} {'is' if len(long) == 1 else 'are'} longer than the "
               f"{limit} characters a label may have in a table released without a person; "
               "a person must review it, or shorten the labels.")
        out.append(whole_output_check(RELEASE_LABELS, Verdict.ESCALATE, why, why,
                                      max(len(t) for _, t in texts), limit))
    total = sum(len(t) for _, t in texts)
    if total > profile.max_auto_release_label_total:
        why = (f"The table's labels, headers and column names add up to {total:,} characters, "
               f"more than the {profile.max_auto_release_label_total:,} a table released "
               "without a person may carry (words can spell data no scan recognises); a "
               "person must review it, or shorten the labels.")
        out.append(whole_output_check(RELEASE_LABELS, Verdict.ESCALATE, why, why, total,
                                      profile.max_auto_release_label_total))
    return out
