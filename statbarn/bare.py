"""Classifying a table that arrives without evidence.

Without the microdata, only a frequency table can be checked fully (its cells
are its contributor counts).  Whole numbers alone never make one: a median, a
sum of costs or a mean in thousands can be whole too, and checking those as
counts releases magnitudes with no dominance check (or rejects a median as "made
of 4 contributors").  So a bare table is a frequency table only when its
statistic is known: declared by the researcher ("statistic": "count"), or named
by the profile (``bare_table_statistic``).  Without a statistic it escalates
with a sentence saying what to declare; declared magnitudes escalate too (their
contributions are not known, so dominance cannot be checked).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from statbarn.errors import (
    MalformedTableError,
    NonFiniteError,
    NonNumericError,
    TableTooLargeError,
    UsageError,
)
from statbarn.evidence import TableEvidence
from statbarn.kinds import STATISTIC_RULES, Statbarn, statbarn_of
from statbarn.profile import Profile
from statbarn.result import Assessment
from statbarn.rules import check_table
from statbarn.verdict import Rule, Verdict, whole_output_check
from statbarn.wording import column, counted

# Words a researcher may use for a statistic -> statbarn's name of it.
STATISTIC_ALIASES = {**{s: s for s in STATISTIC_RULES}, "frequency": "count", "counts": "count",
                     "n": "count", "average": "mean", "total": "sum", "percentile": "quantile",
                     "sd": "std", "variance": "var"}
# Numbers written as text: thousands separators, a percent sign, spaces around.
_NUMBER_AS_TEXT = re.compile(r"^\s*[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\s*%?\s*$")


def declared_statistic(value: str | None) -> str | None:
    """A declared statistic in statbarn's words (``"Frequency"`` -> ``"count"``)."""
    if value is None or not value.strip():
        return None
    name = STATISTIC_ALIASES.get(value.strip().lower())
    if name is None:
        raise UsageError(
            f"the statistic {value.strip()[:40]!r} is not one statbarn knows; declare one of "
            + ", ".join(sorted(STATISTIC_RULES))
        )
    return name

MARGIN_NAMES = {"all", "total", "totals", "overall"}
_IDENTIFIER = re.compile(
    r"(^|_|\b)(id|ids|uuid|guid|nhs(_?(no|number))?|chi|mrn|ssn|nino|patient|person|subject|"
    r"name|surname|forename|first_?name|last_?name|dob|date_?of_?birth|birth_?date|postcode|"
    r"zip(_?code)?|address|email|e_?mail|phone|telephone)($|_|\b)",
    re.IGNORECASE,
)
MICRODATA_MIN_ROWS = 100


def identifier_columns(columns: list[Any]) -> list[str]:
    return [str(c) for c in columns if _IDENTIFIER.search(str(c))]


def _is_label_column(series: pd.Series, position: int, header: Any) -> bool:
    if not pd.api.types.is_numeric_dtype(series.dtype) or series.dtype == bool:
        return True
    # pandas writes the index with an empty header: an unnamed first column is labels.
    return position == 0 and (str(header).strip() == "" or str(header).startswith("Unnamed: 0"))


def split_labels(frame: pd.DataFrame) -> tuple[list[Any], list[Any]]:
    """Label columns and value columns.  The labels run up to the last text column, so
    a long table's numeric label (``year, region, n``) is a label, not a value that
    "holds text"; when the last column is text, only the leading text columns are."""
    cols = list(frame.columns)
    text = [pos for pos, col in enumerate(cols) if _is_label_column(frame[col], pos, col)]
    if text and text[-1] < len(cols) - 1:
        return cols[:text[-1] + 1], cols[text[-1] + 1:]
    labels: list[Any] = []
    for pos, col in enumerate(cols):
        if len(labels) == pos and pos in text:
            labels.append(col)
    return labels, cols[len(labels):]


def looks_like_microdata(frame: pd.DataFrame, labels: list[Any]) -> bool:
    """Row-level records: identifier-like columns, repeated label combinations, or
    many unlabelled rows.  A published table has one row per label combination."""
    if identifier_columns(list(frame.columns)):
        return True
    if labels and frame.duplicated(subset=labels).any():
        return True
    return not labels and len(frame) >= MICRODATA_MIN_ROWS


def microdata_assessment(frame: pd.DataFrame, profile: Profile, file: str | None) -> Assessment:
    ids = identifier_columns(list(frame.columns))
    extra = f" Columns that look like identifiers: {', '.join(ids)}." if ids else ""
    check = whole_output_check(
        Rule.MICRODATA,
        Verdict.ESCALATE,
        f"This file holds {counted(len(frame), 'row-level record')}, not a table of aggregates. "
        "Row-level exports are reviewed by a person; check it first with "
        f"sb.check_microdata(df, quasi_identifiers=[...]).{extra}",
        "Row-level data.",
        value=len(frame),
    )
    return Assessment(statbarn=Statbarn.MICRODATA, checks=[check], profile=profile, file=file)


def _labels_of(frame: pd.DataFrame, labels: list[Any]) -> list[Any]:
    if not labels:
        return [str(i) for i in range(len(frame))]
    if len(labels) == 1:
        return list(frame[labels[0]])
    return [tuple(r) for r in frame[labels].itertuples(index=False, name=None)]


def _numbers_as_text(frame: pd.DataFrame, cols: list[Any], file: str | None) -> None:
    """Refuse a column of numbers written as text (``"1,234"``, ``"12%"``) in words:
    it is a formatting slip, not text and not row-level data."""
    for col in cols:
        series = frame[col]
        if pd.api.types.is_numeric_dtype(series.dtype):
            continue
        cells = series.dropna().astype(str)
        if len(cells) and cells.map(lambda c: bool(_NUMBER_AS_TEXT.match(c))).all():
            pos = list(frame.columns).index(col)
            raise NonNumericError(
                f"{file}: {column(col, pos)} holds numbers written as text ({cells.iloc[0]!r} "
                f"in row {int(cells.index[0]) + 2}); write them as plain numbers (1234, not "
                "1,234 or 12%) so the table can be checked"
            )


def _undeclared(profile: Profile, file: str | None) -> Assessment:
    check = whole_output_check(
        Rule.EVIDENCE,
        Verdict.ESCALATE,
        "This table came without evidence and without a declared statistic, so statbarn "
        "cannot tell counts from means, medians or sums (whole numbers alone do not make a "
        "frequency table); a person must review it.  To have it checked automatically, "
        "declare what its cells hold (\"statistic\": \"count\", \"mean\", \"median\", "
        "\"sum\", ... in the manifest; statistic=... in airlock.submit; --statistic with tre "
        "airlock submit), or save it with statbarn so its evidence goes with it.",
        "Table without evidence or a declared statistic.",
    )
    return Assessment(statbarn=Statbarn.UNKNOWN, checks=[check], profile=profile, file=file,
                      notes=["no evidence and no declared statistic"])


def _magnitude(statistic: str, profile: Profile, file: str | None) -> Assessment:
    rules = STATISTIC_RULES[statistic]
    named = ", ".join(r.value.replace("_", " ") for r in rules)
    check = whole_output_check(
        Rule.EVIDENCE,
        Verdict.ESCALATE,
        f"This table is declared to hold {statistic} values, without evidence of the "
        f"individual contributions, so the rules for a {statistic} table ({named}) cannot "
        "be checked; a person must review it, or save it with statbarn "
        f"(aggfunc='{statistic}') so its evidence goes with it.",
        f"Table of {statistic} values without evidence.",
    )
    return Assessment(statbarn=statbarn_of(statistic), checks=[check], profile=profile,
                      statistic=statistic, file=file,
                      notes=[f"declared {statistic} table without evidence"])


def assess_bare_table(frame: pd.DataFrame, profile: Profile, file: str | None,
                      statistic: str | None = None) -> Assessment:
    """Assess a table without evidence.  ``statistic``: what its cells hold, as the
    researcher declared it (else the profile's ``bare_table_statistic``, else unknown)."""
    statistic = declared_statistic(statistic) or profile.bare_table_statistic
    labels, value_cols = split_labels(frame)
    if not value_cols:
        _numbers_as_text(frame, labels[1:], file)
    if looks_like_microdata(frame, labels) or not value_cols:
        return microdata_assessment(frame, profile, file)
    body = frame[value_cols]
    _numbers_as_text(frame, value_cols, file)
    for col in value_cols:
        if not pd.api.types.is_numeric_dtype(body[col].dtype):
            bad = body[col][pd.to_numeric(body[col], errors="coerce").isna() & body[col].notna()]
            pos = list(frame.columns).index(col)
            raise NonNumericError(
                f"{file}: {column(col, pos)} holds text ({bad.iloc[0]!r} in row "
                f"{bad.index[0] + 2}) after the label columns; a table's cells must be numbers"
            )
    values = body.to_numpy(dtype=np.float64, na_value=np.nan)
    if values.size > profile.max_table_cells:
        raise TableTooLargeError(
            f"{file}: the table has {values.size} cells; the profile allows at most "
            f"{profile.max_table_cells} (max_table_cells)"
        )
    if not np.isfinite(values).all():
        r, c = np.argwhere(~np.isfinite(values))[0]
        what = "empty" if np.isnan(values[r, c]) else "infinite"
        where = column(value_cols[c], list(frame.columns).index(value_cols[c]))
        raise NonFiniteError(
            f"{file}: the cell in row {r + 2}, {where} is {what}; without "
            "evidence statbarn cannot tell a suppressed cell from a missing one"
        )
    if statistic is None:
        return _undeclared(profile, file)
    if statistic not in ("count", "size"):
        return _magnitude(statistic, profile, file)
    whole = (values >= 0) & (values == np.round(values))
    if not whole.all():
        r, c = np.argwhere(~whole)[0]
        where = column(value_cols[c], list(frame.columns).index(value_cols[c]))
        raise MalformedTableError(
            f"{file}: the table is declared to hold counts, but the cell in row {r + 2}, "
            f"{where} is {values[r, c]:g}, not a whole number of people; declare the "
            "statistic it holds (mean, median, sum, ...) instead"
        )
    row_labels = _labels_of(frame, labels)
    col_labels = list(value_cols)
    ev = TableEvidence(
        statistic="count",
        row_labels=row_labels,
        col_labels=col_labels,
        count=values.astype(np.int64),
        row_margin=len(col_labels) > 1 and str(col_labels[-1]).strip().lower() in MARGIN_NAMES,
        col_margin=_last_label(row_labels).lower() in MARGIN_NAMES,
        index_names=list(labels),
        column_names=[None],
    )
    return Assessment(
        statbarn=Statbarn.FREQUENCY,
        checks=check_table(ev, profile),
        profile=profile,
        statistic="count",
        file=file,
    )


def _last_label(labels: list[Any]) -> str:
    last = labels[-1] if labels else ""
    if isinstance(last, tuple):
        last = last[0]
    return str(last).strip()
