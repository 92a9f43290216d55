"""A review as a draft: every file's choice is edited on the page, then sent once.

Pure (no I/O).  :func:`summarise` says, before anything is recorded, what the
review does: each file's choice, whether it completes the quorum (after which
nothing can be changed: the request is released, returned or rejected), and
the consequences a checker should not discover afterwards, e.g. that rejecting
one file rejects the whole request, approved files included (the airlock
decides a request as a whole: see ``airlock/ui/README.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

WORDS = {"approve": "approve", "reject": "reject", "request_changes": "request changes to"}


@dataclass(frozen=True)
class DraftFile:
    id: str
    name: str
    votes: int  # votes already cast on it (by others: the viewer has not voted on it)


@dataclass
class Summary:
    lines: list[str]
    completes: bool  # these votes complete the quorum: the request is decided at once
    missing: list[str] = field(default_factory=list)  # files still without a choice
    warnings: list[str] = field(default_factory=list)

    @property
    def irreversible(self) -> bool:
        return self.completes


def summarise(files: Sequence[DraftFile], choices: Mapping[str, str], required: int,
              others_pending: int = 0) -> Summary:
    """``files``: those the viewer may still vote on; ``choices``: file id -> choice;
    ``others_pending``: files of the request the viewer cannot vote on that still lack
    votes (the quorum waits for them)."""
    lines = [f"{WORDS.get(choices[f.id], choices[f.id])} {f.name}"
             for f in files if f.id in choices]
    missing = [f.name for f in files if f.id not in choices]
    completes = not missing and others_pending == 0 and all(
        f.votes + 1 >= required for f in files)
    out = Summary(lines, completes, missing)
    rejected = [f.name for f in files if choices.get(f.id) == "reject"]
    approved = [f.name for f in files if choices.get(f.id) == "approve"]
    if rejected and approved:
        out.warnings.append(
            f"Rejecting {', '.join(rejected)} rejects the whole request, including "
            f"{', '.join(approved)} that you approve: choose \u201crequest changes\u201d "
            "instead to return it, so the researcher can resubmit without it.")
    if completes and required == 1:
        if approved and len(approved) == len(files):
            out.warnings.append("This releases the request at once: the files leave the "
                                "TRE and cannot be called back.")
        elif rejected:
            out.warnings.append("This rejects the request at once.")
        else:
            out.warnings.append("This returns the request to the researcher at once.")
    elif completes:
        out.warnings.append("Yours are the last votes needed: the request is decided at once "
                            "by everyone's votes together, and nothing can be changed after.")
    return out
