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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

EXIT_UNEXPECTED, EXIT_USAGE, EXIT_BROKEN = 1, 2, 4

airlock_app = typer.Typer(help="The output airlock: run it, submit to it, follow requests.",
                          no_args_is_help=True, add_completion=False)
audit_app = typer.Typer(help="The tamper-evident audit log: verify and export it.",
                        no_args_is_help=True, add_completion=False)
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    from tre.settings import SettingsError
    from tre.workspace.airlock import AirlockError

    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except AirlockError as exc:
        code = EXIT_USAGE if 400 <= exc.status < 500 else EXIT_UNEXPECTED
        raise _fail(str(exc), code) from None
    except SettingsError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise _fail(f"{where}{exc.strerror or exc}", EXIT_USAGE) from None
    except Exception as exc:
        from tre.cli import _unexpected

        raise _unexpected(exc) from None


# ---- the service --------------------------------------------------------------------------------
@airlock_app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: TRE_AIRLOCK_HOST (127.0.0.1).")]
    = None,
    port: Annotated[int | None, typer.Option(help="Default: TRE_AIRLOCK_PORT (8090).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Run the airlock: upgrade the database, clean up after any crash, then serve."""
    with _errors():
        import uvicorn

        from airlock.db import repo
        from airlock.settings import load_airlock_settings
        from airlock.store import Store
        from tre.db import make_engine, session_factory, upgrade

        settings = load_airlock_settings()
        upgrade(settings.platform.database_url)
        engine = make_engine(settings.platform.database_url)
        with session_factory(engine)() as s:
            referenced = repo.referenced_blobs(s)
        engine.dispose()
        # Nothing is being served yet, so anything not referenced is left from a crash.
        swept = Store(settings.store_dir).sweep(referenced)
        if swept.temp_files or swept.orphan_blobs:
            typer.echo(f"airlock: removed {swept.temp_files} temporary file(s) and "
                       f"{swept.orphan_blobs} unreferenced blob(s) left by an interruption",
                       err=True)
        uvicorn.run("airlock.api.app:create_app", factory=True,
                    host=host or settings.airlock.host, port=port or settings.airlock.port,
                    workers=workers, log_level=settings.platform.log_level.lower(),
                    proxy_headers=True, server_header=False)


# ---- the researcher's client --------------------------------------------------------------------
def _summary(req: dict[str, Any]) -> list[str]:
    lines = [f"request {req['id']}: {req['state']} ({req['project']}, "
             f"{len(req['files'])} file(s))"]
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
    title: Annotated[str | None, typer.Option(
        help="One line naming the request for the output checkers (at most 200 "
        "characters).")] = None,
    as_json: AsJson = False,
) -> None:
    """Submit files for export as one request, and print the decision."""
    with _errors():
        from tre.workspace.airlock import Client

        with Client() as client:
            req = client.submit(files, project=project, context=context, dataset=dataset,
                                 title=title)
        typer.echo(json.dumps(req, indent=2) if as_json else "\n".join(_summary(req)))


@airlock_app.command()
def status(
    request_id: Annotated[str | None, typer.Argument(help="Default: list your requests.")]
    = None,
    as_json: AsJson = False,
) -> None:
    """Show a request (or all of yours) and where it stands."""
    with _errors():
        from tre.workspace.airlock import Client

        with Client() as client:
            result = client.status(request_id)
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        elif request_id:
            typer.echo("\n".join(_summary(result)))
        else:
            for req in result["requests"]:
                typer.echo(f"{req['id']}  {req['state']:<10} {req['project']:<20} "
                           f"{req['created_at'][:19]}  {len(req['files'])} file(s)")


@airlock_app.command()
def download(
    request_id: Annotated[str, typer.Argument(help="A released request.")],
    dest: Annotated[Path, typer.Argument(help="A directory, or the zip file to write.")],
) -> None:
    """Download a release bundle, checked against its record."""
    with _errors():
        from tre.workspace.airlock import Client

        with Client() as client:
            path = client.download(request_id, dest)
        typer.echo(str(path))


# ---- the audit log ------------------------------------------------------------------------------
def _database() -> Any:
    from tre.db import make_engine, session_factory
    from tre.settings import get_settings

    return session_factory(make_engine(get_settings().database_url))


@audit_app.command()
def verify() -> None:
    """Walk the hash chain; exit 4 and name the first bad event if anything changed."""
    with _errors():
        from tre import audit
        from tre.db import transaction

        with transaction(_database()) as s:
            result = audit.verify(s)
        if not result.ok:
            raise _fail(f"audit log broken at event {result.first_bad}: {result.reason} "
                        f"({result.events} event(s) verified before it)", EXIT_BROKEN)
        typer.echo(f"audit log intact: {result.events} event(s)")


@audit_app.command()
def export(
    out: Annotated[Path | None, typer.Option("--out", help="Default: standard output.")] = None,
) -> None:
    """Write every event as JSON Lines (one object per line, oldest first)."""
    with _errors():
        from tre import audit
        from tre.db import transaction

        with transaction(_database()) as s:
            if out is None:
                count = audit.export_jsonl(s, sys.stdout)
            else:
                with open(out, "w", encoding="utf-8") as fh:
                    count = audit.export_jsonl(s, fh)
        typer.echo(f"exported {count} event(s)", err=True)
