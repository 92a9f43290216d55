"""Who is calling: the airlock is a JupyterHub service, so the hub says who a token is.

- :class:`HubIdentity`: validates a JupyterHub API token (the ``JUPYTERHUB_API_TOKEN``
  of every workspace, or a token the user made) with ``GET {hub_api}/user``, and
  requires the token to grant access to this service
  (``access:services!service=airlock``).  Answers are cached for a few seconds
  (``TRE_AIRLOCK_IDENTITY_CACHE_SECONDS``), keyed by the token's hash, so a burst of
  calls costs the hub one request.
- :class:`DevTokenIdentity`: static tokens from settings, for development, tests
  and the demo; refused unless ``TRE_ENVIRONMENT=development``.
- Browsers: hub OAuth comes with the review UI.  Its login callback will put the
  user on ``request.state.user`` (a signed session cookie), which
  :func:`airlock.api.deps.current_user` already consults before any token: that is
  the seam, and nothing else in the airlock needs to change.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx

from airlock.origin import Credential, Origin
from tre.errors import TreError
from tre.settings import SettingsError

MAX_CACHE = 4096


@dataclass(frozen=True)
class User:
    name: str
    kind: str = "user"  # "user" or "service", as the hub says
    # What the caller authenticated with, and where the call comes from.  An identity
    # says the credential; airlock.api.deps sets the origin (airlock.origin.origin_of),
    # per call, from the connection.  Unknown is outside.
    credential: Credential = Credential.UNKNOWN
    origin: Origin = Origin.OUTSIDE


class IdentityError(TreError):
    """The caller could not be identified; ``status`` 401, or 503 when the hub is down."""

    code = "unauthenticated"
    status = 401


class HubUnavailable(IdentityError):
    code = "hub_unavailable"
    status = 503


class Identity(Protocol):
    async def authenticate(self, token: str) -> User: ...

    async def aclose(self) -> None: ...


def token_from_header(authorization: str | None) -> str | None:
    """``Authorization: token X`` (JupyterHub's form) or ``Bearer X``."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() not in ("token", "bearer") or not value.strip():
        return None
    return value.strip()


class DevTokenIdentity:
    """Static ``{token: user}`` pairs.  Never in production: a leaked config would be a key."""

    def __init__(self, tokens: Mapping[str, str], environment: str) -> None:
        if environment != "development":
            raise SettingsError(
                "static development tokens are refused when TRE_ENVIRONMENT is "
                f"{environment!r}; use the hub (TRE_AIRLOCK_IDENTITY=hub)"
            )
        self._tokens = {t.encode(): u for t, u in tokens.items()}

    async def authenticate(self, token: str) -> User:
        given = token.encode()
        found = None
        for known, user in self._tokens.items():  # compare with every token: constant time
            if hmac.compare_digest(known, given):
                found = user
        if found is None:
            raise IdentityError("unknown token")
        return User(found, credential=Credential.API_TOKEN)

    async def aclose(self) -> None:
        return None


def _credential(kind: str, session_id: object) -> Credential:
    """What the hub's answer says the token is: a service's, a browser's (OAuth tokens
    carry the login session's id), or an API token (a workspace's or a user's)."""
    if kind == "service":
        return Credential.SERVICE
    if kind != "user":
        return Credential.UNKNOWN
    return Credential.BROWSER if session_id else Credential.API_TOKEN


class HubIdentity:
    def __init__(
        self,
        hub_api_url: str,
        service_name: str = "airlock",
        cache_seconds: float = 30.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.hub_api_url = hub_api_url.rstrip("/")
        self.service_name = service_name
        self.cache_seconds = cache_seconds
        self._client = client or httpx.AsyncClient(timeout=10.0)
        self._owns_client = client is None
        self._cache: dict[str, tuple[float, User]] = {}

    def _allowed(self, scopes: object) -> bool:
        # No scopes (hubs before 2.0, or a proxy that drops the field): nothing shows that
        # the token may use this service, so it may not (issue 13).
        if not isinstance(scopes, list):
            return False
        wanted = {"access:services", f"access:services!service={self.service_name}"}
        return bool(wanted & {str(s) for s in scopes})

    async def authenticate(self, token: str) -> User:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            resp = await self._client.get(
                f"{self.hub_api_url}/user", headers={"Authorization": f"token {token}"}
            )
        except httpx.HTTPError as exc:
            raise HubUnavailable(f"cannot reach the hub to check the token: {exc}") from None
        if resp.status_code in (401, 403, 404):
            raise IdentityError("the hub does not accept this token")
        if resp.status_code != 200:
            raise HubUnavailable(f"the hub answered {resp.status_code} when checking the token")
        try:
            model = resp.json()
            name = str(model["name"])
        except (ValueError, KeyError, TypeError):
            raise HubUnavailable("the hub's answer about the token was not understood") from None
        if not self._allowed(model.get("scopes")):
            raise IdentityError(
                f"this token does not grant access to the {self.service_name} service "
                f"(it needs the scope access:services!service={self.service_name})"
            )
        kind = str(model.get("kind", "user"))
        user = User(name, kind, credential=_credential(kind, model.get("session_id")))
        if len(self._cache) >= MAX_CACHE:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= MAX_CACHE:
                self._cache.clear()
        if self.cache_seconds > 0:
            self._cache[key] = (now + self.cache_seconds, user)
        return user

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
