"""``tre project ...``, ``tre dataset ...``, ``tre image ...`` and ``tre network ...``.

Exit codes: 0 ok; 2 bad input or a refused change (nothing was changed); 1
unexpected.  Errors are one ``error: ...`` line on stderr.  ``--as USER`` names who
makes a change: the CLI runs on the server, so whoever may run it is trusted to
say who they are; tre.authz decides whether that user may, and the audit log
records it with the decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from tre.authz.caller import cli_caller
from tre.authz.cli_support import database, errors

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from tre.authz.enforcer import Authz

project_app = typer.Typer(help="Projects: create them, add members, grant datasets.",
                          no_args_is_help=True, add_completion=False)
dataset_app = typer.Typer(help="Datasets: register and list them.",
                          no_args_is_help=True, add_completion=False)
image_app = typer.Typer(help="The workspace image.", no_args_is_help=True, add_completion=False)
network_app = typer.Typer(help="Workspace networks and the host firewall.",
                          no_args_is_help=True, add_completion=False)

AsUser = Annotated[str | None, typer.Option(
    "--as", help="Development only (TRE_ENVIRONMENT=development): act as this user. "
    "Otherwise tre acts as the operating-system user running the command.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
Reason = Annotated[str, typer.Option("--reason", help="Why: kept in the audit log.")]
T = TypeVar("T")


@contextmanager
def _catalog() -> Iterator[tuple[sessionmaker[Session], Authz]]:
    from tre.authz import load_authz

    factory = database(create=True)
    authz = load_authz(factory)
    try:
        yield factory, authz
    finally:
        authz.close()


def _who(as_user: str | None) -> str:
    """The caller's name: the OS user, or ``--as`` in development (tre.authz.caller)."""
    return cli_caller(as_user).name


def _change(action: Callable[[Session, Authz], T]) -> T:
    """Run one catalog change in one transaction."""
    from tre.db import transaction

    with _catalog() as (factory, authz), transaction(factory) as session:
        return action(session, authz)


def _print(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    from tre.catalog.service import to_json
    from tre.cli import _table

    if as_json:
        typer.echo(to_json(rows))
    elif rows:
        header = [c.replace("_", " ") for c in columns]
        body = [["-" if r[c] is None else str(r[c]) for c in columns] for r in rows]
        typer.echo("\n".join(_table([header, *body])))
    else:
        typer.echo("(none)")


# ---- projects --------------------------------------------------------------------------------


@project_app.command("create")
def project_create(
    name: Annotated[str, typer.Argument(help="Short name: lowercase letters, digits, '-'.")],
    title: Annotated[str, typer.Option("--title", help="A human title.")] = "",
    profile: Annotated[str, typer.Option(
        "--profile", help="Disclosure profile of the project's outputs.")] = "default",
    as_user: AsUser = None,
) -> None:
    """Create a project (needs ``project create``)."""
    with errors():
        from tre.catalog.service import create_project
        from tre.clock import SystemClock

        _change(lambda s, a: create_project(s, a, name=name, title=title, profile=profile,
                                            actor=_who(as_user), clock=SystemClock()))
        typer.echo(f"project {name} created")


@project_app.command("list")
def project_list(as_json: AsJson = False, as_user: AsUser = None) -> None:
    """List the projects you may read (``project read``) with their granted datasets."""
    with errors(), _catalog() as (factory, authz):
        from tre.catalog.service import as_dict, granted_datasets, list_projects

        who = _who(as_user)
        with factory() as session:
            rows = [{**as_dict(p), "datasets": ",".join(d.name for d in
                                                         granted_datasets(session, p.name))}
                    for p in list_projects(session)
                    if authz.user_can(who, p.name, "project", "read")]
        _print(rows, ["name", "title", "profile", "datasets", "created_by"], as_json)


@project_app.command("add-member")
def project_add_member(
    project: Annotated[str, typer.Argument()],
    user: Annotated[str, typer.Argument()],
    until: Annotated[str, typer.Option("--until", help="End date (YYYY-MM-DD, or ISO "
                                       "date-time with zone): the membership ends by itself.")],
    reason: Reason,
    role: Annotated[str, typer.Option("--role", help="The role in the project.")] = "researcher",
    as_user: AsUser = None,
) -> None:
    """Give USER a role in PROJECT until a date (a new policy version, audited)."""
    with errors():
        from tre.authz.policyfile import parse_time
        from tre.catalog.members import add_member
        from tre.clock import SystemClock

        factory = database(create=True)
        outcome = add_member(factory, project=project, user=user, role=role,
                             until=parse_time(until), actor=_who(as_user), reason=reason,
                             clock=SystemClock())
        where = (f"policy version {outcome.version}" if outcome.status == "applied"
                 else f"proposal {outcome.proposal}, waiting for a second approval")
        typer.echo(f"{user} is {role} in {project} until {until} ({outcome.status}: {where})")


@project_app.command("remove-member")
def project_remove_member(
    project: Annotated[str, typer.Argument()],
    user: Annotated[str, typer.Argument()],
    reason: Reason,
    role: Annotated[str, typer.Option("--role", help="The role to end.")] = "researcher",
    as_user: AsUser = None,
) -> None:
    """End USER's role in PROJECT now (their workspace stops within TRE_MEMBERSHIP_CHECK)."""
    with errors():
        from tre.catalog.members import remove_member
        from tre.clock import SystemClock

        factory = database(create=True)
        outcome = remove_member(factory, project=project, user=user, role=role,
                                actor=_who(as_user), reason=reason, clock=SystemClock())
        typer.echo(f"{user} is no longer {role} in {project} ({outcome.status})")


@project_app.command("members")
def project_members(project: Annotated[str, typer.Argument()], as_json: AsJson = False,
                    as_user: AsUser = None) -> None:
    """Who holds which role in PROJECT now, and until when (needs ``membership read``)."""
    with errors(), _catalog() as (factory, authz):
        authz.check(_who(as_user), project, "membership", "read")
        from tre.authz.policyfile import show_time
        from tre.catalog.members import members
        from tre.catalog.service import get_project

        with factory() as session:
            get_project(session, project)
        rows = [{"user": a.user, "role": a.role, "from": show_time(a.start),
                 "until": show_time(a.until)}
                for a in members(authz.policy.assignments, project, authz.clock.now())]
        _print(rows, ["user", "role", "from", "until"], as_json)


@project_app.command("grant")
def project_grant(
    project: Annotated[str, typer.Argument()],
    dataset: Annotated[str, typer.Argument()],
    note: Annotated[str, typer.Option("--note", help="Approval reference or conditions.")] = "",
    as_user: AsUser = None,
) -> None:
    """Grant DATASET to PROJECT, as its custodian (needs ``dataset grant``)."""
    with errors():
        from tre.catalog.service import grant_dataset
        from tre.clock import SystemClock

        _change(lambda s, a: grant_dataset(s, a, project=project, dataset=dataset,
                                           actor=_who(as_user), note=note, clock=SystemClock()))
        typer.echo(f"{dataset} granted to {project} (approved by {_who(as_user)})")


@project_app.command("revoke")
def project_revoke(
    project: Annotated[str, typer.Argument()],
    dataset: Annotated[str, typer.Argument()],
    reason: Reason,
    as_user: AsUser = None,
) -> None:
    """Withdraw DATASET from PROJECT (workspaces lose it when they next start)."""
    with errors():
        from tre.catalog.service import revoke_dataset
        from tre.clock import SystemClock

        _change(lambda s, a: revoke_dataset(s, a, project=project, dataset=dataset,
                                            actor=_who(as_user), reason=reason,
                                            clock=SystemClock()))
        typer.echo(f"{dataset} revoked from {project}")


# ---- datasets --------------------------------------------------------------------------------


@dataset_app.command("register")
def dataset_register(
    name: Annotated[str, typer.Argument(help="Short name: lowercase letters, digits, '-'.")],
    location: Annotated[Path, typer.Argument(help="A directory of Parquet or CSV files.")],
    custodian: Annotated[str, typer.Option("--custodian", help="Who approves its use.")],
    tier: Annotated[int, typer.Option("--tier", help="Sensitivity tier, 0 (open) to 4.")],
    profile: Annotated[str | None, typer.Option(
        "--profile", help="Disclosure profile for outputs made from it. Default: the "
        "tier's preset (default; strict for tiers 3 and 4).")] = None,
    description: Annotated[str, typer.Option("--description")] = "",
    as_user: AsUser = None,
) -> None:
    """Register a dataset (needs ``dataset register``)."""
    with errors():
        from tre.catalog.service import register_dataset
        from tre.clock import SystemClock

        ds = _change(lambda s, a: register_dataset(
            s, a, name=name, location=location, custodian=custodian, tier=tier,
            profile=profile, description=description, actor=_who(as_user), clock=SystemClock()))
        typer.echo(f"dataset {name} registered at {ds.location}")


@dataset_app.command("list")
def dataset_list(as_json: AsJson = False, as_user: AsUser = None) -> None:
    """List datasets with the projects they are granted to (needs ``project read`` in every
    project: the catalog as a whole)."""
    with errors(), _catalog() as (factory, authz):
        from tre.catalog.service import as_dict, list_datasets, projects_of_dataset

        authz.check(_who(as_user), "*", "project", "read")

        with factory() as session:
            rows = [{**as_dict(d), "projects": ",".join(projects_of_dataset(session, d.name))}
                    for d in list_datasets(session)]
        _print(rows, ["name", "tier", "custodian", "profile", "projects", "location"], as_json)


# ---- image and network -----------------------------------------------------------------------


@image_app.command("build")
def image_build(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the build.")] = False,
) -> None:
    """Build the workspace image (the debootstrap base when missing); cached."""
    with errors():
        from tre.image import build
        from workspaces.settings import load_workspace_settings

        result = build(load_workspace_settings(), quiet=not verbose)
        base = f"built {result.base}" if result.base_built else f"on {result.base}"
        typer.echo(f"{result.tag} ({base}) in {result.seconds:.1f}s")


@network_app.command("apply")
def network_apply() -> None:
    """Install (or refresh) the host firewall for workspace networks."""
    with errors():
        from workspaces.network import Scope, apply_firewall
        from workspaces.settings import load_workspace_settings

        s = load_workspace_settings()
        apply_firewall(s.workspace_ports, Scope(s.network_prefix))
        typer.echo(f"firewall: workspaces may reach ports {s.hub_gate_port} (the hub gate) "
                   f"and {s.airlock_port} (the airlock)")


@network_app.command("status")
def network_status() -> None:
    """Show workspace networks and whether the firewall is in place (exit 2 if not)."""
    with errors():
        import docker

        from workspaces.network import Scope, firewall_installed, list_networks
        from workspaces.settings import load_workspace_settings

        s = load_workspace_settings()
        scope = Scope(s.network_prefix)
        for net in list_networks(docker.APIClient(version="auto"), scope):
            owner = f"{net.user}/{net.project}" if net.user else net.project
            typer.echo(f"{net.name}  {owner}  {net.subnet}  gateway {net.gateway}")
        ok = firewall_installed(s.workspace_ports, scope)
        typer.echo(f"firewall: {'in place' if ok else 'MISSING (tre network apply)'}")
    raise typer.Exit(0 if ok else 2)


# ---- up and down -----------------------------------------------------------------------------


# What cannot be done (UpError, HubConfigError, ImageError, NetworkError: each a TreError)
# is one sentence and exit 2; anything else is a bug (exit 1).
_setup_errors = errors


def demo(
    persons: Annotated[int, typer.Option(
        "--persons", help="Persons in the synthetic health record (1,000 to 10,000,000).")
    ] = 10_000,
) -> None:
    """Write the demo's datasets (an OMOP-shaped health record, a cancer registry) under
    TRE_DATA_DIR/demo; `tre up` does this on first start and registers them."""
    with errors():
        import time

        from tre.demo.seed import write_demo_data
        from tre.settings import get_settings

        started = time.monotonic()
        for name, path in write_demo_data(get_settings().data_dir / "demo", persons).items():
            typer.echo(f"{name}: {path}")
        typer.echo(f"written in {time.monotonic() - started:.1f}s")


def hub_up() -> None:
    """The workspaces half of ``tre up`` (see tre.hub.up.bring_up)."""
    with _setup_errors():
        from tre.hub.up import bring_up

        result = bring_up(typer.echo)
        typer.echo(f"JupyterHub: {result.url}  (up in {result.seconds:.1f}s)")
        if result.password:
            typer.echo(f"demo logins: {', '.join(result.users)}")
            typer.echo(f"demo password (every user): {result.password}")


def down() -> None:
    """Stop JupyterHub and the workspaces; remove the networks and firewall rules tre made.

    Data, volumes and images are kept.
    """
    with _setup_errors():
        from tre.hub.up import bring_down

        bring_down(typer.echo)
