"""A server-side failure tells a caller outside the TRE what failed and a reference, never
the server's paths or backend messages (the attack on this round's error handler: a
missing profile answered with where the server looked for it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.airlock import PROJECT, api_env

pytestmark = pytest.mark.integration


def test_a_missing_profile_is_a_reference_not_the_servers_paths(
        db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with api_env(db_url, data, project_profiles={PROJECT: "no-such-profile"}) as (api, _):
        r = api.submit("alice", [("notes.md", b"# notes\n")])
    assert r.status_code == 500, r.text
    body = r.json()
    assert body["code"] == "profile"
    assert body["detail"].startswith("the project's disclosure profile cannot be loaded "
                                     "(reference ")
    assert "no-such-profile" not in body["detail"] and "/" not in body["detail"], body
