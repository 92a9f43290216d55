"""``tre db upgrade`` and ``tre db status``: the one command that migrates (docs/database.md).

Exit codes: 0 the schema is current (after ``upgrade``: now current); 2 ``status`` found it
behind or ahead, or ``upgrade`` was refused (a database migrated by a newer tre).
"""

from __future__ import annotations

import typer

from tre.cli_errors import boundary

db_app = typer.Typer(help="The database schema: upgrade it (the one command that migrates), "
                     "or show where it is.", no_args_is_help=True, add_completion=False)


def _url() -> str:
    from tre.settings import get_settings

    return get_settings().database_url


@db_app.command("upgrade")
def upgrade() -> None:
    """Bring the schema up to this tre's newest revision (idempotent; run once per release,
    before the services start: scripts/up and the Helm chart's migration Job do)."""
    with boundary():
        from tre.db import upgrade as migrate
        from tre.errors import SchemaAhead
        from tre.schema import schema_status

        url = _url()
        before = schema_status(url)
        if before.state == "ahead":
            raise SchemaAhead(before.sentence())
        migrate(url)
        after = schema_status(url)
        was = ", ".join(before.current) or "empty"
        typer.echo(after.sentence() + ("" if before.state == "current" else f"; was {was}"))


@db_app.command("status")
def status() -> None:
    """Say whether the schema is current, behind (run `tre db upgrade`) or ahead (exit 2)."""
    with boundary():
        from tre.schema import schema_status

        result = schema_status(_url())
        if result.state != "current":
            raise typer.Exit(_refuse(result.sentence()))
        typer.echo(result.sentence())


def _refuse(sentence: str) -> int:
    from tre.cli_errors import stderr
    from tre.errors import ExitCode

    stderr(sentence)
    return ExitCode.USAGE
