"""Issue 14, finding 7: a decision's reasons are cut at MAX_REASONS, never silently."""

from airlock.checks import MAX_REASONS, CheckRecord, FileResult


def _result(n: int) -> FileResult:
    cells = [{"verdict": "fail", "message": f"cell {i} is below 10"} for i in range(n)]
    return FileResult("fail", [CheckRecord("file", "fail", {"checks": [
        {"rule": "threshold", "verdict": "fail", "cells": cells}]})])


def test_44_reasons_say_how_many_more() -> None:
    reasons = _result(44).reasons
    assert len(reasons) == MAX_REASONS == 20
    assert reasons[:19] == [f"cell {i} is below 10" for i in range(19)]
    assert reasons[19] == "and 25 more (every flag is listed with the file)"  # 19 + 25 = 44


def test_up_to_the_limit_nothing_is_cut() -> None:
    assert _result(20).reasons == [f"cell {i} is below 10" for i in range(20)]
