"""The limits of the free text the review pages add, in one place.

Every field a person types for the review (a request's title, and any later
conversation or note) is bounded here, so the intake, the pages and the
free-text scanner read one number each.  A title is one line that a checker
reads in the queue: short, and without control characters (a newline or an
escape sequence in it would forge rows in a listing or a terminal).
"""

from __future__ import annotations

import unicodedata

TITLE_MAX_CHARS = 200
CONTEXT_EXCERPT_CHARS = 160  # how much of a file's context the queue shows


class TextRefused(ValueError):
    """Text that breaks a limit; the message names the field, the limit and the character."""


def check_title(value: str | None) -> str | None:
    """The request's title, stripped (None when empty), or :class:`TextRefused`."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > TITLE_MAX_CHARS:
        raise TextRefused(f"the title is {len(value):,} characters long; at most "
                          f"{TITLE_MAX_CHARS} are allowed")
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise TextRefused(f"the title holds the character U+{ord(ch):04X} "
                              f"({unicodedata.name(ch, 'a control character')}); a title is "
                              "one line of visible text")
    return value


def excerpt(text: str | None, limit: int = CONTEXT_EXCERPT_CHARS) -> str:
    """The start of a text on one line, cut at a word with an ellipsis."""
    flat = " ".join((text or "").split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return cut + "…"
