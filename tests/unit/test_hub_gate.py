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
