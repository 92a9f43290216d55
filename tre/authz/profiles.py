"""``tre profile diff`` and ``tre profile apply``: disclosure profiles, versioned like the policy.

A profile file is validated by statbarn (types, ranges, ``extends:``); its
problems are reported with the file, the line of the offending key, and the
problem.  Applied versions are stored in ``profile_versions`` with their resolved
parameters, and every apply is audited in the same transaction.  statbarn
stamps the profile's name and version on every check result, so
:func:`profile_at` can always give back the parameters an old decision was made
with.  The version must change whenever the parameters do: one version number
never means two sets of parameters.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from statbarn.errors import ProfileError
from statbarn.profile import Profile, load_profile, load_profile_file
from tre import audit
from tre.authz.apply import (
    GovernanceError,
    Outcome,
    Refused,
    now_text,
    require,
    require_reason,
)
from tre.authz.enforcer import Authz
from tre.authz.events import AuditAction, decision_details
from tre.authz.proposer import proposing_account, same_account_refusal
from tre.authz.records import APPLIED, PENDING, ProfileVersion, Proposal
from tre.authz.settings import PolicySettings
from tre.authz.store import ensure_seeded, load_version
from tre.authz.vocabulary import GLOBAL
from tre.clock import Clock
from tre.db import transaction

# Which way a change moves each parameter: +1 when a larger value is stricter, -1 when a
# smaller one is; booleans: the stricter value.  Shown in diffs to help the reader.
_STRICTER_WHEN_LARGER = {"min_count": 1, "nk_n": -1, "nk_k": -1, "p_ratio": 1, "min_dof": 1,
                         "k_anonymity": 1, "l_diversity": 1, "protection_level": 1,
                         "protection_min_width": 1, "rounding_base": 1,
                         "reviewers_required": 1, "max_table_cells": -1,
                         "max_suppression_cells": -1}
_STRICTER_BOOL = {"zeros_are_disclosive": True, "allow_auto_release": False,
                  "allow_microdata_release": False}
_IGNORED = {"name", "version", "description", "extends"}  # shown apart, or not parameters

# Floors set in code: a profile change that takes a parameter beyond its floor (looser than
# the value here) always needs a second governance user, whatever TRE_POLICY_SECOND_APPROVAL
# says.  The values are the defaults of ACRO and of the SDC handbooks (Eurostat, ONS SRS)
# that policies/profiles/default.yaml follows: a profile may be looser, but never by the
# decision of one person.  policies/README.md lists them.
FLOORS: dict[str, int | float | bool] = {
    "min_count": 10,  # threshold: fewest contributors per cell
    "min_dof": 10,  # residual degrees of freedom
    "nk_n": 2,  # NK dominance: n largest ...
    "nk_k": 0.9,  # ... hold at most k of the total (larger k: fewer cells fail)
    "p_ratio": 0.1,  # p% rule
    "k_anonymity": 5,
    "l_diversity": 2,
    "protection_level": 0.1,  # interval audit of suppressed cells
    "zeros_are_disclosive": True,
    "allow_microdata_release": False,
    # What leaves without a person: larger is looser (each count is a value chosen).
    "max_auto_release_cells": 2000,
    "max_auto_release_label_chars": 80,
    "max_auto_release_label_total": 16_000,
}
# Whether a value below the floor is looser (True) or above it (False, for nk_k).
_LOOSER_WHEN_SMALLER = {"min_count": True, "min_dof": True, "nk_n": True, "nk_k": False,
                        "p_ratio": True, "k_anonymity": True, "l_diversity": True,
                        "protection_level": True, "max_auto_release_cells": False,
                        "max_auto_release_label_chars": False,
                        "max_auto_release_label_total": False}


def below_floors(profile: Profile) -> list[str]:
    """Each parameter of ``profile`` looser than its floor, as 'key value (floor F)'."""
    values = profile.model_dump()
    found: list[str] = []
    for key, floor in FLOORS.items():
        value = values.get(key)
        if value is None:
            continue
        if isinstance(floor, bool):
            looser = value != floor
        elif _LOOSER_WHEN_SMALLER[key]:
            looser = value < floor
        else:
            looser = value > floor
        if looser:
            found.append(f"{key} {value} (floor {floor})")
    return found


def _newly_below(old: Profile | None, new: Profile) -> list[str]:
    """Floors the change crosses: below in ``new`` and not exactly so in ``old``."""
    before = set(below_floors(old)) if old is not None else set()
    return [item for item in below_floors(new) if item not in before]


def params_sha256(profile: Profile) -> str:
    text = json.dumps(profile.model_dump(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _with_line(path: Path, exc: ProfileError) -> ProfileError:
    """statbarn names the file and key; add the key's line in the file."""
    message = str(exc)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeError):
        return exc
    for key in re.findall(r"key '([^'.]+)", message):
        for number, line in enumerate(lines, start=1):
            if re.match(rf"\s*{re.escape(key)}\s*:", line):
                return ProfileError(message.replace(f"{path}:", f"{path}:{number}:", 1))
    return exc


def read_proposed(path: Path) -> tuple[Profile, str]:
    """The proposed profile (resolved) and its text; ProfileError names file, line, key."""
    try:
        profile = load_profile_file(path)
    except ProfileError as exc:
        raise _with_line(path, exc) from None
    return profile, path.read_text(encoding="utf-8")


def _stored(session: Session, name: str, version: str | None = None) -> ProfileVersion | None:
    query = select(ProfileVersion).where(ProfileVersion.name == name)
    if version is not None:
        query = query.where(ProfileVersion.version == version)
    return session.scalars(query.order_by(ProfileVersion.id.desc()).limit(1)).first()


def profile_at(session: Session, name: str, version: str) -> Profile | None:
    """The parameters ``name`` had at ``version``: as applied, else the file's if it is that
    version (profiles in use before any apply); None if unknown."""
    row = _stored(session, name, version)
    if row is not None:
        return Profile.model_validate(json.loads(row.params))
    profile, _ = current_profile(None, name)
    return profile if profile is not None and profile.version == version else None


def current_profile(session: Session | None, name: str) -> tuple[Profile | None, str]:
    """The profile in force and where it comes from: the database, else the profile file."""
    row = _stored(session, name) if session is not None else None
    if row is not None:
        return Profile.model_validate(json.loads(row.params)), f"database ({row.at})"
    from tre.settings import profile_file

    candidate = profile_file(name)
    try:
        if candidate is not None:
            return load_profile_file(candidate), str(candidate)
        return load_profile(name), "statbarn"
    except ProfileError:
        return None, "nowhere (a new profile)"


def profile_changes(old: Profile | None, new: Profile) -> list[dict[str, Any]]:
    """Every parameter that differs, with whether the change is stricter or looser."""
    changes: list[dict[str, Any]] = []
    before = old.model_dump() if old else {}
    for key, value in new.model_dump().items():
        if key in _IGNORED or before.get(key) == value:
            continue
        was = before.get(key)
        effect = "new"
        if old is not None and key in _STRICTER_BOOL:
            effect = "stricter" if value == _STRICTER_BOOL[key] else "looser"
        elif old is not None and key in _STRICTER_WHEN_LARGER and None not in (was, value):
            effect = "stricter" if (value - was) * _STRICTER_WHEN_LARGER[key] > 0 else "looser"
        elif old is not None:
            effect = "changed"
        changes.append({"key": key, "old": was, "new": value, "effect": effect})
    return changes


def _check_version(session: Session, old: Profile | None, new: Profile) -> None:
    same_params = old is not None and params_sha256(old) == params_sha256(new)
    if old is not None and old.version == new.version and not same_params:
        raise GovernanceError(
            f"profile '{new.name}' changes but keeps version {new.version}: raise 'version' "
            "(the version is stamped on every check result, so it must name one set of values)")
    row = _stored(session, new.name, new.version)
    if row is not None and row.sha256 != params_sha256(new):
        raise GovernanceError(f"profile '{new.name}' version {new.version} was already applied "
                              f"with other values on {row.at}: choose a new version")


def _authz(factory: sessionmaker[Session], clock: Clock, settings: PolicySettings) -> Authz:
    version = ensure_seeded(factory, settings, clock)
    with factory() as session:
        return Authz(load_version(session, version), clock, model=settings.model_file,
                     version=version)


def apply_profile(factory: sessionmaker[Session], path: Path, *, editor: str, reason: str,
                  clock: Clock, settings: PolicySettings,
                  via: dict[str, str] | None = None) -> Outcome:
    """Store and audit a new profile version (or, with second approval on, or when the
    change takes a parameter below its floor, propose it)."""
    reason = require_reason(reason)
    new, text = read_proposed(path)
    decision = require(_authz(factory, clock, settings).enforce(editor, GLOBAL, "profile", "edit"),
                       "edit disclosure profiles")
    with transaction(factory) as session:
        old, origin = current_profile(session, new.name)
        if old is not None and params_sha256(old) == params_sha256(new) \
                and old.version == new.version:
            return Outcome("unchanged", new.version, messages=[f"unchanged ({origin})"])
        _check_version(session, old, new)
        changes = profile_changes(old, new)
        floors = _newly_below(old, new)
        details: dict[str, Any] = {
            "name": new.name, "version_before": old.version if old else None,
            "version_after": new.version, "changes": changes, "editor": editor,
            "reason": reason, "source": str(path), "sha256": params_sha256(new),
            "below_floors": floors, **decision_details(decision)}
        if via:
            details["caller"] = via
        if settings.second_approval or floors:
            proposal = Proposal(kind="profile", name=new.name, base=old.version if old else "",
                                source=str(path)[:500], text=text, editor=editor, reason=reason,
                                params=new.model_dump_json(), at=now_text(clock),
                                status=PENDING)
            session.add(proposal)
            session.flush()
            audit.record(session, actor=editor, action=AuditAction.PROFILE_PROPOSE,
                         object_type="profile",
                         object_id=f"proposal-{proposal.id}", clock=clock,
                         details={**details, "proposal": proposal.id})
            why = ([f"below the floor set in code: {', '.join(floors)}; a second governance "
                    "user must approve"] if floors else [])
            return Outcome("proposed", proposal=proposal.id, diff={"changes": changes},
                           messages=why)
        _store(session, new, text, editor, reason, clock, None, details)
    return Outcome("applied", new.version, diff={"changes": changes})


def _store(session: Session, new: Profile, text: str, editor: str, reason: str, clock: Clock,
           approver: str | None, details: dict[str, Any]) -> None:
    session.add(ProfileVersion(name=new.name, version=new.version, at=now_text(clock),
                               editor=editor, approved_by=approver, reason=reason,
                               sha256=params_sha256(new), text=text,
                               params=json.dumps(new.model_dump(), default=str)))
    session.flush()
    audit.record(session, actor=approver or editor, action=AuditAction.PROFILE_APPLY,
                 object_type="profile", object_id=f"{new.name}@{new.version}", clock=clock,
                 details={**details, "approved_by": approver})


def approve_profile(factory: sessionmaker[Session], proposal_id: int, *, approver: str,
                    clock: Clock, settings: PolicySettings,
                    via: dict[str, str] | None = None) -> Outcome:
    """Apply a pending profile proposal as a second governance user (never its editor)."""
    with factory() as session:
        pending = session.get(Proposal, proposal_id)
        if pending is None or pending.kind != "profile":
            raise GovernanceError(f"no profile proposal {proposal_id}")
        editor = pending.editor
        proposer = proposing_account(session, AuditAction.PROFILE_PROPOSE, proposal_id)
    # Decided before the transaction: on SQLite a second session would wait for its lock.
    decision = require(_authz(factory, clock, settings).enforce(
        approver, GLOBAL, "profile", "approve", {"editor": editor}),
        f"approve proposal {proposal_id}")
    refusal = same_account_refusal(approver, "profile", proposal_id, proposer, via)
    if refusal is not None:
        raise Refused(*refusal)
    with transaction(factory) as session:
        row = session.get(Proposal, proposal_id, with_for_update=True)
        if row is None or row.status != PENDING:
            status = row.status if row else "gone"
            raise GovernanceError(f"proposal {proposal_id} is already {status}")
        new = Profile.model_validate_json(row.params or "{}")
        old, _ = current_profile(session, new.name)
        if (old.version if old else "") != row.base:
            raise GovernanceError(f"profile '{new.name}' changed since proposal {proposal_id} "
                                  "was made: propose it again")
        _check_version(session, old, new)
        changes = profile_changes(old, new)
        details: dict[str, Any] = {
            "name": new.name, "version_before": row.base or None,
            "version_after": new.version, "changes": changes, "editor": row.editor,
            "reason": row.reason, "proposal": proposal_id, "sha256": params_sha256(new),
            "below_floors": _newly_below(old, new), **decision_details(decision)}
        if via:
            details["caller"] = via
        _store(session, new, row.text, row.editor, row.reason, clock, approver, details)
        row.status, row.decided_by, row.decided_at = APPLIED, approver, now_text(clock)
    return Outcome("applied", new.version, proposal=proposal_id, diff={"changes": changes})
