"""Free text is data leaving the TRE: every string a request carries is bounded and scanned.

A request's context, each file's context, exception justification and population,
the file names, and the comments and override reasons of votes are stored and
shown outside the workspace (to checkers, in the release record), so each is:

- at most ``TRE_AIRLOCK_MAX_TEXT_CHARS`` characters (4,000 by default: a paragraph
  or two of explanation, far too little for a dataset), and
- scanned by :mod:`statbarn.text` with its rules for short fields: no NHS number,
  full date, postcode, e-mail address, long digit run, encoded payload, or five
  lines of delimited records.

A refusal is a 422 (:class:`TextRefused`) naming the field, the line and what was
found, never the text itself.
"""

from __future__ import annotations

from airlock.intake import IntakeError
from statbarn.text import FIELD_RULES, describe, scan


class TextRefused(IntakeError):
    """A free-text field that is too long or holds data (422)."""

    def __init__(self, message: str, code: str = "text_refused") -> None:
        super().__init__(422, message, code)


def check_text(value: str | None, what: str, limit: int) -> str | None:
    """``value`` stripped (None when empty), or :class:`TextRefused`.  ``what`` names the
    field in the message ("the context of table.csv")."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise TextRefused(
            f"{what} is {len(value):,} characters long, more than the limit of {limit:,}: "
            "say what the output is and how it was made in a few sentences (free text "
            "leaves the TRE with the request, so it is kept short and checked)",
            "text_too_long")
    found = scan(value, FIELD_RULES)
    if found:
        raise TextRefused(
            f"{what} cannot be accepted: {describe(found)}. Free text leaves the TRE with "
            "the request, so it may hold no identifiers (write a month and year rather than "
            "a full date), no encoded data and no rows of records")
    return value or None
