"""The ``tre`` command line.

Exit codes (stable; scripts and CI rely on them):

====  ==========================================================================
0     success; for ``tre check``: the output passes
1     an unexpected internal error (one line on stderr; TRE_LOG_LEVEL=DEBUG shows
      the traceback)
2     bad input or usage: unreadable or malformed file, bad profile, bad option,
      invalid settings
3     ``tre check``: the output needs a human (escalate)
4     ``tre check``: the output fails a disclosure rule
====  ==========================================================================

No traceback ever reaches the user, except with ``TRE_LOG_LEVEL=DEBUG``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tre import __version__
from tre.cli_airlock import airlock_app, audit_app
from tre.cli_config import config_app
from tre.cli_db import db_app
from tre.cli_errors import boundary, exit_for, fail
from tre.cli_governance import policy_app, profile_app
from tre.cli_workspace import (
    dataset_app,
    demo,
    down,
    hub_up,
    image_app,
    network_app,
    project_app,
)

if TYPE_CHECKING:
    from statbarn.result import Assessment
    from tre.settings import Settings

from tre.errors import ExitCode

EXIT_OK = ExitCode.OK  # the names scripts and tests import; the codes are tre.errors.ExitCode
EXIT_INTERNAL = ExitCode.INTERNAL
EXIT_USAGE = ExitCode.USAGE
EXIT_ESCALATE = ExitCode.ESCALATE
EXIT_FAIL = ExitCode.FAIL
VERDICT_EXIT = {"pass": EXIT_OK, "escalate": EXIT_ESCALATE, "fail": EXIT_FAIL}

app = typer.Typer(
    name="tre",
    help="tre: a trusted research environment with an automated output airlock.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(policy_app, name="policy")
app.add_typer(profile_app, name="profile")
app.add_typer(project_app, name="project")
app.add_typer(dataset_app, name="dataset")
app.add_typer(image_app, name="image")
app.add_typer(network_app, name="network")
app.add_typer(db_app, name="db")
app.command("down")(down)
app.command("demo")(demo)
app.add_typer(airlock_app, name="airlock")
app.add_typer(audit_app, name="audit")
app.add_typer(config_app, name="config")


def _fail(message: str, code: int) -> typer.Exit:
    return fail(message, code)


_user_errors = boundary  # the one boundary (tre.cli_errors), under its old name here


@app.command()
def version() -> None:
    """Print the tre version."""
    typer.echo(f"tre {__version__}")


def _readable_file(path: Path, what: str) -> None:
    if not path.exists():
        raise _fail(f"{path}: no such {what}", EXIT_USAGE)
    if not path.is_file():
        raise _fail(f"{path}: not a file", EXIT_USAGE)


def _profile_argument(option: str | None, settings: Settings) -> str:
    """The profile to check with: ``--profile``, else TRE_PROFILE; never None.

    Always explicit, because statbarn falls back to the profile recorded in the
    evidence sidecar, which the researcher's own process wrote.  A name found in
    TRE_PROFILES_DIR is handed over as that file; other names go to statbarn's
    own search path.
    """
    from tre.settings import PROFILE_SUFFIXES, profile_file

    name = option if option is not None else settings.profile
    is_name = os.sep not in name and Path(name).suffix not in PROFILE_SUFFIXES
    found = profile_file(name, settings) if is_name else None
    return str(found) if found is not None else name


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (tuple, list)):
        return " / ".join(_cell(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def render_text(assessment: Assessment | dict[str, Any]) -> str:
    """The human-readable report of one assessment (or its ``to_dict()``)."""
    data = assessment if isinstance(assessment, dict) else assessment.to_dict()
    profile = data["profile"]
    lines = [
        f"file:     {data['file'] or '-'}",
        f"statbarn: {data['statbarn']}" + (f" ({data['statistic']})" if data["statistic"] else ""),
        f"verdict:  {data['verdict']}",
        f"profile:  {profile['name']} (version {profile['version']})",
    ]
    flags = [(check["rule"], cell) for check in data["checks"] for cell in check["cells"]]
    if flags:
        header = ["rule", "row", "col", "value", "limit"]
        rows = [[rule, *(_cell(c[k]) for k in ("row", "col", "value", "limit"))]
                for rule, c in flags]
        lines += ["", *_table([header, *rows]), ""]
        lines += [f"- {c['message']}" for _, c in flags if c.get("message")]
    unflagged = [c for c in data["checks"] if c["verdict"] != "pass" and not c["cells"]]
    lines += [f"- {c['rule']}: {c.get('summary') or c['verdict']}" for c in unflagged]
    lines += [f"note: {note}" for note in data.get("notes") or []]
    return "\n".join(lines)


@app.command()
def check(
    path: Annotated[Path, typer.Argument(help="The output file to check.")],
    evidence: Annotated[
        Path | None,
        typer.Option("--evidence", help="Evidence sidecar written by statbarn with the output."),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Disclosure profile: a name (e.g. strict) or a YAML file. "
            "Default: TRE_PROFILE (default).",
        ),
    ] = None,
    statistic: Annotated[
        str | None,
        typer.Option("--statistic", help="What the cells of a table without evidence hold: "
                     "count, mean, median, sum, ... (as declared to the airlock)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check one output file for disclosure risk, as the airlock will.

    Exit code 0: pass, 3: escalate (needs a human), 4: fail, 2: bad input (or a file
    the airlock would refuse, with its reason).
    """
    with _user_errors():
        from tre.settings import get_settings

        settings = get_settings()
        _readable_file(path, "file")
        if evidence is not None:
            _readable_file(evidence, "evidence sidecar")
        profile_arg = _profile_argument(profile, settings)

        # The airlock's own path (type from content, then its check runner), so that
        # `tre check` and a submission decide a file the same way.
        from airlock import onefile
        from statbarn.bare import declared_statistic
        from statbarn.profile import load_profile

        try:
            judged = onefile.judge(path, load_profile(profile_arg), evidence=evidence,
                                   statistic=declared_statistic(statistic))
        except onefile.FileRefused as exc:
            raise _fail(f"the airlock would refuse it: {exc}", EXIT_USAGE) from None
        records = judged.result.records
        if as_json:
            data: Any = records[0].result if len(records) == 1 else {
                "file": judged.name, "verdict": judged.result.verdict,
                "outputs": [{"subject": r.subject, **r.result} for r in records]}
            typer.echo(json.dumps(data, indent=2, default=str))
        else:
            typer.echo("\n\n".join(
                ("" if r.subject == "file" else f"{r.subject}:\n") + render_text(r.result)
                for r in records))
        code = VERDICT_EXIT[judged.result.verdict]
    raise typer.Exit(code)


@app.command()
def up(
    dest: Annotated[
        Path | None,
        typer.Option("--dest", help="Where to write the demo. Default: TRE_DATA_DIR/demo."),
    ] = None,
    hub: Annotated[
        bool,
        typer.Option("--hub/--no-hub", help="Also bring up the workspaces: Docker engine, "
                     "image, firewall, JupyterHub with the airlock (tre down stops them)."),
    ] = True,
) -> None:
    """Bring tre up: the demo dataset and outputs (checked), then JupyterHub and workspaces."""
    with _user_errors():
        from tre.demo.outputs import DATASET_NAME, check_demo_outputs, write_demo_outputs
        from tre.settings import get_settings

        settings = get_settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        target = dest if dest is not None else settings.data_dir / "demo"
        paths = write_demo_outputs(target)
        typer.echo(f"tre {__version__}: data directory {settings.data_dir}")
        typer.echo(f"demo dataset: {target / 'data' / DATASET_NAME}")
        profile_arg = _profile_argument(None, settings)
        for path, assessment in zip(paths, check_demo_outputs(paths, profile_arg), strict=True):
            typer.echo(f"  {assessment.verdict!s:<9} {path}")
        typer.echo("next: tre check <file> (add --json for the machine-readable result)")
    if hub:
        hub_up()


def main() -> None:
    """Entry point of the ``tre`` script."""
    try:
        app()
    except Exception as exc:  # last resort: anything raised outside a boundary()
        sys.exit(exit_for(exc).exit_code)


if __name__ == "__main__":
    main()
