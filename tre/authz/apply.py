"""``tre policy apply`` and ``tre policy approve``: changing the policy safely.

An apply, in order: the reason must be given; the editor must hold ``policy
edit`` under the policy in force; the proposal must validate (every error named
with file and line) and pass the truth tables; the diff is computed (effective
permissions and replay).  Then, in ONE transaction: the head is locked and must
still be at the version the diff was computed against, the new version is stored
and put in force, and the audit event records editor, reason, before/after
hashes and the diff.  Anything refused leaves the policy in force as it was.

With ``TRE_POLICY_SECOND_APPROVAL=true`` the apply only stores a proposal
(audited); a second governance user applies it with ``approve`` and can never be
its editor (an invariant, whatever the policy says).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from tre import audit
from tre.authz.diff import PolicyDiff, audited_decisions, diff_policies, replay
from tre.authz.enforcer import Authz, Decision
from tre.authz.lint import validate
from tre.authz.policyfile import Policy
from tre.authz.records import APPLIED, PENDING, Proposal
from tre.authz.settings import PolicySettings
from tre.authz.store import (
    PolicyHead,
    ensure_seeded,
    known_names,
    load_version,
    lock_head,
    store_version,
)
from tre.authz.truthtable import load_tables, run
from tre.authz.vocabulary import GLOBAL
from tre.clock import Clock
from tre.db import transaction


class GovernanceError(ValueError):
    """A governance change refused; the message says why (and nothing was changed)."""


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
        raise GovernanceError(f"{decision.subject} may not {what} ({why})")
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
             clock: Clock, settings: PolicySettings, tables: list[Path] | None,
             permission: Requirement) -> tuple[_Prepared, Decision]:
    base_version = ensure_seeded(factory, settings, clock)
    # Read everything first and let the session go: on SQLite an open session holds the
    # database's write lock, and the checks below take seconds.
    with factory() as session:
        base = load_version(session, base_version)
        known = known_names(session)
        decisions = audited_decisions(session, settings.replay_limit)
    current = Authz(base, clock, model=settings.model_file, version=base_version)
    decision = require(current.enforce(editor, permission.domain, permission.obj,
                                       permission.action, permission.context), permission.what)
    proposed_policy = validate(text, source, clock.now())
    proposed = Authz(proposed_policy, clock, model=settings.model_file)
    count, failures = run(proposed, load_tables(tables or [settings.tests_dir]))
    if failures:
        raise GovernanceError(
            f"the proposed policy fails {len(failures)} of {count} truth-table cases:\n"
            + "\n".join(str(f) for f in failures))
    diff = diff_policies(current, proposed, clock.now(), known)
    replay(decisions, proposed, diff)
    return _Prepared(base_version, base, proposed_policy, diff, count), decision


def _details(p: _Prepared, editor: str, reason: str, decision: Decision,
             approved_by: str | None = None, proposal: int | None = None) -> dict[str, object]:
    return {"editor": editor, "approved_by": approved_by, "reason": reason,
            "proposal": proposal, "source": p.proposed.source,
            "version_before": p.base_version, "sha256_before": p.base.sha256,
            "sha256_after": p.proposed.sha256, "truth_table_cases": p.tests,
            "diff": p.diff.to_dict(), "decision": decision.audit_details()}


def _locked_head_at(session: Session, version: int) -> PolicyHead:
    head = lock_head(session)
    if head.version != version:
        raise GovernanceError(f"the policy changed (version {version} -> {head.version}) while "
                              "this change was being checked; run it again")
    return head


def apply_policy(factory: sessionmaker[Session], text: str, source: str, *, editor: str,
                 reason: str, clock: Clock, settings: PolicySettings,
                 tables: list[Path] | None = None, permission: Requirement = EDIT_POLICY,
                 audit_action: str = "policy.apply", project: str | None = None) -> Outcome:
    """Apply (or, with second approval on, propose) the policy in ``text``.

    ``permission`` is what the editor must hold (default: ``policy edit``);
    ``audit_action`` and ``project`` label the audit event (memberships use their own).
    """
    reason = require_reason(reason)
    p, decision = _prepare(factory, text, source, editor, clock, settings, tables, permission)
    if p.proposed.sha256 == p.base.sha256:
        return Outcome("unchanged", str(p.base_version), messages=["the policy is unchanged"])
    with transaction(factory) as session:
        head = _locked_head_at(session, p.base_version)
        if settings.second_approval:
            proposal = Proposal(kind="policy", name="policy", base=str(p.base_version),
                                source=source[:500], text=text, editor=editor, reason=reason,
                                at=now_text(clock), status=PENDING)
            session.add(proposal)
            session.flush()
            audit.record(session, actor=editor, action="policy.propose", object_type="policy",
                         object_id=f"proposal-{proposal.id}", clock=clock,
                         details=_details(p, editor, reason, decision, proposal=proposal.id))
            return Outcome("proposed", proposal=proposal.id, diff=p.diff.to_dict())
        version = store_version(session, head, p.proposed, editor=editor,
                                reason=reason, clock=clock)
        audit.record(session, actor=editor, action=audit_action, object_type="policy",
                     object_id=str(version), clock=clock, project=project,
                     details={**_details(p, editor, reason, decision), "version_after": version})
    return Outcome("applied", str(version), diff=p.diff.to_dict())


def approve_policy(factory: sessionmaker[Session], proposal_id: int, *, approver: str,
                   clock: Clock, settings: PolicySettings,
                   tables: list[Path] | None = None) -> Outcome:
    """Apply a pending policy proposal as a second governance user."""
    with factory() as session:
        proposal = session.get(Proposal, proposal_id)
        if proposal is None or proposal.kind != "policy":
            raise GovernanceError(f"no policy proposal {proposal_id}")
        if proposal.status != PENDING:
            raise GovernanceError(f"proposal {proposal_id} is already {proposal.status}")
        text, source, editor, reason = (proposal.text, proposal.source, proposal.editor,
                                        proposal.reason)
        base = int(proposal.base)
    approve = Requirement(GLOBAL, "policy", "approve", "approve the policy", {"editor": editor})
    p, decision = _prepare(factory, text, source, approver, clock, settings, tables, approve)
    if p.base_version != base:
        raise GovernanceError(f"proposal {proposal_id} was made against policy version {base}, "
                              f"but version {p.base_version} is in force now: propose it again")
    with transaction(factory) as session:
        head = _locked_head_at(session, p.base_version)
        version = store_version(session, head, p.proposed, editor=editor,
                                reason=reason, clock=clock, approved_by=approver)
        row = session.get(Proposal, proposal_id, with_for_update=True)
        if row is None or row.status != PENDING:
            raise GovernanceError(f"proposal {proposal_id} was decided meanwhile")
        row.status, row.decided_by, row.decided_at = APPLIED, approver, now_text(clock)
        audit.record(session, actor=approver, action="policy.apply", object_type="policy",
                     object_id=str(version), clock=clock,
                     details={**_details(p, editor, reason, decision, approver, proposal_id),
                              "version_after": version})
    return Outcome("applied", str(version), proposal=proposal_id, diff=p.diff.to_dict())
