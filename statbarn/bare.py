"""Classifying a table that arrives without evidence.

Without the microdata, only a frequency table can be checked fully (its cells
are its contributor counts).  Anything else is escalated with the reason.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from statbarn.errors import NonFiniteError, NonNumericError, TableTooLargeError
from statbarn.evidence import TableEvidence
from statbarn.kinds import Statbarn
from statbarn.profile import Profile
from statbarn.result import Assessment
from statbarn.rules import check_table
from statbarn.verdict import Rule, Verdict, whole_output_check

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
    labels: list[Any] = []
    for pos, col in enumerate(frame.columns):
        if len(labels) == pos and _is_label_column(frame[col], pos, col):
            labels.append(col)
    values = [c for c in frame.columns if c not in labels]
    return labels, values


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
        f"This file holds {len(frame)} row-level records, not a table of aggregates. "
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


def assess_bare_table(frame: pd.DataFrame, profile: Profile, file: str | None) -> Assessment:
    labels, value_cols = split_labels(frame)
    if looks_like_microdata(frame, labels) or not value_cols:
        return microdata_assessment(frame, profile, file)
    body = frame[value_cols]
    for col in value_cols:
        if not pd.api.types.is_numeric_dtype(body[col].dtype):
            bad = body[col][pd.to_numeric(body[col], errors="coerce").isna() & body[col].notna()]
            raise NonNumericError(
                f"{file}: column '{col}' holds text ({bad.iloc[0]!r} in row {bad.index[0] + 2}); "
                "a table's cells must be numbers"
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
        raise NonFiniteError(
            f"{file}: the cell in row {r + 2}, column '{value_cols[c]}' is {what}; without "
            "evidence statbarn cannot tell a suppressed cell from a missing one"
        )
    row_labels = _labels_of(frame, labels)
    col_labels = list(value_cols)
    counts = (values >= 0).all() and (values == np.round(values)).all()
    if not counts:
        check = whole_output_check(
            Rule.EVIDENCE,
            Verdict.ESCALATE,
            "This is a magnitude table (its cells are not whole non-negative counts) "
            "without evidence of the individual contributions, so the threshold and dominance "
            "rules cannot be checked; a person must review it, or save it with statbarn.",
            "Magnitude table without evidence.",
        )
        return Assessment(
            statbarn=Statbarn.LINEAR_AGGREGATE,
            checks=[check],
            profile=profile,
            file=file,
            notes=["magnitude table without evidence"],
        )
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
