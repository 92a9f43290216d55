"""Helpers for testing the airlock (and for other packages' tests: the UI, the workspace).

The real hub is replaced by :class:`~airlock.identity.DevTokenIdentity` (static
tokens): the hub itself is exercised by the workspace and end-to-end tests.
Users and roles come from the demo policy (``policies/policy.csv``): alice and
bob are researchers in ``demo-project``, carol and dave output checkers
everywhere, olivia an operator, mallory suspended.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import statbarn as sb
from airlock.api.app import create_app
from airlock.db.engine import airlock_engine
from airlock.service.context import Ctx
from airlock.settings import Resolved, load_airlock_settings
from tre.authz import Authz, load_authz, policy_settings
from tre.clock import Clock, SystemClock
from tre.db import session_factory
from tre.settings import load_settings

PROJECT = "demo-project"
USERS = ("alice", "bob", "carol", "dave", "erin", "olivia", "mallory", "grace", "cedric", "zoe")
OTHER_PROJECT = "other-project"
# Added to the demo policy for tests: a researcher of another project (object-level access).
TEST_MEMBERSHIPS = (
    "g, zoe, researcher, other-project, 2025-01-01, 2099-01-01",
    # a checker who is also a researcher: never reviews their own request
    "g, carol, researcher, demo-project, 2025-01-01, 2099-01-01",
)
TOKENS = {f"{u}-dev-token": u for u in USERS}


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"token {user}-dev-token"}


# The API test client calls from a workspace network, as the researcher's client does
# (airlock.origin); a client made without ``client=`` calls from outside.
WORKSPACE_NETWORK = "172.30.0.0/16"
WORKSPACE_ADDRESS = ("172.30.0.7", 50000)


def settings_for(db_url: str, data_dir: Path, **airlock: Any) -> Resolved:
    platform = load_settings(data_dir=data_dir, database_url=db_url, environment="development")
    airlock.setdefault("workspace_networks", [WORKSPACE_NETWORK])
    return load_airlock_settings(platform, identity="dev", dev_tokens=TOKENS, **airlock)


@dataclass
class Harness:
    app: Any
    ctx: Ctx


def test_policy(folder: Path) -> Path:
    """The demo policy plus :data:`TEST_MEMBERSHIPS`, as a file."""
    seed = policy_settings().seed_file
    path = folder / "policy.csv"
    path.write_text(seed.read_text() + "\n".join(("", *TEST_MEMBERSHIPS, "")))
    return path


@contextmanager
def airlock_app(db_url: str, data_dir: Path, clock: Clock | None = None,
                notifier: Any = None, stored_policy: bool = False,
                **airlock: Any) -> Iterator[Harness]:
    """An app on a migrated database, with dev tokens and the demo policy (plus zoe).

    ``stored_policy``: the production authorisation point (the policy stored in the
    database, seeded from the demo policy) instead of the policy file.
    """
    settings = settings_for(db_url, data_dir, **airlock)
    engine = airlock_engine(db_url)
    db = session_factory(engine)
    clock = clock or SystemClock()
    data_dir.mkdir(parents=True, exist_ok=True)
    authz = (load_authz(db, clock) if stored_policy else
             Authz.from_files(policy_settings().model_file, test_policy(data_dir), clock))
    try:
        app = create_app(settings, db=db, authz=authz, clock=clock, notifier=notifier)
        yield Harness(app, app.state.ctx)
    finally:
        authz.close()
        engine.dispose()


# ---- outputs ------------------------------------------------------------------------------------
def patients(n: int = 2000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "region": rng.choice(["North", "South", "East", "West"], n),
        "sex": rng.choice(["F", "M"], n),
        "cost": rng.gamma(2.0, 150.0, n),
    })


def safe_table(folder: Path, name: str = "by_region.csv") -> tuple[Path, Path]:
    """A count table that passes, saved with its sidecar."""
    df = patients()
    out = sb.crosstab(df.region, df.sex)
    assert out.verdict == "pass", out.flags
    path = folder / name
    side = out.save(path)
    return path, side


def failing_table(folder: Path, name: str = "rare.csv") -> tuple[Path, Path]:
    """A count table with one small cell (fails the threshold), saved with its sidecar."""
    df = patients()
    rare = pd.DataFrame({"region": ["Islands"] * 3, "sex": ["F"] * 3, "cost": [10.0] * 3})
    more = pd.DataFrame({"region": ["Islands"] * 40, "sex": ["M"] * 40, "cost": [10.0] * 40})
    df = pd.concat([df, rare, more], ignore_index=True)
    out = sb.crosstab(df.region, df.sex)
    assert out.verdict == "fail"
    path = folder / name
    return path, out.save(path)


def magnitude_table(folder: Path, name: str = "mean_cost.csv") -> tuple[Path, Path]:
    df = patients()
    out = sb.crosstab(df.region, df.sex, values=df.cost, aggfunc="mean")
    path = folder / name
    return path, out.save(path)


def multipart(
    files: Sequence[tuple[str, bytes]],
    *,
    project: str = PROJECT,
    context: str | None = "a table of patients by region and sex, made with statbarn",
    sidecars: Sequence[tuple[str, bytes]] = (),
    manifest: list[dict[str, Any]] | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[dict[str, Any], list[tuple[str, tuple[str, bytes, str]]]]:
    """``data=`` and ``files=`` for httpx: fields first (the project before any file)."""
    data: dict[str, Any] = {"project": project}
    if context is not None:
        data["context"] = context
    if manifest is not None:
        data["manifest"] = json.dumps(manifest)
    data.update(extra or {})
    parts = [("file", (name, content, "application/octet-stream")) for name, content in files]
    parts += [("sidecar", (name, content, "application/json")) for name, content in sidecars]
    return data, parts


def with_sidecar(path: Path, side: Path) -> dict[str, Any]:
    return {"files": [(path.name, path.read_bytes())],
            "sidecars": [(side.name, side.read_bytes())]}


class Api:
    """A thin test client: ``api.submit("alice", [(name, bytes)], ...)`` -> the response."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def submit(self, user: str, files: Sequence[tuple[str, bytes]], **kw: Any) -> Any:
        data, parts = multipart(files, **kw)
        return self.client.post("/api/requests", data=data, files=parts, headers=auth(user))

    def submit_table(self, user: str, pair: tuple[Path, Path], **kw: Any) -> Any:
        path, side = pair
        return self.submit(user, [(path.name, path.read_bytes())],
                           sidecars=[(side.name, side.read_bytes())], **kw)

    def get(self, user: str, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers={**auth(user), **kw.pop("headers", {})}, **kw)

    def post(self, user: str, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers={**auth(user), **kw.pop("headers", {})}, **kw)

    def request(self, user: str, request_id: str) -> Any:
        return self.get(user, f"/api/requests/{request_id}")

    def vote(self, user: str, request_id: str, file_id: str, choice: str,
             comment: str | None = None, override_reason: str | None = None) -> Any:
        return self.post(user, f"/api/requests/{request_id}/votes", json={"votes": [
            {"file_id": file_id, "choice": choice, "comment": comment,
             "override_reason": override_reason}]})

    def bundle(self, user: str, request_id: str) -> Any:
        return self.get(user, f"/api/requests/{request_id}/bundle")


@contextmanager
def api_env(db_url: str, data_dir: Path, **kwargs: Any) -> Iterator[tuple[Api, Harness]]:
    """An app (see :func:`airlock_app`) and an API client on it, for route tests.  The
    client calls from inside a workspace (:data:`WORKSPACE_ADDRESS`), as researchers do."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette prefers httpx2; httpx is what we ship
        from starlette.testclient import TestClient

    with airlock_app(db_url, data_dir, **kwargs) as h, \
            TestClient(h.app, client=WORKSPACE_ADDRESS) as client:
        yield Api(client), h
