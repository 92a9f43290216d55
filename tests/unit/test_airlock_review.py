"""Human review rules: who may vote, what a vote needs, blindness, quorum and the outcome."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airlock.domain.review import (
    AlreadyVoted,
    CommentRequired,
    OverrideReasonRequired,
    OwnRequest,
    ReviewClosed,
    ReviewOutcome,
    UnknownFile,
    Vote,
    VoteChoice,
    VoteError,
    check_vote,
    needs_override,
    tally,
    user_can_vote,
    visible_votes,
)

pytestmark = pytest.mark.unit

A, R, C = VoteChoice.APPROVE, VoteChoice.REJECT, VoteChoice.REQUEST_CHANGES
REQUESTER = "rita"


def vote(
    reviewer: str,
    file_id: str = "f1",
    choice: VoteChoice = A,
    comment: str | None = None,
    override_reason: str | None = None,
) -> Vote:
    if choice is not A and comment is None:
        comment = f"{reviewer} says {choice.value} on {file_id}"
    return Vote(reviewer, file_id, choice, comment, override_reason)


def check(**overrides: Any) -> None:
    kwargs: dict[str, Any] = {
        "reviewer": "carol",
        "requester": REQUESTER,
        "file_id": "f1",
        "choice": A,
        "comment": None,
        "override_reason": None,
        "automated_verdict": "escalate",
        "existing": (),
        "file_ids": ("f1", "f2"),
        "reviewers_required": 1,
    }
    kwargs.update(overrides)
    check_vote(**kwargs)


# ---- check_vote, rule by rule ------------------------------------------------------------------


def test_a_plain_approval_is_accepted() -> None:
    check()
    check(file_ids=())  # file_ids is optional


@pytest.mark.parametrize("reviewer", ["rita", "Rita", " RITA "])
def test_the_requester_never_votes_on_their_own_request(reviewer: str) -> None:
    for choice, comment in [(A, None), (R, "no"), (C, "fix it")]:
        with pytest.raises(OwnRequest, match="your own request"):
            check(reviewer=reviewer, choice=choice, comment=comment)


def test_own_request_is_refused_before_anything_else() -> None:
    # Even when the vote is otherwise malformed, the answer is "not your request".
    with pytest.raises(OwnRequest):
        check(reviewer=REQUESTER, choice=R, comment="", file_id="nope")


@pytest.mark.parametrize("choice", [R, C])
@pytest.mark.parametrize("comment", [None, "", "   ", "\n\t"])
def test_anything_but_approve_needs_a_comment(choice: VoteChoice, comment: str | None) -> None:
    with pytest.raises(CommentRequired, match="needs a comment"):
        check(choice=choice, comment=comment)


@pytest.mark.parametrize("choice", [R, C])
def test_a_comment_makes_reject_and_request_changes_acceptable(choice: VoteChoice) -> None:
    check(choice=choice, comment="cell (North, F) is 3")


def test_approve_needs_no_comment_but_may_have_one() -> None:
    check(comment=None)
    check(comment="looks fine")


def test_one_vote_per_reviewer_per_file() -> None:
    existing = [vote("carol", "f1")]
    with pytest.raises(AlreadyVoted, match="already voted"):
        check(existing=existing, reviewers_required=2)
    with pytest.raises(AlreadyVoted):
        check(reviewer="CAROL", existing=existing, reviewers_required=2)
    check(file_id="f2", existing=existing, reviewers_required=2)  # another file is fine
    check(reviewer="dave", existing=existing, reviewers_required=2)  # another reviewer too


def test_approving_an_automated_fail_needs_an_override_reason() -> None:
    for reason in [None, "", "  "]:
        with pytest.raises(OverrideReasonRequired, match="override reason"):
            check(automated_verdict="fail", override_reason=reason)
    check(automated_verdict="fail", override_reason="the small cell is a structural zero")


def test_rejecting_or_returning_a_failed_file_is_no_override() -> None:
    check(automated_verdict="fail", choice=R, comment="agreed, too small")
    check(automated_verdict="fail", choice=C, comment="please round")


def test_an_override_reason_where_nothing_is_overridden_is_refused() -> None:
    with pytest.raises(VoteError, match="only for approving a file that failed"):
        check(automated_verdict="escalate", override_reason="because")
    with pytest.raises(VoteError):
        check(automated_verdict="fail", choice=R, comment="no", override_reason="because")
    check(automated_verdict="pass", override_reason="   ")  # blank is no reason at all


def test_needs_override_truth_table() -> None:
    for verdict in ["pass", "escalate", "fail", "FAIL", " fail "]:
        for choice in VoteChoice:
            expected = choice is A and verdict.strip().lower() == "fail"
            assert needs_override(choice, verdict) is expected
    with pytest.raises(ValueError, match="unknown automated verdict"):
        needs_override(A, "maybe")


def test_an_unknown_verdict_is_a_programming_error_not_a_vote_error() -> None:
    with pytest.raises(ValueError) as info:
        check(automated_verdict="bogus")
    assert not isinstance(info.value, VoteError)


def test_a_file_not_in_the_request_is_refused() -> None:
    with pytest.raises(UnknownFile, match="not part of this request"):
        check(file_id="f9")


def test_a_decided_request_takes_no_more_votes() -> None:
    existing = [vote("carol", "f1"), vote("dave", "f2")]
    with pytest.raises(ReviewClosed, match="already been decided"):
        check(reviewer="erin", file_id="f1", existing=existing)


def test_a_file_with_all_its_reviews_takes_no_more() -> None:
    # Quorum is not reached (f2 has no votes), but f1 already has its one review.
    existing = [vote("carol", "f1")]
    with pytest.raises(ReviewClosed, match="already has the 1 review it needs"):
        check(reviewer="dave", existing=existing)
    # Also without file_ids: the file's own votes are enough to know.
    with pytest.raises(ReviewClosed):
        check(reviewer="dave", existing=existing, file_ids=())
    existing = [vote("carol", "f1"), vote("dave", "f1")]
    with pytest.raises(ReviewClosed, match="2 reviews"):
        check(reviewer="erin", existing=existing, reviewers_required=2)


def test_an_unknown_choice_is_a_vote_error() -> None:
    with pytest.raises(VoteError, match="not a vote"):
        check(choice="maybe")
    check(choice="approve")  # the string value is accepted


def test_a_blank_reviewer_is_refused() -> None:
    with pytest.raises(VoteError, match="needs a reviewer"):
        check(reviewer="  ")


@pytest.mark.parametrize("required", [0, -1, True])
def test_reviewers_required_must_be_positive(required: int) -> None:
    with pytest.raises(ValueError, match="reviewers_required"):
        check(reviewers_required=required)


def test_user_can_vote_mirrors_check_vote() -> None:
    base: dict[str, Any] = {
        "requester": REQUESTER,
        "file_id": "f1",
        "choice": A,
        "comment": None,
        "override_reason": None,
        "automated_verdict": "pass",
        "existing": (),
        "file_ids": ("f1",),
    }
    assert user_can_vote(reviewer="carol", **base)
    assert not user_can_vote(reviewer=REQUESTER, **base)


def test_errors_are_value_errors_with_a_message_for_the_user() -> None:
    for cls in [OwnRequest, CommentRequired, OverrideReasonRequired, AlreadyVoted, UnknownFile]:
        assert issubclass(cls, VoteError)
    assert issubclass(ReviewClosed, VoteError)
    assert issubclass(VoteError, ValueError)


# ---- tally: quorum and outcome ------------------------------------------------------------


def test_no_votes_decide_nothing() -> None:
    outcome = tally([], ["f1", "f2"], 1)
    assert outcome == ReviewOutcome(False, None, False, [], {"f1": None, "f2": None}, [])


def test_quorum_needs_every_file() -> None:
    outcome = tally([vote("carol", "f1")], ["f1", "f2"], 1)
    assert not outcome.quorum_reached
    assert not outcome.decided
    assert outcome.state is None
    assert outcome.per_file == {"f1": None, "f2": None}  # no early per-file result either
    assert outcome.voters == ["carol"]


def test_quorum_needs_distinct_reviewers_per_file() -> None:
    votes = [vote("carol", "f1"), vote("carol", "f2")]
    assert tally(votes, ["f1", "f2"], 1).decided
    assert not tally(votes, ["f1", "f2"], 2).decided
    votes += [vote("dave", "f1")]
    assert not tally(votes, ["f1", "f2"], 2).decided
    # Different pairs on different files still make two independent reviews of each file.
    votes += [vote("erin", "f2")]
    outcome = tally(votes, ["f1", "f2"], 2)
    assert outcome.decided
    assert outcome.voters == ["carol", "dave", "erin"]


@pytest.mark.parametrize(
    ("choices", "expected"),
    [
        ((A,), "approved"),
        ((R,), "rejected"),
        ((C,), "returned"),
        ((A, A), "approved"),
        ((A, R), "rejected"),  # disagreement: conservative
        ((R, A), "rejected"),
        ((A, C), "returned"),
        ((C, R), "rejected"),
        ((C, C), "returned"),
        ((R, R), "rejected"),
    ],
)
def test_a_files_decision_is_the_agreement_of_its_votes(
    choices: tuple[VoteChoice, ...], expected: str
) -> None:
    votes = [vote(f"rev{i}", "f1", c) for i, c in enumerate(choices)]
    outcome = tally(votes, ["f1"], len(choices))
    assert outcome.decided
    assert outcome.per_file == {"f1": expected}
    assert outcome.state == expected


@pytest.mark.parametrize(
    ("per_file", "expected"),
    [
        ((A, A, A), "approved"),
        ((A, R, A), "rejected"),
        ((A, C, A), "returned"),
        ((C, R, A), "rejected"),
        ((C, C, C), "returned"),
    ],
)
def test_the_requests_state_from_its_files(per_file: tuple[VoteChoice, ...], expected: str) -> None:
    files = [f"f{i}" for i in range(len(per_file))]
    votes = [vote("carol", f, c) for f, c in zip(files, per_file, strict=True)]
    assert tally(votes, files, 1).state == expected


def test_overrides_are_listed_for_the_audit_log() -> None:
    override = vote("dave", "f2", A, override_reason="structural zero")
    votes = [vote("carol", "f1"), override, vote("carol", "f2")]
    # Listed from the first such vote, before the quorum too.
    assert tally(votes, ["f1", "f2"], 2).overrides == [override]
    assert tally([override], ["f1", "f2"], 1).overrides == [override]
    assert tally([vote("carol", "f1")], ["f1"], 1).overrides == []


def test_tally_refuses_data_check_vote_would_not_let_in() -> None:
    with pytest.raises(ValueError, match="not a file of this request"):
        tally([vote("carol", "f9")], ["f1"], 1)
    with pytest.raises(ValueError, match="voted twice"):
        tally([vote("carol", "f1"), vote("Carol", "f1", R)], ["f1"], 2)
    with pytest.raises(ValueError, match="at least one file"):
        tally([], [], 1)
    with pytest.raises(ValueError, match="reviewers_required"):
        tally([], ["f1"], 0)


def test_a_vote_from_the_database_may_carry_its_choice_as_a_string() -> None:
    row = Vote("carol", "f1", "reject", "no", None)  # type: ignore[arg-type]
    assert row.choice is VoteChoice.REJECT
    with pytest.raises(ValueError):
        Vote("carol", "f1", "maybe", None, None)  # type: ignore[arg-type]


# ---- visible_votes: blind until the quorum ------------------------------------------------------


def test_before_quorum_others_votes_are_blind_but_the_viewers_own_are_not() -> None:
    votes = [vote("carol", "f1", R, "too small"), vote("dave", "f1", A)]
    shown = visible_votes(votes, "dave", quorum_reached=False)
    assert shown == [
        {
            "reviewer": "carol",
            "file_id": "f1",
            "own": False,
            "blind": True,
            "choice": None,
            "comment": None,
            "override_reason": None,
        },
        {
            "reviewer": "dave",
            "file_id": "f1",
            "own": True,
            "blind": False,
            "choice": "approve",
            "comment": None,
            "override_reason": None,
        },
    ]
    assert "too small" not in repr(shown)
    assert "reject" not in repr(shown)


def test_after_quorum_everything_is_visible_to_everyone() -> None:
    votes = [vote("carol", "f1", R, "too small"), vote("dave", "f1", A, override_reason="x")]
    for viewer in ["carol", "dave", "erin", REQUESTER]:
        shown = visible_votes(votes, viewer, quorum_reached=True)
        assert [v["choice"] for v in shown] == ["reject", "approve"]
        assert [v["comment"] for v in shown] == ["too small", None]
        assert [v["override_reason"] for v in shown] == [None, "x"]
        assert not any(v["blind"] for v in shown)


def test_someone_who_has_not_voted_sees_only_who_voted() -> None:
    votes = [vote("carol", "f1", C, "round it"), vote("dave", "f2", R, "no")]
    shown = visible_votes(votes, "erin", quorum_reached=False)
    assert [(v["reviewer"], v["file_id"]) for v in shown] == [("carol", "f1"), ("dave", "f2")]
    assert all(v["choice"] is None and v["comment"] is None for v in shown)


# ---- properties --------------------------------------------------------------------------------

USERS = ["rita", "Rita", "carol", "dave", "erin"]  # "Rita" is the requester under another case
FILES = ["f1", "f2", "f3"]
REVIEWERS = ["carol", "dave", "erin"]

attempts = st.lists(
    st.tuples(
        st.sampled_from(USERS),
        st.sampled_from(FILES),
        st.sampled_from(list(VoteChoice)),
        st.sampled_from([None, "", "a comment", "another comment"]),
        st.sampled_from([None, None, "a reason"]),
    ),
    max_size=40,
)
verdicts = st.fixed_dictionaries({f: st.sampled_from(["pass", "escalate", "fail"]) for f in FILES})


def replay(
    tries: Sequence[tuple[str, str, VoteChoice, str | None, str | None]],
    files: Sequence[str],
    verdict_of: dict[str, str],
    required: int,
    *,
    tag: bool = True,
) -> list[Vote]:
    """Cast every attempt through check_vote; return the votes it accepted."""
    accepted: list[Vote] = []
    for n, (reviewer, file_id, choice, comment, reason) in enumerate(tries):
        # Unique comments, so blindness checks can look for their text anywhere.
        text = f"{comment} #{n}" if comment and tag else comment
        try:
            check_vote(
                reviewer=reviewer,
                requester=REQUESTER,
                file_id=file_id,
                choice=choice,
                comment=text,
                override_reason=reason,
                automated_verdict=verdict_of[file_id],
                existing=accepted,
                file_ids=files,
                reviewers_required=required,
            )
        except VoteError:
            continue
        accepted.append(Vote(reviewer, file_id, choice, text, reason))
    return accepted


@given(
    tries=attempts,
    verdict_of=verdicts,
    required=st.sampled_from([1, 2]),
    n_files=st.integers(1, 3),
)
def test_property_the_requester_is_never_among_the_voters(
    tries: list[Any], verdict_of: dict[str, str], required: int, n_files: int
) -> None:
    files = FILES[:n_files]
    accepted = replay(tries, files, verdict_of, required)
    outcome = tally(accepted, files, required)
    assert all(voter.strip().casefold() != REQUESTER for voter in outcome.voters)
    # And every accepted vote obeys the content rules.
    for v in accepted:
        assert v.choice is A or (v.comment or "").strip()
        if needs_override(v.choice, verdict_of[v.file_id]):
            assert v in outcome.overrides
    assert all(v.override_reason for v in outcome.overrides)


@given(
    tries=attempts,
    verdict_of=verdicts,
    required=st.sampled_from([1, 2]),
    n_files=st.integers(1, 3),
    data=st.data(),
)
def test_property_the_outcome_does_not_depend_on_the_order_of_votes(
    tries: list[Any], verdict_of: dict[str, str], required: int, n_files: int, data: st.DataObject
) -> None:
    files = FILES[:n_files]
    accepted = replay(tries, files, verdict_of, required)
    # Complete the review with valid votes from reviewers who have not voted yet, so that the
    # outcome is always a decided one.
    for file_id in files:
        voted = {v.reviewer.casefold() for v in accepted if v.file_id == file_id}
        fresh = [u for u in REVIEWERS if u not in voted]
        for reviewer in fresh[: max(0, required - len(voted))]:
            choice = data.draw(st.sampled_from(list(VoteChoice)))
            reason = "a reason" if needs_override(choice, verdict_of[file_id]) else None
            accepted += replay([(reviewer, file_id, choice, "fill", reason)], files, verdict_of, 1)
    outcome = tally(accepted, files, required)
    assert outcome.decided
    # The same votes, cast in any other order, are all accepted and decide the same.
    shuffled = data.draw(st.permutations(accepted))
    recast = [(v.reviewer, v.file_id, v.choice, v.comment, v.override_reason) for v in shuffled]
    replayed = replay(recast, files, verdict_of, required, tag=False)
    assert len(replayed) == len(accepted)
    assert tally(shuffled, files, required) == outcome
    assert tally(replayed, files, required) == outcome
    # Once decided, no further vote gets in.
    assert replay([*recast, *tries], files, verdict_of, required, tag=False) == replayed


@settings(max_examples=200)
@given(
    tries=attempts,
    verdict_of=verdicts,
    required=st.sampled_from([1, 2]),
    n_files=st.integers(1, 3),
    viewer=st.sampled_from([*USERS, "frank"]),
    data=st.data(),
)
def test_property_blind_before_quorum(
    tries: list[Any],
    verdict_of: dict[str, str],
    required: int,
    n_files: int,
    viewer: str,
    data: st.DataObject,
) -> None:
    files = FILES[:n_files]
    accepted = replay(tries, files, verdict_of, required)
    outcome = tally(accepted, files, required)
    if outcome.quorum_reached:
        return
    assert outcome.state is None
    assert set(outcome.per_file.values()) == {None}
    shown = visible_votes(accepted, viewer, outcome.quorum_reached)
    others = [v for v in accepted if v.reviewer.casefold() != viewer.casefold()]
    for item in shown:
        if not item["own"]:
            assert item["blind"]
            assert item["choice"] is None
            assert item["comment"] is None
            assert item["override_reason"] is None
    text = repr(shown)
    for v in others:
        if v.comment:
            assert v.comment not in text
    # Changing how the others voted changes nothing the viewer can see.
    recast = [
        v
        if v not in others
        else Vote(v.reviewer, v.file_id, data.draw(st.sampled_from(list(VoteChoice))), "x", "y")
        for v in accepted
    ]
    assert visible_votes(recast, viewer, False) == shown
