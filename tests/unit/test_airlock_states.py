"""The request lifecycle as data: every (from, to) pair, every state's single owner."""

from __future__ import annotations

import itertools

import pytest

from airlock.domain.states import (
    OWNERS,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    Owner,
    State,
    check_transition,
    is_legal,
    owner_of,
    user_can_transition,
)

pytestmark = pytest.mark.unit

# DESIGN.md section 3, written out by hand so that the table is checked against the text.
EXPECTED = {
    (State.DRAFT, State.SUBMITTED),
    (State.SUBMITTED, State.CHECKING),
    (State.CHECKING, State.APPROVED),
    (State.CHECKING, State.REJECTED),
    (State.CHECKING, State.IN_REVIEW),
    (State.IN_REVIEW, State.APPROVED),
    (State.IN_REVIEW, State.REJECTED),
    (State.IN_REVIEW, State.RETURNED),
    (State.APPROVED, State.RELEASED),
    # withdrawn: from every state the researcher owns
    (State.DRAFT, State.WITHDRAWN),
    (State.RETURNED, State.WITHDRAWN),
}


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(State, State)))
def test_every_pair(src: State, dst: State) -> None:
    legal = (src, dst) in EXPECTED
    assert is_legal(src, dst) is legal
    if legal:
        check_transition(src, dst)
        check_transition(src, dst, OWNERS[src])  # the owner of the source state moves it
        for other in set(Owner) - {OWNERS[src]}:
            with pytest.raises(IllegalTransition):
                check_transition(src, dst, other)
            assert not user_can_transition(src, dst, other)
    else:
        with pytest.raises(IllegalTransition) as err:
            check_transition(src, dst)
        assert str(src) in str(err.value)


def test_every_state_has_exactly_one_owner() -> None:
    assert set(OWNERS) == set(State)
    for state in State:
        assert isinstance(OWNERS[state], Owner)
        assert owner_of(state) is OWNERS[state]
        assert sum(1 for owner in Owner if OWNERS[state] is owner) == 1


def test_owners_match_the_design() -> None:
    assert {s for s, o in OWNERS.items() if o is Owner.RESEARCHER} == {State.DRAFT,
                                                                       State.RETURNED}
    assert {s for s, o in OWNERS.items() if o is Owner.CHECKER} == {State.IN_REVIEW}


def test_withdrawn_reachable_exactly_from_researcher_states() -> None:
    for state in State:
        reachable = State.WITHDRAWN in TRANSITIONS[state]
        assert reachable is (OWNERS[state] is Owner.RESEARCHER), state


def test_terminal_states_are_owned_by_the_system() -> None:
    assert {State.REJECTED, State.RELEASED, State.WITHDRAWN} == TERMINAL
    assert all(OWNERS[s] is Owner.SYSTEM for s in TERMINAL)
    with pytest.raises(IllegalTransition, match="cannot change any more"):
        check_transition(State.RELEASED, State.WITHDRAWN)


def test_every_state_is_reachable_from_draft() -> None:
    seen, frontier = {State.DRAFT}, [State.DRAFT]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(State)


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[State.DRAFT] = frozenset()  # type: ignore[index]
    with pytest.raises(TypeError):
        OWNERS[State.DRAFT] = Owner.SYSTEM  # type: ignore[index]


def test_unknown_state_is_illegal() -> None:
    assert not is_legal("bogus", "draft")
    with pytest.raises(IllegalTransition, match="not a request state"):
        check_transition("draft", "bogus")
