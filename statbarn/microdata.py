"""k-anonymity and distinct l-diversity for row-level (microdata) outputs.

An *equivalence class* is the set of records that share one combination of the
quasi-identifiers.  A missing value is a value of its own: records with no
recorded region form their own class, just as ``groupby(dropna=False)`` would.

* **k-anonymity**: k is the size of the smallest class; below the profile's
  ``k_anonymity`` a record can be singled out, so the check fails.
* **distinct l-diversity**: per class, the number of distinct *non-missing*
  values of each sensitive attribute; l is the minimum over classes and
  attributes.  Below the profile's ``l_diversity`` the attribute can be
  inferred for everyone in the class, so the check fails.
* **microdata**: row-level exports go to a human even when k and l hold,
  unless the profile sets ``allow_microdata_release``.

Everything works on whole columns: each column is factorized once, the codes
are combined into one int64 key per record (mixed radix, re-factorized before
it could overflow), class sizes come from ``np.bincount`` and distinct
sensitive values from the unique (class, value) pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from statbarn.errors import DuplicateHeaderError, EmptyInputError, InputError, UsageError
from statbarn.kinds import Statbarn
from statbarn.profile import Profile, load_profile
from statbarn.result import Assessment
from statbarn.verdict import CellFlag, CheckResult, Rule, Verdict

#: Most per-class flags one check carries; the rest are counted in its summary.
MAX_FLAGS = 1000

# Largest radix a combined key may reach before it is compressed (kept well
# below 2**63 so that ``key * cardinality + code`` cannot overflow int64).
_KEY_LIMIT = 2**62

IntArray = npt.NDArray[np.int64]


@dataclass
class MicrodataResult:
    """k, l and the verdict of one row-level output, with what to do about it."""

    k: int
    """Size of the smallest equivalence class over the quasi-identifiers."""
    l: int | None  # noqa: E741  (the statistic's usual name)
    """Fewest distinct non-missing sensitive values in any class; None without sensitive."""
    verdict: Verdict
    risky_rows: pd.Index
    """Index labels of records in a class below k_anonymity or below l_diversity."""
    class_sizes: pd.Series[int]
    """Size of each record's equivalence class, aligned with the frame's index."""
    suggestions: list[str]
    """Plain sentences: which quasi-identifier to coarsen, how many records to suppress."""
    assessment: Assessment

    @property
    def checks(self) -> list[CheckResult]:
        return self.assessment.checks

    @property
    def flags(self) -> list[CellFlag]:
        return self.assessment.flags


# --------------------------------------------------------------------------- input


def _names(value: Sequence[str] | str | None, what: str) -> list[str]:
    if value is None:
        return []
    names = [value] if isinstance(value, str) else list(value)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UsageError(f"{what} {name!r} is listed twice")
        seen.add(name)
    return names


def _validate(df: pd.DataFrame, qis: list[str], sensitive: list[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise UsageError(f"check_microdata needs a pandas DataFrame, not {type(df).__name__}")
    if not qis:
        raise UsageError(
            "no quasi-identifiers given: name the columns an attacker could know "
            "(for example age, sex, region)"
        )
    columns = set(df.columns)
    for what, names in (("quasi-identifier", qis), ("sensitive attribute", sensitive)):
        missing = [n for n in names if n not in columns]
        if missing:
            raise UsageError(
                f"{what} column(s) not in the data: {', '.join(map(repr, missing))} "
                f"(columns are: {', '.join(map(repr, df.columns))})"
            )
    both = [n for n in qis if n in set(sensitive)]
    if both:
        raise UsageError(
            f"column(s) {', '.join(map(repr, both))} given as both quasi-identifier and "
            "sensitive attribute; a column is one or the other"
        )
    duplicated = set(df.columns[df.columns.duplicated()])
    clash = [n for n in (*qis, *sensitive) if n in duplicated]
    if clash:
        raise DuplicateHeaderError(
            f"column name(s) {', '.join(map(repr, clash))} appear more than once in the data; "
            "rename them so each column can be addressed"
        )
    if len(df) == 0:
        raise EmptyInputError("the data has no records, so there is nothing to check")


def _factorize(column: pd.Series[Any], name: str, *, na_is_value: bool) -> tuple[IntArray, int]:
    """Integer codes (0..card-1) and cardinality of one column.

    Missing values (None, NaN, NA, NaT alike) get code -1, or with
    ``na_is_value`` one code of their own, as ``groupby(dropna=False)`` does.
    """
    try:
        raw, uniques = pd.factorize(column)
    except TypeError as exc:  # unhashable cells (lists, dicts)
        raise InputError(f"column {name!r} holds values that cannot be compared: {exc}") from None
    codes = np.asarray(raw, dtype=np.int64)
    card = len(uniques)
    if na_is_value:
        missing = codes < 0
        if missing.any():
            codes[missing] = card
            card += 1
    return codes, card


def _compress(key: IntArray) -> tuple[IntArray, int]:
    codes, uniques = pd.factorize(key)
    return np.asarray(codes, dtype=np.int64), len(uniques)


def _combine(parts: Sequence[tuple[IntArray, int]]) -> tuple[IntArray, int]:
    """One int64 key per record from several code arrays (mixed radix), and its radix."""
    key, radix = parts[0]
    key = key.copy()
    for codes, card in parts[1:]:
        if radix * card > _KEY_LIMIT:
            key, radix = _compress(key)
        key *= card
        key += codes
        radix *= card
    return key, radix


def _dense(key: IntArray, radix: int, n_records: int) -> tuple[IntArray, IntArray]:
    """Dense class codes (0..n_classes-1) per record and the size of each class."""
    if radix <= max(4 * n_records, 1 << 16):
        counts = np.bincount(key, minlength=radix)
        present = counts > 0
        if present.all():
            return key, counts.astype(np.int64)
        remap = np.cumsum(present, dtype=np.int64) - 1
        return remap[key], counts[present].astype(np.int64)
    codes, n_classes = _compress(key)
    return codes, np.bincount(codes, minlength=n_classes).astype(np.int64)


def _min_class(key: IntArray, radix: int, k_required: int) -> tuple[int, int]:
    """Smallest class size and records in classes below ``k_required``, for one key."""
    if radix > max(4 * len(key), 1 << 16):
        key, radix = _compress(key)
    counts = np.bincount(key, minlength=radix)
    counts = counts[counts > 0]
    return int(counts.min()), int(counts[counts < k_required].sum())


def _distinct_per_class(
    classes: IntArray, n_classes: int, values: IntArray, card: int
) -> IntArray:
    """Number of distinct non-missing values (codes >= 0) in each class."""
    present = values >= 0
    if card == 0 or not present.any():
        return np.zeros(n_classes, dtype=np.int64)
    pairs = pd.unique(classes[present] * card + values[present])
    return np.bincount(np.asarray(pairs) // card, minlength=n_classes).astype(np.int64)


class _ClassKeys:
    """Quasi-identifier values (a tuple) and their description for classes, cached."""

    def __init__(self, df: pd.DataFrame, qis: list[str], classes: IntArray, n_classes: int):
        self._frame, self._qis, self._classes, self._n = df[qis], qis, classes, n_classes
        self._first: IntArray | None = None
        self._cache: dict[int, tuple[tuple[Any, ...], str]] = {}

    def __call__(self, wanted: IntArray) -> list[tuple[tuple[Any, ...], str]]:
        new = [int(c) for c in wanted if int(c) not in self._cache]
        if new:
            if self._first is None:  # first record of every class, found once
                self._first = np.full(self._n, len(self._classes), dtype=np.int64)
                np.minimum.at(self._first, self._classes, np.arange(len(self._classes)))
            rows = self._frame.iloc[self._first[new]].itertuples(index=False, name=None)
            for c, key in zip(new, rows, strict=True):
                self._cache[c] = (key, _describe(key, self._qis))
        return [self._cache[int(c)] for c in wanted]


# ------------------------------------------------------------------------ wording


def _describe(key: tuple[Any, ...], qis: list[str]) -> str:
    return ", ".join(
        f"{name}={'missing' if _is_missing(value) else _show(value)}"
        for name, value in zip(qis, key, strict=True)
    )


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and bool(np.isnan(value))


def _plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


# ------------------------------------------------------------------------- checks


def _k_check(
    keys_of: _ClassKeys, qis: list[str], sizes: IntArray, k: int, limit: int
) -> CheckResult:
    qi_list = ", ".join(qis)
    small = np.flatnonzero(sizes < limit)
    if small.size == 0:
        return CheckResult(
            Rule.K_ANONYMITY,
            Verdict.PASS,
            summary=f"k = {k}: every combination of {qi_list} is shared by at least "
            f"{limit} records.",
        )
    small = small[np.argsort(sizes[small], kind="stable")]
    shown = small[:MAX_FLAGS]
    cells = [
        CellFlag(
            rule=Rule.K_ANONYMITY,
            verdict=Verdict.FAIL,
            row=key,
            col=None,
            value=int(sizes[c]),
            limit=limit,
            message=f"Only {_plural(int(sizes[c]), 'record')} "
            f"{'has' if sizes[c] == 1 else 'share'} {text}; at least {limit} "
            "must, or someone who knows these details could single a person out.",
        )
        for c, (key, text) in zip(shown, keys_of(shown), strict=True)
    ]
    records = int(sizes[small].sum())
    summary = (
        f"k = {k}, below the required {limit}: {_plural(small.size, 'combination')} of "
        f"{qi_list} {'is' if small.size == 1 else 'are'} shared by fewer than {limit} "
        f"records ({_plural(records, 'record')} in all)."
    )
    if small.size > len(shown):
        summary += (
            f" The {len(shown)} smallest are listed; {small.size - len(shown)} more "
            "are left out."
        )
    return CheckResult(Rule.K_ANONYMITY, Verdict.FAIL, cells, summary)


def _l_check(
    keys_of: _ClassKeys,
    qis: list[str],
    sensitive: list[str],
    sizes: IntArray,
    distinct: dict[str, IntArray],
    l_value: int,
    limit: int,
) -> CheckResult:
    qi_list = ", ".join(qis)
    failing = [(name, np.flatnonzero(counts < limit)) for name, counts in distinct.items()]
    n_fail = sum(f.size for _, f in failing)
    if n_fail == 0:
        return CheckResult(
            Rule.L_DIVERSITY,
            Verdict.PASS,
            summary=f"l = {l_value}: every combination of {qi_list} has at least {limit} "
            f"distinct values of {', '.join(sensitive)}.",
        )
    attr = np.concatenate([np.full(f.size, i, dtype=np.int64) for i, (_, f) in enumerate(failing)])
    cls = np.concatenate([f for _, f in failing])
    value = np.concatenate([distinct[name][f] for name, f in failing])
    order = np.lexsort((sizes[cls], value))[:MAX_FLAGS]
    cells = []
    for i, (key, text) in zip(order, keys_of(cls[order]), strict=True):
        name, count, size = sensitive[attr[i]], int(value[i]), int(sizes[cls[i]])
        what = "no recorded value" if count == 0 else f"only {_plural(count, 'distinct value')}"
        cells.append(
            CellFlag(
                rule=Rule.L_DIVERSITY,
                verdict=Verdict.FAIL,
                row=key,
                col=name,
                value=count,
                limit=limit,
                message=f"The {_plural(size, 'record')} with {text} "
                f"{'has' if size == 1 else 'have'} {what} of {name}; at least {limit} are "
                f"needed, or anyone who knows these details learns their {name}.",
            )
        )
    n_classes_failing = int(np.count_nonzero(np.bincount(cls, minlength=len(sizes))))
    summary = (
        f"l = {l_value}, below the required {limit}: "
        f"{_plural(n_classes_failing, 'combination')} of {qi_list} "
        f"{'has' if n_classes_failing == 1 else 'have'} fewer than {limit} distinct "
        f"non-missing values of {', '.join(n for n, f in failing if f.size)}."
    )
    if n_fail > len(cells):
        summary += (
            f" The {len(cells)} least diverse are listed; {n_fail - len(cells)} more "
            "are left out."
        )
    return CheckResult(Rule.L_DIVERSITY, Verdict.FAIL, cells, summary)


def _microdata_check(profile: Profile, safe: bool) -> CheckResult:
    """Row-level data goes to a person unless the profile allows it and k and l hold."""
    if not profile.allow_microdata_release:
        summary = f"Profile '{profile.name}' sends all row-level data to an output checker."
    elif not safe:
        summary = f"Profile '{profile.name}' releases row-level data only if k and l hold."
    else:
        summary = f"Profile '{profile.name}' releases row-level data that meets k and l."
    verdict = Verdict.PASS if profile.allow_microdata_release and safe else Verdict.ESCALATE
    return CheckResult(Rule.MICRODATA, verdict, summary=summary)


def _suggestions(
    qis: list[str],
    parts: list[tuple[IntArray, int]],
    sizes: IntArray,
    k: int,
    k_limit: int,
    l_failing: tuple[int, int] | None,
    l_limit: int,
) -> list[str]:
    out: list[str] = []
    n = len(parts[0][0])
    if n < k_limit:
        out.append(
            f"The output has only {_plural(n, 'record')}, fewer than {k_limit}: no coarsening "
            "can reach k; release an aggregate table instead."
        )
    elif k < k_limit:
        best: tuple[int, int, int] | None = None  # (k without qi, -records to suppress, -index)
        for i in range(len(qis)):
            rest = parts[:i] + parts[i + 1 :]
            k_i, drop_i = (n, 0) if not rest else _min_class(*_combine(rest), k_limit)
            candidate = (k_i, -drop_i, -i)
            if best is None or candidate > best:
                best = candidate
        assert best is not None
        k_best, drop_best, i_best = best[0], -best[1], -best[2]
        if k_best > k:
            after = (
                "every remaining group reaches the limit"
                if drop_best == 0
                else f"{_plural(drop_best, 'record')} would still be in groups below {k_limit}"
            )
            out.append(
                f"Coarsen {qis[i_best]!r} (for example into wider bands), or drop it: without "
                f"it the smallest group has {k_best} records instead of {k} ({after})."
            )
        else:
            out.append(
                f"Dropping any single quasi-identifier leaves k at {k}; coarsen several of "
                f"{', '.join(map(repr, qis))} together."
            )
        small = sizes < k_limit
        records = int(sizes[small].sum())
        out.append(
            f"Or suppress the {_plural(records, 'record')} in the "
            f"{_plural(int(small.sum()), 'group')} smaller than {k_limit} to reach k >= "
            f"{k_limit}."
        )
    if l_failing is not None:
        groups, records = l_failing
        out.append(
            f"{_plural(records, 'record')} in {_plural(groups, 'group')} "
            f"{'has' if records == 1 else 'have'} fewer than {l_limit} distinct sensitive "
            "values: coarsen the quasi-identifiers so these groups merge with others, or "
            "suppress them."
        )
    return out


# --------------------------------------------------------------------------- main


def check_microdata(
    df: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    sensitive: Sequence[str] | str | None = None,
    profile: Profile | str | None = None,
) -> MicrodataResult:
    """Check a row-level output for k-anonymity, distinct l-diversity and release policy.

    ``quasi_identifiers`` are the columns an attacker could know (a single name
    is accepted too); ``sensitive`` the columns whose values must not be
    inferable.  Missing quasi-identifier values form their own classes; missing
    sensitive values do not count towards l.  Raises a
    :class:`~statbarn.errors.InputError` subclass on unusable input.
    """
    qis = _names(quasi_identifiers, "quasi-identifier")
    sens = _names(sensitive, "sensitive attribute")
    _validate(df, qis, sens)
    prof = load_profile(profile)
    n = len(df)

    parts = [_factorize(df[name], name, na_is_value=True) for name in qis]
    classes, sizes = _dense(*_combine(parts), n)
    k = int(sizes.min())
    risky = sizes < prof.k_anonymity

    keys_of = _ClassKeys(df, qis, classes, len(sizes))
    checks = [_k_check(keys_of, qis, sizes, k, prof.k_anonymity)]
    l_value: int | None = None
    l_failing: tuple[int, int] | None = None
    if sens:
        distinct = {
            name: _distinct_per_class(
                classes, len(sizes), *_factorize(df[name], name, na_is_value=False)
            )
            for name in sens
        }
        least = np.minimum.reduce(list(distinct.values()))
        l_value = int(least.min())
        checks.append(
            _l_check(keys_of, qis, sens, sizes, distinct, l_value, prof.l_diversity)
        )
        diverse_enough = least >= prof.l_diversity
        if not diverse_enough.all():
            l_failing = (int((~diverse_enough).sum()), int(sizes[~diverse_enough].sum()))
        risky |= ~diverse_enough
    safe = all(c.verdict is Verdict.PASS for c in checks)
    checks.append(_microdata_check(prof, safe))

    assessment = Assessment(
        statbarn=Statbarn.MICRODATA,
        checks=checks,
        profile=prof,
        notes=[
            f"{n} records, {len(sizes)} equivalence classes over {', '.join(qis)}"
            + (f"; sensitive: {', '.join(sens)}" if sens else "; no sensitive attribute given")
        ],
    )
    return MicrodataResult(
        k=k,
        l=l_value,
        verdict=assessment.verdict,
        risky_rows=df.index[risky[classes]],
        class_sizes=pd.Series(sizes[classes], index=df.index, name="class_size"),
        suggestions=_suggestions(
            qis, parts, sizes, k, prof.k_anonymity, l_failing, prof.l_diversity
        ),
        assessment=assessment,
    )
