"""The limits of the free text the review pages add, in one place.

Every field a person types for the review (a request's title, and any later
conversation or note) is bounded here, so the intake, the pages and the
free-text scanner read one number each.  A title is one line that a checker
reads in the queue: short, and without control characters (a newline or an
escape sequence in it would forge rows in a listing or a terminal).
"""

from __future__ import annotations

import unicodedata

from tre.errors import TreError

TITLE_MAX_CHARS = 200
CONTEXT_EXCERPT_CHARS = 160  # how much of a file's context the queue shows
MESSAGE_MAX_CHARS = 5_000  # one message of a request's conversation, or a checker's note
MESSAGES_PER_REQUEST = 500  # a conversation is about one request, not a chat channel
# What the researcher may write in one request's conversation, all messages together: their
# messages are free text they can read back outside the TRE (a browser session can be carried
# into a workspace), so they are bounded like a file's context, not like a chat.
REQUESTER_MESSAGE_CHARS = 4_000


class TextRefused(TreError, ValueError):
    """Text that breaks a limit; the message names the field, the limit and the character."""

    code = "text_refused"
    status = 422


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


def check_message(value: str | None) -> str:
    """A conversation message or note: lines of visible text (newlines and tabs are
    kept; other control and format characters are refused), stripped, not empty."""
    value = (value or "").replace("\r\n", "\n").strip()
    if not value:
        raise TextRefused("the message is empty: write something, or go back")
    if len(value) > MESSAGE_MAX_CHARS:
        raise TextRefused(f"the message is {len(value):,} characters long; at most "
                          f"{MESSAGE_MAX_CHARS:,} are allowed")
    for ch in value:
        if ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise TextRefused(f"the message holds the character U+{ord(ch):04X} "
                              f"({unicodedata.name(ch, 'a control character')}), which is "
                              "not visible text")
    return value


def excerpt(text: str | None, limit: int = CONTEXT_EXCERPT_CHARS) -> str:
    """The start of a text on one line, cut at a word with an ellipsis."""
    flat = " ".join((text or "").split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] or flat[:limit]
    return cut + "…"
