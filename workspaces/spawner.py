"""The workspace spawner: DockerSpawner, confined to one project at a time.

What does not depend on Docker (the options form, the server-side re-check, the
audit, the membership check in :meth:`ProjectSpawner.poll`) is
:class:`ProjectSpawner`, which :class:`workspaces.kube_spawner.KubeWorkspaceSpawner`
shares; both apply the one plan of :func:`workspaces.plan.workspace_spec`.

* The options form lists only the projects the user may work in now (tre.authz);
  the chosen project is checked again in :meth:`WorkspaceSpawner.start`, since a
  form or a REST call can be forged.  A refusal is audited and answered with 403.
* The container gets the project's granted datasets read-only under ~/data, a home
  and an outputs volume of its own (per user and project), the project's internal
  network, and the limits and lock-down of :func:`workspaces.plan.plan_workspace`.
* While it runs, :meth:`poll` asks again (every ``TRE_MEMBERSHIP_CHECK`` seconds):
  once the membership has ended, the workspace is stopped, and it cannot start again.
"""

from __future__ import annotations

import asyncio
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockerspawner import DockerSpawner
from tornado import web
from traitlets import default

from tre import audit
from tre.authz.events import AuditAction, decision_details
from tre.db import transaction
from tre.errors import TreError
from workspaces.context import HubContext, hub_context
from workspaces.plan import (
    DatasetMount,
    WorkspacePlan,
    make_skeleton,
    plan_workspace,
    workspace_id,
)

if TYPE_CHECKING:
    from tre.authz.enforcer import Decision
    from tre.catalog.models import Project


class SpawnRefused(web.HTTPError, TreError):
    """403 with a message the user sees on the spawn page."""

    code = "spawn_refused"
    status = 403

    def __init__(self, message: str) -> None:
        super().__init__(403, log_message=message, reason="Forbidden")
        self.jupyterhub_message = message


class ProjectSpawner:
    """The project logic of a workspace spawner, mixed in before JupyterHub's spawner class
    (which provides ``user``, ``user_options``, ``log``, ``poll`` and ``stop``)."""

    _tre_project: str = ""
    if TYPE_CHECKING:
        user: Any
        user_options: dict[str, Any]
        log: Any

    @property
    def ctx(self) -> HubContext:
        return hub_context()

    # ---- the options form ----------------------------------------------------------------------

    def _projects(self) -> list[Project]:
        from tre.catalog.service import workspace_projects

        with self.ctx.factory() as session:
            return workspace_projects(session, self.ctx.authz, self.user.name)

    async def get_options_form(self) -> str:
        projects = await asyncio.to_thread(self._projects)
        if not projects:
            # The marker tells tre's spawn.html (tre/hub/templates) to show no Start button.
            return ("<p data-tre-no-project><strong>You are not a member of any project at "
                    "the moment</strong>, so there is no workspace to start. Ask your "
                    "project's data custodian or the governance team.</p>")
        options = "\n".join(
            f'<option value="{html.escape(p.name)}">{html.escape(p.name)}: '
            f"{html.escape(p.title)}</option>" for p in projects)
        return (
            '<label for="tre-project">Project</label>\n'
            '<select class="form-control" name="project" id="tre-project" required autofocus>\n'
            f"{options}\n</select>\n"
            "<p>The workspace has the project's datasets, read-only, under <code>~/data</code>. "
            "Save results under <code>~/outputs</code>; they leave only through the airlock.</p>"
        )

    @default("options_from_form")
    def _options_from_form_default(self) -> Any:
        def options_from_form(formdata: dict[str, list[str]]) -> dict[str, str]:
            return {"project": formdata.get("project", [""])[0]}

        return options_from_form

    @default("apply_user_options")
    def _apply_user_options_default(self) -> Any:
        # Nothing to apply up front: start() checks the options and audits the outcome.
        return lambda spawner, options: None

    # ---- authorisation ---------------------------------------------------------------------------

    def _audit(self, action: str, project: str, details: dict[str, Any]) -> None:
        with transaction(self.ctx.factory) as session:
            audit.record(session, actor=self.user.name, action=action, object_type="workspace",
                         object_id=f"{self.user.name}/{project}", project=project or None,
                         clock=self.ctx.authz.clock, details=details)

    def _authorise(self, project: object) -> Decision:
        """The decision allowing this spawn; audits and raises :class:`SpawnRefused` if none."""
        from tre.catalog.models import Project
        from tre.catalog.names import is_name

        name = project if is_name(project) else ""
        details: dict[str, Any] = {"requested": repr(project)[:200],
                                   "options": sorted(map(str, self.user_options))[:20]}
        unexpected = set(self.user_options) - {"project"}
        if unexpected:  # e.g. an image: only the configured one ever runs
            self._audit(AuditAction.WORKSPACE_REFUSED, name,
                        {**details, "why": "unexpected options"})
            raise SpawnRefused(f"Unexpected options: {', '.join(sorted(map(str, unexpected)))}.")
        if not name:
            self._audit(AuditAction.WORKSPACE_REFUSED, "", {**details, "why": "no valid project"})
            raise SpawnRefused("Choose a project to start a workspace in.")
        decision = self.ctx.authz.enforce(self.user.name, name, "workspace", "spawn")
        with self.ctx.factory() as session:
            exists = session.get(Project, name) is not None
        if not decision.allowed or not exists:
            why = "no such project" if not exists else "not allowed"
            self._audit(AuditAction.WORKSPACE_REFUSED, name,
                        {**details, "why": why, **decision_details(decision)})
            raise SpawnRefused(f"You may not start a workspace in project {name!r}.")
        return decision

    # ---- start, poll, stop -----------------------------------------------------------------------

    def _granted(self, project: str) -> list[DatasetMount]:
        """The datasets the workspace gets: the project's grants, if the user may read."""
        from tre.catalog.service import granted_datasets

        if not self.ctx.authz.user_can(self.user.name, project, "dataset", "read"):
            return []
        with self.ctx.factory() as session:
            return [DatasetMount(d.name, d.location, d.tier)
                    for d in granted_datasets(session, project)]

    def template_namespace(self) -> dict[str, Any]:
        return {**super().template_namespace(),  # type: ignore[misc]
                "project": self._tre_project}

    def _still_allowed(self) -> bool:
        return bool(self.ctx.authz.user_can(self.user.name, self._tre_project,
                                            "workspace", "spawn"))

    async def _stop_now(self) -> None:
        """Stop the server at once, without the hub (and without auditing it again)."""
        raise NotImplementedError

    async def _stopped(self, project: str) -> None:
        """After a stop through the hub: release what the workspace held (its network)."""

    async def poll(self) -> Any:
        status = await super().poll()  # type: ignore[misc]
        if status is not None or not self._tre_project:
            return status
        if await asyncio.to_thread(self._still_allowed):
            return None
        # The membership ended (or a deny arrived): stop now.  The hub will not call
        # stop() itself once poll() reports the server gone, so do it here.
        self.log.warning("%s may no longer work in %s: stopping the workspace",
                         self.user.name, self._tre_project)
        await asyncio.to_thread(self._audit, "workspace.stop", self._tre_project,
                                {"why": "may no longer work in the project"})
        await self._stop_now()
        return "stopped: may no longer work in the project"

    async def stop(self, now: bool = False) -> None:
        """Stopped through the hub: by its user, an administrator or the idle culler (the
        hub does not say which).  The workspace's end is audited like its start."""
        project = self._tre_project  # DockerSpawner.stop() ends with clear_state()
        await super().stop(now=now)  # type: ignore[misc]
        if project:
            await self._stopped(project)
            await asyncio.to_thread(self._audit, "workspace.stop", project,
                                    {"why": "stopped through the hub (the user, an "
                                            "administrator or the idle culler)"})

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = super().get_state()  # type: ignore[misc]
        if self._tre_project:
            state["tre_project"] = self._tre_project
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)  # type: ignore[misc]
        self._tre_project = state.get("tre_project", "")

    def clear_state(self) -> None:
        super().clear_state()  # type: ignore[misc]
        self._tre_project = ""


class WorkspaceSpawner(ProjectSpawner, DockerSpawner):  # type: ignore[misc]
    """One workspace: a user in a project (configured by :func:`tre.hub.config.configure`)."""

    def _plan(self, project: str, decision: Decision) -> WorkspacePlan:
        from workspaces.network import NetworkError, ensure_network, firewall_installed

        ctx = self.ctx
        if not firewall_installed(ctx.firewall_ports, ctx.scope):
            raise NetworkError("the workspace firewall is not in place: run `tre network apply`")
        # A network of its own: no other workspace to reach, or to resolve by name.
        net = ensure_network(self.client, project, ctx.scope, user=self.user.name,
                             subnets=ctx.workspace.workspace_subnets)
        mounts = self._granted(project)
        for m in mounts:
            if not Path(m.location).is_dir():
                raise web.HTTPError(500, f"dataset {m.name} is missing on the host: "
                                    f"{m.location}")
        skeleton = make_skeleton(  # an opaque path: it shows in the container's mountinfo
            ctx.state_dir / "skeletons" / workspace_id(self.escaped_name, project), mounts)
        plan = plan_workspace(user=self.escaped_name, project=project, datasets=mounts,
                              net=net, settings=ctx.workspace, skeleton=skeleton,
                              resolv_conf=ctx.resolv_conf)
        self._audit(AuditAction.WORKSPACE_SPAWN, project,
                    {"image": self.image, "datasets": plan.datasets, "network": plan.network,
                     **decision_details(decision)})
        return plan

    async def start(self) -> Any:
        project = self.user_options.get("project")
        decision = await asyncio.to_thread(self._authorise, project)
        assert isinstance(project, str)
        self._tre_project = project
        plan = await asyncio.to_thread(self._plan, project, decision)
        self.volumes = plan.volumes
        self.extra_host_config = plan.host_config
        self.network_name = plan.network
        self.hub_connect_url = plan.hub_connect_url
        # A new dict: the configured one is shared by every spawner.
        self.environment = {**self.environment, **plan.environment}  # type: ignore[has-type]
        self.object_name = self._render_templates(self.name_template)
        ip, port = await super().start()
        await self._wait_listening(ip, port)
        return ip, port

    async def _wait_listening(self, ip: str, port: int) -> None:
        """Return once JupyterLab accepts connections (or after http_timeout).

        The hub then checks the server with exponential back-off (0.2 s, 0.4 s, ...):
        its first check succeeding saves a second or so of every spawn.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(self.http_timeout)
        while loop.time() < deadline:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), 1)
            except (OSError, TimeoutError):
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return

    async def _stop_now(self) -> None:
        project = self._tre_project
        await self.stop_object()
        if self.remove:
            await self.remove_object()
        await self._remove_network(project)

    async def _remove_network(self, project: str) -> None:
        """The workspace's own network goes with it (its name is derived, so this works
        after a hub restart too).  Failing to remove it only leaves an empty network."""
        from workspaces.network import NetworkError, remove_network_named

        name = self.ctx.scope.workspace_network_name(self.user.name, project)
        try:
            if self.remove:  # the container is gone, so nothing is attached any more
                await asyncio.to_thread(remove_network_named, self.client, name)
        except NetworkError as exc:
            self.log.warning("network %s not removed: %s", name, exc)

    async def _stopped(self, project: str) -> None:
        await self._remove_network(project)
