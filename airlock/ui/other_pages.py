"""View models of the researcher's page ("My requests") and the governance view."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airlock.domain.states import TRANSITIONS, State
from airlock.service import pages
from airlock.service.context import Ctx
from airlock.service.pages import own_requests
from statbarn.errors import ProfileError
from tre.authz.vocabulary import GLOBAL

if TYPE_CHECKING:  # the detached rows airlock.service.pages returns: read, never queried
    from airlock.db.models import Request

RESUBMITTABLE = frozenset({State.REJECTED.value, State.RETURNED.value})


@dataclass
class MyRequest:
    req: Request
    view: dict[str, Any]
    reasons: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    can_resubmit: bool
    can_withdraw: bool
    bundle_url: str | None
    overridden: set[str] = field(default_factory=set)  # released over an automated fail


def _reasons(decision: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The automatic decision's reasons (also under a review's decision)."""
    d = decision or {}
    auto = d.get("automatic") if d.get("by") == "review" else d
    return [r for r in (auto or {}).get("reasons", []) if isinstance(r, dict)]


def mine(ctx: Ctx, user: str) -> list[MyRequest]:
    out = []
    for req, votes, view in own_requests(ctx, user):
        names = {f.id: f.name for f in req.files}
        review = view.get("review") or {}
        comments = [{**v, "file": names.get(v["file_id"], v["file_id"])}
                    for v in review.get("votes", []) if not v["blind"]]
        has_alt = any(f.alternative for f in req.files)
        out.append(MyRequest(
            req, view, _reasons(req.decision), comments,
            can_resubmit=req.state in RESUBMITTABLE and has_alt,
            can_withdraw=State.WITHDRAWN in TRANSITIONS[State(req.state)],
            bundle_url=view["links"]["bundle"] if req.state == State.RELEASED.value else None,
            overridden={v.file_id for v in votes if v.override_reason}
            if req.state == State.RELEASED.value else set()))
    return out


def access_notice(ctx: Ctx, user: str) -> str | None:
    """Why this user can do nothing here (suspended, or no role in force), or None:
    an empty page without a word is what they would see otherwise."""
    now = ctx.clock.now()
    held = [m for m in ctx.authz.policy.assignments
            if m.user.strip().lower() == user.strip().lower() and m.in_force(now)]
    if any(m.role == "suspended" for m in held):
        return ("Your access is suspended: you cannot submit, read or review requests. "
                "Ask your project's data custodian or the TRE's governance team why, and "
                "when it ends.")
    if not held:
        return ("You hold no role in any project now (it may have ended). Ask your "
                "project's data custodian to renew your membership.")
    return None


@dataclass
class Membership:
    user: str
    role: str
    project: str
    start: datetime
    until: datetime
    status: str  # "in force" | "ended" | "not yet"


@dataclass
class ProjectProfile:
    project: str
    title: str
    profile: str
    version: str
    params: dict[str, Any]
    source: str  # catalog | settings


@dataclass
class GovernancePage:
    memberships: list[Membership]
    projects: list[ProjectProfile] = field(default_factory=list)
    policy_version: int | None = None
    everything: bool = False  # the viewer sees every project


SHOWN_PARAMS = ("min_count", "nk_n", "nk_k", "p_ratio", "reviewers_required",
                "allow_auto_release")


def governance_scope(ctx: Ctx, user: str) -> tuple[bool, set[str]]:
    """(every project, the projects) whose memberships the user may read."""
    a = ctx.authz
    if a.user_can(user, GLOBAL, "membership", "read") or a.user_can(user, GLOBAL, "policy",
                                                                     "read"):
        return True, set()
    return False, {d for d in a.domains_of(user)
                   if d != GLOBAL and a.user_can(user, d, "membership", "read")}


def governance(ctx: Ctx, user: str) -> GovernancePage:
    everything, projects = governance_scope(ctx, user)
    now = ctx.clock.now()
    rows = []
    for m in sorted(ctx.authz.policy.assignments,
                    key=lambda m: (m.domain, m.user, m.role, m.start)):
        if not everything and m.domain not in projects:
            continue
        status = "in force" if m.in_force(now) else ("not yet" if now < m.start else "ended")
        rows.append(Membership(m.user, m.role, m.domain, m.start, m.until, status))
    page = GovernancePage(rows, policy_version=ctx.authz.version, everything=everything)
    catalog = pages.project_titles(ctx)
    names = set(catalog) | set(ctx.settings.airlock.project_profiles) | {
        m.domain for m in ctx.authz.policy.assignments if m.domain != GLOBAL}
    for name in sorted(names):
        if not everything and name not in projects:
            continue
        if not ctx.authz.user_can(user, name, "profile", "read"):
            continue  # the disclosure profile is for those who may read it
        try:
            profile = ctx.profiles(name)
        except ProfileError as exc:
            page.projects.append(ProjectProfile(name, catalog.get(name, ""), "?", "?",
                                                {"error": str(exc)}, ""))
            continue
        params = profile.params()
        page.projects.append(ProjectProfile(
            name, catalog.get(name, ""), profile.name, profile.version,
            {k: params.get(k) for k in SHOWN_PARAMS},
            "catalog" if name in catalog else "settings"))
    return page
