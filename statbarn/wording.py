"""Small pieces of the sentences bad input is answered with: sizes in MB, counted
nouns, characters by name and code point, columns without a header, and the csv
module's errors in words.  Pure: used by statbarn's readers and by the airlock."""

from __future__ import annotations

import csv
import re
import unicodedata
from typing import Any

_UNNAMED = re.compile(r"^Unnamed: (\d+)(_level_\d+)?$")


def mb(n: int | float) -> str:
    """Bytes as MB (1 MB = 1,048,576 bytes): ``50 MB``, ``0.05 MB``."""
    value = n / 1024**2
    if value >= 10 or value == int(value):
        return f"{value:,.0f} MB"
    return f"{value:.2g} MB" if value < 0.1 else f"{value:.1f} MB"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 field``, ``2 fields``."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def character(ch: str) -> str:
    """``'с' (U+0441 CYRILLIC SMALL LETTER ES)``."""
    name = unicodedata.name(ch, "an unnamed character")
    shown = repr(ch) if ch.isprintable() else "a control character"
    return f"{shown} (U+{ord(ch):04X} {name})"


def column(header: Any, position: int) -> str:
    """How to name a column in a message: ``column 'F'``, or ``column 3 (it has no
    header)`` for pandas' made-up ``Unnamed: 2`` (``position`` counts from 0)."""
    text = str(header)
    if not text.strip() or _UNNAMED.match(text):
        return f"column {position + 1} (it has no header)"
    return f"column {text!r}"


def csv_problem(exc: csv.Error) -> str:
    """The csv module's error as a sentence (no 'field limit (131072)' jargon)."""
    text = str(exc)
    m = re.search(r"field larger than field limit \((\d+)\)", text)
    if m:
        limit = int(m.group(1))
        return (f"a cell is longer than {limit:,} characters, the most a cell may hold; "
                "a cell that long is not a table cell (is a quote missing its closing quote?)")
    if "unexpected end of data" in text:
        return "it ends inside a quoted cell (a quote is missing its closing quote)"
    if "new-line character seen in unquoted field" in text:
        return "it has a line break inside a cell that is not quoted"
    if "expected after" in text:
        return "a quote inside a quoted cell is not doubled (write \"\" for a quote)"
    if "NUL" in text or "null byte" in text:
        return "it holds a NUL byte (it is not a text table)"
    return text


def seconds(x: float) -> str:
    """``1 second``, ``2.5 seconds``."""
    return f"{x:g} second" + ("" if x == 1 else "s")
