"""Attack on the ledger's record sets: the record ids are the researcher's index, so a
researcher can shift *most* of them and keep a few where they were.  The pair then
shares records (not disjoint) that agree on every shared variable (not renumbered), so
it is compared by records only, and the exact comparison sees two mostly unrelated
populations: the three records dropped from North/F go unflagged, although the two
tables' variables say they are one population less three."""

from __future__ import annotations

import pandas as pd
import pytest

from statbarn.differencing import differencing_check, find_differencing
from statbarn.profile import Profile
from statbarn.verdict import Verdict
from tests.unit.test_ledger_populations import _less_three, by, ledger, people

pytestmark = pytest.mark.unit


def _mostly_shifted(df: pd.DataFrame, keep: int) -> pd.DataFrame:
    out = df.copy()
    ids = out.index.to_numpy().copy()
    ids[keep:] += 10_000_000  # the first ``keep`` rows keep their ids (and categories)
    out.index = pd.Index(ids)
    return out


@pytest.mark.parametrize("keep", [1, 50, 596])  # 596: one id of 597 renamed
def test_ids_shifted_but_for_a_few_still_compared_by_variables(keep: int) -> None:
    df = people()
    old = ledger(by(df, "region", "sex"), "r1")
    # Hand check: the new table is the old one less 3 records in North/F.
    fewer = _mostly_shifted(_less_three(df), keep)
    new = ledger(by(fewer, "region", "sex"), "new")
    # Same data, ids not tampered with: caught (3 records).
    honest = ledger(by(_less_three(df), "region", "sex"), "honest")
    assert min(f.derived_value for f in find_differencing(honest, [old], 10)) == 3
    # Mostly shifted (a few ids kept, agreeing): must be caught as well.
    found = find_differencing(new, [old], 10)
    assert found and min(f.derived_value for f in found) == 3
    assert differencing_check(new, [old], Profile()).verdict is Verdict.ESCALATE


def test_huge_record_ids_give_a_decision_not_a_memory_error() -> None:
    # The join maps record ids to cells through a dense array as long as the largest id:
    # ids spread by 2**30 (a crafted sidecar, or a hashed key as the index) asked for
    # 2.3 TiB (MemoryError, or the process killed where memory is overcommitted), on
    # every later comparison with the released table.
    df = people()
    df.index = df.index * 2**30  # one population, its ids far apart in both tables
    old = ledger(by(df, "region", "sex"), "r1")
    new = ledger(by(_less_three(df), "region", "sex"), "new")
    found = find_differencing(new, [old], 10)
    # Hand check: 3 fewer in North/F, the same people otherwise.
    assert found and min(f.derived_value for f in found) == 3
    assert differencing_check(new, [old], Profile()).verdict is Verdict.ESCALATE


def test_record_ids_that_overflow_are_refused() -> None:
    # Deltas of 2**63 and 2**63 sum to 2**64: the unsigned sum wrapped to 0, the ids were
    # cast to one byte and came out [0, 0], two records with one id, silently.
    import base64
    import zlib

    import numpy as np

    from statbarn.errors import EvidenceError
    from statbarn.records import ENCODING, RecordSets

    def pack(values: list[int], dtype: str) -> str:
        raw = np.array(values, dtype=dtype).tobytes()
        return base64.b64encode(zlib.compress(raw)).decode("ascii")

    data = {"encoding": ENCODING, "n": 2, "cells_total": 1,
            "id_type": "<u8", "ids": pack([2**63, 2**63], "<u8"),
            "cell_type": "|u1", "cells": pack([0, 0], "|u1")}
    with pytest.raises(EvidenceError, match="record ids"):
        RecordSets.from_json(data, 1, 2)
