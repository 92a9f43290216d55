"""``tre airlock ...`` (the service and the researcher's client) and ``tre audit ...``.

Exit codes: 0 ok; 2 bad input or a refusal (the message says why); 4 ``audit verify``
found a changed, missing or reordered event; 1 unexpected (or the airlock
unreachable).  Errors are one ``error: ...`` line on stderr, never a traceback.

The client commands (submit, status, download) talk to the airlock over HTTP with
the workspace's configuration (TRE_AIRLOCK_URL, JUPYTERHUB_API_TOKEN or
TRE_AIRLOCK_TOKEN, TRE_PROJECT); ``serve`` and ``audit`` run where the database is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tre.cli_audit import AsUser  # one --as option for every audit command
from tre.cli_errors import boundary, fail
from tre.errors import ExitCode

EXIT_UNEXPECTED, EXIT_USAGE, EXIT_BROKEN = ExitCode.INTERNAL, ExitCode.USAGE, ExitCode.FAIL

airlock_app = typer.Typer(help="The output airlock: run it, submit to it, follow requests.",
                          no_args_is_help=True, add_completion=False)
audit_app = typer.Typer(help="The verifiable audit log: verify, export, checkpoint it; "
                        "verify release bundles offline.", no_args_is_help=True,
                        add_completion=False)
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
_fail = fail
_errors = boundary  # the one boundary (tre.cli_errors)


# ---- the service --------------------------------------------------------------------------------
@airlock_app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: TRE_AIRLOCK_HOST (127.0.0.1).")]
    = None,
    port: Annotated[int | None, typer.Option(help="Default: TRE_AIRLOCK_PORT (8090).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    wait_for_schema: Annotated[float, typer.Option(
        "--wait-for-schema", min=0, max=3600, help="Seconds to wait for a schema that is "
        "behind to be migrated (by `tre db upgrade`, e.g. the Helm chart's migration Job) "
        "before refusing; a replica may start first. Default 0: refuse at once.")] = 0,
) -> None:
    """Run the airlock: check the database schema is current (`tre db upgrade` migrates),
    clean up after any crash, then serve."""
    with _errors():
        import uvicorn

        from airlock.db import repo
        from airlock.settings import load_airlock_settings
        from airlock.store import open_store
        from tre.db import make_engine, session_factory
        from tre.schema import wait_for_current

        settings = load_airlock_settings()
        from airlock.ui.session import secret_key

        secret_key(settings.platform)  # refused here, in a sentence, not in a worker's traceback
        wait_for_current(settings.platform.database_url, wait_for_schema)
        engine = make_engine(settings.platform.database_url)
        with session_factory(engine)() as s:
            referenced = repo.referenced_blobs(s)
        engine.dispose()
        # Nothing is being served yet, so anything not referenced is left from a crash.
        swept = open_store(settings).sweep(
            referenced, older_than=settings.airlock.orphan_grace_seconds)
        if swept.temp_files or swept.orphan_blobs:
            typer.echo(f"airlock: removed {swept.temp_files} temporary file(s) and "
                       f"{swept.orphan_blobs} unreferenced blob(s) left by an interruption",
                       err=True)
        from airlock.api.server import uvicorn_options

        # Connections bounded in number and time (slow heads, slow bodies, idle keep-alive):
        # airlock/api/server.py.
        uvicorn.run("airlock.api.app:create_app", factory=True,
                    host=host or settings.airlock.host, port=port or settings.port,
                    workers=workers, log_level=settings.platform.log_level.lower(),
                    proxy_headers=True, server_header=False,
                    **uvicorn_options(settings.airlock))


# ---- the researcher's client --------------------------------------------------------------------
def _summary(req: dict[str, Any]) -> list[str]:
    count = req.get("file_count", len(req["files"]))  # file_count: its content is hidden
    lines = [f"request {req['id']}: {req['state']} ({req['project']}, {count} file(s))"]
    if req.get("content_hidden"):
        lines.append(f"  {req['content_hidden']}")
    if req.get("title"):
        lines.append(f"  title: {req['title']}")
    for f in req["files"]:
        alt = f.get("alternative")
        extra = f"; safe alternative {alt['name']} ({alt['verdict']})" if alt else ""
        lines.append(f"  {f.get('verdict') or '-':<9} {f['name']}{extra}")
        canon = f.get("canonical")
        if canon:  # what leaves is the airlock's copy: say what it left out
            lines.append(f"            the airlock's copy ({canon.get('made')}) leaves out: "
                         + ("; ".join(canon.get("removed") or []) or "nothing a viewer shows"))
    for reason in (req.get("decision") or {}).get("reasons", []):
        lines.append(f"  - {reason['message']}")
    if req["state"] == "released":
        lines.append(f"  download: tre airlock download {req['id']} DEST")
    return lines


@airlock_app.command()
def submit(
    files: Annotated[list[Path], typer.Argument(help="Output files (sidecars go along).")],
    project: Annotated[str | None, typer.Option(help="Default: TRE_PROJECT.")] = None,
    context: Annotated[str | None, typer.Option(
        help="What the files are and how they were made (every file needs one).")] = None,
    dataset: Annotated[str | None, typer.Option(help="The dataset they come from.")] = None,
    statistic: Annotated[str | None, typer.Option(
        help="What the cells of the tables without a sidecar hold: count, mean, median, "
        "sum, ... (without it, or a sidecar, a person reviews them).")] = None,
    title: Annotated[str | None, typer.Option(
        help="One line naming the request for the output checkers (at most 200 "
        "characters).")] = None,
    as_json: AsJson = False,
) -> None:
    """Submit files for export as one request, and print the decision."""
    with _errors():
        from tre.workspace.airlock_client import Client

        with Client() as client:
            req = client.submit(files, project=project, context=context, dataset=dataset,
                                statistic=statistic, title=title)
        typer.echo(json.dumps(req, indent=2) if as_json else "\n".join(_summary(req)))


@airlock_app.command()
def status(
    request_id: Annotated[str | None, typer.Argument(help="Default: list your requests.")]
    = None,
    as_json: AsJson = False,
) -> None:
    """Show a request (or all of yours) and where it stands."""
    with _errors():
        from tre.workspace.airlock_client import Client

        with Client() as client:
            result = client.status(request_id)
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        elif request_id:
            typer.echo("\n".join(_summary(result)))
        else:
            for req in result["requests"]:
                typer.echo(f"{req['id']}  {req['state']:<10} {req['project']:<20} "
                           f"{req['created_at'][:19]}  "
                           f"{req.get('file_count', len(req['files']))} file(s)")


@airlock_app.command()
def revise(
    request_id: Annotated[str, typer.Argument(help="A returned request of yours.")],
    files: Annotated[list[Path] | None, typer.Argument(
        help="Files replacing the request's files of the same name, or added to it "
        "(sidecars go along).")] = None,
    remove: Annotated[list[str] | None, typer.Option(
        help="The name of a file of the request to leave out (repeat for more).")] = None,
    answer: Annotated[str | None, typer.Option(
        help="Your answer to the checkers' comments (shown in the conversation).")] = None,
    context: Annotated[str | None, typer.Option(
        help="The context of the files given (default: a replaced file keeps "
        "its own).")] = None,
    statistic: Annotated[str | None, typer.Option(
        help="What the cells of the tables without a sidecar hold (as for submit).")] = None,
    as_json: AsJson = False,
) -> None:
    """Revise a returned request (replace, add or remove files, answer the checkers):
    a new request, checked as new; the returned one is withdrawn."""
    with _errors():
        from tre.workspace.airlock_client import Client

        with Client() as client:
            req = client.revise(request_id, files or [], remove=remove or [], answer=answer,
                                context=context, statistic=statistic)
        typer.echo(json.dumps(req, indent=2) if as_json else "\n".join(_summary(req)))


@airlock_app.command()
def download(
    request_id: Annotated[str, typer.Argument(help="A released request.")],
    dest: Annotated[Path, typer.Argument(help="A directory, or the zip file to write.")],
) -> None:
    """Download a release bundle, checked against its record."""
    with _errors():
        from tre.workspace.airlock_client import Client

        with Client() as client:
            path = client.download(request_id, dest)
        typer.echo(str(path))


# ---- the audit log ------------------------------------------------------------------------------
def _database() -> Any:
    from tre.db import make_engine, session_factory
    from tre.schema import require_current
    from tre.settings import get_settings

    url = get_settings().database_url
    require_current(url)  # never migrated here: `tre db upgrade`
    return session_factory(make_engine(url))




def _allowed(factory: Any, as_user: str | None, action: str) -> None:
    """``audit ACTION`` for the caller, or a refusal (audited) and exit 2."""
    from tre.authz.caller import cli_caller
    from tre.authz.cli_support import errors, known_and_current
    from tre.authz.enforcer import Authz
    from tre.authz.settings import policy_settings

    caller = cli_caller(as_user)
    with errors():
        # The policy in force, read without seeding it: verifying writes nothing.
        _, policy, version = known_and_current(factory)
        settings = policy_settings()
        authz = (Authz(policy, model=settings.model_file, version=version) if policy
                 else Authz.from_files(settings.model_file, settings.seed_file))
        authz.check(caller.name, "*", "audit", action)


@audit_app.command()
def verify(
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="The audit public key (PEM) to trust. Default: "
        "TRE_AUDIT_PUBLIC_KEY_FILE, else the public half of TRE_AUDIT_KEY_FILE.")] = None,
    as_json: AsJson = False,
    as_user: AsUser = None,
) -> None:
    """Check the log against every signed checkpoint; exit 4 and name the change
    (modified, missing, rewritten, truncated, emptied, forged, unanchored) if any.
    Needs ``audit verify``."""
    from tre.cli_audit import _guard, verify_command

    with _guard():
        factory = _database()
        _allowed(factory, as_user, "verify")
        verify_command(factory, public_key, as_json)


@audit_app.command()
def export(
    out: Annotated[Path | None, typer.Option("--out", help="Default: standard output.")] = None,
    as_user: AsUser = None,
) -> None:
    """Write every event as JSON Lines (one object per line, oldest first).  Needs
    ``audit export``."""
    with _errors():
        from tre import audit
        from tre.db import transaction

        factory = _database()
        _allowed(factory, as_user, "export")
        with transaction(factory) as s:
            if out is None:
                count = audit.export_jsonl(s, sys.stdout)
            else:
                with open(out, "w", encoding="utf-8") as fh:
                    count = audit.export_jsonl(s, fh)
        typer.echo(f"exported {count} event(s)", err=True)


@audit_app.command("list")
def list_events(
    last: Annotated[int, typer.Option("--last", min=1, max=10_000,
                                      help="How many of the most recent events.")] = 20,
    as_user: AsUser = None,
) -> None:
    """The most recent events, one a line (seq, time, actor, action, object).  Needs
    ``audit read``."""
    with _errors():
        from sqlalchemy import select

        from tre import audit

        factory = _database()
        _allowed(factory, as_user, "read")
        with factory() as s:
            rows = s.scalars(select(audit.AuditEvent).order_by(audit.AuditEvent.seq.desc())
                             .limit(last)).all()
            for ev in reversed(rows):
                where = f" in {ev.project}" if ev.project else ""
                typer.echo(f"{ev.seq}  {ev.at[:19]}  {ev.actor}  {ev.action}  "
                           f"{ev.object_type} {ev.object_id}{where}")


def _register_audit() -> None:
    from tre.cli_audit import register

    register(audit_app, _database, _allowed)


_register_audit()
