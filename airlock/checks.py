"""Checking one file with statbarn, under the project's disclosure profile.

- Tables (CSV/TSV/Parquet) are checked by statbarn: with their evidence sidecar
  when the researcher made them with statbarn (the sidecar is bound to the file
  by SHA-256), else as bare tables, where only frequency tables can pass.  A
  table with evidence is also checked against the project's disclosure ledger
  (differencing), and a failing table gets a safe alternative (suppressed).
- Notebooks: every embedded table and image is checked like a file; the
  notebook itself escalates, since it holds code and free text.
- Text, JSON and Markdown are scanned for direct identifiers, encoded data and
  rows of records (:mod:`statbarn.text`, as ``tre check`` does): a finding fails
  the file with its lines named; otherwise they escalate.
- Images, PDFs and spreadsheets escalate: statbarn cannot check them, and
  DESIGN.md section 4 says an uncheckable file is never a pass.

The profile is always passed explicitly: a sidecar records the profile of the
researcher's own session, which must not decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from airlock import canonical, notebooks
from airlock import ledger as ledger_mod
from airlock.canonical import Canonical, CanonicalRefused
from airlock.filetypes import Kind
from airlock.labels import LABELS, label_checks
from airlock.notebook_text import notebook_text_checks
from statbarn.bare import MARGIN_NAMES, assess_bare_table, split_labels
from statbarn.checking import check_file, check_with_sidecar, uncheckable
from statbarn.errors import (
    DeclaredSizeError,
    EmptyInputError,
    EvidenceError,
    MalformedTableError,
    StatbarnError,
)
from statbarn.evidence import TableEvidence
from statbarn.fileio import loads_json
from statbarn.kinds import Statbarn
from statbarn.profile import Profile
from statbarn.reading import read_delimited, read_parquet
from statbarn.result import STATBARN_VERSION, Assessment
from statbarn.tables import TableOutput, assessment_for
from statbarn.text import assess_text_file
from statbarn.wording import mb
from tre.errors import TreError

MAX_REASONS = 20
_WHY: dict[Kind, str] = {
    Kind.PNG: "statbarn cannot check images",
    Kind.JPEG: "statbarn cannot check images",
    Kind.SVG: "statbarn cannot check images",
    Kind.PDF: "statbarn cannot check PDF documents",
    Kind.TEXT: "statbarn cannot check free text",
    Kind.MARKDOWN: "statbarn cannot check free text",
    Kind.JSON: "statbarn cannot check JSON documents",
    Kind.XLSX: "spreadsheets can hide sheets, rows and comments, so statbarn does not check "
    "them (export each table as CSV to have it checked automatically)",
    Kind.NOTEBOOK: "a notebook holds code and text as well as outputs",
}


class CheckRefused(TreError):
    """The file (or its sidecar) is broken, or no canonical copy of it can be made: refuse
    it at intake with this message (``status`` and ``code`` for the API's answer)."""

    code = "unreadable_table"
    status = 422

    def __init__(self, message: str, status: int = 422, code: str = "unreadable_table") -> None:
        super().__init__(message)
        self.status, self.code = status, code

    def __reduce__(self) -> tuple[Any, ...]:  # pickled whole (checks may run in a worker)
        return (type(self), (str(self), self.status, self.code))


class CheckTooLarge(CheckRefused):
    """The file declares more than the airlock reads (rows, cells, bytes): a 413."""


@dataclass(frozen=True)
class Subject:
    path: Path  # readable, with the suffix of its kind (statbarn reads CSV/TSV by suffix)
    name: str
    kind: Kind
    sidecar: dict[str, Any] | None = None
    sidecar_path: Path | None = None
    dataset: str | None = None
    population: str | None = None
    statistic: str | None = None  # what a bare table's cells hold, as declared


@dataclass
class CheckRecord:
    subject: str
    verdict: str
    result: dict[str, Any]
    evidence: dict[str, Any] | None = None


@dataclass
class Alternative:
    name: str
    csv_path: Path
    sidecar_path: Path
    method: str
    verdict: str
    suppressed: int


@dataclass
class FileResult:
    verdict: str
    records: list[CheckRecord] = field(default_factory=list)
    alternative: Alternative | None = None
    # The copy that was checked and is stored, shown and released in place of the
    # submitted file (airlock.canonical); None: the file itself.
    canonical: Canonical | None = None

    @property
    def reasons(self) -> list[str]:
        out: list[str] = []
        for rec in self.records:
            prefix = "" if rec.subject == "file" else f"{rec.subject}: "
            for check in rec.result.get("checks", []):
                if check.get("verdict") == "pass":
                    continue
                cells = [c for c in check.get("cells", []) if c.get("verdict") != "pass"]
                texts = [c.get("message") or "" for c in cells] or [check.get("summary", "")]
                out.extend(prefix + t for t in texts if t)
        if len(out) <= MAX_REASONS:
            return out
        # Cut, but never silently: the request's decision says how many more there are.
        more = len(out) - (MAX_REASONS - 1)
        return [*out[:MAX_REASONS - 1], f"and {more} more (every flag is listed with the file)"]


def bare_evidence(frame: pd.DataFrame) -> TableEvidence | None:
    """The evidence statbarn derives for a bare frequency table (mirrors statbarn.bare)."""
    labels, value_cols = split_labels(frame)
    if not labels or not value_cols:
        return None
    rows: list[Any] = (list(frame[labels[0]]) if len(labels) == 1 else
                       [tuple(r) for r in frame[labels].itertuples(index=False, name=None)])
    values = frame[value_cols].to_numpy(dtype=np.float64)
    last = rows[-1][0] if isinstance(rows[-1], tuple) else rows[-1]
    return TableEvidence(
        statistic="count",
        row_labels=rows,
        col_labels=list(value_cols),
        count=values.astype(np.int64),
        row_margin=len(value_cols) > 1 and str(value_cols[-1]).strip().lower() in MARGIN_NAMES,
        col_margin=str(last).strip().lower() in MARGIN_NAMES,
        index_names=list(labels),
        column_names=[None],
    )


class CheckRunner:
    """Checks the files of one request: one profile, one ledger, one work directory."""

    def __init__(self, profile: Profile,
                 ledger: ledger_mod.Ledger | Sequence[dict[str, Any]],
                 max_check_bytes: int, work: Path) -> None:
        self.profile = profile
        self.ledger = ledger if isinstance(ledger, ledger_mod.Ledger) else list(ledger)
        self.max_check_bytes, self.work = max_check_bytes, work

    def run(self, s: Subject) -> FileResult:
        if s.sidecar is not None and s.kind not in (Kind.CSV, Kind.TSV):
            raise CheckRefused(f"{s.name}: evidence sidecars are only for CSV or TSV tables "
                               "(save the output with statbarn's .save())")
        try:
            # The canonical copy is made first and is what the checks read (a Parquet
            # table is rewritten in _table, from the frame the checks judge).
            canon = canonical.make(s.path, s.name, s.kind, self.work, self.max_check_bytes) \
                if s.kind is not Kind.PARQUET else None
            if canon is not None:
                s = replace(s, path=canon.path)
            result = self._dispatch(s)
        except CanonicalRefused as exc:
            raise CheckRefused(str(exc), exc.status, exc.code) from None
        result.canonical = result.canonical or canon
        return result

    def _dispatch(self, s: Subject) -> FileResult:
        if s.kind in (Kind.CSV, Kind.TSV, Kind.PARQUET):
            return self._table(s)
        if s.kind is Kind.NOTEBOOK:
            return self._notebook(s)
        if s.kind in (Kind.TEXT, Kind.MARKDOWN, Kind.JSON):
            # Scanned for identifiers, encoded data and records as `tre check` does
            # (statbarn.text): a finding fails the file, with its lines named.
            return self._result([self._record("file", assess_text_file(s.path, self.profile,
                                                                       _WHY[s.kind]))])
        return self._result([self._record("file", uncheckable(s.name, self.profile, _WHY[s.kind]))])

    # ---- tables ---------------------------------------------------------------------------------
    def _table(self, s: Subject) -> FileResult:
        if s.kind is Kind.PARQUET and s.path.stat().st_size > self.max_check_bytes:
            raise CanonicalRefused(
                f"{s.name} is larger than {self.max_check_bytes / 1024**2:,.0f} MB, more than "
                "the airlock reads; a Parquet file can carry metadata no viewer shows, so it "
                "leaves only rewritten from its checked table: export a smaller table, or "
                "the table as CSV")
        if s.path.stat().st_size > self.max_check_bytes:
            why = (f"the table is larger than {mb(self.max_check_bytes)}, too large to check "
                   "automatically")
            return self._result([self._record("file", uncheckable(s.name, self.profile, why))])
        frame: pd.DataFrame | None = None
        ev: TableEvidence | None = None
        canon: Canonical | None = None
        shown: pd.DataFrame | None = None  # the table as read, labels and all
        try:
            if s.sidecar is not None:
                # The sidecar as intake loaded it from sidecar_path (bound to the file by
                # sha256 there, and again here), not read and parsed a second time.
                a = (check_with_sidecar(s.path, s.sidecar, self.profile, s.sidecar_path.name)
                     if s.sidecar_path is not None else check_file(s.path, profile=self.profile))
                if s.sidecar.get("kind") == "table":
                    ev = TableEvidence.from_json(s.sidecar.get("table"))
                layout = s.sidecar.get("layout") or {}
                shown = read_delimited(s.path, "\t" if s.kind is Kind.TSV else ",",
                                       header_rows=int(layout.get("column_levels", 1)),
                                       index_cols=int(layout.get("index_levels", 1)))
            else:
                if s.kind is Kind.PARQUET:
                    frame, canon = self._parquet(s)
                else:
                    frame = read_delimited(s.path, "\t" if s.kind is Kind.TSV else ",")
                shown = frame
                a = assess_bare_table(frame, self.profile, s.name, s.statistic)
                if a.statbarn is Statbarn.FREQUENCY:
                    ev = bare_evidence(frame)
        except DeclaredSizeError as exc:
            raise CheckTooLarge(str(exc)) from None
        except (EmptyInputError, MalformedTableError, EvidenceError) as exc:
            raise CheckRefused(str(exc)) from None
        except StatbarnError as exc:  # a table statbarn will not judge: a person will
            a = uncheckable(s.name, self.profile, str(exc).rstrip("."))
        if shown is not None:
            # The labels leave with the numbers: scanned, and the release bounded
            # (airlock.labels), with or without a sidecar.
            a.checks.extend(label_checks(shown, self.profile))
        evidence: dict[str, Any] | None = None
        if ev is not None:  # the sidecar's own table keeps its suppression mask
            evidence = dict(s.sidecar["table"]) if s.sidecar is not None else ev.to_json()
        if evidence is not None:
            diff = ledger_mod.differencing(evidence, self.ledger, self.profile, s.dataset,
                                           s.population)
            if diff is not None:
                a.checks.append(diff)
        result = self._result([self._record("file", a, evidence)])
        result.canonical = canon
        labels_fail = any(c.rule == LABELS and c.verdict.value == "fail" for c in a.checks)
        if ev is not None and a.verdict.value == "fail" and not labels_fail:
            # (no alternative of a table whose labels fail: suppressing cells keeps them)
            result.alternative = self._alternative(s, ev, frame)
        return result

    def _parquet(self, s: Subject) -> tuple[pd.DataFrame, Canonical]:
        """The table, rewritten without metadata (the canonical copy), and the frame read
        back from that copy: the checks judge exactly what will be released."""
        from airlock.canonical.parquet import rewrite

        canon = rewrite(read_parquet(s.path), s.path, s.name, self.work)
        return read_parquet(canon.path), canon

    def _alternative(self, s: Subject, ev: TableEvidence, frame: pd.DataFrame | None
                     ) -> Alternative | None:
        """The failing table with its unsafe cells suppressed (and protected), if possible."""
        try:
            if frame is None:
                layout = (s.sidecar or {}).get("layout", {})
                frame = read_delimited(s.path, "\t" if s.kind is Kind.TSV else ",",
                                       header_rows=int(layout.get("column_levels", 1)),
                                       index_cols=int(layout.get("index_levels", 1)))
            else:
                labels, values = split_labels(frame)
                frame = frame.set_index(labels if len(labels) > 1 else labels[0])[values]
            out = TableOutput(table=frame, evidence=ev, assessment=assessment_for(ev, self.profile),
                              profile=self.profile)
            alt = out.safe_alternative("suppress")
        except (StatbarnError, ValueError, KeyError, IndexError):
            return None  # no protected pattern exists; the reasons still say what to change
        stem, dot, ext = s.name.rpartition(".")
        name = f"{stem}.safe.{ext}" if dot else f"{s.name}.safe"
        path = self.work / name
        sidecar = alt.save(path)
        suppressed = int(alt.suppressed.sum()) if alt.suppressed is not None else 0
        return Alternative(name, path, sidecar, "suppress", alt.verdict, suppressed)

    # ---- notebooks ------------------------------------------------------------------------------
    def _notebook(self, s: Subject) -> FileResult:
        review = uncheckable(s.name, self.profile, _WHY[Kind.NOTEBOOK])
        if s.path.stat().st_size > self.max_check_bytes:
            return self._result([self._record("file", review)])
        try:
            data = loads_json(s.path.read_text(encoding="utf-8-sig"), s.name)
        except ValueError as exc:
            raise CheckRefused(f"{s.name} is not a readable notebook: {exc}") from None
        # Its visible text is scanned as a text output's is: a finding fails it.
        review.checks.extend(notebook_text_checks(data))
        records = [self._record("file", review)]
        for emb in notebooks.extract(data):
            if emb.kind == "image":
                a = uncheckable(s.name, self.profile,
                                f"{emb.subject} is an image ({emb.media_type})")
            else:
                assert emb.frame is not None
                try:
                    # A notebook never passes (it escalates above), so its whole-number
                    # tables are read as counts only to find cells that fail as counts.
                    try:
                        a = assess_bare_table(emb.frame, self.profile, s.name, "count")
                    except MalformedTableError:  # not whole numbers: not counts
                        a = assess_bare_table(emb.frame, self.profile, s.name)
                except StatbarnError as exc:
                    a = uncheckable(s.name, self.profile, f"{emb.subject}: {exc}")
            records.append(self._record(emb.subject, a))
        return self._result(records)

    # ---- helpers --------------------------------------------------------------------------------
    def _record(self, subject: str, a: Assessment, evidence: dict[str, Any] | None = None
                ) -> CheckRecord:
        return CheckRecord(subject, a.verdict.value, a.to_dict(), evidence)

    @staticmethod
    def _result(records: list[CheckRecord]) -> FileResult:
        order = {"pass": 0, "escalate": 1, "fail": 2}
        verdict = max((r.verdict for r in records), key=order.__getitem__, default="escalate")
        return FileResult(verdict, records)


TOOL_VERSION = f"statbarn {STATBARN_VERSION}"
