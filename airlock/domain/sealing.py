"""Sealed votes: how a vote is written to the audit log before the quorum.

A blind review must stay blind in the audit log too, and the log is readable (the
request's history) and hashed (every event's leaf hash is public).  So before the
quorum a vote's event holds only a commitment::

    commitment = SHA-256(nonce || canonical(opening))

where ``nonce`` is 32 random bytes and the opening is everything that depends on how
the reviewer voted: the choice, the comment, whether it overrides an automated fail,
the override's reason and its authorisation.  Without the nonce no one can test
guesses against the commitment or the event's hash (three choices would otherwise be
tried in microseconds).  At the quorum the airlock writes each vote's opening and
nonce to the log (``airlock.vote.reveal``, or ``airlock.vote.override`` so an override
still stands out), and anyone can check it against the commitment.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

NONCE_BYTES = 32


def opening(choice: str, comment: str | None, override: bool, override_reason: str | None,
            authz: list[dict[str, Any]]) -> dict[str, Any]:
    return {"choice": choice, "comment": comment, "override": override,
            "override_reason": override_reason, "authz": authz}


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def commitment(nonce: bytes, opened: dict[str, Any]) -> str:
    return hashlib.sha256(nonce + _canonical(opened)).hexdigest()


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_BYTES)


def opens(commit: str, nonce_hex: str, opened: dict[str, Any]) -> bool:
    """Does this opening (with its nonce) open the commitment?"""
    try:
        nonce = bytes.fromhex(nonce_hex)
    except ValueError:
        return False
    return len(nonce) == NONCE_BYTES and secrets.compare_digest(commitment(nonce, opened), commit)
