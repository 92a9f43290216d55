"""The text of a notebook, scanned as a text output is (:mod:`statbarn.text`).

A notebook escalates (it holds code and prose), but a person skimming a hundred cells
misses an NHS number in one printed output, so the text every reader of the canonical
notebook sees (:func:`airlock.canonical.notebook.visible_text`: cell sources, streams,
errors, plain-text outputs) is scanned first: a finding fails the notebook, named by
its cell, output and line, never by its text.  The texts are scanned as one document,
so encoded tokens spread over many cells add up as in one file.

Pure: the canonical notebook in, checks out.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from airlock.canonical.notebook import visible_text
from statbarn.text import ENCODED, FILE_RULES, IDENTIFIERS, MAX_FLAGS, ROW_LEVEL, scan
from statbarn.verdict import CellFlag, CheckResult, Verdict

_SUMMARIES = {IDENTIFIERS: "direct identifiers", ENCODED: "encoded data",
              ROW_LEVEL: "rows of records"}


def notebook_text_checks(nb: dict[str, Any]) -> list[CheckResult]:
    """One failing check per rule with findings (a flag per finding); none when clean."""
    texts = visible_text(nb)
    starts: list[int] = []  # the first line (1-based) of each text in the joined document
    parts: list[str] = []
    line = 1
    for _, text in texts:
        starts.append(line)
        body = text.replace("\r\n", "\n").replace("\r", "\n")
        parts.append(body)
        line += body.count("\n") + 1
    found = scan("\n".join(parts), FILE_RULES)
    checks: list[CheckResult] = []
    for rule in (IDENTIFIERS, ENCODED, ROW_LEVEL):
        mine = [f for f in found if f.rule == rule]
        if not mine:
            continue
        flags = []
        for f in mine[:MAX_FLAGS]:
            at = max(bisect_right(starts, f.line) - 1, 0)
            local = f.line - starts[at] + 1
            flags.append(CellFlag(rule, Verdict.FAIL, None, None, None, None,
                                  f"{texts[at][0]}, line {local}: {f.what}; remove it "
                                  "before exporting."))
        checks.append(CheckResult(
            rule, Verdict.FAIL, flags,
            f"The notebook's text holds {_SUMMARIES[rule]} ({len(mine)} finding(s)); what "
            "a notebook shows may hold no identifiers, encoded data or records."))
    return checks
