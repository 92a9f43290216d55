"""The governance page's policy views and edits: effective permissions, pending expiries,
and propose / preview / apply / approve of a whole policy.csv.

Everything that decides is :mod:`tre.authz`: who may edit (``policy edit`` in ``*``),
the lint, the truth tables, the diff, and the apply itself (one transaction with its
audit event; with ``TRE_POLICY_SECOND_APPROVAL`` a proposal that another governance
user approves).  Here the results are only shaped for the templates.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from airlock.service.context import Ctx
from tre.authz.apply import GovernanceError, Outcome, apply_policy, approve_policy
from tre.authz.diff import (
    PolicyDiff,
    audited_decisions,
    diff_policies,
    effective,
    replay,
)
from tre.authz.enforcer import Authz
from tre.authz.lint import Known, check_text
from tre.authz.policyfile import PolicyError, Problem
from tre.authz.records import PENDING, Proposal
from tre.authz.settings import policy_settings
from tre.authz.store import known_names, tables_in_force
from tre.authz.truthtable import TableError, run, table_cases
from tre.authz.vocabulary import GLOBAL

SOURCE = "proposed policy.csv"
EXPIRY_DAYS = 30
MAX_POLICY_CHARS = 1_000_000


def can_edit(ctx: Ctx, user: str) -> bool:
    return ctx.authz.user_can(user, GLOBAL, "policy", "edit")


def can_approve(ctx: Ctx, user: str) -> bool:
    return ctx.authz.in_general(user, GLOBAL, "policy", "approve")


def second_approval() -> bool:
    return policy_settings().second_approval


def normalise(text: str) -> str:
    """The textarea's text as a file: browsers post CRLF line ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") or not text else text + "\n"


def current_text(ctx: Ctx) -> str:
    policy = ctx.authz.policy
    return policy.text or policy.to_csv()


# ---- effective permissions and expiries ---------------------------------------------------
@dataclass
class Expiry:
    user: str
    role: str
    project: str
    until: datetime
    days: int


@dataclass
class Effective:
    at: datetime
    # user -> project -> ["action object", ...]
    by_user: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # project -> "action object" -> [user, ...]
    by_project: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    expiries: list[Expiry] = field(default_factory=list)
    days: int = EXPIRY_DAYS


def _known(ctx: Ctx) -> Known:
    """Users and projects known to the database, and to the policy in force (which may
    come from a file the database has never seen)."""
    with ctx.db() as session:
        known = known_names(session)
    policy = ctx.authz.policy
    return Known(known.users | policy.users(), known.projects | policy.projects())


def effective_permissions(ctx: Ctx, everything: bool, projects: set[str],
                          days: int = EXPIRY_DAYS) -> Effective:
    """What each user may do where, now (only ``projects`` unless ``everything``)."""
    authz, now = ctx.authz, ctx.clock.now()
    known = _known(ctx)
    users = authz.policy.users() | set(known.users)
    domains = authz.policy.projects() | set(known.projects)
    if not everything:
        domains &= projects
    out = Effective(now, days=days)
    by_user: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    by_project: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for p in sorted(effective(authz, users, domains, now)):
        if not everything and p.domain not in projects:
            continue
        what = f"{p.action} {p.obj}"
        by_user[p.user][p.domain].append(what)
        by_project[p.domain][what].append(p.user)
    out.by_user = {u: dict(d) for u, d in sorted(by_user.items())}
    out.by_project = {d: dict(sorted(w.items())) for d, w in sorted(by_project.items())}
    horizon = now + timedelta(days=days)
    for a in authz.policy.assignments:
        if not everything and a.domain not in projects:
            continue
        if a.in_force(now) and a.until <= horizon:
            out.expiries.append(Expiry(a.user, a.role, a.domain, a.until,
                                       max(0, (a.until - now).days)))
    out.expiries.sort(key=lambda e: (e.until, e.project, e.user, e.role))
    return out


# ---- proposals awaiting a second approval -------------------------------------------------
@dataclass
class Pending:
    id: int
    editor: str
    reason: str
    at: str
    base: str
    text: str


def pending_proposals(ctx: Ctx) -> list[Pending]:
    with ctx.db() as session:
        rows = session.scalars(select(Proposal).where(
            Proposal.kind == "policy", Proposal.status == PENDING).order_by(Proposal.id))
        return [Pending(r.id, r.editor, r.reason, r.at, r.base, r.text) for r in rows]


# ---- preview and apply --------------------------------------------------------------------
@dataclass
class Preview:
    text: str
    problems: list[Problem] = field(default_factory=list)
    diff: PolicyDiff | None = None
    table_cases: int = 0
    table_failures: list[str] = field(default_factory=list)
    message: str | None = None  # a refusal that is not a line of the file

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.table_failures and self.message is None


def _too_long(text: str) -> str | None:
    if len(text) > MAX_POLICY_CHARS:
        return f"the proposed policy is longer than {MAX_POLICY_CHARS:,} characters"
    return None


def preview(ctx: Ctx, text: str) -> Preview:
    """Lint, truth tables and diff of ``text`` against the policy in force; changes nothing."""
    text = normalise(text)
    out = Preview(text)
    if (long := _too_long(text)) is not None:
        out.message = long
        return out
    settings, now = policy_settings(), ctx.clock.now()
    known = _known(ctx)
    policy, out.problems = check_text(text, SOURCE, now, known)
    if out.errors:
        return out
    if not policy.rules:
        out.problems.append(Problem(SOURCE, 0, "the policy has no rules"))
        return out
    proposed = Authz(policy, ctx.clock, model=settings.model_file)
    try:
        with ctx.db() as session:
            tables, _ = tables_in_force(session, settings)
        out.table_cases, failures = run(proposed, table_cases(tables))
    except TableError as exc:
        out.message = str(exc)
        return out
    out.table_failures = [str(f) for f in failures]
    out.diff = diff_policies(ctx.authz, proposed, now, known)
    with ctx.db() as session:
        decisions = audited_decisions(session, settings.replay_limit)
    replay(decisions, proposed, out.diff)
    return out


@dataclass
class Refusal:
    """Why an apply or approve was refused (nothing changed): lines or one message."""

    message: str
    problems: list[Problem] = field(default_factory=list)


def _refusal(exc: Exception) -> Refusal:
    if isinstance(exc, PolicyError):
        return Refusal("The proposed policy has errors; nothing was changed.", exc.problems)
    return Refusal(f"{exc}\nNothing was changed.")


def apply(ctx: Ctx, user: str, text: str, reason: str) -> Outcome | Refusal:
    text = normalise(text)
    if (long := _too_long(text)) is not None:
        return Refusal(long)
    if not reason.strip():
        return Refusal("A reason is required: the audit log keeps it. Nothing was changed.")
    try:
        outcome = apply_policy(ctx.db, text, f"{SOURCE} (web, {user})", editor=user,
                               reason=reason, clock=ctx.clock, settings=policy_settings())
    except (PolicyError, GovernanceError, TableError) as exc:
        return _refusal(exc)
    ctx.authz.refresh()  # this process sees it at once; the others within the poll interval
    return outcome


def approve(ctx: Ctx, user: str, proposal: int) -> Outcome | Refusal:
    try:
        outcome = approve_policy(ctx.db, proposal, approver=user, clock=ctx.clock,
                                 settings=policy_settings())
    except (PolicyError, GovernanceError, TableError) as exc:
        return _refusal(exc)
    ctx.authz.refresh()
    return outcome
