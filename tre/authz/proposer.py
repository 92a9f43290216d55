"""Separation of duties between operating-system accounts, not only governance names.

``--as`` lets one account play several governance users in development (the demo and
tests), and ``TRE_ENVIRONMENT`` is read from the caller's own shell: a second approval
checked on names only can be given by the account that made the proposal, under
another name.  So a proposal records the account that made it (the ``caller`` of its
``*.propose`` audit event, tamper-evident) and an approval is refused when the
approving account is the proposing one -- always, development included.  Proposals
made without an account (the library called directly, no ``via``) are checked on
names only, as before.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from tre.audit import AuditEvent
from tre.authz.enforcer import Decision
from tre.authz.vocabulary import GLOBAL

INVARIANT = "one-account-never-approves-own-proposal"


def proposing_account(session: Session, action: str, proposal_id: int) -> str | None:
    """The operating-system account recorded by the proposal's audit event, if any."""
    details = session.scalars(
        select(AuditEvent.details).where(AuditEvent.action == action,
                                         AuditEvent.object_id == f"proposal-{proposal_id}")
        .order_by(AuditEvent.seq).limit(1)).first()
    if details is None:
        return None
    try:
        caller = json.loads(details).get("caller")
    except (ValueError, AttributeError):
        return None
    account = caller.get("os_user") if isinstance(caller, dict) else None
    return account if isinstance(account, str) and account else None


def same_account_refusal(approver: str, obj: str, proposal_id: int, proposer: str | None,
                         via: dict[str, str] | None) -> tuple[Decision, str] | None:
    """The refusal (decision, sentence) when the approving account made the proposal."""
    account = (via or {}).get("os_user")
    if proposer is None or account is None or account != proposer:
        return None
    decision = Decision(approver, GLOBAL, obj, "approve", False, ("invariant", INVARIANT))
    return decision, (
        f"{approver} may not approve proposal {proposal_id} (invariant, {INVARIANT}): the "
        f"operating-system account {account} made it, and one account is never both "
        "governance users of a change, --as or not; the second governance user approves it "
        "from their own account")
