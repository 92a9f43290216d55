"""``sb.check_file``: re-check a saved output from the file and its evidence sidecar.

The sidecar is written by the researcher's own process, so nothing in it is
trusted that can be verified: it must belong to the file (sha256), its verdict
is recomputed from its evidence with the profile in force, and the published
cells must agree with the evidence they claim to come from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from statbarn.bare import assess_bare_table
from statbarn.errors import EvidenceError, EvidenceMismatchError, ProfileError, StatbarnError
from statbarn.evidence import TableEvidence
from statbarn.fileio import loads_json, sha256_file
from statbarn.kinds import Statbarn
from statbarn.profile import Profile, load_profile, profile_from_mapping
from statbarn.reading import read_delimited, read_parquet, sniff_kind
from statbarn.result import Assessment
from statbarn.tables import SIDECAR_FORMAT, SIDECAR_SUFFIX, assessment_for
from statbarn.text import TEXT_SUFFIXES, assess_text_file
from statbarn.verdict import CellFlag, CheckResult, Rule, Verdict, whole_output_check

MAX_SIDECAR_BYTES = 256 * 1024 * 1024


def sidecar_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def load_sidecar(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            raise EvidenceError(f"{path.name}: the evidence sidecar is too large")
        data = loads_json(path.read_text(encoding="utf-8"), f"{path.name} (evidence sidecar)")
    except FileNotFoundError:
        raise EvidenceError(f"{path}: evidence sidecar not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvidenceError(f"{path.name}: the evidence sidecar is not valid JSON: {exc}") from None
    except ValueError as exc:
        raise EvidenceError(str(exc)) from None
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        raise EvidenceError(f"{path.name}: not a statbarn evidence sidecar")
    return data


def _profile_for(sidecar: dict[str, Any] | None, profile: Profile | str | Path | None) -> Profile:
    if profile is not None:
        return load_profile(profile)
    if sidecar and isinstance(sidecar.get("profile"), dict):
        rec = sidecar["profile"]
        try:
            return profile_from_mapping(
                {
                    "name": rec.get("name", "default"),
                    "version": str(rec.get("version", "1")),
                    **dict(rec.get("params", {})),
                },
                "evidence sidecar profile",
            )
        except ProfileError as exc:
            raise EvidenceError(str(exc)) from None
    return load_profile(None)


def check_file(
    path: str | Path,
    evidence: str | Path | None = None,
    profile: Profile | str | Path | None = None,
    statistic: str | None = None,
) -> Assessment:
    """Check one output file; uses ``<path>.statbarn.json`` beside it when present.
    ``statistic``: what a table without evidence holds (see ``assess_bare_table``)."""
    path = Path(path)
    if not path.is_file():
        raise StatbarnError(f"{path}: no such file")
    side_path = Path(evidence) if evidence is not None else sidecar_path(path)
    sidecar = load_sidecar(side_path) if (evidence is not None or side_path.is_file()) else None
    prof = _profile_for(sidecar, profile)
    if sidecar is not None:
        return _checked_with_sidecar(path, sidecar, side_path.name, prof)
    with open(path, "rb") as fh:
        head = fh.read(8192)
    kind = sniff_kind(path, head)
    if kind == "other" and path.suffix.lower() in TEXT_SUFFIXES and b"\x00" not in head:
        return assess_text_file(path, prof)  # as the airlock checks text, JSON and Markdown
    if kind == "other":
        return uncheckable(path.name, prof, "statbarn cannot check this kind of file")
    frame = (
        read_parquet(path)
        if kind == "parquet"
        else read_delimited(path, "\t" if kind == "tsv" else ",")
    )
    return assess_bare_table(frame, prof, path.name, statistic)


def check_with_sidecar(
    path: str | Path,
    sidecar: dict[str, Any],
    profile: Profile | str | Path | None = None,
    sidecar_name: str | None = None,
) -> Assessment:
    """``check_file`` with the evidence sidecar already loaded by :func:`load_sidecar`
    (not read and parsed again): the same checks, the binding by sha256 included."""
    path = Path(path)
    if not path.is_file():
        raise StatbarnError(f"{path}: no such file")
    name = sidecar_name or sidecar_path(path).name
    return _checked_with_sidecar(path, sidecar, name, _profile_for(sidecar, profile))


def _checked_with_sidecar(
    path: Path, sidecar: dict[str, Any], side_name: str, prof: Profile
) -> Assessment:
    expected = str(sidecar.get("file", {}).get("sha256", ""))
    actual = sha256_file(path)
    if expected != actual:
        raise EvidenceMismatchError(
            f"{side_name} belongs to a file with sha256 {expected[:12] or '(none)'}..., "
            f"but {path.name} has sha256 {actual[:12]}...: the file changed after it was "
            "checked, or the evidence is for another file"
        )
    return _check_with_sidecar(path, sidecar, prof)


def uncheckable(name: str | None, profile: Profile, reason: str) -> Assessment:
    check = whole_output_check(
        Rule.UNCHECKABLE, Verdict.ESCALATE, f"{reason}; a person must review it.", reason
    )
    return Assessment(statbarn=Statbarn.UNKNOWN, profile=profile, file=name, checks=[check])


def _check_with_sidecar(path: Path, sidecar: dict[str, Any], prof: Profile) -> Assessment:
    kind = sidecar.get("kind")
    if kind == "model":
        from statbarn.models import assess_model_sidecar

        return assess_model_sidecar(sidecar, prof, path.name)
    if kind != "table":
        raise EvidenceError(f"evidence of kind {kind!r} is not understood")
    ev = TableEvidence.from_json(sidecar.get("table"))
    layout = sidecar.get("layout", {})
    header_rows = int(layout.get("column_levels", 1))
    index_cols = int(layout.get("index_levels", 1))
    frame = read_delimited(
        path,
        "\t" if path.suffix.lower() in (".tsv", ".tab") else ",",
        header_rows=header_rows,
        index_cols=index_cols,
    )
    assessment = assessment_for(ev, prof, path.name)
    suppressed = _suppressed_mask(sidecar, ev)
    if suppressed is not None:
        assessment = _drop_suppressed(assessment, ev, suppressed)
        from statbarn.alternatives import audit_check, share_check

        assessment.checks.append(audit_check(ev, suppressed, prof))
        assessment.checks.append(share_check(suppressed, prof))
    base = sidecar.get("table", {}).get("rounding_base")
    mismatch = consistency_problems(frame, ev, suppressed, int(base) if base else None)
    if mismatch:
        assessment.checks.append(
            CheckResult(
                Rule.EVIDENCE.value,
                Verdict.ESCALATE,
                [
                    CellFlag(
                        rule=Rule.EVIDENCE,
                        verdict=Verdict.ESCALATE,
                        row=None,
                        col=None,
                        value=None,
                        limit=None,
                        message=m,
                    )
                    for m in mismatch[:20]
                ],
                "The published table does not match its evidence.",
            )
        )
    return assessment


def _suppressed_mask(sidecar: dict[str, Any], ev: TableEvidence) -> np.ndarray | None:
    raw = sidecar.get("table", {}).get("suppressed")
    if raw is None:
        return None
    mask = np.asarray(raw, dtype=bool)
    if mask.shape != ev.shape:
        raise EvidenceError("the suppression mask does not match the table's shape")
    return mask


def _drop_suppressed(a: Assessment, ev: TableEvidence, suppressed: np.ndarray) -> Assessment:
    hidden = {(ev.row_labels[r], ev.col_labels[c]) for r, c in np.argwhere(suppressed)}
    checks = []
    for check in a.checks:
        cells = [f for f in check.cells if (f.row, f.col) not in hidden]
        verdict = max((f.verdict for f in cells), key=lambda v: v.severity, default=Verdict.PASS)
        checks.append(
            CheckResult(
                check.rule,
                verdict,
                cells,
                check.summary if cells else "Every unsafe cell is suppressed.",
            )
        )
    return Assessment(a.statbarn, checks, a.profile, a.statistic, a.file, a.notes)


def _label_key(x: Any) -> str:
    if isinstance(x, tuple):
        return "|".join(_label_key(v) for v in x)
    if x is None or (isinstance(x, float) and x != x):
        return ""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def consistency_problems(
    frame: pd.DataFrame,
    ev: TableEvidence,
    suppressed: np.ndarray | None,
    rounding_base: int | None = None,
) -> list[str]:
    """Where the CSV disagrees with its evidence (labels, shape, and verifiable values)."""
    if frame.shape != ev.shape:
        return [
            f"the table is {frame.shape[0]} x {frame.shape[1]} but its evidence describes "
            f"{ev.shape[0]} x {ev.shape[1]} cells"
        ]
    problems = [ev.records_problem] if ev.records_problem else []
    if [_label_key(x) for x in frame.index] != [_label_key(x) for x in ev.row_labels]:
        problems.append("the table's row labels differ from its evidence")
    cols = [_label_key(x) for x in frame.columns]
    if ev.column_names and cols != [_label_key(x) for x in ev.col_labels]:
        problems.append("the table's column labels differ from its evidence")
    try:
        published = _as_numbers(frame)
    except (ValueError, TypeError):
        return [*problems, "the table holds text where numbers are expected"]
    expected = _expected_values(ev)
    if expected is None:
        return problems
    hidden = suppressed if suppressed is not None else np.zeros(ev.shape, dtype=bool)
    both_nan = np.isnan(published) & np.isnan(expected)
    # pandas publishes 0 for the sum of a cell whose records all lack a value.
    empty_ok = (ev.count == 0) & (np.isnan(published) | (published == 0))
    if rounding_base:
        expected = rounding_base * np.floor(expected / rounding_base + 0.5)
    close = np.isclose(published, expected, rtol=1e-9, atol=1e-9) | both_nan | hidden | empty_ok
    for r, c in np.argwhere(~close)[:10]:
        problems.append(
            f"cell ({ev.row_labels[r]}, {ev.col_labels[c]}) shows {published[r, c]} but its "
            f"evidence gives {expected[r, c]}"
        )
    if suppressed is not None and not np.isnan(published[suppressed]).all():
        problems.append("a cell marked as suppressed is published")
    return problems


def _as_numbers(frame: pd.DataFrame) -> np.ndarray:
    """The cells as float64; ValueError or TypeError if a column holds text."""
    if frame.shape[1] and all(
        isinstance(dt, np.dtype) and dt.kind in "biuf" for dt in frame.dtypes
    ):
        # Already numbers (what read_csv gives a numeric table): to_numeric would return
        # every column as it is, at some cost per column.
        return frame.to_numpy(dtype=np.float64)
    numbers: pd.DataFrame = frame.apply(pd.to_numeric, errors="raise")
    return numbers.to_numpy(dtype=np.float64)


def _expected_values(ev: TableEvidence) -> np.ndarray | None:
    if ev.statistic in ("count", "size"):
        return ev.count.astype(np.float64)
    if ev.total is None:
        return None
    if ev.statistic == "sum":
        return np.where(ev.count > 0, ev.total, np.nan)
    if ev.statistic == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(ev.count > 0, ev.total / np.maximum(ev.count, 1), np.nan)
    return None
