"""The queue's reasons for waiting, from check results (airlock.ui.triage)."""

import pytest

from airlock.review_limits import TextRefused, check_title, excerpt
from airlock.ui.triage import FileFacts, file_facts, reasons


def test_reasons_from_checks_in_a_fixed_order() -> None:
    png = file_facts([{"checks": [{"rule": "uncheckable", "verdict": "escalate"}]}], None)
    table = file_facts([{"checks": [{"rule": "threshold", "verdict": "fail"},
                                    {"rule": "differencing", "verdict": "escalate"},
                                    {"rule": "evidence", "verdict": "pass"}]}], "please")
    assert reasons([png, table]) == ["small_cell", "differencing", "exception", "uncheckable"]


def test_passing_checks_give_no_reason_and_a_blank_exception_is_none() -> None:
    f = file_facts([{"checks": [{"rule": "threshold", "verdict": "pass"}]}], "   ")
    assert reasons([f]) == []
    assert reasons([FileFacts([("evidence", "escalate")])]) == ["no_evidence"]


def test_title_is_one_bounded_line() -> None:
    assert check_title("  Table 2, by region ") == "Table 2, by region"
    assert check_title("   ") is None
    with pytest.raises(TextRefused, match="at most 200"):
        check_title("x" * 201)
    with pytest.raises(TextRefused, match=r"U\+000A"):
        check_title("a\nb")
    with pytest.raises(TextRefused, match=r"U\+202E \(RIGHT-TO-LEFT OVERRIDE\)"):
        check_title("a\u202eb")


def test_excerpt_cuts_at_a_word() -> None:
    assert excerpt("one  two\nthree") == "one two three"
    assert excerpt("alpha beta gamma", 12) == "alpha beta…"
