"""The Jupyter server side of "the browser is outside the TRE" (rules: tre.workspace.browser).

Installed in the workspace image and switched on by its server configuration
(``workspaces/image/files/jupyter_server_config.json``), through jupyter-server's own
extension points, no patches:

* :class:`SealedContentsManager` (``ServerApp.contents_manager_class``): the contents
  API (``/api/contents``, which JupyterLab's file browser, editors and uploads use)
  refuses what :func:`~tre.workspace.browser.check_read` and
  :func:`~tre.workspace.browser.check_write` refuse;
* :class:`RefusedHandler`: ``/files`` (raw files and downloads; the contents manager's
  ``files_handler_class``), and ``/nbconvert`` ("Download as") and ``/view``
  (``ServerApp.extra_services``, loaded before the default handlers) answer 403.

Every refusal is audited: the server posts it to the airlock
(``POST {TRE_AIRLOCK_URL}/api/workspace/refusals``) with the workspace's own hub
token, since the workspace cannot reach the database.  The refusal stands whether or
not that call succeeds; a failed audit call is logged here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import httpx
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web
from traitlets import Int, default

from tre.workspace.browser import (
    DATA,
    Limits,
    Refusal,
    check_read,
    check_write,
    data_refusal,
    download_refusal,
    inside,
)

log = logging.getLogger("tre.workspace.jupyter")
AUDIT_PATH = "/api/workspace/refusals"
AUDIT_TIMEOUT = httpx.Timeout(5.0)
MAX_PATH = 1000  # characters of a path sent to the audit log


async def audit_refusal(refusal: Refusal, path: str, route: str) -> bool:
    """Record the refusal in the TRE's audit log through the airlock; False if that failed."""
    url = os.environ.get("TRE_AIRLOCK_URL", "").rstrip("/")
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    project = os.environ.get("TRE_PROJECT", "")
    if not (url and token and project):
        log.error("refusal of %s (%s) NOT audited: TRE_AIRLOCK_URL, JUPYTERHUB_API_TOKEN or "
                  "TRE_PROJECT is not set", path[:MAX_PATH], refusal.reason)
        return False
    body = {"project": project, "path": path[:MAX_PATH], "route": route,
            "reason": refusal.reason}
    try:
        async with httpx.AsyncClient(timeout=AUDIT_TIMEOUT) as client:
            r = await client.post(url + AUDIT_PATH, json=body,
                                  headers={"Authorization": f"token {token}"})
    except httpx.HTTPError as exc:
        log.error("refusal of %s (%s) NOT audited: the airlock is unreachable: %s",
                  path[:MAX_PATH], refusal.reason, exc)
        return False
    if r.status_code != 201:
        log.error("refusal of %s (%s) NOT audited: the airlock answered %s: %s",
                  path[:MAX_PATH], refusal.reason, r.status_code, r.text[:300])
        return False
    log.warning("refused and audited: %s (%s, %s)", path[:MAX_PATH], route, refusal.reason)
    return True


async def refuse(refusal: Refusal, path: str, route: str) -> web.HTTPError:
    """Audit, then the 403 to raise (raised by the caller, audited or not)."""
    await audit_refusal(refusal, path, route)
    # tornado formats the message with %: a path may hold one
    return web.HTTPError(403, refusal.message.replace("%", "%%"), reason="Forbidden in the TRE")


class RefusedHandler(JupyterHandler):  # type: ignore[misc]
    """A route that does not exist in the TRE: every method answers 403, audited."""

    route = "route"

    def initialize(self, route: str = "") -> None:
        self.route = route or self.route

    async def _refuse(self, *args: Any) -> None:
        path = (args[-1] if args and isinstance(args[-1], str) else self.request.path)
        if self.current_user is None:  # not logged in: nothing to audit, nothing served
            raise web.HTTPError(403, "log in first")
        raise await refuse(download_refusal(f"/{self.route}"), path, self.route)

    get = post = put = patch = delete = head = _refuse

    def check_xsrf_cookie(self) -> None:
        # Nothing is done here but refusing; a POST without the cookie is refused too.
        return None


class _OpenedData(Exception):
    """A file opened for reading turned out to be in ~/data (a link swapped under us)."""


class SealedContentsManager(AsyncLargeFileManager):  # type: ignore[misc]
    """The home directory's contents, with ~/data never sent and only text accepted.

    Paths are checked before reading (:meth:`get`), and every file the manager opens
    for reading is checked again by what was really opened (:meth:`open`): a link
    swapped between the check and the read (a kernel can race the server) still
    cannot bring a dataset file to the browser.
    """

    max_text_bytes = Int(Limits.text_bytes, config=True,
                         help="Largest text file (bytes) sent to or accepted from the browser.")
    max_notebook_bytes = Int(Limits.notebook_bytes, config=True,
                             help="Largest notebook (bytes) sent to or accepted from "
                             "the browser.")

    @default("files_handler_class")
    def _files_handler_class_default(self) -> type:
        return RefusedHandler

    @default("files_handler_params")
    def _files_handler_params_default(self) -> dict[str, str]:
        return {"route": "files"}

    @property
    def limits(self) -> Limits:
        return Limits(text_bytes=self.max_text_bytes, notebook_bytes=self.max_notebook_bytes)

    def _real(self, path: str) -> tuple[str, str]:
        """The path's real location (links resolved) and ~/data's."""
        real = os.path.realpath(self._get_os_path(path.strip("/")))
        return real, os.path.realpath(os.path.join(self.root_dir, DATA))

    @contextmanager
    def open(self, os_path: str, *args: Any, **kwargs: Any) -> Iterator[IO[Any]]:
        mode = str(args[0] if args else kwargs.get("mode", "r"))
        with super().open(os_path, *args, **kwargs) as f:
            if not any(c in mode for c in "wax+"):
                opened = os.readlink(f"/proc/self/fd/{f.fileno()}")
                if inside(opened, os.path.realpath(os.path.join(self.root_dir, DATA))):
                    raise _OpenedData(opened)
            yield f

    async def get(self, path: str, content: bool = True, type: str | None = None,
                  format: str | None = None, require_hash: bool = False) -> Any:
        try:
            return await self._get(path, content, type, format, require_hash)
        except _OpenedData:
            api_path = path.strip("/")
            raise await refuse(data_refusal(api_path), api_path, "contents") from None

    async def _get(self, path: str, content: bool, type: str | None, format: str | None,
                   require_hash: bool) -> Any:
        if content:
            api_path = path.strip("/")
            real, data_root = self._real(api_path)
            if os.path.isdir(real):
                kind = "directory"
            elif type == "notebook" or (type is None and api_path.endswith(".ipynb")):
                kind = "notebook"
            else:
                kind = "file"
            try:
                size = os.stat(real).st_size
            except OSError:
                size = 0  # missing: the parent answers 404
            refusal = check_read(api_path=api_path, real_path=real, data_root=data_root,
                                 kind=kind, fmt=format, size=size, limits=self.limits)
            if refusal is not None:
                raise await refuse(refusal, api_path, "contents")
            if kind == "file":
                try:
                    return await super().get(path, content=True, type=type, format="text",
                                             require_hash=require_hash)
                except web.HTTPError as exc:
                    if exc.status_code != 400:
                        raise
                    # not UTF-8: a binary file, which never goes to the browser
                    raise await refuse(Refusal("binary", f"{api_path} is not a text file: "
                                               "binary files stay in the workspace"),
                                       api_path, "contents") from None
        return await super().get(path, content=content, type=type, format=format,
                                 require_hash=require_hash)

    async def save(self, model: dict[str, Any], path: str = "") -> Any:
        api_path = path.strip("/")
        real, data_root = self._real(api_path)
        refusal = check_write(api_path=api_path, real_path=real, data_root=data_root,
                              kind=model.get("type"), fmt=model.get("format"),
                              content=model.get("content"), chunk=model.get("chunk"),
                              limits=self.limits)
        if refusal is not None:
            raise await refuse(refusal, api_path, "upload")
        return await super().save(model, path)


# ServerApp.extra_services loads this module's handlers before the default services.
default_handlers = [
    (r"/nbconvert/(.*)", RefusedHandler, {"route": "nbconvert"}),
    (r"/view/(.*)", RefusedHandler, {"route": "view"}),
]
