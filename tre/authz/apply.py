"""``tre policy apply`` and ``tre policy approve``: changing the policy safely.

An apply, in order: the reason must be given; the editor must hold ``policy
edit`` under the policy in force; the proposal must validate (every error named
with file and line) and pass the truth tables; the diff is computed (effective
permissions and replay).  Then, in ONE transaction: the head is locked and must
still be at the version the diff was computed against, the new version is stored
and put in force, and the audit event records editor, reason, before/after
hashes and the diff.  Anything refused leaves the policy in force as it was.

With ``TRE_POLICY_SECOND_APPROVAL=true`` (the default outside development) the apply
only stores a proposal (audited); a second governance user applies it with
``approve`` and can never be its editor (an invariant, whatever the policy says).

The truth tables are part of the proposal, never an option of the apply: the
tables in force are stored in the database (tre.authz.store) and every change must
pass them.  A change may propose new tables (``tables=``); then the policy must
pass the new ones, the diff lists the tables added, removed or changed and the
cases in force the proposal would break, and the change always waits for a second
governance user, whatever ``TRE_POLICY_SECOND_APPROVAL`` says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from tre import audit
from tre.authz.diff import PolicyDiff, audited_decisions, diff_policies, replay
from tre.authz.enforcer import Authz, Decision
from tre.authz.events import AuditAction, decision_details
from tre.authz.lint import validate
from tre.authz.policyfile import Policy
from tre.authz.proposer import proposing_account, same_account_refusal
from tre.authz.records import APPLIED, PENDING, Proposal
from tre.authz.settings import PolicySettings
from tre.authz.store import (
    PolicyHead,
    ensure_seeded,
    known_names,
    load_version,
    lock_head,
    store_tables,
    store_version,
    tables_in_force,
)
from tre.authz.truthtable import Tables, run, table_cases, tables_change
from tre.authz.vocabulary import GLOBAL
from tre.clock import Clock
from tre.db import transaction
from tre.errors import TreError


class GovernanceError(TreError, ValueError):
    """A governance change refused; the message says why (and nothing was changed)."""

    code = "governance"
    status = 422


class Refused(GovernanceError):
    """The authorisation point said no; ``decision`` is audited (tre.authz.refusals)."""

    code = "forbidden"
    status = 403

    def __init__(self, decision: Decision, message: str) -> None:
        self.decision = decision
        super().__init__(message)


@dataclass
class Outcome:
    status: str  # applied | proposed | unchanged
    version: str | None = None  # the version now in force (applied, unchanged)
    proposal: int | None = None
    diff: dict[str, object] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)


def require_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise GovernanceError("a reason is required (--reason TEXT): the audit log keeps it")
    return text


def require(decision: Decision, what: str) -> Decision:
    if not decision.allowed:
        why = ", ".join(decision.rule) if decision.rule else "no rule allows it"
        raise Refused(decision, f"{decision.subject} may not {what} ({why})")
    return decision


def now_text(clock: Clock) -> str:
    return clock.now().isoformat(timespec="microseconds")


@dataclass
class _Prepared:
    base_version: int
    base: Policy
    proposed: Policy
    diff: PolicyDiff
    tests: int
    tables: Tables  # the tables the new version will have in force
    tables_changed: dict[str, object]  # empty: the tables in force stay
    tables_stored: bool  # False: a database from before tables were stored (files in force)

    def diff_dict(self) -> dict[str, object]:
        return {**self.diff.to_dict(), "truth_tables": self.tables_changed}


@dataclass(frozen=True)
class Requirement:
    """What the editor must be allowed, and how a refusal reads ("X may not WHAT (...)")."""

    domain: str
    obj: str
    action: str
    what: str
    context: dict[str, str] | None = None


EDIT_POLICY = Requirement(GLOBAL, "policy", "edit", "edit the policy")


def _prepare(factory: sessionmaker[Session], text: str, source: str, editor: str,
             clock: Clock, settings: PolicySettings, tables: Tables | None,
             permission: Requirement) -> tuple[_Prepared, Decision]:
    base_version = ensure_seeded(factory, settings, clock)
    # Read everything first and let the session go: on SQLite an open session holds the
    # database's write lock, and the checks below take seconds.
    with factory() as session:
        base = load_version(session, base_version)
        known = known_names(session)
        decisions = audited_decisions(session, settings.replay_limit)
        in_force, origin = tables_in_force(session, settings)
    current = Authz(base, clock, model=settings.model_file, version=base_version)
    decision = require(current.enforce(editor, permission.domain, permission.obj,
                                       permission.action, permission.context), permission.what)
    proposed_policy = validate(text, source, clock.now())
    proposed = Authz(proposed_policy, clock, model=settings.model_file)
    new_tables = in_force if tables is None else tables
    count, failures = run(proposed, table_cases(new_tables))
    if failures:
        which = "proposed" if tables is not None else f"in force ({origin})"
        raise GovernanceError(
            f"the proposed policy fails {len(failures)} of {count} truth-table cases "
            f"(the tables {which}):\n" + "\n".join(str(f) for f in failures))
    changed: dict[str, object] = {}
    change = tables_change(in_force, new_tables)
    if any(change.values()):
        _, broken = run(proposed, table_cases(in_force))
        changed = {**change, "cases_in_force_broken": [str(f) for f in broken],
                   "in_force": origin}
    diff = diff_policies(current, proposed, clock.now(), known)
    replay(decisions, proposed, diff)
    return _Prepared(base_version, base, proposed_policy, diff, count, new_tables,
                     changed, origin.startswith("policy version")), decision


def _details(p: _Prepared, editor: str, reason: str, decision: Decision,
             approved_by: str | None = None, proposal: int | None = None,
             via: dict[str, str] | None = None) -> dict[str, object]:
    details: dict[str, object] = {
        "editor": editor, "approved_by": approved_by, "reason": reason,
        "proposal": proposal, "source": p.proposed.source,
        "version_before": p.base_version, "sha256_before": p.base.sha256,
        "sha256_after": p.proposed.sha256, "truth_table_cases": p.tests,
        "diff": p.diff_dict(), **decision_details(decision)}
    if via:
        details["caller"] = via
    return details


def _locked_head_at(session: Session, version: int) -> PolicyHead:
    head = lock_head(session)
    if head.version != version:
        raise GovernanceError(f"the policy changed (version {version} -> {head.version}) while "
                              "this change was being checked; run it again")
    return head


def apply_policy(factory: sessionmaker[Session], text: str, source: str, *, editor: str,
                 reason: str, clock: Clock, settings: PolicySettings,
                 tables: Tables | None = None, permission: Requirement = EDIT_POLICY,
                 audit_action: str = AuditAction.POLICY_APPLY, project: str | None = None,
                 via: dict[str, str] | None = None) -> Outcome:
    """Apply (or, with second approval on, propose) the policy in ``text``.

    ``tables``: new truth tables proposed with it (name -> text); None keeps those in
    force.  ``permission`` is what the editor must hold (default: ``policy edit``);
    ``audit_action`` and ``project`` label the audit event (memberships use their own);
    ``via`` says how the editor was identified (tre.authz.caller).
    """
    reason = require_reason(reason)
    p, decision = _prepare(factory, text, source, editor, clock, settings, tables, permission)
    if p.proposed.sha256 == p.base.sha256 and not p.tables_changed:
        return Outcome("unchanged", str(p.base_version), messages=["the policy is unchanged"])
    with transaction(factory) as session:
        head = _locked_head_at(session, p.base_version)
        if settings.second_approval or p.tables_changed:
            proposal = Proposal(kind="policy", name="policy", base=str(p.base_version),
                                source=source[:500], text=text, editor=editor, reason=reason,
                                params=json.dumps({"tables": p.tables}) if p.tables_changed
                                else None, at=now_text(clock), status=PENDING)
            session.add(proposal)
            session.flush()
            audit.record(session, actor=editor, action=AuditAction.POLICY_PROPOSE,
                         object_type="policy",
                         object_id=f"proposal-{proposal.id}", clock=clock,
                         details=_details(p, editor, reason, decision, proposal=proposal.id,
                                          via=via))
            why = (["the truth tables change: a second governance user must approve"]
                   if p.tables_changed else [])
            return Outcome("proposed", proposal=proposal.id, diff=p.diff_dict(), messages=why)
        version = store_version(session, head, p.proposed, editor=editor,
                                reason=reason, clock=clock)
        if not p.tables_stored:  # from now on the tables live with the policy
            store_tables(session, version, p.tables)
        audit.record(session, actor=editor, action=audit_action, object_type="policy",
                     object_id=str(version), clock=clock, project=project,
                     details={**_details(p, editor, reason, decision, via=via),
                              "version_after": version})
    return Outcome("applied", str(version), diff=p.diff_dict())


def _proposed_tables(params: str | None) -> Tables | None:
    if not params:
        return None
    tables = json.loads(params).get("tables")
    return {str(k): str(v) for k, v in tables.items()} if isinstance(tables, dict) else None


def approve_policy(factory: sessionmaker[Session], proposal_id: int, *, approver: str,
                   clock: Clock, settings: PolicySettings,
                   via: dict[str, str] | None = None) -> Outcome:
    """Apply a pending policy proposal (with the truth tables it proposed, if any) as a
    second governance user."""
    with factory() as session:
        proposal = session.get(Proposal, proposal_id)
        if proposal is None or proposal.kind != "policy":
            raise GovernanceError(f"no policy proposal {proposal_id}")
        if proposal.status != PENDING:
            raise GovernanceError(f"proposal {proposal_id} is already {proposal.status}")
        text, source, editor, reason = (proposal.text, proposal.source, proposal.editor,
                                        proposal.reason)
        base, tables = int(proposal.base), _proposed_tables(proposal.params)
        proposer = proposing_account(session, AuditAction.POLICY_PROPOSE, proposal_id)
    approve = Requirement(GLOBAL, "policy", "approve", "approve the policy", {"editor": editor})
    p, decision = _prepare(factory, text, source, approver, clock, settings, tables, approve)
    refusal = same_account_refusal(approver, "policy", proposal_id, proposer, via)
    if refusal is not None:
        raise Refused(*refusal)
    if p.base_version != base:
        raise GovernanceError(f"proposal {proposal_id} was made against policy version {base}, "
                              f"but version {p.base_version} is in force now: propose it again")
    with transaction(factory) as session:
        head = _locked_head_at(session, p.base_version)
        version = store_version(session, head, p.proposed, editor=editor,
                                reason=reason, clock=clock, approved_by=approver)
        if p.tables_changed or not p.tables_stored:
            store_tables(session, version, p.tables)
        row = session.get(Proposal, proposal_id, with_for_update=True)
        if row is None or row.status != PENDING:
            raise GovernanceError(f"proposal {proposal_id} was decided meanwhile")
        row.status, row.decided_by, row.decided_at = APPLIED, approver, now_text(clock)
        audit.record(session, actor=approver, action=AuditAction.POLICY_APPLY, object_type="policy",
                     object_id=str(version), clock=clock,
                     details={**_details(p, editor, reason, decision, approver, proposal_id,
                                         via), "version_after": version})
    return Outcome("applied", str(version), proposal=proposal_id, diff=p.diff_dict())
