"""From per-file verdicts to the request's outcome (DESIGN.md section 4).  Pure.

- every file passes and the profile allows automatic release: approve (and release);
- any file fails: reject, offering each failing table's safe alternative;
- otherwise: human review.

One refinement, taken from SACRO's "exception requests": a researcher may ask
for a person to look at a failing file, with a written justification.  Such a
file goes to review instead of rejecting the request, and the checker who
approves it overrides an automated fail, which needs its own written reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from airlock.domain.states import State

PASS, ESCALATE, FAIL = "pass", "escalate", "fail"
_SEVERITY = {PASS: 0, ESCALATE: 1, FAIL: 2}


def worst(verdicts: Sequence[str]) -> str:
    """fail > escalate > pass; no verdicts at all is a pass."""
    result = PASS
    for v in verdicts:
        if _SEVERITY[v] > _SEVERITY[result]:
            result = v
    return result


@dataclass(frozen=True)
class FileVerdict:
    """What the checks said about one file."""

    name: str
    verdict: str
    reasons: Sequence[str] = ()
    exception: str | None = None  # the researcher's justification for a human look
    has_alternative: bool = False

    def __post_init__(self) -> None:
        if self.verdict not in _SEVERITY:
            raise ValueError(f"unknown verdict {self.verdict!r}")


@dataclass(frozen=True)
class Reason:
    file: str | None
    verdict: str
    message: str

    def to_dict(self) -> dict[str, str | None]:
        return {"file": self.file, "verdict": self.verdict, "message": self.message}


@dataclass(frozen=True)
class Outcome:
    state: State  # APPROVED, REJECTED or IN_REVIEW
    reasons: list[Reason] = field(default_factory=list)

    @property
    def release(self) -> bool:
        """Approved automatically: the system releases it straight away."""
        return self.state is State.APPROVED

    def to_dict(self) -> dict[str, object]:
        return {"outcome": self.state.value, "reasons": [r.to_dict() for r in self.reasons]}


def _explain(f: FileVerdict) -> list[Reason]:
    if not f.reasons:
        return [Reason(f.name, f.verdict, f"{f.name}: {f.verdict}")]
    return [Reason(f.name, f.verdict, m) for m in f.reasons]


def free_text_chars(texts: Iterable[str | None]) -> int:
    """The characters of free text a request carries: every context, exception request and
    population, a text repeated (the request's context copied to each file) counted once."""
    return sum(len(t) for t in {t for t in texts if t})


def decide(files: Sequence[FileVerdict], *, allow_auto_release: bool,
           text_chars: int = 0, auto_release_text_chars: int | None = None,
           answered: bool = False) -> Outcome:
    """The outcome of a request whose files were checked.

    ``answered``: a revision carrying the researcher's answer to the checkers (free text
    written inside the workspace, shown outside once the request is released): it goes
    to a person, who reads the answer, however well its files pass.

    ``text_chars``: its free text (:func:`free_text_chars`); above
    ``auto_release_text_chars`` an all-pass request goes to a person: each field passes
    the identifier scan on its own, but a page of words nobody reads must not leave."""
    if not files:
        raise ValueError("a request holds at least one file")
    failing = [f for f in files if f.verdict == FAIL and not f.exception]
    if failing:
        reasons = [r for f in failing for r in _explain(f)]
        for f in failing:
            if f.has_alternative:
                reasons.append(Reason(f.name, FAIL, f"A safe alternative of {f.name} is "
                                      "attached: resubmit it in one step."))
        return Outcome(State.REJECTED, reasons)
    if all(f.verdict == PASS for f in files):
        if allow_auto_release and answered:
            return Outcome(State.IN_REVIEW, [Reason(
                None, PASS, "Every file passed, but the researcher answered the checkers: a "
                "person reads the answer before anything is released.")])
        if allow_auto_release and auto_release_text_chars is not None \
                and text_chars > auto_release_text_chars:
            return Outcome(State.IN_REVIEW, [Reason(
                None, PASS, f"Every file passed, but the request carries {text_chars:,} "
                f"characters of free text (context, exceptions, populations), more than the "
                f"{auto_release_text_chars:,} released without a person reading them: a "
                "person will review it.")])
        if allow_auto_release:
            return Outcome(State.APPROVED, [Reason(None, PASS, "Every file passed every check.")])
        return Outcome(State.IN_REVIEW, [Reason(
            None, PASS, "Every file passed, but this project's disclosure profile (or the "
            "airlock's settings) does not allow automatic release: a person will review it.")])
    reasons = []
    for f in files:
        if f.verdict == FAIL:
            reasons.append(Reason(f.name, FAIL, f"{f.name} fails a check; the researcher "
                                  f"asked for a review: {f.exception}"))
        elif f.verdict == ESCALATE:
            reasons.extend(_explain(f))
    return Outcome(State.IN_REVIEW, reasons)
