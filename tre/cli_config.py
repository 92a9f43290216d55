"""``tre config show | check | reference``: every ``TRE_*`` setting, from the code.

The settings models of each component are the single source of truth: this module
only lists them (a composition root may import every app), so the reference in
``docs/configuration.md`` is generated from the same fields and descriptions that
validate the environment, and a test keeps the two in step.

``check`` loads every section the way its component does (so the error is the one
that component would stop with) and names the ``TRE_*`` variables that no setting
reads: a misspelt variable is otherwise ignored silently, and a forgotten setting
falls back to its default without a word.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr
from pydantic_settings import BaseSettings

config_app = typer.Typer(help="The TRE_* settings: show, check, reference.",
                         no_args_is_help=True)


@dataclass(frozen=True)
class Section:
    name: str
    model: type[BaseSettings]
    prefix: str
    load: Callable[[], object]  # reads the environment; raises SettingsError on bad values
    doc: str


@dataclass(frozen=True)
class Variable:
    """A variable read directly (not through a settings model), e.g. by the workspace client."""

    name: str
    default: str
    description: str


# The researcher client inside a workspace reads these itself (it ships without the server's
# settings models), and the test suite reads one; they are known, so `check` does not flag them.
CLIENT_VARIABLES = (
    Variable("TRE_AIRLOCK_URL", "set by the spawner",
             "Where the client inside a workspace reaches the airlock."),
    Variable("TRE_AIRLOCK_TOKEN", "the workspace's JUPYTERHUB_API_TOKEN",
             "Token the researcher client sends to the airlock."),
    Variable("TRE_PROJECT", "set by the spawner", "The workspace's project."),
    Variable("TRE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test",
             "The PostgreSQL the test suite uses (tests only)."),
)


def sections() -> list[Section]:
    """Every component's settings model, in the order an operator meets them."""
    from airlock.notify import NotifySettings, load_notify_settings
    from airlock.settings import ENV_PREFIX as AIRLOCK
    from airlock.settings import AirlockSettings, load_airlock_settings
    from tre.authz.settings import ENV_PREFIX as POLICY
    from tre.authz.settings import PolicySettings, policy_settings
    from tre.settings import ENV_PREFIX as PLATFORM
    from tre.settings import ServiceSettings, Settings, load_service_settings, load_settings
    from workspaces.kube_settings import KubeSettings, load_kube_settings
    from workspaces.settings import WorkspaceSettings, load_workspace_settings

    return [
        Section("platform", Settings, PLATFORM, load_settings,
                "Platform-wide: state, database, profiles, limits, environment, secret."),
        Section("services", ServiceSettings, PLATFORM, load_service_settings,
                "Where the services listen: read by the airlock and by the hub and workspaces "
                "that reach it (declared once, in `tre.settings`)."),
        Section("airlock", AirlockSettings, AIRLOCK, lambda: load_airlock_settings(),
                "The airlock service (`tre airlock serve`, a JupyterHub service)."),
        Section("notify", NotifySettings, "TRE_NOTIFY_", load_notify_settings,
                "Webhooks and e-mail sent on every state change."),
        Section("policy", PolicySettings, POLICY, policy_settings,
                "Governance: the Casbin policy, its truth tables and second approval."),
        Section("workspace", WorkspaceSettings, PLATFORM, load_workspace_settings,
                "JupyterHub, the workspace image, containers and their network."),
        Section("kubernetes", KubeSettings, "TRE_KUBE_", load_kube_settings,
                "Workspaces on Kubernetes (KubeSpawner; the Helm chart sets these)."),
    ]


def own_fields(section: Section) -> list[str]:
    """The fields ``section`` declares itself.  A field its model inherits from another
    model (the workspace settings extend the services' port) belongs to that one's section,
    so the reference and `show` list it once."""
    inherited = {f for base in section.model.__mro__[1:] for f in getattr(base, "model_fields", {})}
    return [f for f in section.model.model_fields if f not in inherited]


def variable(section: Section, field: str) -> str:
    return f"{section.prefix}{field.upper()}"


def known_variables(secs: Iterable[Section]) -> set[str]:
    names = {v.name for v in CLIENT_VARIABLES}
    for s in secs:
        names |= {variable(s, f) for f in s.model.model_fields}
    return names


def unknown_variables(env: Mapping[str, str], secs: Iterable[Section]) -> list[str]:
    """``TRE_*`` names in ``env`` that no setting reads, each with a suggestion when close."""
    known = known_variables(secs)
    out = []
    for name in sorted(n for n in env if n.startswith("TRE_") and n not in known):
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        out.append(f"{name} is not a tre setting and is ignored{hint}")
    return out


def _default(info: Any) -> str:
    if info.default_factory is not None:
        return "computed (see meaning)"
    value = info.default
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, Path):  # resolved where tre is installed: the meaning says where
        return "computed (see meaning)"
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"`{value}`" if str(value) else '""'


def reference_markdown() -> str:
    """The configuration reference, generated from the settings models."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from the settings models by `tre config reference`; a test keeps this file",
        "in step with the code. Every setting is an environment variable with a documented",
        "default. `tre config show` prints the values in force, `tre config check` validates",
        "them all and names any `TRE_*` variable that no setting reads.",
        "",
    ]
    for s in sections():
        lines += [f"## {s.name}", "", s.doc, "", "| Variable | Default | Meaning |",
                  "|---|---|---|"]
        for field in own_fields(s):
            info = s.model.model_fields[field]
            desc = " ".join((info.description or "").split()).replace("|", "\\|")
            lines.append(f"| `{variable(s, field)}` | {_default(info)} | {desc} |")
        lines.append("")
    lines += ["## read directly", "",
              "Read by the researcher client inside a workspace (or the tests), not by a "
              "settings model.", "", "| Variable | Default | Meaning |", "|---|---|---|"]
    lines += [f"| `{v.name}` | {v.default} | {v.description} |" for v in CLIENT_VARIABLES]
    lines += ["", *_tier_lines(), "", *_error_lines()]
    return "\n".join(lines) + "\n"


def _tier_lines() -> list[str]:
    from tre.catalog.models import TIERS
    from tre.catalog.tiers import PRESETS

    lines = ["## Tier presets", "",
             "A dataset's sensitivity tier (`tre dataset register --tier`) sets, as Data Safe "
             "Haven's tiers do, the default disclosure profile of a dataset registered without "
             "`--profile`, and caps on the workspace of every project that holds it (from the "
             "highest tier among the project's datasets). A cap only lowers "
             "`TRE_WORKSPACE_MEM_LIMIT`, `TRE_WORKSPACE_CPU_LIMIT` and "
             "`TRE_WORKSPACE_PIDS_LIMIT`, never raises them (`tre/catalog/tiers.py`).", "",
             "| Tier | Meaning | Default profile | Memory cap | CPU cap | Process cap |",
             "|---|---|---|---|---|---|"]
    for tier, p in sorted(PRESETS.items()):
        caps = [p.mem_limit or "-", f"{p.cpu_limit:g}" if p.cpu_limit else "-",
                str(p.pids_limit) if p.pids_limit else "-"]
        lines.append(f"| {tier} | {TIERS[tier]} | `{p.profile}` | " + " | ".join(caps) + " |")
    return lines


def _error_lines() -> list[str]:
    return ["## Errors", "",
            "Every section is read by one loader (`tre.settings.load_section`) with one error "
            "format: `invalid settings: TRE_X: why (got 'value')`, one part per problem, exit "
            "2. The value of a secret (a field named for a secret, token, password or key) "
            "is never repeated, nor a URL's credentials (`user:password@` shows as `***@`)."]


def _shown(value: Any) -> str:
    if isinstance(value, SecretStr):
        return "(set, hidden)" if value.get_secret_value() else "(empty)"
    if isinstance(value, dict):
        return "{" + ", ".join(sorted(value)) + "}" if value else "{}"
    return str(value)


@config_app.command("show")
def show() -> None:
    """Print every setting with the value in force (secrets hidden)."""
    from tre.cli_errors import boundary

    with boundary():
        for s in sections():
            model = s.model()
            typer.echo(f"[{s.name}]")
            for field in own_fields(s):
                value = getattr(model, field)
                if "token" in field or "secret" in field or "password" in field:
                    value = "(set, hidden)" if value else "(empty)"
                typer.echo(f"  {variable(s, field)} = {_shown(value)}")


@config_app.command("check")
def check() -> None:
    """Validate every section of the settings; name unknown TRE_* variables (exit 2)."""
    from tre.cli_errors import boundary
    from tre.errors import ExitCode
    from tre.settings import SettingsError

    problems: list[str] = []
    with boundary():
        secs = sections()
        for s in secs:
            try:
                s.load()
            except SettingsError as exc:
                problems.append(f"{s.name}: {exc}")
        problems += unknown_variables(os.environ, secs)
    for p in problems:
        typer.echo(f"error: {p}", err=True)
    if problems:
        raise typer.Exit(ExitCode.USAGE)
    typer.echo(f"settings OK ({len(secs)} sections)")


@config_app.command("reference")
def reference(
    write: Annotated[bool, typer.Option("--write", help="Write docs/configuration.md.")] = False,
) -> None:
    """Print the configuration reference (Markdown), or write it into docs/."""
    text = reference_markdown()
    if write:
        target = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
        tmp = target.with_suffix(".md.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        typer.echo(f"written {target}")
    else:
        typer.echo(text, nl=False)
