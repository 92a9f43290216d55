"""The workspace is sealed at the application layer: nothing but a released export leaves.

A TRE of this module's own (:func:`tests.harness.hub.running_tre`), real workspaces
spawned through the hub.  What a researcher's browser could ask JupyterLab for is
asked through the hub's public proxy with a token of the researcher's own; what the
workspace could ask of the hub and of Docker's DNS is asked from inside it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.harness.hub import RunningTre, docker_api, run_in_kernel, running_tre, workspace_image

__all__ = ["docker_api", "workspace_image"]  # fixtures, imported for pytest

pytestmark = pytest.mark.e2e
DATASET_FILE = "data/ehr/person.parquet"


@pytest.fixture(scope="module")
def hub(docker_api: Any, workspace_image: str,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTre]:
    with running_tre(tmp_path_factory.mktemp("tre-seal"), docker_api) as tre:
        assert tre.spawn("alice", {"project": "demo-project"}).status_code < 400
        yield tre


@pytest.fixture(scope="module")
def browser(hub: RunningTre) -> Iterator[httpx.Client]:
    """What alice's browser can do: her JupyterLab through the proxy, as her."""
    token = hub.rest("POST", "/users/alice/tokens",
                     json={"scopes": ["access:servers!server=alice/"]}).json()["token"]
    with httpx.Client(base_url=f"{hub.url}/user/alice", timeout=30,
                      headers={"Authorization": f"token {token}"}) as client:
        yield client


def _refusals(actor: str) -> list[dict[str, Any]]:
    from tre import audit
    from workspaces.context import hub_context

    with hub_context().factory() as s:
        rows = s.scalars(select(audit.AuditEvent).where(
            audit.AuditEvent.action == "workspace.refusal", audit.AuditEvent.actor == actor))
        return [r.as_dict() for r in rows]


def test_a_dataset_file_never_reaches_the_browser(hub: RunningTre,
                                                  browser: httpx.Client) -> None:
    before = len(_refusals("alice"))
    parquet_b64 = base64.b64encode(b"PAR1").decode()[:5]
    attempts = {
        "raw": browser.get(f"/files/{DATASET_FILE}"),
        "download": browser.get(f"/files/{DATASET_FILE}", params={"download": "1"}),
        "base64": browser.get(f"/api/contents/{DATASET_FILE}",
                              params={"content": "1", "format": "base64", "type": "file"}),
        "text": browser.get(f"/api/contents/{DATASET_FILE}",
                            params={"content": "1", "format": "text"}),
        "any": browser.get(f"/api/contents/{DATASET_FILE}", params={"content": "1"}),
        "copy": browser.post("/api/contents/outputs",
                             json={"copy_from": DATASET_FILE, "ext": ".parquet"}),
        "view": browser.get(f"/view/{DATASET_FILE}"),
    }
    for how, r in attempts.items():
        assert r.status_code == 403, (how, r.status_code, r.text[:200])
        assert b"PAR1" not in r.content and parquet_b64 not in r.text, how
    assert "never leave" in attempts["base64"].json()["message"]
    # a link in home that leads into ~/data is judged by where it leads
    run_in_kernel(hub, "alice", "import os\n"
                  "os.symlink(os.path.expanduser('~/data/ehr/person.parquet'),"
                  " os.path.expanduser('~/innocent.txt'))\n")
    linked = browser.get("/api/contents/innocent.txt", params={"content": "1"})
    assert linked.status_code == 403 and b"PAR1" not in linked.content
    # names and sizes may be listed: they are not the data
    listing = browser.get("/api/contents/data/ehr", params={"content": "1"})
    assert listing.status_code == 200
    assert "person.parquet" in [f["name"] for f in listing.json()["content"]]
    assert all(f["content"] is None for f in listing.json()["content"])

    refused = _refusals("alice")[before:]
    assert len(refused) == len(attempts) + 1  # each attempt, and the link, audited once
    assert {e["object_id"] for e in refused} == {DATASET_FILE, "innocent.txt"}
    assert {e["details"]["route"] for e in refused} == {"files", "contents", "view"}
    assert all(e["project"] == "demo-project" and e["details"]["reason"] in
               ("dataset", "download") for e in refused)


def test_only_small_text_and_notebooks_are_opened_and_nothing_is_downloaded(
        hub: RunningTre, browser: httpx.Client) -> None:
    run_in_kernel(hub, "alice", "from pathlib import Path\n"
                  "out = Path.home() / 'outputs'\n"
                  "(out / 'small.csv').write_text('region,n\\nnorth,12\\n')\n"
                  "(out / 'big.csv').write_text('x,' * 600_000)\n"
                  "(out / 'plot.png').write_bytes(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(100))\n")
    small = browser.get("/api/contents/outputs/small.csv", params={"content": "1"})
    assert small.status_code == 200 and small.json()["content"] == "region,n\nnorth,12\n"
    big = browser.get("/api/contents/outputs/big.csv", params={"content": "1"})
    assert big.status_code == 403 and "1 MB" in big.json()["message"]
    for fmt in ("base64", "text"):
        png = browser.get("/api/contents/outputs/plot.png",
                          params={"content": "1", "format": fmt})
        assert png.status_code == 403, (fmt, png.text[:200])
    assert browser.get("/api/contents/welcome.ipynb", params={"content": "1"}).status_code \
        == 200
    # nothing is offered as a download, and asking anyway is refused
    for path in ("/files/outputs/small.csv", "/files/outputs/small.csv?download=1",
                 "/nbconvert/html/welcome.ipynb?download=true",
                 "/nbconvert/script/welcome.ipynb"):
        r = browser.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert "north,12" not in r.text
    page = browser.get("/lab").text
    for plugin in ("@jupyterlab/filebrowser-extension:download",
                   "@jupyterlab/docmanager-extension:download",
                   "@jupyterlab/filebrowser-extension:share-file",
                   "@jupyterlab/filebrowser-extension:open-browser-tab",
                   "@jupyterlab/notebook-extension:export"):
        assert plugin in page, plugin  # listed in the page config's disabledExtensions
    assert {e["details"]["reason"] for e in _refusals("alice")} >= {"too_large", "binary",
                                                                   "download"}


def test_a_binary_upload_is_refused_and_a_small_text_file_accepted(
        hub: RunningTre, browser: httpx.Client) -> None:
    ws = hub.container("alice", "demo-project")
    parquet = ws.exec(["head", "-c", "4096", f"/home/jovyan/{DATASET_FILE}"])[1]
    assert parquet.startswith("PAR1")
    binary = base64.b64encode(b"PAR1\x15\x04\x15\x10\x00\x00" + bytes(range(256))).decode()
    r = browser.put("/api/contents/outputs/smuggled.parquet",
                    json={"type": "file", "format": "base64", "content": binary})
    assert r.status_code == 403 and "not a text file" in r.json()["message"]
    chunked = browser.put("/api/contents/outputs/big.bin",
                          json={"type": "file", "format": "base64", "content": binary,
                                "chunk": 1})
    assert chunked.status_code == 403
    text = base64.b64encode(b"notes of mine\n").decode()
    ok = browser.put("/api/contents/outputs/notes.txt",
                     json={"type": "file", "format": "base64", "content": text})
    assert ok.status_code == 201, ok.text[:200]
    _, listing = ws.exec(["ls", "/home/jovyan/outputs"])
    assert "notes.txt" in listing and "smuggled" not in listing and "big.bin" not in listing
    refused = [e for e in _refusals("alice") if e["details"]["route"] == "upload"]
    assert {e["object_id"] for e in refused} >= {"outputs/smuggled.parquet", "outputs/big.bin"}


HUB_FROM_INSIDE = r"""
import json, os, urllib.error, urllib.parse, urllib.request

api = os.environ["JUPYTERHUB_API_URL"]
gate = urllib.parse.urlsplit(api)
root = f"{gate.scheme}://{gate.netloc}"

def call(method, url, token=None, data=None, form=False):
    body = None
    headers = {}
    if token:
        headers["Authorization"] = "token " + token
    if data is not None:
        body = (urllib.parse.urlencode(data) if form else json.dumps(data)).encode()
        headers["Content-Type"] = ("application/x-www-form-urlencoded" if form
                                   else "application/json")
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return [r.status, r.read(400).decode("latin-1")]
    except urllib.error.HTTPError as e:
        return [e.code, e.read(400).decode("latin-1")]
    except OSError as e:
        return [0, repr(e)]

own = os.environ["JUPYTERHUB_API_TOKEN"]
out = {
    "version": call("GET", api + "/"),
    "whoami": call("GET", api + "/user", own),
    "login": call("POST", root + "/hub/login", data={"username": "alice",
                  "password": PASSWORD}, form=True),
    "login_page": call("GET", root + "/hub/login"),
    "mint": call("POST", api + "/users/alice/tokens", MINTER, {"note": "x" * 1000}),
    "list_tokens": call("GET", api + "/users/alice/tokens", MINTER),
    "home": call("GET", root + "/hub/home"),
    "hub_api_port": call("GET", f"{gate.scheme}://{gate.hostname}:{HUB_PORT}/hub/api/"),
}
print(json.dumps(out))
"""


def test_the_hub_offers_a_workspace_only_what_its_server_needs(hub: RunningTre) -> None:
    # A token that may mint tokens, as a login from inside would give: the gate refuses
    # the route itself, whoever asks.
    minter = hub.rest("POST", "/users/alice/tokens",
                      json={"scopes": ["tokens!user=alice"]}).json()["token"]
    code = (HUB_FROM_INSIDE.replace("PASSWORD", repr(hub.password))
            .replace("MINTER", repr(minter)).replace("HUB_PORT", hub.env["TRE_HUB_PORT"]))
    got = json.loads(run_in_kernel(hub, "alice", code).strip().splitlines()[-1])
    assert got["version"][0] == 200 and got["whoami"][0] == 200
    assert '"alice"' in got["whoami"][1]
    for what in ("login", "login_page", "mint", "list_tokens", "home"):
        status, body = got[what]
        assert status == 403 and "hub gate" in body, (what, status, body[:200])
    assert got["hub_api_port"][0] == 0, got["hub_api_port"]  # not even a connection
    notes = [t.get("note") for t in hub.rest("GET", "/users/alice/tokens").json()["api_tokens"]]
    assert "x" * 1000 not in notes


DNS = r"""
import json, random, socket, struct, sys

def query(name, qtype):
    q = struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(4)
    s.sendto(q, ("127.0.0.11", 53))
    try:
        data = s.recv(4096)
    except OSError as e:
        return [-1, type(e).__name__]
    return [struct.unpack(">H", data[6:8])[0], data.decode("latin-1")]

own, other, other_ip = sys.argv[1:4]
ptr = ".".join(reversed(other_ip.split("."))) + ".in-addr.arpa"
print(json.dumps({"own": query(own, 1), "other": query(other, 1), "ptr": query(ptr, 12)}))
"""


def test_no_other_workspace_is_known_inside(hub: RunningTre) -> None:
    """Docker's embedded DNS (127.0.0.11), asked directly with raw queries, knows the
    workspace itself and nobody else; mount sources name no user."""
    from workspaces.context import hub_context

    assert hub.spawn("bob", {"project": "demo-project"}).status_code < 400
    try:
        alice, bob = hub.container("alice", "demo-project"), hub.container("bob", "demo-project")
        bob_name = f"{hub.prefix}bob-demo-project"
        code, out = alice.exec(["python", "-c", DNS, f"{hub.prefix}alice-demo-project",
                                bob_name, bob.address()])
        assert code == 0, out
        got = json.loads(out.strip().splitlines()[-1])
        assert got["own"][0] >= 1, got  # the resolver answers: its silence below is real
        assert got["other"][0] <= 0, got  # (the reply repeats the question: bob's name)
        assert got["ptr"][0] <= 0 and "bob" not in got["ptr"][1], got

        code, mountinfo = alice.exec(["cat", "/proc/self/mountinfo"])
        assert code == 0 and "/home/jovyan/data" in mountinfo
        users = sorted(hub_context().authz.policy.users())
        assert "alice" in users and "bob" in users
        for user in users:
            assert user not in mountinfo, f"{user!r} in alice's mountinfo"
    finally:
        hub.stop("bob")
