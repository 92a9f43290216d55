"""The hub gate's allow-list (tre.hub.gate.judge): what a workspace may ask of the hub."""

from __future__ import annotations

from tre.hub.gate import judge


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

    from tre.hub.gate import serve
    from tre.hub.testing import free_port

    seen: list[tuple[str, str, str | None]] = []

    class Hub(web.RequestHandler):
        def _any(self) -> None:
            seen.append((self.request.method or "", self.request.path,
                         self.request.headers.get("Cookie")))
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
                ("POST", "/hub/api/users/alice/activity", b"{}"),
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
    for refused in (login, mint):
        assert refused[0] == 403 and b"hub gate" in refused[2]
    assert too_big[0] >= 400
    # only the allowed calls reached the hub, and without the browser's cookie
    assert seen == [("GET", "/hub/api/user", None),
                    ("POST", "/hub/api/users/alice/activity", None)]
