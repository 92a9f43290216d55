"""Per-file verdicts -> the request's outcome (DESIGN.md section 4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airlock.domain.decisions import FileVerdict, decide, free_text_chars, worst
from airlock.domain.states import State

pytestmark = pytest.mark.unit


def f(verdict: str, exception: str | None = None, alt: bool = False) -> FileVerdict:
    return FileVerdict(f"{verdict}.csv", verdict, [f"{verdict} reason"], exception, alt)


def test_all_pass_and_auto_release_is_approved() -> None:
    out = decide([f("pass"), f("pass")], allow_auto_release=True)
    assert out.state is State.APPROVED and out.release


def test_all_pass_without_auto_release_goes_to_review() -> None:
    out = decide([f("pass")], allow_auto_release=False)
    assert out.state is State.IN_REVIEW and not out.release
    assert "does not allow automatic release" in out.reasons[0].message


def test_any_fail_rejects_and_offers_the_alternative() -> None:
    out = decide([f("pass"), f("escalate"), f("fail", alt=True)], allow_auto_release=True)
    assert out.state is State.REJECTED
    messages = [r.message for r in out.reasons]
    assert "fail reason" in messages
    assert any("safe alternative" in m for m in messages)
    assert "escalate reason" not in messages  # only the failures explain a rejection


def test_escalate_goes_to_review_with_reasons() -> None:
    out = decide([f("pass"), f("escalate")], allow_auto_release=True)
    assert out.state is State.IN_REVIEW
    assert [r.message for r in out.reasons] == ["escalate reason"]


def test_an_exception_request_sends_a_fail_to_review() -> None:
    out = decide([f("fail", exception="the small cell is a structural zero")],
                 allow_auto_release=True)
    assert out.state is State.IN_REVIEW
    assert "structural zero" in out.reasons[0].message


def test_no_files_is_an_error() -> None:
    with pytest.raises(ValueError):
        decide([], allow_auto_release=True)
    with pytest.raises(ValueError):
        FileVerdict("x", "maybe")


verdicts = st.lists(st.sampled_from(["pass", "escalate", "fail"]), min_size=1, max_size=6)


@given(verdicts, st.booleans())
def test_outcome_follows_the_worst_verdict(vs: list[str], auto: bool) -> None:
    out = decide([f(v) for v in vs], allow_auto_release=auto)
    w = worst(vs)
    if w == "fail":
        assert out.state is State.REJECTED
    elif w == "pass" and auto:
        assert out.state is State.APPROVED
    else:
        assert out.state is State.IN_REVIEW
    # never approved with anything but passes
    assert out.state is not State.APPROVED or set(vs) == {"pass"}


def test_free_text_is_counted_once_per_distinct_text() -> None:
    # the request's context copied to three files counts once; None and "" count nothing
    assert free_text_chars(["abcd", "abcd", "abcd", None, "", "xy"]) == 6


def test_more_free_text_than_a_paragraph_is_never_released_automatically() -> None:
    files = [FileVerdict("a.csv", "pass")]
    assert decide(files, allow_auto_release=True, text_chars=1000,
                  auto_release_text_chars=1000).state is State.APPROVED
    held = decide(files, allow_auto_release=True, text_chars=1001, auto_release_text_chars=1000)
    assert held.state is State.IN_REVIEW
    assert held.reasons[0].message.startswith(
        "Every file passed, but the request carries 1,001 characters of free text")
    # without the limit (callers that do not pass it) the old rule holds
    assert decide(files, allow_auto_release=True, text_chars=10**6).state is State.APPROVED
