"""Inside or outside (airlock.origin): one decision, from the connection's address and the
credential; unknown is outside.  The hub's answer says which credential a token is."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from airlock.identity import HubIdentity
from airlock.origin import Credential, Origin, origin_of, parse_networks
from airlock.settings import load_airlock_settings
from airlock.visibility import content_visible
from tre.settings import SettingsError, load_settings

pytestmark = pytest.mark.unit
NETS = parse_networks(["172.30.0.0/16", "fd00:7e::/64"])
API = Credential.API_TOKEN


@pytest.mark.parametrize(("address", "credential", "nets", "expected"), [
    ("172.30.4.9", API, NETS, Origin.WORKSPACE),
    ("::ffff:172.30.4.9", API, NETS, Origin.WORKSPACE),  # a dual-stack socket's form
    ("fd00:7e::12", API, NETS, Origin.WORKSPACE),
    ("172.31.0.9", API, NETS, Origin.OUTSIDE),  # another network
    ("127.0.0.1", API, NETS, Origin.OUTSIDE),  # the hub's proxy: every browser's door
    ("::1", API, NETS, Origin.OUTSIDE),
    ("172.30.4.9", Credential.BROWSER, NETS, Origin.OUTSIDE),  # a browser is outside
    ("172.30.4.9", Credential.SERVICE, NETS, Origin.OUTSIDE),
    ("172.30.4.9", Credential.UNKNOWN, NETS, Origin.OUTSIDE),
    ("172.30.4.9", API, (), Origin.OUTSIDE),  # no networks configured: fail closed
    ("testclient", API, NETS, Origin.OUTSIDE),  # not an address
    (None, API, NETS, Origin.OUTSIDE),
    ("", API, NETS, Origin.OUTSIDE),
])
def test_origin_of(address: str | None, credential: Credential, nets: tuple[object, ...],
                   expected: Origin) -> None:
    assert origin_of(address, credential, nets) is expected  # type: ignore[arg-type]


def test_a_forwarded_call_is_outside() -> None:
    assert origin_of("172.30.4.9", API, NETS, forwarded=True) is Origin.OUTSIDE


def test_loopback_is_never_inside_even_if_configured() -> None:
    assert origin_of("127.0.0.5", API, parse_networks(["127.0.0.0/8"])) is Origin.OUTSIDE


def test_networks_setting_is_parsed_and_a_bad_one_is_named() -> None:
    platform = load_settings(environment="development")
    s = load_airlock_settings(platform, workspace_networks='["172.30.0.0/16"]')
    assert [str(n) for n in s.workspace_networks] == ["172.30.0.0/16"]
    s = load_airlock_settings(platform, workspace_networks="172.30.0.0/16, 10.9.0.0/24")
    assert [str(n) for n in s.workspace_networks] == ["172.30.0.0/16", "10.9.0.0/24"]
    assert load_airlock_settings(platform).workspace_networks == ()  # default: nothing inside
    with pytest.raises(SettingsError, match=r"'172\.300\.0\.0/16' is not a network"):
        load_airlock_settings(platform, workspace_networks="172.300.0.0/16")
    assert load_airlock_settings(platform).airlock.max_text_chars == 4000
    with pytest.raises(SettingsError, match="MAX_TEXT_CHARS"):
        load_airlock_settings(platform, max_text_chars=50_000)


@pytest.mark.parametrize(("value", "ok"), [
    ("10.0.0.0/8", True), ("10.0.0.0/7", False), ("0.0.0.0/0", False),
    ("fd00:10::/32", True), ("fd00::/31", False), ("::/0", False),
])
def test_a_network_wider_than_a_slash_8_or_32_is_refused(value: str, ok: bool) -> None:
    """0.0.0.0/0 would make every direct caller with an API token "inside"."""
    if ok:
        assert [str(n) for n in parse_networks([value])] == [value]
        return
    with pytest.raises(ValueError, match=r"is wider than /(8|32)"):
        parse_networks([value])
    platform = load_settings(environment="development")
    with pytest.raises(SettingsError, match="is wider than"):
        load_airlock_settings(platform, workspace_networks=json.dumps([value]))


def test_the_hub_answer_says_the_credential() -> None:
    answers: dict[str, dict[str, str | None]] = {
        "server": {"name": "alice", "kind": "user", "session_id": None},
        "oauth": {"name": "alice", "kind": "user", "session_id": "4f2a"},
        "service": {"name": "culler", "kind": "service"},
        "odd": {"name": "x", "kind": "group"},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"].removeprefix("token ")
        return httpx.Response(200, json={**answers[token],
                                         "scopes": ["access:services!service=airlock"]})

    ident = HubIdentity("http://hub/hub/api", "airlock", 0,
                        httpx.AsyncClient(transport=httpx.MockTransport(handler)))

    async def go() -> dict[str, Credential]:
        return {t: (await ident.authenticate(t)).credential for t in answers}

    got = asyncio.run(go())
    assert got == {"server": Credential.API_TOKEN, "oauth": Credential.BROWSER,
                   "service": Credential.SERVICE, "odd": Credential.UNKNOWN}


@pytest.mark.parametrize(("state", "requester", "origin", "reviewer", "shown"), [
    ("draft", True, Origin.WORKSPACE, False, True),
    ("draft", True, Origin.OUTSIDE, False, False),
    ("draft", False, Origin.OUTSIDE, True, False),  # a draft was never sent for review
    ("rejected", True, Origin.OUTSIDE, False, False),
    ("returned", True, Origin.OUTSIDE, False, True),  # reviewed: comments to act on
    ("in_review", False, Origin.OUTSIDE, True, True),
    ("in_review", False, Origin.WORKSPACE, False, False),  # a colleague's workspace
    ("withdrawn", False, Origin.OUTSIDE, True, False),
    ("approved", True, Origin.OUTSIDE, False, True),
    ("released", False, Origin.OUTSIDE, False, True),
])
def test_content_visible(state: str, requester: bool, origin: Origin, reviewer: bool,
                         shown: bool) -> None:
    assert content_visible(state, requester=requester, origin=origin,
                           reviewer=reviewer) is shown


def test_the_cli_says_where_to_look_for_hidden_content() -> None:
    from airlock.visibility import HIDDEN
    from tre.cli_airlock import _summary

    hidden = {"id": "r1", "state": "rejected", "project": "p", "files": [], "file_count": 2,
              "decision": {"outcome": "rejected", "by": "automatic"}, "content_hidden": HIDDEN}
    assert _summary(hidden) == ["request r1: rejected (p, 2 file(s))", f"  {HIDDEN}"]
