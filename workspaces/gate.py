"""The hub gate: the only part of the hub a workspace can reach, an allow-list proxy.

The hub API listens on loopback only.  Workspaces reach this gate instead (on their
network's gateway, ``TRE_HUB_GATE_PORT``; the firewall admits nothing else of the
hub), and it forwards exactly what a single-user server needs (jupyterhub 5 and 6,
``jupyterhub/singleuser`` and ``jupyterhub/services/auth.py``):

==========================================  ==============================================
``GET /hub/api``                            the version check at start-up
``GET /hub/api/user``                       who a token (a browser's, or its own) belongs to
``POST /hub/api/oauth2/token``              the OAuth code exchange of a browser's login
``POST /hub/api/users/<name>/activity``     activity reports (the idle culler reads them)
==========================================  ==============================================

Everything else is answered 403 here and never reaches the hub: ``/hub/login`` (a
session from inside), token minting and reading (``/hub/api/users/<u>/tokens``,
whose notes would be a channel out), every other API and page.  No query strings,
bodies of at most :data:`MAX_BODY` bytes, and only a few headers pass either way.
The hub itself still checks every token's scopes.

An activity report's timestamps are chosen by the workspace, and the hub shows them
outside (the admin page, the API): microseconds would be a channel out.  So the gate
sends its own body (:func:`activity_body`): one server, and the reported time cut to
the minute and never later than the gate's clock, which still tells the idle culler
when the server was last used.

Run by the hub as a service: ``python -m workspaces.gate LISTEN_PORT UPSTREAM_URL``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from tornado import httpclient, httpserver, ioloop, web

log = logging.getLogger("workspaces.gate")
MAX_BODY = 16 * 1024
MAX_HEADERS = 16 * 1024
TIMEOUT = 30.0
_NAME = r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}"  # a hub user name, percent-escapes excluded
ALLOWED: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("GET", re.compile(r"/hub/api/?")),
    ("GET", re.compile(r"/hub/api/user")),
    ("POST", re.compile(r"/hub/api/oauth2/token")),
    ("POST", re.compile(rf"/hub/api/users/{_NAME}/activity")),
)
ACTIVITY = ALLOWED[3][1]
_SERVER_NAME = re.compile(r"[A-Za-z0-9._-]{0,255}")  # "" is the default server
# Request headers passed to the hub; responses pass these back.
REQUEST_HEADERS = ("Authorization", "Content-Type", "Accept", "User-Agent")
RESPONSE_HEADERS = ("Content-Type", "X-JupyterHub-Version")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    why: str


def judge(method: str, path: str, query: str) -> Verdict:
    """Is this request one a single-user server needs?  Pure; the whole policy."""
    if query:
        return Verdict(False, "query strings are not forwarded")
    if ".." in path or "//" in path or "%" in path:
        return Verdict(False, "the path is not in its plain form")
    for allowed_method, pattern in ALLOWED:
        if method == allowed_method and pattern.fullmatch(path):
            return Verdict(True, "allowed")
    return Verdict(False, f"{method} {path[:200]} is not reachable from a workspace")


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def activity_body(raw: bytes, now: datetime) -> bytes | None:
    """The body the gate sends for an activity report, or None (refused, 400): at most one
    server, and every timestamp the reported one cut to the minute, never after ``now``.
    Pure."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict) or set(body) - {"servers", "last_activity"}:
        return None
    servers = body.get("servers") or {}
    if not isinstance(servers, dict) or len(servers) > 1:
        return None
    reported = [_timestamp(body["last_activity"])] if "last_activity" in body else []
    for name, info in servers.items():
        if not _SERVER_NAME.fullmatch(name) or not isinstance(info, dict) \
                or set(info) != {"last_activity"}:
            return None
        reported.append(_timestamp(info["last_activity"]))
    if not reported or None in reported:
        return None
    latest = max(t for t in reported if t is not None)
    stamp = min(latest, now.astimezone(UTC)).replace(second=0, microsecond=0)
    text = stamp.strftime("%Y-%m-%dT%H:%M:00Z")
    out: dict[str, object] = {"last_activity": text}
    if servers:
        out["servers"] = {name: {"last_activity": text} for name in servers}
    return json.dumps(out).encode()


class GateHandler(web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def initialize(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")

    def _refuse(self, why: str) -> None:
        log.warning("refused %s %s from %s: %s", self.request.method,
                    self.request.path[:200], self.request.remote_ip, why)
        self.set_status(403)
        self.set_header("Content-Type", "application/json")
        self.finish({"status": 403, "message": f"refused by the TRE's hub gate: {why}"})

    async def _forward(self) -> None:
        req = self.request
        verdict = judge(req.method or "", req.path, req.query)
        if not verdict.allowed:
            self._refuse(verdict.why)
            return
        headers = {k: v for k in REQUEST_HEADERS if (v := req.headers.get(k)) is not None}
        body = req.body if req.method == "POST" else None
        if body is not None and ACTIVITY.fullmatch(req.path):
            body = activity_body(body, datetime.now(UTC))
            if body is None:
                self.set_status(400)
                self.finish({"status": 400, "message": "refused by the TRE's hub gate: an "
                             "activity report is {\"servers\": {NAME: {\"last_activity\": "
                             "TIME}}, \"last_activity\": TIME}"})
                return
        try:
            resp = await httpclient.AsyncHTTPClient().fetch(
                self.upstream + req.path, method=req.method, headers=headers, body=body,
                raise_error=False, follow_redirects=False, request_timeout=TIMEOUT)
        except (OSError, httpclient.HTTPClientError) as exc:
            log.error("the hub is unreachable at %s: %s", self.upstream, exc)
            self.set_status(502)
            self.finish({"status": 502, "message": "the hub is unreachable"})
            return
        log.info("forwarded %s %s -> %s", req.method, req.path, resp.code)
        self.set_status(resp.code)
        for name in RESPONSE_HEADERS:
            if (value := resp.headers.get(name)) is not None:
                self.set_header(name, value)
        if resp.body:
            self.write(resp.body)
        self.finish()

    get = post = put = patch = delete = head = options = _forward


def make_app(upstream: str) -> web.Application:
    return web.Application([(r".*", GateHandler, {"upstream": upstream})])


def serve(port: int, upstream: str, address: str = "0.0.0.0") -> httpserver.HTTPServer:
    server = httpserver.HTTPServer(make_app(upstream), max_body_size=MAX_BODY,
                                   max_header_size=MAX_HEADERS, xheaders=False)
    server.listen(port, address)
    return server


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[0].isdigit():
        print("usage: python -m workspaces.gate LISTEN_PORT UPSTREAM_URL", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s %(asctime)s gate] "
                        "%(message)s")
    serve(int(argv[0]), argv[1])
    log.info("hub gate on port %s, forwarding the allow-list to %s", argv[0], argv[1])
    ioloop.IOLoop.current().start()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
