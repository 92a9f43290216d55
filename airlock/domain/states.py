"""The export request lifecycle (DESIGN.md section 3), kept as data.

Two tables say everything: :data:`TRANSITIONS`, the legal moves, and
:data:`OWNERS`, who acts on a request in each state.  Everything else is
derived from them, so the tests can walk every (from, to) pair and prove that
each state has exactly one owner.

``withdrawn`` is reachable from every state the researcher owns; that rule is
derived from the owner table rather than listed, so giving the researcher a new
state can never forget its way out.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final

from tre.errors import TreError


class State(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHECKING = "checking"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETURNED = "returned"
    RELEASED = "released"
    WITHDRAWN = "withdrawn"


class Owner(StrEnum):
    RESEARCHER = "researcher"
    SYSTEM = "system"
    CHECKER = "checker"


# Who may move a request out of each state.  Terminal states belong to the
# system: nobody acts on them any more (OpenSAFELY's convention).
OWNERS: Final = MappingProxyType(
    {
        State.DRAFT: Owner.RESEARCHER,
        State.SUBMITTED: Owner.SYSTEM,
        State.CHECKING: Owner.SYSTEM,
        State.IN_REVIEW: Owner.CHECKER,
        State.APPROVED: Owner.SYSTEM,
        State.REJECTED: Owner.SYSTEM,
        State.RETURNED: Owner.RESEARCHER,
        State.RELEASED: Owner.SYSTEM,
        State.WITHDRAWN: Owner.SYSTEM,
    }
)

_MOVES: dict[State, frozenset[State]] = {
    State.DRAFT: frozenset({State.SUBMITTED}),
    State.SUBMITTED: frozenset({State.CHECKING}),
    State.CHECKING: frozenset({State.APPROVED, State.REJECTED, State.IN_REVIEW}),
    State.IN_REVIEW: frozenset({State.APPROVED, State.REJECTED, State.RETURNED}),
    State.APPROVED: frozenset({State.RELEASED}),
    State.REJECTED: frozenset(),
    State.RETURNED: frozenset(),
    State.RELEASED: frozenset(),
    State.WITHDRAWN: frozenset(),
}

# The legal transitions: the listed moves, plus withdrawal from researcher-owned states.
TRANSITIONS: Final = MappingProxyType(
    {
        state: moves | ({State.WITHDRAWN} if OWNERS[state] is Owner.RESEARCHER else frozenset())
        for state, moves in _MOVES.items()
    }
)

TERMINAL: Final = frozenset(s for s, moves in TRANSITIONS.items() if not moves)


class IllegalTransition(TreError):
    """A move the lifecycle does not allow; the API answers 409 and changes nothing."""

    code = "illegal_transition"
    status = 409

    def __init__(self, current: State | str, target: State | str, why: str = "") -> None:
        self.current, self.target = str(current), str(target)
        super().__init__(
            why or f"a request cannot go from {self.current} to {self.target}"
        )


def _state(value: State | str) -> State:
    try:
        return State(value)
    except ValueError:
        raise IllegalTransition(value, value, f"'{value}' is not a request state") from None


def is_legal(current: State | str, target: State | str) -> bool:
    try:
        return _state(target) in TRANSITIONS[_state(current)]
    except IllegalTransition:
        return False


def check_transition(
    current: State | str, target: State | str, actor: Owner | None = None
) -> None:
    """Raise :class:`IllegalTransition` unless ``current -> target`` is legal.

    With ``actor``, the move must also be made by the owner of ``current``
    (a checker cannot withdraw a draft; a researcher cannot approve).
    """
    src, dst = _state(current), _state(target)
    if dst not in TRANSITIONS[src]:
        if src in TERMINAL:
            raise IllegalTransition(src, dst, f"the request is {src} and cannot change any more")
        raise IllegalTransition(src, dst, f"a request cannot go from {src} to {dst} (while it "
                                f"is {src} it is in the hands of the {OWNERS[src]})")
    if actor is not None and OWNERS[src] is not actor:
        raise IllegalTransition(
            src, dst, f"a request that is {src} is in the hands of the {OWNERS[src]}, "
            f"not the {actor}"
        )


def user_can_transition(
    current: State | str, target: State | str, actor: Owner | None = None
) -> bool:
    try:
        check_transition(current, target, actor)
    except IllegalTransition:
        return False
    return True


def owner_of(state: State | str) -> Owner:
    return OWNERS[_state(state)]
