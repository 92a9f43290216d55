"""The researcher's client of the airlock, for notebooks, shells and ``tre airlock``.

Inside a workspace it needs no configuration:

- the airlock's URL is ``TRE_AIRLOCK_URL`` (the spawner sets it), or else is derived
  from the hub's address: ``JUPYTERHUB_API_URL``'s host, the airlock's port
  (``TRE_AIRLOCK_PORT``, 8090) and its service prefix
  (``{JUPYTERHUB_BASE_URL}services/airlock``);
- the token is ``TRE_AIRLOCK_TOKEN``, or the workspace's own ``JUPYTERHUB_API_TOKEN``
  (which the hub scopes to ``access:services!service=airlock``);
- the project is ``TRE_PROJECT``.

Evidence sidecars written by statbarn (``<file>.statbarn.json``) are sent with their
files automatically.  Uploads stream from disk.  A downloaded bundle is checked
against its own record (every file's SHA-256) before it is handed over.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tre.errors import ExitCode, TreError

SIDECAR_SUFFIX = ".statbarn.json"  # statbarn.tables.SIDECAR_SUFFIX, without importing pandas
DEFAULT_PORT = 8090
TIMEOUT = httpx.Timeout(300.0, connect=10.0)


class AirlockError(TreError):
    """The airlock refused or failed; ``status`` is the HTTP status (0: not reached).

    A refusal (4xx) is the caller's to fix (exit 2); an airlock that cannot be reached or
    failed is not (exit 1)."""

    code = "airlock"

    def __init__(self, message: str, status: int = 0, code: str | None = None) -> None:
        self.status, self.code = status, code or "airlock"
        self.exit_code = ExitCode.USAGE if 400 <= status < 500 else ExitCode.INTERNAL
        super().__init__(message)


def airlock_url(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    url = env.get("TRE_AIRLOCK_URL", "").strip()
    if url:
        return url.rstrip("/")
    hub = env.get("JUPYTERHUB_API_URL", "").strip()
    if hub:
        parts = urlsplit(hub)
        base = env.get("JUPYTERHUB_BASE_URL", "/").rstrip("/")
        port = env.get("TRE_AIRLOCK_PORT", str(DEFAULT_PORT))
        return f"{parts.scheme}://{parts.hostname}:{port}{base}/services/airlock"
    raise AirlockError("the airlock's address is unknown: set TRE_AIRLOCK_URL")


def airlock_token(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    token = env.get("TRE_AIRLOCK_TOKEN") or env.get("JUPYTERHUB_API_TOKEN")
    if not token:
        raise AirlockError("no token: set TRE_AIRLOCK_TOKEN (or run inside a workspace, "
                           "which has JUPYTERHUB_API_TOKEN)")
    return token



# One multipart part: (field, (file name or None for a plain field, content, media type)).
Part = tuple[str, tuple[str | None, Any, str | None]]


def _file_parts(stack: ExitStack, files: Sequence[Path]) -> list[Part]:
    """A ``file`` part per file, each followed by its ``sidecar`` when one lies beside it."""
    parts: list[Part] = []
    for f in files:
        parts.append(("file", (f.name, stack.enter_context(open(f, "rb")),  # noqa: SIM115
                               "application/octet-stream")))
        side = f.with_name(f.name + SIDECAR_SUFFIX)
        if side.is_file():
            parts.append(("sidecar", (side.name, stack.enter_context(open(side, "rb")),  # noqa: SIM115
                                      "application/json")))
    return parts

class Client:
    def __init__(self, url: str | None = None, token: str | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = (url or airlock_url()).rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=TIMEOUT, transport=transport,
                                  headers={"Authorization": f"token {token or airlock_token()}"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, resp: httpx.Response) -> Any:
        if resp.status_code >= 400:
            try:
                body = resp.json()
                message, code = str(body.get("detail", resp.text)), body.get("code")
            except ValueError:
                message, code = resp.text.strip() or resp.reason_phrase, None
            raise AirlockError(message, resp.status_code, code)
        return resp.json()

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            return self._check(self._http.request(method, path, **kw))
        except httpx.HTTPError as exc:
            raise AirlockError(f"cannot reach the airlock at {self.url}: {exc}") from None

    def submit(
        self, paths: Iterable[str | Path], *, project: str | None = None,
        context: str | None = None, contexts: Mapping[str, str] | None = None,
        exceptions: Mapping[str, str] | None = None, dataset: str | None = None,
        draft: bool = False, statistic: str | Mapping[str, str] | None = None,
        title: str | None = None,
    ) -> dict[str, Any]:
        """Submit files (with their sidecars) as one request; returns the request.

        ``statistic``: what the cells of tables without a sidecar hold (``"count"``,
        ``"mean"``, ``"median"``, ``"sum"``, ...): one for every table, or per file
        (``{"outputs/t.csv": "count"}``).  Without it (or a sidecar) a table goes to a
        person: whole numbers alone do not make a frequency table."""
        files = [Path(p) for p in paths]
        if not files:
            raise AirlockError("nothing to submit: name at least one file")
        project = project or os.environ.get("TRE_PROJECT")
        if not project:
            raise AirlockError("which project? pass project=... (or set TRE_PROJECT)")
        for f in files:
            if not f.is_file():
                raise AirlockError(f"{f}: no such file")
        manifest = [{"name": f.name, **({"context": contexts[str(f)]} if contexts and str(f)
                                        in contexts else {}),
                     **({"exception": exceptions[str(f)]} if exceptions and str(f)
                        in exceptions else {}),
                     **_statistic_of(f, statistic)} for f in files]
        data: dict[str, str] = {"project": project, "manifest": json.dumps(manifest)}
        if context:
            data["context"] = context
        if dataset:
            data["dataset"] = dataset
        if title:
            data["title"] = title
        if draft:
            data["draft"] = "true"
        with ExitStack() as stack:
            parts = _file_parts(stack, files)
            result: dict[str, Any] = self._call("POST", "/api/requests", data=data, files=parts)
        return result

    def status(self, request_id: str | None = None) -> dict[str, Any]:
        """One request, or (without an id) your requests."""
        path = f"/api/requests/{request_id}" if request_id else "/api/requests"
        result: dict[str, Any] = self._call("GET", path)
        return result

    def withdraw(self, request_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/api/requests/{request_id}/withdraw")
        return result

    def resubmit_safe_alternative(self, request_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", f"/api/requests/{request_id}/resubmit-safe-alternative")
        return result

    def revise(
        self, request_id: str, paths: Iterable[str | Path] = (), *,
        remove: Iterable[str] = (), answer: str | None = None, context: str | None = None,
        contexts: Mapping[str, str] | None = None,
        statistic: str | Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Revise a returned request: each file of ``paths`` replaces the request's file of
        the same name (or is added), ``remove`` names files to leave out, ``answer`` goes
        to the checkers.  Returns the new request (checked as new); the returned one is
        withdrawn.  Works only from inside a workspace."""
        files = [Path(p) for p in paths]
        for f in files:
            if not f.is_file():
                raise AirlockError(f"{f}: no such file")
        names = list(remove)
        if not files and not names and not answer:
            raise AirlockError("nothing to revise: name files to replace or add, --remove "
                               "files, or give an --answer")
        manifest = [{"name": f.name, **({"context": contexts[str(f)]} if contexts and str(f)
                                        in contexts else {}),
                     **_statistic_of(f, statistic)} for f in files]
        fields = {"manifest": json.dumps(manifest), "remove": json.dumps(names)}
        if answer:
            fields["answer"] = answer
        if context:
            fields["context"] = context
        with ExitStack() as stack:
            # every field as a part of its own: always multipart, even with no file
            parts: list[Part] = [(k, (None, v, None)) for k, v in fields.items()]
            parts += _file_parts(stack, files)
            result: dict[str, Any] = self._call("POST", f"/api/requests/{request_id}/revise",
                                                files=parts)
        return result

    def download(self, request_id: str, dest: str | Path) -> Path:
        """Save the release bundle (a zip) in ``dest`` (a directory, or a file name),
        after checking every file in it against the SHA-256 in its record."""
        dest = Path(dest)
        target = dest / f"release-{request_id}.zip" if dest.is_dir() else dest
        partial = target.with_name(target.name + ".part")
        try:
            with self._http.stream("GET", f"/api/requests/{request_id}/bundle") as resp:
                if resp.status_code >= 400:
                    resp.read()
                    self._check(resp)
                with open(partial, "wb") as fh:
                    for block in resp.iter_bytes():
                        fh.write(block)
            verify_bundle(partial)
            partial.replace(target)
        except httpx.HTTPError as exc:
            raise AirlockError(f"cannot reach the airlock at {self.url}: {exc}") from None
        finally:
            partial.unlink(missing_ok=True)
        return target


TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet", ".pq")


def _statistic_of(f: Path, statistic: str | Mapping[str, str] | None) -> dict[str, str]:
    """The manifest's ``statistic`` for ``f``: a single statistic goes to every table
    without a sidecar (a sidecar already says what its table holds)."""
    if statistic is None:
        return {}
    if not isinstance(statistic, str):
        return {"statistic": statistic[str(f)]} if str(f) in statistic else {}
    if f.suffix.lower() not in TABLE_SUFFIXES or f.with_name(f.name + SIDECAR_SUFFIX).is_file():
        return {}
    return {"statistic": statistic}


def verify_bundle(path: Path) -> dict[str, Any]:
    """The bundle's record, after checking each file's SHA-256 against it."""
    try:
        with zipfile.ZipFile(path) as zf:
            record: dict[str, Any] = json.loads(zf.read("record.json"))
            for f in record["files"]:
                digest = hashlib.sha256(zf.read(f"files/{f['name']}")).hexdigest()
                if digest != f["sha256"]:
                    raise AirlockError(f"{f['name']} in the bundle does not match its record")
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise AirlockError(f"the bundle is damaged: {exc}") from None
    return record


def _client() -> Client:
    return Client()


def submit(paths: Iterable[str | Path], **kw: Any) -> dict[str, Any]:
    """``airlock.submit(["outputs/t.csv"], context="...", project=...)``."""
    with _client() as c:
        return c.submit(paths, **kw)


def status(request_id: str | None = None) -> dict[str, Any]:
    with _client() as c:
        return c.status(request_id)


def download(request_id: str, dest: str | Path = ".") -> Path:
    with _client() as c:
        return c.download(request_id, dest)


def resubmit_safe_alternative(request_id: str) -> dict[str, Any]:
    with _client() as c:
        return c.resubmit_safe_alternative(request_id)


def withdraw(request_id: str) -> dict[str, Any]:
    with _client() as c:
        return c.withdraw(request_id)


def revise(request_id: str, paths: Iterable[str | Path] = (), **kw: Any) -> dict[str, Any]:
    """``airlock.revise(rid, ["outputs/t.csv"], remove=["old.md"], answer="...")``."""
    with _client() as c:
        return c.revise(request_id, paths, **kw)
