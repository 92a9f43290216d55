"""``tre audit verify`` names each attack; a release bundle proves its events offline
(``tre audit verify-bundle``), and any change to the bundle is named."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from tests.harness.airlock import Api, Harness, api_env, safe_table
from tre import audit, checkpoints, notary
from tre.audit_verify import ProofError, verify_bundle
from tre.cli import app
from tre.db import transaction
from tre.settings import reset_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[tuple[Api, Harness]]:
    monkeypatch.setenv("TRE_DATABASE_URL", db_url)
    reset_settings()
    with api_env(db_url, tmp_path / "data") as env:
        yield env


def tre(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def released_bundle(api: Api, tmp_path: Path) -> Path:
    req = api.submit_table("alice", safe_table(tmp_path)).json()
    assert req["state"] == "released"
    path = tmp_path / "bundle.zip"
    path.write_bytes(api.bundle("alice", req["id"]).content)
    return path


def rewrite(bundle: Path, member: str, change: object) -> Path:
    out = bundle.with_name(f"changed-{member.replace('/', '_')}.zip")
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, change(data) if item.filename == member else data)  # type: ignore[operator]
    return out


def test_verify_names_the_attack_on_the_command_line(env: tuple[Api, Harness],
                                                     tmp_path: Path) -> None:
    api, h = env
    released_bundle(api, tmp_path)
    code, out = tre("audit", "verify", "--as", "olivia")
    assert code == 0 and out.startswith("audit log intact: ") and "signed checkpoint" in out
    with transaction(h.ctx.db) as s:
        s.execute(delete(audit.AuditEvent))
        s.execute(delete(audit.AuditHead))
    code, out = tre("audit", "verify", "--as", "olivia")
    assert code == 4
    assert "error: audit log broken at event 1 (emptied): every event was deleted" in out
    code, out = tre("audit", "verify", "--json", "--as", "olivia")
    assert code == 4 and json.loads(out)["attack"] == "emptied"


def test_a_bundle_proves_its_events_offline(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, _ = env
    bundle = released_bundle(api, tmp_path)
    key = notary.Paths.from_settings().public_key()
    cp, lines = verify_bundle(bundle, key)
    proof = json.loads(zipfile.ZipFile(bundle).read("audit.json"))
    actions = [e["event"]["action"] for e in proof["events"]]
    assert actions[0] == "airlock.request.create" and "airlock.request.transition" in actions
    assert cp.size >= max(e["event"]["seq"] for e in proof["events"])
    assert any("files/by_region.csv: sha256" in line for line in lines)
    pub = tmp_path / "audit.pub"
    pub.write_text(checkpoints.public_pem(key))
    code, out = tre("audit", "verify-bundle", str(bundle), "--public-key", str(pub))
    assert code == 0 and out.startswith("bundle verified: ")


def test_every_change_to_a_bundle_is_named(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, _ = env
    bundle = released_bundle(api, tmp_path)
    key = notary.Paths.from_settings().public_key()

    def event_actor(data: bytes) -> bytes:
        proof = json.loads(data)
        proof["events"][0]["event"]["actor"] = "mallory"
        return json.dumps(proof).encode()

    def event_rehashed(data: bytes) -> bytes:
        proof = json.loads(data)
        ev = proof["events"][0]["event"]
        ev["actor"] = "mallory"
        ev["hash"] = audit.event_leaf(ev).hex()
        return json.dumps(proof).encode()

    def checkpoint_size(data: bytes) -> bytes:
        proof = json.loads(data)
        lines = proof["checkpoint"].split("\n")
        lines[1] = str(int(lines[1]) + 1)
        proof["checkpoint"] = "\n".join(lines)
        return json.dumps(proof).encode()

    cases = [
        ("files/by_region.csv", lambda d: d + b"1,2\n", "is not the file that was released"),
        ("record.json", lambda d: d.replace(b'"min_count": 10', b'"min_count": 1'),
         "record.json is not the record the release event recorded"),
        ("audit.json", event_actor, "was altered: its contents do not give its hash"),
        ("audit.json", event_rehashed, "is not in the log of the checkpoint"),
        ("audit.json", checkpoint_size, "altered after signing"),
    ]
    for member, change, expected in cases:
        with pytest.raises(ProofError, match=expected):
            verify_bundle(rewrite(bundle, member, change), key)
    other = checkpoints.create_private(tmp_path / "other.pem").public_key()
    with pytest.raises(ProofError, match="not signed by this audit key"):
        verify_bundle(bundle, other)


def test_verify_says_which_key_it_trusted(env: tuple[Api, Harness], tmp_path: Path) -> None:
    api, _ = env
    released_bundle(api, tmp_path)
    fp = checkpoints.fingerprint(notary.Paths.from_settings().public_key())
    code, out = tre("audit", "verify", "--as", "olivia")
    assert code == 0 and f"trusted key {fp}, taken from beside the log (not pinned)" in out
    code, out = tre("audit", "verify", "--json", "--as", "olivia")
    body = json.loads(out)
    assert body["key_fingerprint"] == fp and body["key_pinned"] is False
    pinned = tmp_path / "audit.pub"
    pinned.write_text(checkpoints.public_pem(notary.Paths.from_settings().public_key()))
    code, out = tre("audit", "verify", "--public-key", str(pinned), "--as", "olivia")
    assert code == 0 and f"trusted key {fp}, pinned (TRE_AUDIT_PUBLIC_KEY_FILE)" in out
