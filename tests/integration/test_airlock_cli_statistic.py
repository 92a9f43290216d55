"""``tre airlock submit --statistic`` declares what a table without a sidecar holds
(issue 11): against a real server, the declared count table is checked and released,
the same table undeclared goes to a person."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_airlock_serve import Server
from tests.integration.test_airlock_serve import server as server  # the fixture

pytestmark = pytest.mark.integration


def test_submit_declares_the_statistic(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "counts.csv"
    path.write_text("region,F,M\nNorth,25,31\nSouth,40,18\n")
    r = server.cli("airlock", "submit", str(path), "--context", "patients by region and sex",
                   "--statistic", "count")
    assert r.returncode == 0, r.stderr
    assert ": released" in r.stdout
    r = server.cli("airlock", "submit", str(path), "--context", "patients by region and sex")
    assert r.returncode == 0, r.stderr
    assert ": in_review" in r.stdout
    # The reason is the request's content: over loopback the requester is outside, so a
    # reviewer reads it (the requester would, from inside the workspace).
    rid = r.stdout.split()[1].rstrip(":")
    r = server.cli("airlock", "status", rid, user="carol")
    assert r.returncode == 0, r.stderr
    assert "declare what its cells hold" in r.stdout
