"""ACRO interoperability: read and write ACRO's ``results.json``.

ACRO (the SACRO project's researcher-side checker) ends a session with
``acro.finalise(folder, "json")``, which writes ``folder/results.json`` (one
entry per output), one CSV per table (``<uid>_0.csv``), ``config.json`` (the
risk appetite) and ``checksums/<file>.txt``.  The shape mirrored here is the
one ACRO 1.0.2 writes::

    {"version": "1.0.2",
     "tool": {"@type": "SoftwareApplication", "name": ..., "url": ..., "version": ...},
     "results": {
        "<uid>": {"uid", "status": "pass|fail|review", "type": "table|regression|custom|...",
                  "properties": {"method": ..., "mitigation": ...},
                  "files": [{"name": "<uid>_0.csv",
                             "sdc": {"summary": {check: n}, "cells": {check: [[row, col]]}}}],
                  "outcome": {column: {row: "ok" | "NKCheck; PPercentCheck; ..."}},
                  "command", "summary", "timestamp", "comments": [...], "exception": "",
                  "fair": {"statbarn", "risks", "checks_needed", "check_status", ...}}}}

``outcome`` is ``DataFrame.to_json()`` of the per-cell outcome strings (outer
keys are column labels, inner keys row labels, both as text).  ACRO 1.0 names
cells by its check names (``MinimumThresholdCheck``, ``NKCheck``,
``PPercentCheck``, ``PresenceOfZeroCheck``, ``MinimumDoFCheck``); ACRO 0.4
wrote ``threshold; ``, ``p-ratio; ``, ``nk-rule; ``, ``all-values-are-same; ``,
``negative`` and ``missing``.  Both are read; the 1.0 names are written.
Rules ACRO has no check for are written as ``<CamelCaseRule>Check`` (for
example ``ClassDisclosureCheck``) and read back to the same rule.

ACRO stores no observed values (counts, shares), so flags read from it carry
``value=None``; their limits come from ACRO's risk appetite (``config.json``
beside ``results.json``, or a ``config`` key) when present, else the profile.

Pure: json, pandas and the standard library only.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from statbarn.errors import AcroFormatError, UsageError
from statbarn.fileio import atomic_write_bytes, sha256_bytes
from statbarn.kinds import Statbarn, statbarn_of
from statbarn.profile import Profile, load_profile
from statbarn.result import STATBARN_VERSION, Assessment
from statbarn.tables import TableOutput
from statbarn.verdict import CellFlag, CheckResult, Rule, Verdict, worst

ACRO_FORMAT_VERSION = "1.0.2"
RESULTS_FILE = "results.json"
CONFIG_FILE = "config.json"
CHECKSUMS_DIR = "checksums"
ACRO_STATUSES = ("pass", "fail", "review")

STATUS_TO_VERDICT: dict[str, Verdict] = {
    "pass": Verdict.PASS,
    "fail": Verdict.FAIL,
    "review": Verdict.ESCALATE,
}
VERDICT_TO_STATUS: dict[Verdict, str] = {v: k for k, v in STATUS_TO_VERDICT.items()}

# ACRO check (1.0) or outcome token (0.4) -> the statbarn rules it stands for.
_ACRO_RULES: dict[str, tuple[Rule, ...]] = {
    "MinimumThresholdCheck": (Rule.THRESHOLD,),
    "NKCheck": (Rule.NK_DOMINANCE,),
    "PPercentCheck": (Rule.P_PERCENT,),
    "PresenceOfZeroCheck": (Rule.ZEROS,),
    "MinimumDoFCheck": (Rule.DOF,),
    "AllSameValuesCheck": (Rule.CLASS_DISCLOSURE,),
    "MissingCheck": (Rule.UNCHECKABLE,),
    "StatbarnDataCheck": (Rule.UNCHECKABLE,),
    # ACRO 0.4 outcome tokens
    "threshold": (Rule.THRESHOLD,),
    "nk-rule": (Rule.NK_DOMINANCE,),
    "p-ratio": (Rule.P_PERCENT,),
    "all-values-are-same": (Rule.CLASS_DISCLOSURE,),
    "negative": (Rule.NK_DOMINANCE, Rule.P_PERCENT),
    "missing": (Rule.UNCHECKABLE,),
}
# Tokens for which ACRO itself asks for a review rather than failing.
_REVIEW_TOKENS = frozenset({"negative", "missing", "MissingCheck", "StatbarnDataCheck"})
# ACRO checks that never flag a cell and only document (always "pass").
_INFORMATIONAL = frozenset({"PresenceOfLinkedTableCheck", "RequiredZeroCheck"})

_RULE_TO_ACRO: dict[str, str] = {
    Rule.THRESHOLD.value: "MinimumThresholdCheck",
    Rule.NK_DOMINANCE.value: "NKCheck",
    Rule.P_PERCENT.value: "PPercentCheck",
    Rule.ZEROS.value: "PresenceOfZeroCheck",
    Rule.DOF.value: "MinimumDoFCheck",
}
_RULE_TO_LEGACY: dict[str, str] = {
    Rule.THRESHOLD.value: "threshold",
    Rule.NK_DOMINANCE.value: "nk-rule",
    Rule.P_PERCENT.value: "p-ratio",
}
# Order of names inside one outcome string (ACRO's order for its own checks).
_CHECK_ORDER = ("NKCheck", "PPercentCheck", "PresenceOfZeroCheck", "ClassDisclosureCheck",
                "MinimumThresholdCheck", "MinimumDoFCheck")

_ACRO_STATBARNS: dict[str, Statbarn] = {
    "Frequencies": Statbarn.FREQUENCY,
    "LinearAggregations": Statbarn.LINEAR_AGGREGATE,
    "Position": Statbarn.POSITION,
    "Endpoints": Statbarn.ENDPOINTS,
    "Mode": Statbarn.MODE,
    "Shape": Statbarn.SHAPE,
    "CorrelationCoefficients": Statbarn.MODEL,
    "StatisticalHypothesisTests": Statbarn.HYPOTHESIS_TEST,
    "HazardSurvivalTables": Statbarn.SURVIVAL,
}
_STATBARN_TO_ACRO: dict[Statbarn, str] = {v: k for k, v in _ACRO_STATBARNS.items()}
# Risks ACRO's ontology attaches to each statbarn (written into "fair").
_ACRO_RISKS: dict[str, list[str]] = {
    "Frequencies": ["ClassDisclosure", "Differencing", "LowCount"],
    "LinearAggregations": ["Dominance", "Differencing", "LowCount"],
    "Position": ["ClassDisclosure", "LowCount"],
    "Endpoints": ["ClassDisclosure", "LowCount"],
    "Mode": ["Differencing", "ClassDisclosure"],
    "Shape": ["LowDOF"],
    "CorrelationCoefficients": ["LowDOF"],
    "StatisticalHypothesisTests": ["LowDOF"],
    "HazardSurvivalTables": ["ImplicitTables", "LowDOF"],
}
# ACRO analysis names (the prefix of its summaries) <-> statbarn statistics.
_ANALYSIS_TO_STATISTIC: dict[str, str] = {
    "FrequencyTable": "count",
    "Mean": "mean",
    "Sum": "sum",
    "Median": "median",
    "StandardDeviation": "std",
    "Variance": "var",
    "Minimum": "min",
    "Maximum": "max",
    "ModeCalculation": "mode",
}
_STATISTIC_TO_ANALYSIS: dict[str, str] = {v: k for k, v in _ANALYSIS_TO_STATISTIC.items()}
_STATISTIC_TO_ANALYSIS["size"] = "FrequencyTable"


# ---- rule names ---------------------------------------------------------------------------------
def _camel(rule: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in rule.split("_"))


def statbarn_to_acro_rule(rule: str | Rule, *, legacy: bool = False) -> str | None:
    """ACRO's name for a statbarn rule: its 1.0 check name (or 0.4 token with ``legacy``).

    Rules ACRO has no check for are named ``<CamelCaseRule>Check`` in the 1.0
    style (``class_disclosure`` -> ``ClassDisclosureCheck``); with ``legacy``
    they have no name (``None``).  A string that is no statbarn rule gives ``None``.
    """
    name = rule.value if isinstance(rule, Rule) else str(rule)
    if legacy:
        return _RULE_TO_LEGACY.get(name)
    if name in _RULE_TO_ACRO:
        return _RULE_TO_ACRO[name]
    if name not in {r.value for r in Rule}:
        return None
    return f"{_camel(name)}Check"


def acro_to_statbarn_rules(name: str) -> tuple[Rule, ...]:
    """Every statbarn rule an ACRO check name or outcome token stands for (may be empty).

    ``negative`` (ACRO 0.4) stands for both dominance rules, which a negative
    contribution leaves undefined.
    """
    token = name.strip().rstrip(";").strip()
    if token in _ACRO_RULES:
        return _ACRO_RULES[token]
    if token.endswith("Check") and len(token) > len("Check"):
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", token[: -len("Check")]).lower()
        if snake in {r.value for r in Rule}:
            return (Rule(snake),)
    return ()


def acro_to_statbarn_rule(name: str) -> Rule | None:
    """The statbarn rule for an ACRO check name or outcome token, or ``None``."""
    rules = acro_to_statbarn_rules(name)
    return rules[0] if rules else None


def parse_outcome_cell(text: Any) -> list[str]:
    """The check names in one ACRO outcome string (``[]`` for ``"ok"``).

    ACRO 1.0 concatenates ``"NKCheck; PPercentCheck; "``; with several
    aggregation functions it can also write ``"okMinimumDoFCheck; "``.
    """
    if not isinstance(text, str):
        return []
    names: list[str] = []
    for part in text.split(";"):
        token = part.strip()
        if token.startswith("ok"):
            token = token[2:].strip()
        if token and token not in names:
            names.append(token)
    return names


# ---- reading ------------------------------------------------------------------------------------
@dataclass
class AcroOutput:
    """One output of an ACRO ``results.json``."""

    uid: str
    output_type: str
    status: str
    statbarn: Statbarn
    command: str
    summary: str
    outcome: pd.DataFrame | None
    files: list[Path]
    comments: list[str]
    exception: str
    properties: dict[str, Any]
    statistic: str | None = None
    timestamp: str | None = None
    sdc: list[dict[str, Any]] = field(default_factory=list)
    fair: dict[str, Any] = field(default_factory=dict)
    acro_version: str = ""
    risk_appetite: dict[str, Any] | None = None
    source: Path | None = None

    @property
    def verdict(self) -> Verdict:
        return STATUS_TO_VERDICT[self.status]

    @property
    def check_status(self) -> dict[str, str]:
        raw = self.fair.get("check_status")
        if not isinstance(raw, dict):
            return {}
        return {str(k): str(v).lower() for k, v in raw.items()}

    def flagged_cells(self) -> list[tuple[Any, Any, str]]:
        """``(row, col, acro_name)`` for every name in every flagged cell.

        Labels come from the outcome table (as ACRO wrote them: text, tuples
        for multi-level labels); without an outcome, from the files' ``sdc``
        cell positions (integers).
        """
        cells: list[tuple[Any, Any, str]] = []
        if self.outcome is not None and not self.outcome.empty:
            rows = [_parse_label(x) for x in self.outcome.index]
            cols = [_parse_label(x) for x in self.outcome.columns]
            values = self.outcome.to_numpy(dtype=object)
            for i, row in enumerate(rows):
                for j, col in enumerate(cols):
                    for name in parse_outcome_cell(values[i, j]):
                        cells.append((row, col, name))
            return cells
        seen: set[tuple[int, int, str]] = set()
        for sdc in self.sdc:
            raw = sdc.get("cells")
            if not isinstance(raw, dict):
                continue
            for name, positions in raw.items():
                if not isinstance(positions, list):
                    continue
                for pos in positions:
                    if isinstance(pos, list) and len(pos) == 2:
                        key = (int(pos[0]), int(pos[1]), str(name))
                        if key not in seen:
                            seen.add(key)
                            cells.append(key)
        return cells

    def _limit(self, rule: Rule, profile: Profile) -> float | int | None:
        appetite = self.risk_appetite or {}
        keys: dict[Rule, tuple[str, float | int | None]] = {
            Rule.THRESHOLD: ("safe_threshold", profile.min_count),
            Rule.NK_DOMINANCE: ("safe_nk_k", profile.nk_k),
            Rule.P_PERCENT: ("safe_pratio_p", profile.p_ratio),
            Rule.DOF: ("safe_dof_threshold", profile.min_dof),
        }
        if rule is Rule.ZEROS:
            return 1
        if rule not in keys:
            return None
        key, default = keys[rule]
        value = appetite.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        return default

    def _message(self, rule: Rule, name: str, row: Any, col: Any,
                 limit: float | int | None, profile: Profile) -> str:
        where = f"cell ({_text(row)}, {_text(col)})"
        nk_n = (self.risk_appetite or {}).get("safe_nk_n", profile.nk_n)
        if name == "negative":
            return (f"ACRO found a negative value in the {where}, so dominance is undefined; "
                    "a person must review it.")
        if self.check_status.get(name) == "review" and rule in (Rule.NK_DOMINANCE,
                                                                 Rule.P_PERCENT):
            return (f"ACRO could not check dominance in the {where} (negative values); "
                    "a person must review it.")
        texts = {
            Rule.THRESHOLD: f"has fewer than {limit} contributors",
            Rule.NK_DOMINANCE: f"is dominated: its {nk_n} largest contributions make at least "
            f"{_pct(limit)} of the total",
            Rule.P_PERCENT: f"fails the p% rule: the others add up to less than {_pct(limit)} "
            "of the largest contribution",
            Rule.ZEROS: "is empty",
            Rule.DOF: f"has fewer than {limit} degrees of freedom",
            Rule.CLASS_DISCLOSURE: "reveals an attribute of everyone in it",
        }
        text = texts.get(rule, f"was flagged by ACRO's {name}")
        return f"According to ACRO ({name}), the {where} {text}; ACRO stores no observed value."

    def _flag_verdict(self, name: str, ceiling: Verdict) -> Verdict:
        status = self.check_status.get(name)
        if status in STATUS_TO_VERDICT:  # a flagged cell of a check ACRO passed stays a pass
            verdict = STATUS_TO_VERDICT[status]
        else:
            verdict = Verdict.ESCALATE if name in _REVIEW_TOKENS else Verdict.FAIL
        return verdict if verdict.severity <= ceiling.severity else ceiling

    def assessment(self, profile: Profile | str | None = None) -> Assessment:
        """This output as a statbarn :class:`Assessment` whose verdict is ACRO's status.

        ``pass`` -> PASS, ``fail`` -> FAIL, ``review`` -> ESCALATE.  Each flagged
        cell becomes one :class:`CellFlag` per rule (no flag is stricter than
        ACRO's status, so suppressed-and-reviewed outputs escalate); checks ACRO
        failed without naming cells, and statuses no rule explains, become
        whole-output flags.
        """
        prof = load_profile(profile)
        ceiling = self.verdict
        by_rule: dict[str, list[CellFlag]] = {}
        ran: dict[str, Verdict] = {}
        notes = [f"Read from ACRO {self.acro_version or '(unknown version)'} results"
                 + (f" {self.source}" if self.source else "") + f", output '{self.uid}'."]
        dropped = 0
        for row, col, name in self.flagged_cells():
            rules = acro_to_statbarn_rules(name) or (Rule.UNCHECKABLE,)
            verdict = self._flag_verdict(name, ceiling)
            for rule in rules:
                if verdict is Verdict.PASS:
                    dropped += 1
                    continue
                limit = self._limit(rule, prof)
                by_rule.setdefault(rule.value, []).append(CellFlag(
                    rule=rule.value, verdict=verdict, row=row, col=col, value=None, limit=limit,
                    message=self._message(rule, name, row, col, limit, prof)))
        if dropped:
            notes.append(f"{dropped} flagged cell(s) of checks ACRO passed were not counted.")
        for name, status in self.check_status.items():
            if name in _INFORMATIONAL or status not in STATUS_TO_VERDICT:
                continue
            verdict = STATUS_TO_VERDICT[status]
            verdict = verdict if verdict.severity <= ceiling.severity else ceiling
            for rule in acro_to_statbarn_rules(name) or (Rule.UNCHECKABLE,):
                ran[rule.value] = worst([ran.get(rule.value, Verdict.PASS), verdict])
        checks: list[CheckResult] = []
        for rule_name in _ordered_rules(set(by_rule) | set(ran)):
            flags = by_rule.get(rule_name, [])
            status_verdict = ran.get(rule_name, Verdict.PASS)
            if not flags and status_verdict is not Verdict.PASS:
                names = [n for n, s in self.check_status.items()
                         if rule_name in {r.value for r in acro_to_statbarn_rules(n)}
                         and s != "pass"] or [rule_name]
                flags = [CellFlag(rule=rule_name, verdict=status_verdict, row=None, col=None,
                                  value=None, limit=self._limit(Rule(rule_name), prof),
                                  message=f"ACRO's {', '.join(names)} reported "
                                  f"'{VERDICT_TO_STATUS[status_verdict]}' for this output.")]
            verdict = worst(f.verdict for f in flags)
            if not flags:
                summary = "ACRO found no problem."
            elif flags[0].row is None and flags[0].col is None:
                summary = flags[0].message
            else:
                summary = f"ACRO flagged {len(flags)} cell(s)."
            checks.append(CheckResult(rule=rule_name, verdict=verdict, cells=flags,
                                      summary=summary))
        if worst(c.verdict for c in checks).severity < ceiling.severity:
            summary = " ".join(self.summary.split()) or f"ACRO status '{self.status}'."
            checks.append(CheckResult(
                rule=Rule.UNCHECKABLE.value, verdict=ceiling,
                cells=[CellFlag(rule=Rule.UNCHECKABLE.value, verdict=ceiling, row=None, col=None,
                                value=None, limit=None,
                                message=f"ACRO reported '{self.status}' for this output: "
                                f"{summary}")],
                summary=f"ACRO reported '{self.status}'."))
        if self.exception:
            notes.append(f"Exception requested in ACRO: {self.exception}")
        notes.extend(f"ACRO comment: {c}" for c in self.comments)
        return Assessment(statbarn=self.statbarn, checks=checks, profile=prof,
                          statistic=self.statistic,
                          file=str(self.files[0]) if self.files else None, notes=notes)


def _ordered_rules(rules: Iterable[str]) -> list[str]:
    order = [r.value for r in Rule]
    return sorted(rules, key=lambda r: (order.index(r) if r in order else len(order), r))


def _pct(limit: float | int | None) -> str:
    return "?" if limit is None else f"{float(limit):.0%}"


def _text(label: Any) -> str:
    if isinstance(label, tuple):
        return " / ".join(str(x) for x in label)
    return str(label)


def _parse_label(text: Any) -> Any:
    """ACRO writes multi-level labels as ``"('a', 1)"``: give those back as tuples."""
    if isinstance(text, str) and text.startswith("(") and text.endswith(")"):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return text
        if isinstance(value, tuple):
            return value
    return text


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, problem: str) -> AcroFormatError:
        return AcroFormatError(f"{self.path}: {problem}")

    def load(self, path: Path, what: str) -> Any:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise AcroFormatError(f"{path}: {what} not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise AcroFormatError(f"{path}: cannot read {what}: {exc}") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise AcroFormatError(f"{path}: {what} is not valid JSON: {exc}") from None

    def text(self, entry: dict[str, Any], key: str, uid: str, default: str = "") -> str:
        value = entry.get(key, default)
        if value is None:
            return default
        if not isinstance(value, (str, int, float)):
            raise self.fail(f"output '{uid}': '{key}' must be text, not {type(value).__name__}")
        return str(value)

    def output(self, uid: str, entry: Any, version: str,
               appetite: dict[str, Any] | None) -> AcroOutput:
        if not isinstance(entry, dict):
            raise self.fail(f"output '{uid}' must be an object, not {type(entry).__name__}")
        status = entry.get("status")
        if not isinstance(status, str) or status.lower() not in ACRO_STATUSES:
            raise self.fail(f"output '{uid}': 'status' must be one of "
                            f"{', '.join(ACRO_STATUSES)} (got {status!r})")
        status = status.lower()
        real_uid = self.text(entry, "uid", uid, default=uid) or uid
        files, sdc = self.files(uid, entry)
        outcome = self.outcome(uid, entry.get("outcome"))
        comments = entry.get("comments") or []
        if not isinstance(comments, list):
            raise self.fail(f"output '{uid}': 'comments' must be a list")
        properties = entry.get("properties") or {}
        if not isinstance(properties, dict):
            raise self.fail(f"output '{uid}': 'properties' must be an object")
        fair = entry.get("fair") or {}
        if not isinstance(fair, dict):
            raise self.fail(f"output '{uid}': 'fair' must be an object")
        summary = self.text(entry, "summary", uid)
        output_type = self.text(entry, "type", uid, default="unknown") or "unknown"
        statistic = _statistic_of(summary)
        statbarn = _statbarn_of(fair.get("statbarn"), output_type, statistic)
        timestamp = entry.get("timestamp")
        return AcroOutput(
            uid=real_uid, output_type=output_type, status=status, statbarn=statbarn,
            command=self.text(entry, "command", uid), summary=summary, outcome=outcome,
            files=files, comments=[str(c) for c in comments],
            exception=self.text(entry, "exception", uid), properties=dict(properties),
            statistic=statistic, timestamp=None if timestamp is None else str(timestamp),
            sdc=sdc, fair=dict(fair), acro_version=version, risk_appetite=appetite,
            source=self.path)

    def files(self, uid: str, entry: dict[str, Any]) -> tuple[list[Path], list[dict[str, Any]]]:
        base = self.path.parent
        raw = entry.get("files")
        if raw is None and "output" in entry:  # ACRO <= 0.3: a list of paths
            raw = entry["output"]
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            raise self.fail(f"output '{uid}': 'files' must be a list")
        files: list[Path] = []
        sdc: list[dict[str, Any]] = []
        for item in raw:
            item_sdc: Any
            if isinstance(item, str):
                name, item_sdc = item, {}
            elif isinstance(item, dict) and isinstance(item.get("name"), str):
                name, item_sdc = item["name"], item.get("sdc") or {}
                if not isinstance(item_sdc, dict):
                    raise self.fail(f"output '{uid}': file '{name}': 'sdc' must be an object")
            else:
                raise self.fail(f"output '{uid}': every entry of 'files' needs a 'name'")
            if not name:
                raise self.fail(f"output '{uid}': a file has an empty name")
            files.append(base / name)
            sdc.append(item_sdc)
        return files, sdc

    def outcome(self, uid: str, raw: Any) -> pd.DataFrame | None:
        if raw is None or raw == {} or raw == []:
            return None
        if not isinstance(raw, dict):
            raise self.fail(f"output '{uid}': 'outcome' must be an object of columns")
        for col, cells in raw.items():
            if not isinstance(cells, dict):
                raise self.fail(f"output '{uid}': outcome column {col!r} must be an object "
                                "of rows")
            for row, value in cells.items():
                if value is not None and not isinstance(value, str):
                    raise self.fail(f"output '{uid}': outcome cell ({row}, {col}) must be "
                                    f"text, not {type(value).__name__}")
        return pd.DataFrame.from_dict(raw).astype(object)

    def appetite(self, data: dict[str, Any]) -> dict[str, Any] | None:
        inline = data.get("config")
        if isinstance(inline, dict):
            return inline
        config = self.path.parent / CONFIG_FILE
        if not config.is_file():
            return None
        loaded = self.load(config, "ACRO config")
        if not isinstance(loaded, dict):
            raise AcroFormatError(f"{config}: ACRO config must be an object of settings")
        return loaded


def read_acro_results(path: str | Path) -> list[AcroOutput]:
    """Every output of an ACRO ``results.json`` (a path to it, or to its folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    reader = _Reader(path)
    data = reader.load(path, "ACRO results")
    if not isinstance(data, dict):
        raise reader.fail("ACRO results must be a JSON object with 'version' and 'results'")
    if "results" not in data:
        raise reader.fail("no 'results' key: not an ACRO results.json")
    results = data["results"]
    if not isinstance(results, dict):
        raise reader.fail("'results' must be an object of outputs by id")
    version = data.get("version", "")
    if not isinstance(version, str):
        raise reader.fail("'version' must be text")
    appetite = reader.appetite(data)
    return [reader.output(str(uid), entry, version, appetite) for uid, entry in results.items()]


def _statistic_of(summary: str) -> str | None:
    match = re.match(r"\s*(\w+)\s*:", summary)
    if match:
        return _ANALYSIS_TO_STATISTIC.get(match.group(1))
    return None


def _statbarn_of(acro_statbarn: Any, output_type: str, statistic: str | None) -> Statbarn:
    if isinstance(acro_statbarn, str) and acro_statbarn in _ACRO_STATBARNS:
        return _ACRO_STATBARNS[acro_statbarn]
    if statistic is not None:
        return statbarn_of(statistic)
    if output_type == "regression":
        return Statbarn.MODEL
    if output_type in ("survival table", "survival plot"):
        return Statbarn.SURVIVAL
    if output_type in ("histogram", "pie chart"):
        return Statbarn.FREQUENCY
    return Statbarn.UNKNOWN


# ---- writing ------------------------------------------------------------------------------------
_UID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def _key(label: Any) -> str:
    return repr(label)


def _status(verdict: Verdict) -> str:
    return VERDICT_TO_STATUS[verdict]


def _check_names(checks: Sequence[CheckResult]) -> list[tuple[CheckResult, str]]:
    named: list[tuple[CheckResult, str]] = []
    for check in checks:
        name = statbarn_to_acro_rule(check.rule) or f"{_camel(str(check.rule))}Check"
        named.append((check, name))
    return named


def _summary(analysis: str, named: list[tuple[CheckResult, str]]) -> str:
    text = f"{analysis} : "
    for check, name in named:
        if check.verdict is Verdict.PASS:
            continue
        cells = sum(1 for f in check.cells if f.row is not None or f.col is not None)
        detail = f"{cells} cells may need suppressing." if cells else check.summary
        text += f"\n{name}: {_status(check.verdict)} - {detail}"
    return text + "\n"


def _fair(statbarn: Statbarn, named: list[tuple[CheckResult, str]], dependent: str,
          independent: list[str]) -> dict[str, Any]:
    acro_statbarn = _STATBARN_TO_ACRO.get(statbarn, statbarn.value)
    check_status: dict[str, str] = {}
    for check, name in named:
        previous = check_status.get(name)
        verdicts = [check.verdict] + ([STATUS_TO_VERDICT[previous]] if previous else [])
        check_status[name] = _status(worst(verdicts))
    return {
        "context": "https://w3id.org/statbarnsdc#",
        "statbarn": acro_statbarn,
        "risks": list(_ACRO_RISKS.get(acro_statbarn, [])),
        "checks_needed": list(check_status),
        "common_mitigations": [],
        "check_status": check_status,
        "dependent": dependent,
        "independent": independent,
    }


def _label_name(x: Any) -> str:
    return "unknown" if x is None else str(x)


def _table_entry(uid: str, out: TableOutput) -> tuple[dict[str, Any], bytes]:
    ev = out.evidence
    table = out.table
    named = _check_names(out.checks)
    nr, nc = table.shape
    rows = {_key(label): i for i, label in enumerate(ev.row_labels)}
    cols = {_key(label): j for j, label in enumerate(ev.col_labels)}
    if ev.shape != (nr, nc):
        raise UsageError(f"output '{uid}': its table has shape {table.shape} but its evidence "
                         f"{ev.shape}; cannot place flags on cells")
    names: list[list[list[str]]] = [[[] for _ in range(nc)] for _ in range(nr)]
    cells: dict[str, list[list[int]]] = {}
    for check, name in named:
        cells.setdefault(name, [])
        for flag in check.cells:
            if flag.verdict is Verdict.PASS or (flag.row is None and flag.col is None):
                continue
            i, j = rows.get(_key(flag.row)), cols.get(_key(flag.col))
            if i is None or j is None:
                continue
            if name not in names[i][j]:
                names[i][j].append(name)
                cells[name].append([i, j])
    if any(name == "MinimumThresholdCheck" for _, name in named):
        # ACRO counts an empty cell under its threshold check too; statbarn says it once,
        # under zeros: ACRO's files say both, as ACRO's own do.
        for i, row_names in enumerate(names):
            for j, cell_names in enumerate(row_names):
                if "PresenceOfZeroCheck" in cell_names and \
                        "MinimumThresholdCheck" not in cell_names:
                    cell_names.append("MinimumThresholdCheck")
                    cells.setdefault("MinimumThresholdCheck", []).append([i, j])
    order = {n: k for k, n in enumerate(_CHECK_ORDER)}
    strings = [["".join(f"{n}; " for n in sorted(cell, key=lambda n: (order.get(n, 99), n)))
                 or "ok" for cell in row] for row in names]
    outcome_frame = pd.DataFrame(strings, index=table.index, columns=table.columns)
    try:
        outcome = json.loads(outcome_frame.to_json())
    except ValueError:  # labels pandas will not serialise: name them as text
        outcome = {str(c): {str(r): strings[i][j] for i, r in enumerate(table.index)}
                   for j, c in enumerate(table.columns)}
    sdc = {"summary": {name: len(pos) for name, pos in cells.items()},
           "cells": {name: sorted(pos) for name, pos in cells.items()}}
    statistic = ev.statistic
    analysis = _STATISTIC_TO_ANALYSIS.get(statistic, statistic.capitalize())
    independent = [_label_name(n) for n in [*ev.index_names, *ev.column_names]]
    dependent = "unknown"
    if statistic not in ("count", "size") and not ev.column_names and len(table.columns) == 1:
        dependent = _label_name(table.columns[0])
    mitigation = out.derived_from if out.derived_from in ("suppress", "round") else "none"
    properties: dict[str, Any] = {
        "method": "crosstab" if ev.column_names else "pivot_table",
        "mitigation": mitigation,
    }
    if mitigation == "round" and "rounding_base" in out.meta:
        properties["round_base"] = out.meta["rounding_base"]
    properties["statbarn"] = {"verdict": out.assessment.verdict.value, "statistic": statistic,
                              "profile": out.profile.summary(),
                              "statbarn_version": STATBARN_VERSION}
    entry: dict[str, Any] = {
        "uid": uid,
        "status": _status(out.assessment.verdict),
        "type": "table",
        "properties": properties,
        "files": [{"name": f"{uid}_0.csv", "sdc": sdc}],
        "outcome": outcome,
        "command": f"statbarn {properties['method']}: {statistic} table",
        "summary": _summary(analysis, named),
        "timestamp": _now(),
        "comments": [],
        "exception": "",
        "fair": _fair(out.assessment.statbarn, named, dependent, independent),
    }
    return entry, table.to_csv().encode("utf-8")


def _assessment_entry(uid: str, a: Assessment, folder: Path
                      ) -> tuple[dict[str, Any], str, bytes | None]:
    if not a.file:
        raise UsageError(f"output '{uid}': an Assessment without a file cannot be written to "
                         "results.json (ACRO and the SACRO viewer need one file per output)")
    source = Path(a.file)
    data: bytes | None = None
    if source.is_absolute():
        try:
            name = source.relative_to(folder.resolve()).as_posix()
        except ValueError:
            name = source.name
            data = source.read_bytes() if source.is_file() else None
    else:
        name = source.as_posix()
    named = _check_names(a.checks)
    cells: dict[str, list[list[int]]] = {name_: [] for _, name_ in named}
    statistic = a.statistic or ""
    analysis = _STATISTIC_TO_ANALYSIS.get(statistic, statistic.capitalize() or a.statbarn.value)
    if a.statbarn is Statbarn.MODEL:
        output_type = "regression"
    elif a.statistic is not None:
        output_type = "table"
    else:
        output_type = "custom"
    entry: dict[str, Any] = {
        "uid": uid,
        "status": _status(a.verdict),
        "type": output_type,
        "properties": {"method": output_type if output_type != "table" else "crosstab",
                       "mitigation": "none",
                       "statbarn": {"verdict": a.verdict.value, "statistic": a.statistic,
                                    "profile": a.profile.summary(),
                                    "statbarn_version": STATBARN_VERSION}},
        "files": [{"name": name, "sdc": {"summary": {n: 0 for n in cells}, "cells": cells}}],
        "outcome": {},
        "command": f"statbarn check: {a.file}",
        "summary": _summary(analysis, named),
        "timestamp": _now(),
        "comments": list(a.notes),
        "exception": "",
        "fair": _fair(a.statbarn, named, "unknown", []),
    }
    return entry, name, data


def _now() -> str:
    return datetime.now(UTC).isoformat()


def acro_config(profile: Profile) -> dict[str, Any]:
    """ACRO's ``config.json`` (risk appetite) equivalent to a statbarn profile."""
    return {
        "safe_threshold": profile.min_count,
        "safe_dof_threshold": profile.min_dof,
        "safe_nk_n": profile.nk_n,
        "safe_nk_k": profile.nk_k,
        "safe_pratio_p": profile.p_ratio,
        "check_missing_values": False,
        "survival_safe_threshold": profile.min_count,
        "zeros_are_disclosive": profile.zeros_are_disclosive,
        "safe_round_base": profile.rounding_base,
        "federated": False,
        "blocked_extensions": [],
        "suppress": False,
    }


def write_acro_results(
    outputs: Sequence[tuple[str, TableOutput | Assessment]],
    path: str | Path,
    *,
    version: str = ACRO_FORMAT_VERSION,
) -> Path:
    """Write outputs as ACRO would: ``results.json``, CSVs, ``config.json``, ``checksums/``.

    ``path`` is the output folder (``results.json`` is written inside it) or
    a ``.json`` file path.  Each table is written as ``<uid>_0.csv``; an
    :class:`Assessment` refers to its ``file`` (copied into the folder, as ACRO
    copies custom outputs, when it lies elsewhere).  ``config.json`` holds the
    first output's profile as ACRO's risk appetite.  ``version`` is the ACRO
    format version stamped on the file: ACRO's own ``load_records`` refuses
    any version but its own.  Every file is written atomically.  Returns the
    path of ``results.json``.
    """
    target = Path(path)
    if target.suffix.lower() == ".json":
        folder, results_path = target.parent, target
    else:
        folder, results_path = target, target / RESULTS_FILE
    seen: set[str] = set()
    results: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    profile: Profile | None = None
    for item in outputs:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise UsageError("outputs must be (uid, TableOutput or Assessment) pairs")
        uid, output = item
        if not isinstance(uid, str) or not _UID.match(uid):
            raise UsageError(f"output id {uid!r} must be letters, digits, '_', '-' or '.' "
                             "(it names the output's files)")
        if uid in seen:
            raise UsageError(f"output id '{uid}' is used twice")
        seen.add(uid)
        if isinstance(output, TableOutput):
            entry, csv_bytes = _table_entry(uid, output)
            files[entry["files"][0]["name"]] = csv_bytes
            profile = profile or output.profile
        elif isinstance(output, Assessment):
            entry, name, data = _assessment_entry(uid, output, folder)
            if data is not None:
                files[name] = data
            profile = profile or output.profile
        else:
            raise UsageError(f"output '{uid}' is a {type(output).__name__}, not a statbarn "
                             "TableOutput or Assessment")
        results[uid] = entry
    payload = {
        "version": version,
        "tool": {"@type": "SoftwareApplication", "name": "statbarn", "url": "",
                 "version": STATBARN_VERSION},
        "results": results,
    }
    config = acro_config(profile or load_profile(None))
    written: dict[str, bytes] = dict(files)
    written[results_path.name] = json.dumps(payload, indent=4, allow_nan=False).encode("utf-8")
    written[CONFIG_FILE] = json.dumps(config, indent=4).encode("utf-8")
    for name, data in files.items():
        atomic_write_bytes(folder / name, data)
    for entry in results.values():  # files already in the folder are checksummed as they are
        name = entry["files"][0]["name"]
        if name not in written and (folder / name).is_file():
            written[name] = (folder / name).read_bytes()
    atomic_write_bytes(folder / CONFIG_FILE, written[CONFIG_FILE])
    for name, data in written.items():
        atomic_write_bytes(folder / CHECKSUMS_DIR / f"{name}.txt",
                           sha256_bytes(data).encode("ascii"))
    atomic_write_bytes(results_path, written[results_path.name])
    return results_path


__all__ = [
    "ACRO_FORMAT_VERSION",
    "AcroOutput",
    "acro_config",
    "acro_to_statbarn_rule",
    "acro_to_statbarn_rules",
    "parse_outcome_cell",
    "read_acro_results",
    "statbarn_to_acro_rule",
    "write_acro_results",
]
