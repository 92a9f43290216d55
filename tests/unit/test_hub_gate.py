"""The hub gate's allow-list (workspaces.gate.judge): what a workspace may ask of the hub."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from workspaces.gate import activity_body, judge

NOW = datetime(2026, 12, 4, 20, 5, 41, 123456, tzinfo=UTC)


def test_what_a_single_user_server_needs_passes() -> None:
    for method, path in [("GET", "/hub/api"), ("GET", "/hub/api/"), ("GET", "/hub/api/user"),
                         ("POST", "/hub/api/oauth2/token"),
                         ("POST", "/hub/api/users/alice/activity"),
                         ("POST", "/hub/api/users/a.b-c_d@x/activity")]:
        assert judge(method, path, "").allowed, (method, path)


def test_everything_else_is_refused() -> None:
    for method, path in [
        ("POST", "/hub/login"), ("GET", "/hub/login"), ("GET", "/hub/home"),
        ("POST", "/hub/api/users/alice/tokens"), ("GET", "/hub/api/users/alice/tokens"),
        ("GET", "/hub/api/users"), ("GET", "/hub/api/users/alice"),
        ("POST", "/hub/api/users/alice/server"), ("DELETE", "/hub/api/users/alice/server"),
        ("POST", "/hub/api/user"), ("GET", "/hub/api/oauth2/token"),
        ("GET", "/hub/api/oauth2/authorize"), ("GET", "/hub/token"),
        ("GET", "/services/airlock/api/requests"), ("GET", "/user/bob/api/contents"),
        # the same places written another way
        ("POST", "/hub/api/users/alice/activity/../tokens"),
        ("POST", "/hub/api/users/alice%2Ftokens/activity"),
        ("POST", "//hub/api/users/alice/tokens"), ("POST", "/hub/api/users//activity"),
        ("GET", "/HUB/API/USER"), ("HEAD", "/hub/api/user"),
    ]:
        verdict = judge(method, path, "")
        assert not verdict.allowed, (method, path)
        assert verdict.why
    assert not judge("GET", "/hub/api/user", "token=x").allowed


def test_the_gate_forwards_the_allow_list_and_nothing_else() -> None:
    """A real gate in front of a stand-in hub that records what reaches it."""
    import asyncio
    import json

    from tornado import httpclient, httpserver, web

    from tests.harness.hub import free_port
    from workspaces.gate import serve

    seen: list[tuple[str, str, str | None]] = []
    bodies: list[bytes] = []

    class Hub(web.RequestHandler):
        def _any(self) -> None:
            seen.append((self.request.method or "", self.request.path,
                         self.request.headers.get("Cookie")))
            bodies.append(self.request.body)
            self.set_header("X-JupyterHub-Version", "6.1.1")
            self.set_header("Set-Cookie", "jupyterhub-session=stolen")
            self.write({"name": "alice"})

        get = post = _any

    async def scenario() -> list[tuple[int, dict[str, str], bytes]]:
        hub_port, gate_port = free_port(), free_port()
        hub = httpserver.HTTPServer(web.Application([(r".*", Hub)]))
        hub.listen(hub_port, "127.0.0.1")
        gate = serve(gate_port, f"http://127.0.0.1:{hub_port}", "127.0.0.1")
        client = httpclient.AsyncHTTPClient()
        out = []
        try:
            for method, path, body in [
                ("GET", "/hub/api/user", None),
                ("POST", "/hub/api/users/alice/activity", REPORT),
                ("POST", "/hub/login", b"username=alice&password=x"),
                ("POST", "/hub/api/users/alice/tokens", b'{"note": "x"}'),
                ("POST", "/hub/api/oauth2/token", b"x" * (20 * 1024)),  # over MAX_BODY
            ]:
                r = await client.fetch(f"http://127.0.0.1:{gate_port}{path}", method=method,
                                       body=body, raise_error=False,
                                       headers={"Authorization": "token t",
                                                "Cookie": "jupyterhub-session=mine"})
                out.append((r.code, dict(r.headers), r.body))
        finally:
            gate.stop()
            hub.stop()
        return out

    results = asyncio.run(scenario())
    user, activity, login, mint, too_big = results
    assert user[0] == 200 and json.loads(user[2]) == {"name": "alice"}
    assert user[1]["X-Jupyterhub-Version"] == "6.1.1"
    assert "Set-Cookie" not in user[1]  # no hub session handed to a workspace
    assert activity[0] == 200
    # the hub got the gate's own timestamps, cut to the minute (the report is from 2026)
    assert json.loads(bodies[1]) == {"last_activity": "2026-01-02T03:04:00Z",
                                     "servers": {"": {"last_activity": "2026-01-02T03:04:00Z"}}}
    for refused in (login, mint):
        assert refused[0] == 403 and b"hub gate" in refused[2]
    assert too_big[0] >= 400
    # only the allowed calls reached the hub, and without the browser's cookie
    assert seen == [("GET", "/hub/api/user", None),
                    ("POST", "/hub/api/users/alice/activity", None)]


REPORT = json.dumps({"servers": {"": {"last_activity": "2026-01-02T03:04:05.999999Z"}},
                     "last_activity": "2026-01-02T03:04:05.999999Z"}).encode()


def test_an_activity_report_carries_the_gates_timestamps() -> None:
    """The microseconds (and seconds) a workspace chose never reach the hub."""
    out = activity_body(REPORT, NOW)
    assert out is not None
    assert json.loads(out) == {"last_activity": "2026-01-02T03:04:00Z",
                               "servers": {"": {"last_activity": "2026-01-02T03:04:00Z"}}}
    # a time in the future is the gate's own minute; offsets and naive times read as UTC
    future = json.dumps({"last_activity": "2099-01-01T00:00:00+00:00"}).encode()
    assert json.loads(activity_body(future, NOW) or b"") == {
        "last_activity": "2026-12-04T20:05:00Z"}
    other = json.dumps({"servers": {"lab": {"last_activity": "2026-12-04T21:30:10+02:00"}}})
    assert json.loads(activity_body(other.encode(), NOW) or b"") == {
        "last_activity": "2026-12-04T19:30:00Z",
        "servers": {"lab": {"last_activity": "2026-12-04T19:30:00Z"}}}
    # the latest of the reported times counts (the idle culler reads the newest)
    both = json.dumps({"servers": {"": {"last_activity": "2026-12-04T19:00:00Z"}},
                       "last_activity": "2026-12-04T19:10:59Z"}).encode()
    assert json.loads(activity_body(both, NOW) or b"")["last_activity"] == "2026-12-04T19:10:00Z"


def test_an_activity_report_of_another_shape_is_refused() -> None:
    ts = "2026-12-04T19:00:00Z"
    for body in [b"{}", b"not json", b"[]", json.dumps({"last_activity": ts, "note": "x"}),
                 json.dumps({"last_activity": "yesterday"}),
                 json.dumps({"last_activity": ts + "x" * 40}),
                 json.dumps({"servers": {"a": {"last_activity": ts},
                                         "b": {"last_activity": ts}}}),
                 json.dumps({"servers": {"a b": {"last_activity": ts}}}),
                 json.dumps({"servers": {"": {"last_activity": ts, "extra": 1}}}),
                 json.dumps({"servers": {"": ts}})]:
        raw = body if isinstance(body, bytes) else str(body).encode()
        assert activity_body(raw, NOW) is None, body
