"""From an upload (or stored files) to the checked list of files of a new request.

Validation happens here, before anything is stored: names, duplicates,
contexts, the manifest, each file's type from its content, and each sidecar's
binding to its file by SHA-256.  Any problem is an :class:`IntakeError` naming
the file and what to do; the caller then discards every temporary file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airlock.domain.decisions import free_text_chars
from airlock.filetypes import (
    EXTENSIONS,
    TABLE_KINDS,
    FormulaRefused,
    Kind,
    Refused,
    detect,
    extension,
)
from airlock.freetext import check_text
from airlock.intake import IntakeError, StagedFile, Upload
from airlock.names import same_name_key
from airlock.review_limits import TITLE_MAX_CHARS, TextRefused, check_title
from airlock.store import TempBlob
from statbarn.bare import declared_statistic
from statbarn.checking import load_sidecar
from statbarn.errors import EvidenceError, UsageError
from statbarn.fileio import loads_json
from statbarn.tables import SIDECAR_SUFFIX

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
MAX_POPULATION = 500  # a label matched against the ledger's, not prose
MANIFEST_KEYS = frozenset({"name", "context", "exception", "population", "statistic"})


@dataclass
class Incoming:
    """One file of a request about to be created, readable at ``path``."""

    name: str
    kind: Kind
    size: int
    sha256: str
    path: Path
    context: str
    exception: str | None = None
    population: str | None = None
    temp: TempBlob | None = None  # still to be stored (None: already in the store)
    sidecar: dict[str, Any] | None = None
    sidecar_path: Path | None = None
    sidecar_sha256: str | None = None
    sidecar_temp: TempBlob | None = None
    # What a table without evidence holds ("count", "mean", ...), as the researcher
    # declared it; stored with the file, so a draft is checked with it when submitted.
    statistic: str | None = None


@dataclass
class Submission:
    project: str
    dataset: str | None
    draft: bool
    files: list[Incoming] = field(default_factory=list)
    title: str | None = None  # what the researcher calls the request (one line, bounded)


def check_identifier(value: str | None, what: str, required: bool) -> str | None:
    if value is None or not value.strip():
        if required:
            raise IntakeError(422, f"the request needs a {what}", "missing_field")
        return None
    value = value.strip()
    if not NAME_PATTERN.match(value):
        raise IntakeError(422, f"{what} {value[:60]!r} is not a valid name (letters, digits, "
                          "'.', '_' and '-', at most 200)", "bad_field")
    return value


def _text(value: Any, what: str, limit: int) -> str | None:
    """A free-text field: text, bounded and scanned (airlock.freetext)."""
    if value is not None and not isinstance(value, str):
        raise IntakeError(422, f"{what} must be text", "bad_manifest")
    return check_text(value, what, limit)


def _title(raw: str | None) -> str | None:
    try:
        title = check_title(raw)
    except TextRefused as exc:
        raise IntakeError(422, str(exc), "bad_field") from None
    # Free text like every other field: scanned for identifiers, encoded data, records.
    return check_text(title, "the title", TITLE_MAX_CHARS)


def manifest_of(raw: str | None) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    try:
        data = loads_json(raw, "the manifest")
    except ValueError as exc:
        raise IntakeError(422, str(exc), "bad_manifest") from None
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise IntakeError(422, "the manifest must be a JSON list of objects with a 'name'",
                          "bad_manifest")
    out: dict[str, dict[str, Any]] = {}
    for entry in data:
        unknown = set(entry) - MANIFEST_KEYS
        if unknown:
            raise IntakeError(422, f"unknown manifest key(s): {', '.join(sorted(unknown))} "
                              f"(allowed: {', '.join(sorted(MANIFEST_KEYS))})", "bad_manifest")
        name = entry.get("name")
        if not isinstance(name, str) or name in out:
            raise IntakeError(422, "every manifest entry needs a distinct 'name'", "bad_manifest")
        out[name] = entry
    return out


def _statistic(value: Any, name: str, kind: Kind) -> str | None:
    text = _text(value, f"the statistic of {name}", 40)
    if text is None:
        return None
    if kind not in TABLE_KINDS:
        raise IntakeError(422, f"{name} is not a table ({kind.value}); a statistic is declared "
                          "only for CSV, TSV or Parquet tables", "bad_manifest")
    try:
        return declared_statistic(text)
    except UsageError as exc:
        raise IntakeError(422, f"{name}: {exc}", "bad_manifest") from None


def _draft(raw: str | None) -> bool:
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise IntakeError(422, "draft must be true or false", "bad_field")


def _readable(staged: StagedFile, kind: Kind, work: Path) -> Path:
    """A link to the temp file under the file's own name (with its kind's suffix, which
    statbarn uses to tell CSV from TSV) inside the work directory."""
    name = staged.name if extension(staged.name) in EXTENSIONS[kind] else \
        staged.name + EXTENSIONS[kind][0]
    link = work / name
    link.symlink_to(staged.temp.path)
    return link


Detector = Callable[[Path, str, int], Kind]


def _detect_here(path: Path, name: str, max_parse_bytes: int) -> Kind:
    return detect(path, name, max_parse_bytes=max_parse_bytes).kind


def from_upload(upload: Upload, work: Path, max_parse_bytes: int,
                detector: Detector = _detect_here, *, text_limit: int,
                request_text_limit: int | None = None) -> Submission:
    """Validate an upload; nothing is stored yet (files stay in their temp files).

    ``detector`` tells a file's kind from its content (the service runs it in a check
    worker, under limits: it parses JSON and spreadsheets); ``text_limit`` is the longest
    free-text field (TRE_AIRLOCK_MAX_TEXT_CHARS), ``request_text_limit`` all of them
    together (TRE_AIRLOCK_MAX_REQUEST_TEXT_CHARS)."""
    f = upload.fields
    sub = Submission(
        project=check_identifier(f.get("project"), "project", True) or "",
        dataset=check_identifier(f.get("dataset"), "dataset", False),
        draft=_draft(f.get("draft")),
        title=_title(f.get("title")),
    )
    if not upload.files:
        raise IntakeError(422, "the request holds no file: add at least one", "no_files")
    for value, what in ((sub.project, "the project's name"), (sub.dataset, "the dataset's name")):
        _text(value, what, text_limit)
    default_context = _text(f.get("context"), "the request's context", text_limit)
    sub.files = files_of(upload, work, max_parse_bytes, detector, text_limit=text_limit,
                         default_context=default_context, manifest=manifest_of(f.get("manifest")))
    check_request_text(sub.files, request_text_limit)
    return sub


def files_of(upload: Upload, work: Path, max_parse_bytes: int, detector: Detector, *,
             text_limit: int, default_context: str | None,
             manifest: dict[str, dict[str, Any]],
             earlier: Mapping[str, tuple[str, str | None]] | None = None) -> list[Incoming]:
    """The uploaded files, validated (names, contexts, kinds from content, sidecars).

    ``earlier``: for a revision, the (context, population) of the files they replace, by
    name key: a replacement without a context of its own keeps the earlier file's."""
    seen: dict[str, str] = {}
    for staged in upload.files:
        key = same_name_key(staged.name)
        if key in seen:
            raise IntakeError(422, f"two files are named {staged.name!r}"
                              + ("" if seen[key] == staged.name else f" and {seen[key]!r}")
                              + "; every file in a request needs its own name", "duplicate_name")
        seen[key] = staged.name
    unknown = set(manifest) - {s.name for s in upload.files}
    if unknown:
        raise IntakeError(422, f"the manifest names {sorted(unknown)[0]!r}, which is not among "
                          "the files", "bad_manifest")
    files: list[Incoming] = []
    by_name: dict[str, Incoming] = {}
    for position, staged in enumerate(upload.files, start=1):
        # The name is not repeated: it may be what is refused.
        _text(staged.name, f"the name of file {position}", text_limit)
        entry = manifest.get(staged.name, {})
        before = (earlier or {}).get(same_name_key(staged.name))
        context = _text(entry.get("context"), f"the context of {staged.name}",
                        text_limit) or default_context or (before[0] if before else None)
        if not context:
            raise IntakeError(422, f"{staged.name} has no context: say what it is and how it "
                              "was made (context, or the manifest's per-file context)",
                              "missing_context")
        if staged.size == 0:
            raise IntakeError(422, f"{staged.name} is empty", "empty_file")
        try:
            kind = detector(staged.temp.path, staged.name, max_parse_bytes)
        except FormulaRefused as exc:
            raise IntakeError(422, str(exc), "formula") from None
        except Refused as exc:  # a canonical-form refusal says its own status and code
            raise IntakeError(getattr(exc, "status", 415), str(exc),
                              getattr(exc, "code", "refused_type")) from None
        population = _text(entry.get("population"), f"the population of {staged.name}",
                           min(MAX_POPULATION, text_limit))
        item = Incoming(
            name=staged.name, kind=kind, size=staged.size, sha256=staged.sha256,
            path=_readable(staged, kind, work), context=context,
            exception=_text(entry.get("exception"), f"the exception request of {staged.name}",
                            text_limit),
            population=population or (before[1] if before else None),
            temp=staged.temp, statistic=_statistic(entry.get("statistic"), staged.name, kind),
        )
        files.append(item)
        by_name[staged.name] = item
    for side in upload.sidecars:
        _attach_sidecar(side, by_name, work)
    return files


def check_request_text(files: list[Incoming], request_text_limit: int | None) -> None:
    """TRE_AIRLOCK_MAX_REQUEST_TEXT_CHARS over every file of the request as it will be."""
    total = free_text_chars(t for i in files for t in (i.context, i.exception, i.population))
    if request_text_limit is not None and total > request_text_limit:
        raise IntakeError(422, f"the request carries {total:,} characters of free text "
                          "(contexts, exception requests, populations) in all; at most "
                          f"{request_text_limit:,} are accepted: say what each file is in a "
                          "sentence or two, and give one context for the request rather than "
                          "one per file", "text_too_long")

def _attach_sidecar(side: StagedFile, files: dict[str, Incoming], work: Path) -> None:
    if not side.name.endswith(SIDECAR_SUFFIX):
        raise IntakeError(422, f"sidecar {side.name!r} must be named <file>{SIDECAR_SUFFIX}",
                          "bad_sidecar")
    target = files.get(side.name[: -len(SIDECAR_SUFFIX)])
    if target is None:
        raise IntakeError(422, f"sidecar {side.name!r} belongs to no file of this request",
                          "bad_sidecar")
    if target.sidecar is not None:
        raise IntakeError(422, f"{target.name} has two sidecars", "bad_sidecar")
    path = work / f"sidecar-{len(list(work.iterdir()))}{SIDECAR_SUFFIX}"
    path.symlink_to(side.temp.path)
    try:
        data = load_sidecar(path)
    except EvidenceError as exc:
        raise IntakeError(422, f"{side.name}: {exc}", "bad_sidecar") from None
    bound = str((data.get("file") or {}).get("sha256", ""))
    if bound != target.sha256:
        raise IntakeError(
            422, f"{side.name} is the evidence of another file (sha256 {bound[:12] or '?'}...), "
            f"not of {target.name} (sha256 {target.sha256[:12]}...): the file changed after "
            "statbarn saved it, or the wrong sidecar was attached", "sidecar_mismatch")
    target.sidecar, target.sidecar_path = data, path
    target.sidecar_sha256, target.sidecar_temp = side.sha256, side.temp
