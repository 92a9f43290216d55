"""Why a request waits for a person: the reasons a checker triages the queue by.

Pure (no I/O): from each file's check records (rule and verdict of every
check) and whether the researcher asked for an exception.  A request can wait
for several reasons; each has a key (the queue's filter value) and a label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The rules that flag cells of a table: a count too small, a dominated or
# recoverable value, a record-level output.  Any of them is "a disclosive cell".
CELL_RULES = frozenset({"threshold", "zeros", "class_disclosure", "nk_dominance", "p_percent",
                        "dof", "k_anonymity", "l_diversity", "microdata", "suppression_audit"})

REASONS: dict[str, str] = {
    "small_cell": "small or dominated cell",
    "differencing": "differencing with an earlier release",
    "no_evidence": "no statbarn evidence",
    "exception": "exception asked",
    "uncheckable": "type not checkable automatically",
}


@dataclass(frozen=True)
class FileFacts:
    """What triage needs of one file: its checks' (rule, verdict), and its exception."""

    checks: Sequence[tuple[str, str]]
    exception: bool = False


def file_facts(results: Iterable[Mapping[str, Any]], exception: str | None) -> FileFacts:
    """From a file's check results (statbarn ``Assessment.to_dict()`` each)."""
    checks = [(str(c.get("rule", "")), str(c.get("verdict", "")))
              for r in results for c in r.get("checks", []) if isinstance(c, Mapping)]
    return FileFacts(checks, bool(exception and exception.strip()))


def reasons(files: Iterable[FileFacts]) -> list[str]:
    """The reasons' keys, in the order of :data:`REASONS`."""
    found: set[str] = set()
    for f in files:
        if f.exception:
            found.add("exception")
        for rule, verdict in f.checks:
            if verdict == "pass":
                continue
            if rule in CELL_RULES:
                found.add("small_cell")
            elif rule == "differencing":
                found.add("differencing")
            elif rule == "evidence":
                found.add("no_evidence")
            elif rule == "uncheckable":
                found.add("uncheckable")
    return [k for k in REASONS if k in found]
