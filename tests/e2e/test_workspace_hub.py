"""The TRE brought up for real: JupyterHub spawns locked-down workspaces over Docker.

``tre up``'s own code starts everything (:func:`tests.harness.hub.running_tre`: a
scope, data directory and ports of this module's own, so a TRE running on the same
machine is never touched).  The hub is driven through its REST API with a service
token given by TRE_HUB_EXTRA_CONFIG (which also exercises that setting).
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.harness.hub import (
    Listener,
    RunningTre,
    docker_api,
    host_ipv4_addresses,
    probe,
    run_container,
    run_in_kernel,
    running_tre,
    workspace_image,
)

__all__ = ["docker_api", "workspace_image"]  # fixtures, imported for pytest


@pytest.fixture(scope="module")
def hub(docker_api: Any, workspace_image: str,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTre]:
    with running_tre(tmp_path_factory.mktemp("tre-e2e"), docker_api,
                     TRE_MEMBERSHIP_CHECK="2") as tre:
        yield tre


@contextmanager
def _login(hub: RunningTre, user: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub.url, follow_redirects=True, timeout=30) as client:
        page = client.get("/hub/login")
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        data = {"username": user, "password": hub.password}
        if xsrf:
            data["_xsrf"] = xsrf.group(1)
        r = client.post("/hub/login", data=data)
        assert r.status_code == 200 and "/hub/login" not in str(r.url), r.text[:500]
        yield client


def test_spawn_form_offers_only_the_users_projects(hub: RunningTre) -> None:
    with _login(hub, "alice") as alice:
        form = alice.get("/hub/spawn").text
    assert 'value="demo-project"' in form
    assert "registry-study" not in form
    with _login(hub, "frank") as frank:
        form = frank.get("/hub/spawn").text
    assert 'value="registry-study"' in form and 'value="demo-project"' not in form
    assert ">Start</button>" in form  # tre's spawn.html (template_paths) is the page
    with _login(hub, "carol") as carol:  # an output checker: no project to work in
        page = carol.get("/hub/spawn").text
    assert "not a member of any project" in page
    assert 'id="tre-no-project"' in page and ">Start</button>" not in page


def _audit(action: str, actor: str) -> list[dict[str, Any]]:
    from tre import audit
    from workspaces.context import hub_context

    with hub_context().factory() as s:
        rows = s.scalars(select(audit.AuditEvent).where(audit.AuditEvent.action == action,
                                                        audit.AuditEvent.actor == actor))
        return [r.as_dict() for r in rows]


def test_forged_spawns_are_refused_and_audited(hub: RunningTre) -> None:
    before = len(_audit("workspace.spawn.refused", "alice"))
    for options, status in [({"project": "registry-study"}, 403), ({"project": "nope"}, 403),
                            ({}, 403), ({"project": "demo-project", "image": "debian"}, 403)]:
        r = hub.spawn("alice", options)
        assert r.status_code == status, (options, r.text)
    refused = _audit("workspace.spawn.refused", "alice")[before:]
    assert [e["project"] for e in refused] == ["registry-study", "nope", None, "demo-project"]
    assert refused[0]["details"]["authz"][0]["allowed"] is False
    assert not hub.rest("GET", "/users/alice").json()["servers"]


INSIDE = r"""
import json, os, socket, urllib.request
from pathlib import Path
import pandas as pd
import statbarn as sb

def get(url, token=None):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "token " + token)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read(300).decode("latin-1")
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError as e:
        return 0, repr(e)

token = os.environ["JUPYTERHUB_API_TOKEN"]
api = os.environ["JUPYTERHUB_API_URL"]
out = {"hub": get(api + "/"), "whoami": get(api + "/user", token),
       "list_users": get(api + "/users", token)[0],
       "airlock": get(os.environ["TRE_AIRLOCK_URL"] + "/", token)[0],
       "datasets": sorted(p.name for p in (Path.home() / "data").iterdir())}
df = pd.read_parquet(Path.home() / "data" / "ehr" / "person.parquet")
table = sb.crosstab(df["region"], df["sex"])
table.save(Path.home() / "outputs" / "region_sex.csv")
out["verdict"] = str(table.verdict)
out["outputs"] = sorted(p.name for p in (Path.home() / "outputs").iterdir())
from tre.workspace import airlock
req = airlock.submit([Path.home() / "outputs" / "region_sex.csv"],
                     context="e2e: patients by region and sex")
out["request"] = {"id": req["id"], "state": req["state"]}
try:
    socket.getaddrinfo("tre-probe.invalid", 80)
    out["dns"] = "resolved"
except OSError:
    out["dns"] = "failed"
print(json.dumps(out))
"""


def _download_outside(hub: RunningTre, user: str, request_id: str, dest: Path) -> None:
    """The requester, outside the workspace, downloads the release through the proxy."""
    import zipfile

    from tre.workspace.airlock_client import Client

    token = hub.rest("POST", f"/users/{user}/tokens",
                     json={"scopes": ["access:services!service=airlock"]}).json()["token"]
    with Client(url=f"{hub.url}/services/airlock", token=token) as client:
        bundle = client.download(request_id, dest)
    assert "region_sex.csv" in " ".join(zipfile.ZipFile(bundle).namelist())


def test_workspace_works_and_is_locked_down(hub: RunningTre, docker_api: Any,
                                            tmp_path: Path) -> None:
    hub.spawn("alice", {"project": "demo-project"})
    ws = hub.container("alice", "demo-project")
    text = run_in_kernel(hub, "alice", INSIDE)  # in JupyterLab's kernel, via the proxy
    got = json.loads(text.strip().splitlines()[-1])
    assert got["hub"][0] == 200  # the hub API answers, through the firewall
    assert got["whoami"][0] == 200 and '"alice"' in got["whoami"][1]
    assert got["list_users"] == 403  # the server's token can do no more than it needs
    assert 200 <= got["airlock"] < 500  # the airlock answers
    assert got["datasets"] == ["ehr"]  # registry is not granted to demo-project
    assert got["verdict"] == "pass"
    assert got["outputs"] == ["region_sex.csv", "region_sex.csv.statbarn.json"]
    # no name resolution (that it fails at once: tests/integration/test_network_isolation.py)
    assert got["dns"] == "failed"
    # submitted from inside with the client, approved automatically, downloaded outside
    assert got["request"]["state"] in ("approved", "released"), got["request"]
    _download_outside(hub, "alice", got["request"]["id"], tmp_path)

    # writing under ~/data fails, even as root; the image itself is read-only too
    for user in ("jovyan", "root"):
        for target in ("/home/jovyan/data/x", "/home/jovyan/data/ehr/x", "/etc/x"):
            code, text = ws.exec(["touch", target], user=user)
            assert code != 0 and "Read-only file system" in text, (user, target, text)
    config = docker_api.inspect_container(ws.id)["HostConfig"]
    assert config["CapDrop"] == ["ALL"] and "no-new-privileges" in config["SecurityOpt"]
    assert config["ReadonlyRootfs"] and config["PidsLimit"] > 0 and config["Memory"] > 0


def test_nothing_else_is_reachable_from_a_workspace(hub: RunningTre, docker_api: Any,
                                                     workspace_image: str) -> None:
    hub.spawn("alice", {"project": "demo-project"})
    hub.spawn("bob", {"project": "demo-project"})
    hub.spawn("frank", {"project": "registry-study"})
    alice = hub.container("alice", "demo-project")
    bob = hub.container("bob", "demo-project")
    frank = hub.container("frank", "registry-study")
    host_service = Listener("0.0.0.0")
    plain = f"{hub.prefix}plain"
    docker_api.create_network(plain, driver="bridge")
    outside = run_container(docker_api, workspace_image, network_mode=plain,
                            command=["python", "-m", "http.server", "8000"])
    try:
        time.sleep(1)
        targets = [(a, host_service.port) for a in host_ipv4_addresses()]
        # each workspace is alone on a network of its own
        targets += [(bob.address(), 8888),  # same project, other user
                    (frank.address(), 8888),  # another project
                    (outside.ip(plain), 8000)]  # another Docker network: the way out
        for target, (ok, detail) in probe(alice, targets, timeout=1.5).items():
            assert not ok, f"{target} reachable from alice's workspace: {detail}"
    finally:
        outside.remove()
        docker_api.remove_network(plain)
        host_service.close()
        for user in ("alice", "bob", "frank"):
            hub.stop(user)


def test_an_ended_membership_stops_the_workspace(hub: RunningTre) -> None:
    from tre.catalog.members import add_member
    from tre.clock import SystemClock
    from workspaces.context import hub_context

    until = datetime.now(UTC) + timedelta(seconds=20)
    add_member(hub_context().factory, project="demo-project", user="ivan", role="researcher",
               until=until, actor="grace", reason="e2e: a short membership",
               clock=SystemClock())
    time.sleep(3)  # the hub follows the policy within TRE_POLICY_POLL_SECONDS
    assert hub.spawn("ivan", {"project": "demo-project"}).status_code < 400
    deadline = until + timedelta(seconds=15)
    while datetime.now(UTC) < deadline and hub.rest("GET", "/users/ivan").json()["servers"]:
        time.sleep(0.5)
    assert not hub.rest("GET", "/users/ivan").json()["servers"], hub.log_tail()
    assert _audit("workspace.stop", "ivan")
    assert hub.spawn("ivan", {"project": "demo-project"}).status_code == 403


def test_a_workspace_starts_and_stops_again_and_again(hub: RunningTre,
                                                     docker_api: Any) -> None:
    """Stop removes the container; the next start makes a fresh one.  (How long a
    start takes is measured by benchmarks/bench_spawn.py, not asserted here.)"""
    seen = set()
    for _ in range(3):
        assert hub.spawn("alice", {"project": "demo-project"}).status_code < 400
        ws = hub.container("alice", "demo-project")
        assert docker_api.inspect_container(ws.id)["State"]["Running"]
        seen.add(ws.id)
        hub.stop("alice")
        assert not hub.rest("GET", "/users/alice").json()["servers"]
        assert not docker_api.containers(all=True, filters={"id": ws.id})
    assert len(seen) == 3
    median = statistics.median(hub.spawn_seconds)
    print(f"\nspawn to ready: median {median:.2f}s over {len(hub.spawn_seconds)} spawns "
          f"({', '.join(f'{s:.2f}' for s in hub.spawn_seconds)}); tre up: {hub.up_seconds:.1f}s",
          file=sys.stderr)


def test_down_stops_everything_and_removes_networks_and_rules(hub: RunningTre) -> None:
    """Last in the module: ``tre down`` (the fixture's own teardown then finds nothing)."""
    import subprocess

    from tre.hub.up import bring_down
    from workspaces.network import Scope, list_networks

    hub.spawn("alice", {"project": "demo-project"})
    assert list_networks(hub.api, Scope(hub.prefix))
    with hub.settings():
        bring_down(lambda line: None)
    assert not (hub.state / "jupyterhub.pid").exists()
    assert not hub.api.containers(filters={"name": hub.prefix})
    assert list_networks(hub.api, Scope(hub.prefix)) == []
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    assert Scope(hub.prefix).input_chain not in rules
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{hub.url}/hub/api/", timeout=2)
    # data stays: the catalog, the demo datasets and alice's volumes
    assert (hub.state.parent / "tre.db").is_file()
    from workspaces.plan import volume_names

    outputs = volume_names(hub.prefix, "alice", "demo-project")[1]
    assert hub.api.volumes(filters={"name": outputs})["Volumes"]
