"""Separation of duties under random policies (hypothesis), and the engine against a reference.

Whatever the policy grants, including ``p, role, *, *, *, allow`` held everywhere by
everybody, the invariants hold: a requester never reviews or overrides their own
request, an editor never approves their own edit, own-only actions are only allowed on
one's own request, and a role name is never a user.  A second property checks the
Casbin model against a few lines of plain Python that say what the policy means.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tre.authz import Authz
from tre.authz.invariants import (
    CONTEXT_REQUIRED,
    EDITOR_NEVER_APPROVES,
    REQUESTER_NEVER_REVIEWS,
    general_context,
)
from tre.authz.policyfile import Assignment, Policy, Rule
from tre.authz.vocabulary import ACTIONS, APPROVE_ACTIONS, OWN_ONLY, REVIEW_ACTIONS, all_actions
from tre.clock import FixedClock

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
ROLES = ["researcher", "output_checker", "governance", "operator", "custom_role"]
DOMAINS = ["*", "p1", "p2"]
USERS = ["alice", "bob", "carol", "Dave"]
OBJECTS = [*ACTIONS, "*", "req*"]
VERBS = sorted({a for acts in ACTIONS.values() for a in acts} | {"*"})
TIMES = [EPOCH + timedelta(days=d) for d in (0, 10, 20, 30)]

rules = st.builds(Rule, st.sampled_from(ROLES), st.sampled_from(DOMAINS),
                  st.sampled_from(OBJECTS), st.sampled_from(VERBS),
                  st.sampled_from(["allow", "allow", "allow", "deny"]))


@st.composite
def assignments(draw: st.DrawFn) -> Assignment:
    start, until = sorted(draw(st.lists(st.sampled_from(TIMES), min_size=2, max_size=2,
                                        unique=True)))
    return Assignment(draw(st.sampled_from(USERS)), draw(st.sampled_from(ROLES)),
                      draw(st.sampled_from(DOMAINS)), start, until)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    chosen = draw(st.lists(rules, min_size=1, max_size=12))
    if draw(st.booleans()):  # grant everything to somebody, everywhere
        chosen.append(Rule(draw(st.sampled_from(ROLES)), "*", "*", "*", "allow"))
    members = draw(st.lists(assignments(), max_size=10, unique_by=lambda a: a.key()))
    if draw(st.booleans()):  # and everybody holds that role everywhere, always
        members = [Assignment(u, chosen[-1].role, "*", TIMES[0], TIMES[-1]) for u in USERS]
    return Policy(tuple(chosen), tuple(members), "<random>")


def spellings(name: str) -> st.SearchStrategy[str]:
    """The same person, written as the identity provider or a careless caller might."""
    return st.sampled_from([name, name.upper(), f" {name} ", name.capitalize()])


@settings(max_examples=150, deadline=None)
@given(policies(), st.sampled_from(USERS), st.sampled_from(DOMAINS), st.sampled_from(TIMES),
       st.data())
def test_no_policy_breaks_separation_of_duties(policy: Policy, user: str, domain: str,
                                               at: datetime, data: st.DataObject) -> None:
    authz = Authz(policy, FixedClock(at))
    me = data.draw(spellings(user))
    other = data.draw(st.sampled_from([u for u in USERS if u.casefold() != user.casefold()]))
    for obj, act in sorted(REVIEW_ACTIONS):
        d = authz.enforce(user, domain, obj, act, {"requester": me})
        assert not d.allowed and d.rule == ("invariant", REQUESTER_NEVER_REVIEWS)
    for obj, act in sorted(APPROVE_ACTIONS):
        d = authz.enforce(user, "*", obj, act, {"editor": me})
        assert not d.allowed and d.rule == ("invariant", EDITOR_NEVER_APPROVES)
    for obj, act in sorted(OWN_ONLY):
        assert not authz.user_can(user, domain, obj, act, {"requester": other})
    for role in {*ROLES, "*", "", " "}:
        for obj, act in all_actions():
            assert not authz.user_can(role, domain, obj, act)


def _matches(rule: Rule, policy: Policy, user: str, domain: str, obj: str, act: str,
             at: datetime) -> bool:
    """What a rule means, in plain Python (the reference for the Casbin model)."""
    held = any(a.user == user and a.role == rule.role and a.in_force(at)
               and a.domain in (domain, "*") for a in policy.assignments)
    obj_ok = rule.obj == obj or (rule.obj.endswith("*") and obj.startswith(rule.obj[:-1]))
    return (held and rule.domain in ("*", domain) and obj_ok and rule.action in ("*", act))


@settings(max_examples=150, deadline=None)
@given(policies(), st.sampled_from(USERS), st.sampled_from(DOMAINS),
       st.sampled_from(all_actions()), st.sampled_from([*TIMES, TIMES[1] - timedelta(0, 1)]))
def test_the_engine_means_what_the_policy_says(policy: Policy, user: str, domain: str,
                                                question: tuple[str, str], at: datetime) -> None:
    obj, act = question
    authz = Authz(policy, FixedClock(EPOCH))
    decision = authz.enforce(user, domain, obj, act, general_context(user, obj, act), at=at)
    matching = [r for r in policy.rules if _matches(r, policy, user, domain, obj, act, at)]
    allows = [r.fields() for r in matching if r.effect == "allow"]
    denies = [r.fields() for r in matching if r.effect == "deny"]
    assert decision.allowed == (bool(allows) and not denies)
    if decision.allowed:
        assert decision.rule in allows  # the rule named is one that allowed
    elif denies:
        assert decision.rule in denies  # the rule named is one that denied
    else:
        assert decision.rule is None


def test_invariants_fail_closed_without_a_context() -> None:
    # Issue 13: the invariants applied only when the caller passed a context, so a caller
    # that forgot it let a requester review their own request.  Now: refused outright.
    everything = Policy((Rule("custom_role", "*", "*", "*", "allow"),),
                        (Assignment("alice", "custom_role", "*", EPOCH, EPOCH + timedelta(9)),))
    authz = Authz(everything, FixedClock(EPOCH))
    guarded = sorted(OWN_ONLY | REVIEW_ACTIONS | APPROVE_ACTIONS)
    assert len(guarded) == 7
    for obj, act in guarded:
        for context in (None, {}, {"other": "x"}):
            d = authz.enforce("alice", "p1", obj, act, context)
            assert (d.allowed, d.rule) == (False, ("invariant", CONTEXT_REQUIRED)), (obj, act)
        assert not authz.user_can("alice", "p1", obj, act)
        assert authz.in_general("alice", "p1", obj, act)  # the typical case is allowed
    assert authz.user_can("alice", "p1", "workspace", "spawn")  # others need no context
