"""``tre policy ...`` and ``tre profile ...``: the governance team's commands.

Exit codes: 0 ok; 2 bad input, a refused change or lint errors (nothing was
changed); 4 truth-table cases that fail (``policy test``); 1 unexpected.  Errors
are ``error: ...`` lines on stderr, never a traceback.  A change is made by the
operating-system user running the command (tre.authz.caller); ``--as USER`` plays
another user only with ``TRE_ENVIRONMENT=development``, and the audit log records
both names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tre.authz.cli_support import (
    EXIT_FAIL,
    EXIT_USAGE,
    database,
    errors,
    known_and_current,
    render_diff,
    when,
)

if TYPE_CHECKING:
    from tre.authz.apply import Outcome

policy_app = typer.Typer(help="Lint, test, diff and apply the authorisation policy.",
                         no_args_is_help=True, add_completion=False)
profile_app = typer.Typer(help="Diff and apply disclosure profiles (versioned, audited).",
                          no_args_is_help=True, add_completion=False)

AsUser = Annotated[str | None, typer.Option(
    "--as", help="Development only (TRE_ENVIRONMENT=development): act as this user. "
    "Otherwise the change is made by the operating-system user running the command.")]
Reason = Annotated[str, typer.Option("--reason", help="Why: kept in the audit log.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
At = Annotated[str | None, typer.Option("--at", help="Evaluate at this time (ISO date or "
                                        "date-time with zone). Default: now.")]
Tests = Annotated[list[Path] | None, typer.Option(
    "--tests", help="New truth tables proposed with the policy (files or directories): they "
    "replace the tables in force only when a second governance user approves. "
    "Default: keep the tables in force (stored in the database).")]


@policy_app.command("lint")
def policy_lint(
    file: Annotated[Path | None, typer.Argument(help="Default: TRE_POLICY_SEED_FILE.")] = None,
    at: At = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings count as errors.")] = False,
) -> None:
    """Check a policy file for mistakes; exit 2 when there are errors.

    Syntax, unknown roles, users and projects, expired memberships, rules that can never
    match; every message names the file and line.
    """
    with errors():
        from tre.authz.lint import check_text
        from tre.authz.settings import policy_settings

        path = file or policy_settings().seed_file
        known, _, _ = known_and_current(database(create=False))
        _, problems = check_text(path.read_text(encoding="utf-8"), str(path), when(at), known)
        for problem in problems:
            typer.echo(str(problem))
        failing = sum(p.severity == "error" or strict for p in problems)
        typer.echo(f"{path}: {failing} error(s), {len(problems) - failing} warning(s)"
                   + ("" if known is not None else " (no database: users and projects unchecked)"))
    raise typer.Exit(EXIT_USAGE if failing else 0)


@policy_app.command("test")
def policy_test(
    files: Annotated[list[Path] | None, typer.Argument(
        help="Truth tables (files or directories). Default: TRE_POLICY_TESTS_DIR.")] = None,
    policy: Annotated[Path | None, typer.Option(
        "--policy", help="The policy to test. Default: TRE_POLICY_SEED_FILE.")] = None,
) -> None:
    """Run truth tables against a policy.  Exit 4 when a case fails."""
    with errors():
        from tre.authz.enforcer import Authz
        from tre.authz.settings import policy_settings
        from tre.authz.truthtable import load_tables, run

        settings = policy_settings()
        authz = Authz.from_files(settings.model_file, policy or settings.seed_file)
        count, failures = run(authz, load_tables(files or [settings.tests_dir]))
        for failure in failures:
            typer.echo(f"FAIL {failure}")
        typer.echo(f"{count} case(s), {len(failures)} failure(s)")
    raise typer.Exit(EXIT_FAIL if failures else 0)


@policy_app.command("diff")
def policy_diff(
    proposed: Annotated[Path, typer.Argument(help="The proposed policy.csv.")],
    against: Annotated[Path | None, typer.Option(
        "--against", help="Compare with this file. Default: the policy in the database, "
        "else TRE_POLICY_SEED_FILE.")] = None,
    at: At = None,
    as_json: AsJson = False,
    as_user: AsUser = None,
) -> None:
    """What a proposed policy would change: (who, where, what) gained or lost.

    Also replays the recent audited decisions under the proposal and lists those that
    would come out differently.  With a database, needs ``policy read``.
    """
    with errors():
        from tre.authz.diff import audited_decisions, diff_policies, replay
        from tre.authz.enforcer import Authz
        from tre.authz.lint import read_policy_file
        from tre.authz.settings import policy_settings

        settings, moment = policy_settings(), when(at)
        factory = database(create=False)
        known, stored, version = known_and_current(factory)
        if against is not None or stored is None:
            stored, version = read_policy_file(against or settings.seed_file, moment), None
        current = Authz(stored, model=settings.model_file, version=version)
        if version is not None:  # the platform's policy and audit log: ask first
            from tre.authz.caller import cli_caller

            current.check(cli_caller(as_user).name, "*", "policy", "read")
        new = Authz(read_policy_file(proposed, moment), model=settings.model_file)
        diff = diff_policies(current, new, moment, known)
        if factory is not None and known is not None:
            with factory() as session:
                replay(audited_decisions(session, settings.replay_limit), new, diff)
        label = f"version {version}" if version else str(against or settings.seed_file)
        if as_json:
            typer.echo(json.dumps({"current": label, **diff.to_dict()}, indent=2, default=str))
        else:
            typer.echo(f"policy diff: {label} -> {proposed}")
            typer.echo("\n".join(render_diff(diff.to_dict())))


def _report(outcome: Outcome, what: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(outcome.__dict__, indent=2, default=str))
        return
    if outcome.status == "proposed":
        typer.echo(f"proposed: {what} proposal {outcome.proposal}, waiting for a second "
                   f"governance user: tre {what} approve {outcome.proposal}")
        for message in outcome.messages:
            typer.echo(f"  ({message})")
    elif outcome.status == "unchanged":
        typer.echo(f"nothing to apply: {'; '.join(outcome.messages)}")
    else:
        typer.echo(f"applied: {what} version {outcome.version}")


@policy_app.command("apply")
def policy_apply(
    proposed: Annotated[Path, typer.Argument(help="The proposed policy.csv.")],
    reason: Reason, as_user: AsUser = None, tests: Tests = None, as_json: AsJson = False,
) -> None:
    """Put a new policy in force (governance role only).

    Validates it, runs the truth tables in force (or proposes new ones, --tests), and
    records the diff, the editor and the reason in the audit log in the same transaction
    as the change.
    """
    with errors():
        from tre.authz.apply import apply_policy
        from tre.authz.caller import cli_caller
        from tre.authz.settings import policy_settings
        from tre.authz.truthtable import read_tables
        from tre.clock import SystemClock

        caller = cli_caller(as_user)
        tables = read_tables(tests) if tests else None
        factory = database(create=True)
        outcome = apply_policy(factory, proposed.read_text(encoding="utf-8"), str(proposed),
                               editor=caller.name, reason=reason, clock=SystemClock(),
                               settings=policy_settings(), tables=tables,
                               via=caller.audit_details())
        _report(outcome, "policy", as_json)
        if not as_json and outcome.diff:
            typer.echo("\n".join(render_diff(outcome.diff)))


@policy_app.command("approve")
def policy_approve(
    proposal: Annotated[int, typer.Argument(help="The proposal's number.")],
    as_user: AsUser = None, as_json: AsJson = False,
) -> None:
    """Apply a policy proposal as the second governance user (never its editor), with the
    truth tables it proposed (if any)."""
    with errors():
        from tre.authz.apply import approve_policy
        from tre.authz.caller import cli_caller
        from tre.authz.settings import policy_settings
        from tre.clock import SystemClock

        caller = cli_caller(as_user)
        factory = database(create=True)
        outcome = approve_policy(factory, proposal, approver=caller.name, clock=SystemClock(),
                                 settings=policy_settings(), via=caller.audit_details())
        _report(outcome, "policy", as_json)
        if not as_json and outcome.diff:
            typer.echo("\n".join(render_diff(outcome.diff)))


@profile_app.command("diff")
def profile_diff(
    name: Annotated[str, typer.Argument(help="The profile in force to compare with.")],
    proposed: Annotated[Path, typer.Argument(help="The proposed profile YAML.")],
    as_json: AsJson = False, as_user: AsUser = None,
) -> None:
    """Which parameters the proposed profile changes, and whether stricter or looser.
    With a database, needs ``profile read``."""
    with errors():
        from tre.authz.caller import cli_caller
        from tre.authz.enforcer import Authz
        from tre.authz.profiles import current_profile, profile_changes, read_proposed
        from tre.authz.settings import policy_settings

        new, _ = read_proposed(proposed)
        factory = database(create=False)
        _, policy, version = known_and_current(factory)
        if policy is not None:  # the profile in force is the platform's: ask first
            authz = Authz(policy, model=policy_settings().model_file, version=version)
            authz.check(cli_caller(as_user).name, "*", "profile", "read")
        try:
            session = factory() if factory is not None else None
            old, origin = current_profile(session, name)
        finally:
            if session is not None:
                session.close()
        changes = profile_changes(old, new)
        if as_json:
            typer.echo(json.dumps({"name": name, "current": origin,
                                   "version_before": old.version if old else None,
                                   "version_after": new.version, "changes": changes},
                                  indent=2, default=str))
            return
        before = f"version {old.version}" if old else "none"
        typer.echo(f"profile {name}: {before} ({origin}) -> version {new.version} ({proposed})")
        for c in changes:
            typer.echo(f"  {c['key']}: {c['old']} -> {c['new']} ({c['effect']})")
        if not changes:
            typer.echo("  (no parameter changes)")
        if old is not None and changes and old.version == new.version:
            typer.echo("warning: the parameters change but the version does not: "
                       "apply will refuse it")


@profile_app.command("apply")
def profile_apply(
    proposed: Annotated[Path, typer.Argument(help="The proposed profile YAML.")],
    reason: Reason, as_user: AsUser = None, as_json: AsJson = False,
) -> None:
    """Validate, store and audit a new profile version (governance role only)."""
    with errors():
        from tre.authz.caller import cli_caller
        from tre.authz.profiles import apply_profile
        from tre.authz.settings import policy_settings
        from tre.clock import SystemClock

        caller = cli_caller(as_user)
        factory = database(create=True)
        outcome = apply_profile(factory, proposed, editor=caller.name, reason=reason,
                                clock=SystemClock(), settings=policy_settings(),
                                via=caller.audit_details())
        _report(outcome, "profile", as_json)


@profile_app.command("approve")
def profile_approve(
    proposal: Annotated[int, typer.Argument(help="The proposal's number.")],
    as_user: AsUser = None, as_json: AsJson = False,
) -> None:
    """Apply a profile proposal as the second governance user (never its editor)."""
    with errors():
        from tre.authz.caller import cli_caller
        from tre.authz.profiles import approve_profile
        from tre.authz.settings import policy_settings
        from tre.clock import SystemClock

        caller = cli_caller(as_user)
        factory = database(create=True)
        outcome = approve_profile(factory, proposal, approver=caller.name, clock=SystemClock(),
                                  settings=policy_settings(), via=caller.audit_details())
        _report(outcome, "profile", as_json)
