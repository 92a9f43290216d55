"""One answer for one file (issue 11): ``tre check`` in a workspace and the airlock
decide every file the same way, refusals included, with the same sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.airlock import api_env
from tests.integration.test_cli import run_inprocess
from tre.cli import EXIT_USAGE, VERDICT_EXIT

pytestmark = pytest.mark.integration

FILES: list[tuple[str, bytes, str | None]] = [
    ("blob.csv", b"\x00\x01\x02binary\xff" * 20, None),  # was: tre check 3, airlock 415
    ("table.\u0441sv", b"region,F,M\nNorth,25,31\n", None),
    ("semi.csv", b"region;F;M\nNorth;25;31\nSouth;40;18\n", None),
    ("counts.csv", b"region,F,M\nNorth,25,31\nSouth,40,18\n", "count"),
    ("small.csv", b"region,F,M\nNorth,25,3\nSouth,40,18\n", "count"),
    ("undeclared.csv", b"region,F,M\nNorth,25,31\nSouth,40,18\n", None),
    ("notes.md", b"# notes\n", None),
    ("deep.json", b"[" * 500 + b"]" * 500, None),
    ("evil.exe.csv", b"MZ\x90\x00" + b"\x00" * 60, None),
]


@pytest.mark.parametrize(("name", "body", "statistic"), FILES, ids=[f[0] for f in FILES])
def test_tre_check_and_the_airlock_agree(db_url: str, tmp_path: Path, name: str, body: bytes,
                                         statistic: str | None) -> None:
    path = tmp_path / name
    path.write_bytes(body)
    args = ["check", str(path)] + (["--statistic", statistic] if statistic else [])
    local = run_inprocess(*args)
    manifest = [{"name": name, "statistic": statistic}] if statistic else None
    with api_env(db_url, tmp_path / "data") as (api, _):
        r = api.submit("alice", [(name, body)], manifest=manifest)
    if r.status_code == 201:
        verdict = r.json()["files"][0]["verdict"]
        assert local.exit_code == VERDICT_EXIT[verdict], (local.stdout, local.stderr, r.text)
    else:
        assert 400 <= r.status_code < 500, r.text
        assert local.exit_code == EXIT_USAGE, (local.stdout, local.stderr)
        assert local.stderr.strip() == f"error: the airlock would refuse it: {r.json()['detail']}"
