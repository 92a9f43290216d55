"""The review draft's summary before it is sent (airlock.ui.review_draft)."""

from airlock.ui.review_draft import DraftFile, summarise

PNG, MD = DraftFile("p", "plot.png", 0), DraftFile("m", "notes.md", 0)


def test_mixed_choices_warn_that_a_reject_loses_the_approved_file() -> None:
    s = summarise([PNG, MD], {"p": "approve", "m": "reject"}, required=1)
    assert s.lines == ["approve plot.png", "reject notes.md"]
    assert s.completes and s.irreversible
    assert "Rejecting notes.md rejects the whole request, including plot.png" in s.warnings[0]
    assert s.warnings[1] == "This rejects the request at once."


def test_approving_everything_alone_releases_at_once() -> None:
    s = summarise([PNG], {"p": "approve"}, required=1)
    assert s.warnings == ["This releases the request at once: the files leave the TRE and "
                          "cannot be called back."]


def test_first_of_two_reviewers_is_reversible_and_missing_files_are_named() -> None:
    s = summarise([PNG, MD], {"p": "approve", "m": "approve"}, required=2)
    assert not s.completes and s.warnings == []
    s = summarise([PNG, MD], {"p": "approve"}, required=1)
    assert s.missing == ["notes.md"] and not s.completes
    last = summarise([DraftFile("p", "plot.png", 1)], {"p": "request_changes"}, required=2)
    assert last.completes and "last votes needed" in last.warnings[0]
    waits = summarise([PNG], {"p": "approve"}, required=1, others_pending=1)
    assert not waits.completes
