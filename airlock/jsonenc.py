"""``json.dumps``, the same text, without encoding long base64 strings character by
character.

A table's record sets (statbarn.records) are two base64 strings of hundreds of
kilobytes; the airlock stores them with the table's evidence and its ledger entry and
hashes them into the entry's digest.  ``json.dumps`` checks every character of a
string for escaping, about 3 ms for one table's record sets, once for each of those.
A string of base64 characters (ASCII, no quote, backslash or control character)
needs no escaping (its JSON is the string between quotes), so here each long one is
swapped for a short placeholder holding a random nonce, the rest is encoded by
``json.dumps`` as usual, and the strings are put back:
the text is exactly ``json.dumps``'s (tests/unit/test_server_path_reuse.py).  Only
dictionaries are searched (record sets are values of nested objects, never inside
lists), so the search costs little beside the encoding.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import numpy as np

LONG = 4096  # shorter strings are left to json.dumps


def _plain(value: str) -> bool:
    """Whether JSON writes ``value`` as it is between quotes: ASCII, no quote, no
    backslash, no control character (each test a C pass over the string)."""
    if not value.isascii() or '"' in value or "\\" in value:
        return False
    return int(np.frombuffer(value.encode("ascii"), dtype=np.uint8).min()) >= 0x20


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, **kwargs)``."""
    found: list[str] = []
    nonce = secrets.token_hex(8)

    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, str) and len(value) >= LONG and _plain(value):
            found.append(value)
            return f"\x00{nonce}:{len(found) - 1}\x00"
        return value

    if not isinstance(obj, dict):
        return json.dumps(obj, **kwargs)
    swapped = swap(obj)
    if not found:
        return json.dumps(obj, **kwargs)
    text = json.dumps(swapped, **kwargs)
    for i, value in enumerate(found):
        text = text.replace(json.dumps(f"\x00{nonce}:{i}\x00", **_escaping(kwargs)),
                            f'"{value}"', 1)
    return text


def _escaping(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The options that change how a string is written (the placeholder must be found as
    written)."""
    return {k: v for k, v in kwargs.items() if k == "ensure_ascii"}
