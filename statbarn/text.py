"""Free text that must not leave: direct identifiers, encoded payloads, rows of records.

Text, JSON and Markdown outputs (and every free-text field the airlock stores) are
scanned here, so the workspace's ``tre check`` and the airlock decide alike.  What
is looked for:

- **direct identifiers**: NHS numbers (10 digits, plain or 3-3-4, with a valid
  modulus-11 check digit), full dates (day, month and year: dates of birth and event
  dates identify people), full UK postcodes, e-mail addresses, runs of 11 or more
  digits (phone, hospital and other record numbers);
- **encoded payloads**: base64, base32 or hex tokens of high entropy, percent- or
  ``\\x``-escaped bytes and hex dumps (a file smuggled out as text);
- **row-level data**: many consecutive lines with the same number of delimiters
  (``,``, tab, ``;`` or ``|``): records, not prose.

A finding names its line and what it is, never the identifier itself.

The scan works on UTF-8 bytes: every pattern is ASCII, and byte offsets let numpy
turn match positions into line numbers and count delimiters per line in one pass.
Every pattern is linear: no nested quantifiers, and each repeated class is anchored
by a look-behind to the start of its run, so a pathological input costs one pass.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from statbarn.kinds import Statbarn
from statbarn.profile import Profile
from statbarn.result import Assessment
from statbarn.verdict import CellFlag, CheckResult, Rule, Verdict, whole_output_check

# Rule names of the text checks (as they appear in results, beside statbarn.verdict.Rule).
IDENTIFIERS = "direct_identifiers"
ENCODED = "encoded_data"
ROW_LEVEL = "row_level_data"
TEXT_SUFFIXES = frozenset({".txt", ".log", ".md", ".markdown", ".json"})
MAX_TEXT_BYTES = 8 * 1024**2  # scanned at about 1 MB in 0.2-0.5 s
MAX_FLAGS = 50  # flags listed per rule; the summary gives the full count
MAX_MATCHES = 1000  # matches taken per pattern: enough to decide, and bounded work

_MONTHS = (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct",
           b"nov", b"dec")
_MONTH = rb"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.?"
_ORD = rb"(?:st|nd|rd|th)?"

# A look-behind placed after a pattern's first character, not before it, lets the regex
# engine skip ahead to candidates (measured: about twice as fast on ordinary text).
# Not after "<digit>.": the fractional part of a number is no record number.
_NHS = re.compile(rb"([0-9](?<![0-9]{2})(?<![0-9]\.[0-9])[0-9]{2})([ -]?)([0-9]{3})\2([0-9]{4})"
                  rb"(?![0-9])")
_DIGITS = re.compile(rb"[0-9](?<![0-9]{2})(?<![0-9]\.[0-9])[0-9]{10,}")
_DATE_YMD = re.compile(rb"((?:19|20)(?<![0-9]{3})[0-9]{2})([-/.])([0-9]{1,2})\2([0-9]{1,2})"
                       rb"(?![0-9])")
# Two-digit years only with slashes (1.2.24 is more often a version than a date).
_DATE_DMY = re.compile(rb"([0-9](?<![0-9.][0-9])[0-9]?)([-/.])([0-9]{1,2})\2"
                       rb"((?:19|20)?[0-9]{2})(?![0-9])")
_DATE_DAY_MONTH = re.compile(rb"([0-9](?<![0-9]{2})[0-9]?)" + _ORD + rb"[ -]{1,3}(?:of[ ]{1,3})?"
                             + _MONTH + rb",?[ -]{1,3}((?:19|20)[0-9]{2})(?![0-9])")
_DATE_MONTH_DAY = re.compile(rb"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)(?<![a-z]{4})"
                             rb"[a-z]{0,6}\.?[ ]{1,3}([0-9]{1,2})" + _ORD
                             + rb",?[ ]{1,3}((?:19|20)[0-9]{2})(?![0-9])")
# A postcode is found from its inward code (a digit and two letters: few candidates),
# then its outward code is matched in the few characters before it.
_INWARD = re.compile(rb"[0-9][abd-hjlnp-uw-z]{2}(?![a-z0-9])")
_OUTWARD = re.compile(rb"(?:^|[^a-z0-9])(?:[a-pr-uwyz][0-9][0-9a-hjkpstuw]?"
                      rb"|[a-pr-uwyz][a-hk-y][0-9][0-9abehmnprvwxy]?) ?$")
# Found from its '@' (a literal: fast), then its local part is checked behind it.
_EMAIL = re.compile(rb"@(?<=[A-Za-z0-9._%+-]@)[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}")
# '/' (standard base64) splits tokens, so paths do not look encoded; a base64 payload
# still yields tokens of about 64 characters between its slashes.
_TOKEN = re.compile(rb"(?<![A-Za-z0-9+_-])[A-Za-z0-9+_-]{32,}={0,2}")
# Each starts with a literal, which the regex engine looks for before trying a match.
_ESCAPED = (re.compile(rb"%[0-9A-Fa-f]{2}(?:%[0-9A-Fa-f]{2}){15,}"),
            re.compile(rb"\\x[0-9A-Fa-f]{2}(?:\\x[0-9A-Fa-f]{2}){15,}"),
            re.compile(rb"[0-9A-Fa-f](?<![0-9A-Fa-f]{2})[0-9A-Fa-f](?:[ :][0-9A-Fa-f]{2}){31,}"
                       rb"(?![0-9A-Fa-f])"))
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_DELIMITERS = ((b",", "commas"), (b"\t", "tabs"), (b";", "semicolons"), (b"|", "bars"))


@dataclass(frozen=True)
class ScanRules:
    """How much is too much.  ``FILE_RULES`` for output files, ``FIELD_RULES`` for the
    short free text of a request (a context holds no table, however small)."""

    record_lines: int = 20  # consecutive delimited lines that make a block of records
    record_field_bytes: int = 24  # at most this many bytes a field (median): not prose
    encoded_token: int = 80  # one encoded token this long (longer than a SHA-256) is a payload
    encoded_total: int = 320  # encoded tokens (of 32+ characters) adding up to this many


FILE_RULES = ScanRules()
FIELD_RULES = ScanRules(record_lines=5)


@dataclass(frozen=True)
class Finding:
    rule: str
    line: int  # 1-based; the first line of a block
    what: str  # a description that never repeats the identifier
    last_line: int | None = None

    @property
    def where(self) -> str:
        if self.last_line is not None and self.last_line != self.line:
            return f"lines {self.line}-{self.last_line}"
        return f"line {self.line}"

    @property
    def message(self) -> str:
        return f"{self.where}: {self.what}"


def nhs_valid(digits: bytes) -> bool:
    """The NHS number's modulus-11 check: weights 10..2 on the first nine digits; the
    check digit is 11 minus the remainder (11 reads 0, 10 is never valid)."""
    total = sum((10 - i) * (digits[i] - 48) for i in range(9))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == digits[9] - 48


def _full_date(year: int, month: int, day: int) -> bool:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return False
    if month == 2:
        return day <= 29
    return day <= 30 or month in (1, 3, 5, 7, 8, 10, 12)


def _entropy(token: bytes) -> float:
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in Counter(token).values())


def _encoded(token: bytes) -> bool:
    """Random bytes written as text, rather than a word, a path or a rule line."""
    body = token.rstrip(b"=")
    if body.isdigit():
        return False  # digit runs are their own rule
    if _HEX.fullmatch(body):
        return any(48 <= b <= 57 for b in body) and _entropy(body) >= 3.0
    upper = any(65 <= b <= 90 for b in body)
    lower = any(97 <= b <= 122 for b in body)
    digit = any(48 <= b <= 57 for b in body)
    if upper + lower + digit < 2:
        return False
    # English and identifiers stay near 4 bits per character; random base64 of 32
    # characters is about 4.5 and rises towards 6 with length.
    return _entropy(body) >= min(4.2, 0.86 * math.log2(len(body)))


class _Lines:
    """Line numbers of byte offsets (one numpy search for every match)."""

    def __init__(self, data: bytes) -> None:
        arr = np.frombuffer(data, dtype=np.uint8)
        self.arr = arr
        self.ends = np.flatnonzero(arr == 10)

    def of(self, offset: int) -> int:
        return int(np.searchsorted(self.ends, offset, side="left")) + 1


def _matches(pattern: re.Pattern[bytes], data: bytes) -> Iterator[re.Match[bytes]]:
    return islice(pattern.finditer(data), MAX_MATCHES)


def _identifiers(data: bytes) -> Iterator[tuple[int, str]]:
    low = data.lower()  # ASCII only, same offsets: the patterns for words and postcodes
    # are written in lower case (faster than matching without regard to case)
    for m in _matches(_NHS, data):
        digits = m.group(1) + m.group(3) + m.group(4)
        if nhs_valid(digits):
            yield m.start(), "an NHS number (10 digits with a valid check digit)"
    for m in _matches(_DIGITS, data):
        yield m.start(), f"a run of {m.end() - m.start()} digits (a record or phone number?)"
    for m in _matches(_DATE_YMD, data):
        if _full_date(int(m.group(1)), int(m.group(3)), int(m.group(4))):
            yield m.start(), "a full date (day, month and year)"
    for m in _matches(_DATE_DMY, data):
        if len(m.group(4)) == 2 and m.group(2) != b"/":
            continue
        a, b = int(m.group(1)), int(m.group(3))
        if _full_date(2000, b, a) or _full_date(2000, a, b):  # day/month or month/day
            yield m.start(), "a full date (day, month and year)"
    for m in _matches(_DATE_DAY_MONTH, low):
        if _full_date(2000, _MONTHS.index(m.group(2)[:3]) + 1, int(m.group(1))):
            yield m.start(), "a full date (day, month and year)"
    for m in _matches(_DATE_MONTH_DAY, low):
        if _full_date(2000, _MONTHS.index(m.group(1)[:3]) + 1, int(m.group(2))):
            yield m.start(), "a full date (day, month and year)"
    for m in _matches(_INWARD, low):
        before = _OUTWARD.search(low, max(0, m.start() - 6), m.start())
        if before is not None:  # (the inward code's offset: the same line, never a newline)
            yield m.start(), "a full UK postcode"
    for m in _matches(_EMAIL, data):
        yield m.start(), "an e-mail address"


def _encoded_findings(data: bytes, lines: _Lines, rules: ScanRules) -> list[Finding]:
    """Encoded tokens, once there is enough of them to carry data (one long token, or
    many short ones: a payload wrapped at 64 or 76 columns), as blocks of lines."""
    spans: list[tuple[int, int, int]] = []  # (first line, last line, characters)
    for m in _TOKEN.finditer(data):  # every token until MAX_MATCHES encoded ones: enough
        if _encoded(m.group(0)):
            spans.append((lines.of(m.start()), lines.of(m.end()), m.end() - m.start()))
            if len(spans) >= MAX_MATCHES:
                break
    total = sum(n for _, _, n in spans)
    out: list[Finding] = []
    longest = max((n for _, _, n in spans), default=0)
    if spans and (total >= rules.encoded_total or longest >= rules.encoded_token):
        blocks: list[list[int]] = []  # [first, last, tokens, characters]
        for first, last, n in spans:
            if blocks and first <= blocks[-1][1] + 2:  # a short line between: one block
                block = blocks[-1]
                block[1], block[2], block[3] = max(block[1], last), block[2] + 1, block[3] + n
            else:
                blocks.append([first, last, 1, n])
        for first, last, tokens, chars in blocks:
            what = (f"{chars} characters of base64 or hex in {tokens} token(s) (a file or data "
                    "written as text)")
            out.append(Finding(ENCODED, first, what, last))
    for m in (m for p in _ESCAPED for m in _matches(p, data)):
        out.append(Finding(ENCODED, lines.of(m.start()), f"{m.end() - m.start()} characters "
                           "of escaped or dumped bytes", lines.of(m.end())))
    return out


def _record_blocks(lines: _Lines, rules: ScanRules) -> list[Finding]:
    """Blocks of at least ``rules.record_lines`` consecutive non-blank lines with the
    same number (one or more; two or more for commas, which prose uses) of one
    delimiter.  Blank lines neither break nor count."""
    arr = lines.arr
    if arr.size == 0:
        return []
    tail = [arr.size] if arr[-1] != 10 else []
    bounds = np.concatenate((np.array([-1], dtype=np.int64), lines.ends.astype(np.int64),
                             np.array(tail, dtype=np.int64)))
    starts, stops = bounds[:-1] + 1, bounds[1:]

    def per_line(positions: np.ndarray) -> np.ndarray:  # how many positions fall in each line
        return np.searchsorted(positions, stops) - np.searchsorted(positions, starts)

    blank = per_line(np.flatnonzero(arr <= 32)) == stops - starts
    non_blank = ~blank
    widths = (stops - starts)[non_blank]
    numbers = np.flatnonzero(non_blank) + 1
    out: list[Finding] = []
    for byte, name in _DELIMITERS:
        counts = per_line(np.flatnonzero(arr == byte[0]))[non_blank]
        least = 2 if byte == b"," else 1
        if counts.size < rules.record_lines:
            continue
        change = np.flatnonzero(np.diff(counts) != 0) + 1
        run_starts = np.concatenate(([0], change))
        run_ends = np.concatenate((change, [counts.size]))
        for s, e in zip(run_starts, run_ends, strict=True):
            if e - s < rules.record_lines or counts[s] < least:
                continue
            per_field = np.median(widths[s:e]) / (int(counts[s]) + 1)
            if per_field <= rules.record_field_bytes:
                out.append(Finding(
                    ROW_LEVEL, int(numbers[s]),
                    f"{e - s} lines of {int(counts[s]) + 1} fields separated by {name} "
                    "(row-level records or a table: export tables as CSV to have them checked)",
                    int(numbers[e - 1])))
    return out


def scan(data: bytes | str, rules: ScanRules = FILE_RULES) -> list[Finding]:
    """Every finding in ``data``, in line order."""
    raw = data.encode("utf-8", errors="replace") if isinstance(data, str) else data
    lines = _Lines(raw)
    found = [Finding(IDENTIFIERS, lines.of(at), what) for at, what in _identifiers(raw)]
    found += _encoded_findings(raw, lines, rules)
    found += _record_blocks(lines, rules)
    return sorted(set(found), key=lambda f: (f.line, f.rule, f.what))


def describe(findings: list[Finding], limit: int = 5) -> str:
    """The findings as one clause: ``line 2: an NHS number ...; line 7: ...``."""
    shown = "; ".join(f.message for f in findings[:limit])
    more = len(findings) - limit
    return shown + (f"; and {more} more" if more > 0 else "")


_SUMMARIES = {
    IDENTIFIERS: "holds direct identifiers",
    ENCODED: "holds encoded data",
    ROW_LEVEL: "holds rows of records",
}
_PASSED = {
    IDENTIFIERS: "No NHS numbers, full dates, postcodes, e-mail addresses or long digit runs.",
    ENCODED: "No encoded payloads.",
    ROW_LEVEL: "No blocks of delimited records.",
}


def text_checks(findings: list[Finding]) -> list[CheckResult]:
    """One check per rule: failing with a flag per finding (row = its line), or passing."""
    checks = []
    for rule in (IDENTIFIERS, ENCODED, ROW_LEVEL):
        mine = [f for f in findings if f.rule == rule]
        if not mine:
            checks.append(CheckResult(rule, Verdict.PASS, [], _PASSED[rule]))
            continue
        flags = [CellFlag(rule, Verdict.FAIL, f.line, None, None, None,
                          f"{f.message}; remove it before exporting.") for f in mine[:MAX_FLAGS]]
        summary = f"The text {_SUMMARIES[rule]} ({len(mine)} finding(s)); text outputs " \
            "may hold no identifiers, encoded data or records."
        checks.append(CheckResult(rule, Verdict.FAIL, flags, summary))
    return checks


def text_reason(suffix: str) -> str:
    """Why a person must still read a text output that passes the scan."""
    return "statbarn cannot check JSON documents" if suffix.lower() == ".json" else \
        "statbarn cannot check free text"


MAX_JSON_NODES = 200_000  # values looked at in a JSON document: bounded work
# Parsed for lists of records only up to this size: parsed JSON takes up to ~20 times
# its size in memory ("[{},{},...]"); larger documents get the line scan alone.
MAX_JSON_BYTES = 2 * 1024**2


def _uniform(items: list[object]) -> int:
    """The number of fields when every item is a record of the same fields (objects
    with the same keys, or arrays of the same length), at least two; else 0."""
    first = items[0]
    if isinstance(first, dict) and len(first) >= 2:
        keys = first.keys()
        return len(first) if all(isinstance(i, dict) and i.keys() == keys for i in items) else 0
    if isinstance(first, list) and len(first) >= 2:
        n = len(first)
        return n if all(isinstance(i, list) and len(i) == n for i in items) else 0
    return 0


def json_records(data: bytes, rules: ScanRules = FILE_RULES) -> list[Finding]:
    """Lists of records in a JSON document (``to_json(orient="records")`` of row-level
    data), wherever they are and however the document is laid out.  Walked without
    recursion, at most ``MAX_JSON_NODES`` values of a document of at most
    ``MAX_JSON_BYTES``; not JSON: no finding here."""
    if len(data) > MAX_JSON_BYTES:
        return []
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return []
    lines = data.count(b"\n") + 1
    out: list[Finding] = []
    stack: list[object] = [doc]
    seen = 0
    while stack and seen < MAX_JSON_NODES:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            fields = _uniform(node) if len(node) >= rules.record_lines else 0
            if fields:  # where it is is not said: the keys on the way could be data
                out.append(Finding(ROW_LEVEL, 1, f"a list of {len(node)} records with the same "
                                   f"{fields} fields (row-level data: export tables as CSV "
                                   "to have them checked)", lines))
            else:
                stack.extend(node)
    return out


def assess_text(data: bytes, name: str | None, profile: Profile, reason: str,
                size: int | None = None, *, is_json: bool = False) -> Assessment:
    """A text output's assessment: failing with the lines named when the scan finds
    anything; otherwise a person reviews it (``reason`` says why statbarn cannot).
    ``size``: the file's size when ``data`` is only its first ``MAX_TEXT_BYTES + 1``."""
    # As statbarn.checking.uncheckable (not imported: checking imports this module).
    review = whole_output_check(Rule.UNCHECKABLE, Verdict.ESCALATE,
                                f"{reason}; a person must review it.", reason)
    size = len(data) if size is None else size
    if size > MAX_TEXT_BYTES:
        why = (f"The text is {size / 1024**2:.1f} MB, more than the "
               f"{MAX_TEXT_BYTES // 1024**2} MB that can be scanned for identifiers; "
               "summarise it or split it into smaller files.")
        checks = [review, whole_output_check(IDENTIFIERS, Verdict.FAIL, why, why)]
    else:
        found = scan(data, FILE_RULES)
        if is_json:
            found += json_records(data, FILE_RULES)
        checks = [review, *text_checks(found)]
    return Assessment(statbarn=Statbarn.UNKNOWN, profile=profile, file=name, checks=checks)


def assess_text_file(path: Path, profile: Profile, reason: str | None = None) -> Assessment:
    """:func:`assess_text` of a file, reading no more than the scan limit."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        data = fh.read(MAX_TEXT_BYTES + 1)
    return assess_text(data, path.name, profile, reason or text_reason(path.suffix), size,
                       is_json=path.suffix.lower() == ".json")
