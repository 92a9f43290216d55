"""Browser sessions: a signed cookie, and the CSRF token that goes with it.

The cookie holds ``{sid, user, exp}`` (and, during a hub login, the OAuth state)
as base64 JSON followed by an HMAC-SHA256 of it.  Nothing secret is in it: it
is signed, not encrypted.  Signing rather than a server-side table keeps every
``tre airlock serve`` worker able to read any session without a shared store.

CSRF protection is the synchronizer-token pattern without server state: the
token is an HMAC of the session id under a key of its own, so only a page this
server rendered for this session can carry it, and a login rotates the session
id (and so every token).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tre.settings import PLACEHOLDER_SECRETS, Settings, SettingsError

COOKIE = "tre-airlock-session"
CSRF_FIELD = "csrf_token"
DEFAULT_MAX_AGE = 8 * 3600  # a working day; the login is the hub's, so it is cheap to redo


@dataclass(frozen=True)
class Session:
    sid: str
    user: str | None = None
    exp: float = 0.0
    # Hub login in progress: the OAuth state, the PKCE verifier and where to go next.
    oauth: dict[str, str] = field(default_factory=dict)

    @classmethod
    def anonymous(cls, max_age: int = DEFAULT_MAX_AGE) -> Session:
        return cls(secrets.token_urlsafe(18), None, time.time() + max_age)

    def logged_in(self, user: str, max_age: int = DEFAULT_MAX_AGE) -> Session:
        """A new session id for the user: a session fixed before login is worth nothing."""
        return Session(secrets.token_urlsafe(18), user, time.time() + max_age)

    def with_oauth(self, **state: str) -> Session:
        return replace(self, oauth=dict(state))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and reads session cookies; derives CSRF tokens.  Thread-safe (immutable)."""

    def __init__(self, key: bytes) -> None:
        self._cookie_key = hmac.new(key, b"tre-airlock-ui-cookie", hashlib.sha256).digest()
        self._csrf_key = hmac.new(key, b"tre-airlock-ui-csrf", hashlib.sha256).digest()

    def dump(self, s: Session) -> str:
        body = _b64(json.dumps({"sid": s.sid, "user": s.user, "exp": s.exp, "oauth": s.oauth},
                               separators=(",", ":")).encode())
        mac = _b64(hmac.new(self._cookie_key, body.encode(), hashlib.sha256).digest())
        return f"{body}.{mac}"

    def load(self, value: str | None) -> Session | None:
        """The session in the cookie, or None if it is missing, forged or expired."""
        if not value or value.count(".") != 1 or len(value) > 4096:
            return None
        body, mac = value.split(".")
        want = _b64(hmac.new(self._cookie_key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac, want):
            return None
        try:
            data: dict[str, Any] = json.loads(_unb64(body))
            s = Session(str(data["sid"]), data.get("user"), float(data["exp"]),
                        {str(k): str(v) for k, v in dict(data.get("oauth") or {}).items()})
        except (ValueError, KeyError, TypeError):
            return None
        if s.exp < time.time() or (s.user is not None and not isinstance(s.user, str)):
            return None
        return s

    def csrf(self, s: Session) -> str:
        return _b64(hmac.new(self._csrf_key, s.sid.encode(), hashlib.sha256).digest())

    def csrf_ok(self, s: Session | None, token: str | None) -> bool:
        return s is not None and bool(token) and hmac.compare_digest(self.csrf(s), token or "")


def secret_key(settings: Settings) -> bytes:
    """``TRE_SECRET_KEY``; in development with the placeholder, a random key kept in the
    data directory (so every worker, and a restart, agree), never the well-known default.
    Production without a key is refused (tre.settings checked the strength of a given one)."""
    configured = settings.secret_key.get_secret_value()
    if configured.strip().lower() not in PLACEHOLDER_SECRETS:
        return configured.encode()
    if settings.environment != "development":
        raise SettingsError(
            "TRE_SECRET_KEY is not set: production signs its sessions with a secret you "
            "provide (make one with `openssl rand -hex 32`), or set "
            "TRE_ENVIRONMENT=development for a local trial")
    path = settings.data_dir / "airlock" / "ui-session-key"
    return _key_file(path)


def _key_file(path: Path) -> bytes:
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(temp, path)  # atomic, and refuses to replace a key another worker wrote
    except FileExistsError:
        pass
    finally:
        temp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())
