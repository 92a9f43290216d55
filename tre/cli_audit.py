"""``tre audit ...``: verify the log against its checkpoints, sign one, show the public key,
and check a release bundle offline.  Registered on ``audit_app`` by :mod:`tre.cli_airlock`.

Exit codes: 0 intact; 4 the log (or bundle) was tampered with, the message names how;
2 bad input (an unreadable key or file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tre.cli_errors import boundary, fail
from tre.errors import ExitCode

EXIT_USAGE, EXIT_BROKEN = ExitCode.USAGE, ExitCode.FAIL
PublicKey = Annotated[Path | None, typer.Option(
    "--public-key", help="The audit public key (PEM) to trust. Default: "
    "TRE_AUDIT_PUBLIC_KEY_FILE, else the public half of TRE_AUDIT_KEY_FILE.")]


_fail = fail
_guard = boundary  # the one boundary (tre.cli_errors); an unusable checkpoint is exit 2


def _paths(public_key: Path | None) -> Any:
    from tre.notary import Paths

    if public_key is None:
        return Paths.from_settings()
    return Paths.from_settings(None, public_key_file=public_key)


def verify_command(database: Any, public_key: Path | None, as_json: bool) -> None:
    from tre import audit
    from tre.db import transaction

    with transaction(database) as s:
        result = audit.verify(s, _paths(public_key))
    if as_json:
        typer.echo(json.dumps({"ok": result.ok, "events": result.events,
                               "first_bad": result.first_bad, "attack": result.attack,
                               "reason": result.reason, "checkpoints": result.checkpoints,
                               "covered": result.covered, "queued": result.queued,
                               "key_fingerprint": result.key_fingerprint,
                               "key_pinned": result.key_pinned,
                               "witness": result.witness}))
        if not result.ok:
            raise typer.Exit(EXIT_BROKEN)
        return
    trusted = (f"key {result.key_fingerprint or '(none)'}, "
               + ("pinned (TRE_AUDIT_PUBLIC_KEY_FILE)" if result.key_pinned
                  else "taken from beside the log (not pinned)")
               + ("; witness configured" if result.witness else "; no witness"))
    if not result.ok:
        where = f" at event {result.first_bad}" if result.first_bad else ""
        raise _fail(f"audit log broken{where} ({result.attack}): {result.reason} "
                    f"(trusted {trusted})", EXIT_BROKEN)
    line = (f"audit log intact: {result.events} event(s), checked against "
            f"{result.checkpoints} signed checkpoint(s)")
    if result.queued:
        line += (f"; {result.queued} event(s) committed but not yet sequenced into the tree "
                 "(tre audit checkpoint sequences them)")
    if result.events > result.covered:
        line += (f"; the newest {result.events - result.covered} event(s) are not yet covered "
                 "by a checkpoint")
    typer.echo(f"{line}; trusted {trusted}")


AsUser = Annotated[str | None, typer.Option(
    "--as", help="Development only (TRE_ENVIRONMENT=development): act as this user. "
    "Otherwise tre acts as the operating-system user running the command.")]


def register(app: typer.Typer, database: Any, allowed: Any) -> None:
    """``allowed(factory, as_user, action)`` asks tre.authz for ``audit ACTION`` (and
    audits a refusal)."""

    @app.command()
    def checkpoint(as_user: AsUser = None) -> None:
        """Sign a checkpoint of the log as it is now (after checking it), e.g. once after
        upgrading a log written before checkpoints, or from a timer.  Needs
        ``audit verify``."""
        from tre import audit, notary
        from tre.db import transaction

        factory = database()
        allowed(factory, as_user, "verify")
        with _guard():
            bind = factory.kw.get("bind")
            if bind is not None and bind.dialect.name == "postgresql":
                from tre.audit_sequencer import integrate

                while integrate(bind) is not None:  # events a crash left queued
                    pass
        with _guard(), transaction(factory) as s:
            head = audit.locked_head(s)
            result = audit.verify(s, _paths(None))
            if not result.ok and result.attack != "unanchored":
                raise _fail(f"not signing a broken log: {result.reason}", EXIT_BROKEN)
            size, root = head.seq, bytes.fromhex(head.hash)
            notary.default().checkpoint(size, root)  # the head still locked: no newer one
        typer.echo(f"signed a checkpoint of {size} event(s)")

    @app.command("public-key")
    def public_key() -> None:
        """Print the audit public key (PEM): keep a copy away from this server, and give it
        to whoever verifies release bundles."""
        from tre import checkpoints, notary

        with _guard():
            typer.echo(checkpoints.public_pem(notary.default().key().public_key()), nl=False)

    @app.command("verify-bundle")
    def verify_bundle(
        bundle: Annotated[Path, typer.Argument(help="A release bundle (.zip).")],
        public_key: PublicKey = None,
    ) -> None:
        """Check a release bundle offline: its checkpoint's signature, each event's
        inclusion proof, and that record.json and every file are the ones released."""
        from tre import audit_verify

        with _guard():
            key = _paths(public_key).public_key()
            try:
                _, lines = audit_verify.verify_bundle(bundle, key)
            except audit_verify.ProofError as exc:
                raise _fail(f"bundle not verified: {exc}", EXIT_BROKEN) from None
        typer.echo("bundle verified: " + "\n  ".join(lines))
