"""The idle culler (jupyterhub-idle-culler, a hub service that ``tre up`` starts)
stops a workspace nobody uses, and the stop is audited.

A TRE of this module's own with TRE_IDLE_TIMEOUT=20: the culler then looks every
10 s (its shortest interval here) for servers idle longer than 20 s.  The test
waits for a spawned, untouched workspace to go; the wait is bounded but nothing
about its length is asserted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.harness.hub import RunningTre, docker_api, running_tre, workspace_image

__all__ = ["docker_api", "workspace_image"]  # fixtures, imported for pytest

pytestmark = pytest.mark.e2e
IDLE_TIMEOUT = 20


@pytest.fixture(scope="module")
def hub(docker_api: Any, workspace_image: str,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTre]:
    with running_tre(tmp_path_factory.mktemp("tre-culler"), docker_api,
                     TRE_IDLE_TIMEOUT=str(IDLE_TIMEOUT)) as tre:
        yield tre


def _stops(user: str) -> list[dict[str, Any]]:
    from tre import audit
    from workspaces.context import hub_context

    with hub_context().factory() as s:
        rows = s.scalars(select(audit.AuditEvent).where(
            audit.AuditEvent.action == "workspace.stop", audit.AuditEvent.actor == user))
        return [r.as_dict() for r in rows]


def test_an_idle_workspace_is_stopped_and_the_stop_audited(hub: RunningTre,
                                                           docker_api: Any) -> None:
    assert hub.spawn("alice", {"project": "demo-project"}).status_code < 400
    ws = hub.container("alice", "demo-project")
    assert not _stops("alice")
    # timeout, then at most one culler interval, then the stop itself; generous bound
    deadline = time.monotonic() + IDLE_TIMEOUT + 90
    while time.monotonic() < deadline and hub.rest("GET", "/users/alice").json()["servers"]:
        time.sleep(1)
    assert not hub.rest("GET", "/users/alice").json()["servers"], hub.log_tail()
    assert not docker_api.containers(all=True, filters={"id": ws.id})
    [stop] = _stops("alice")
    assert stop["object_id"] == "alice/demo-project" and stop["project"] == "demo-project"
    assert "idle culler" in stop["details"]["why"]
    assert "idle-culler" in hub.log_tail(400)  # the culler asked for it
