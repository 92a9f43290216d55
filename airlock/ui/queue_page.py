"""The review queue: what waits, oldest first, with the filters checkers asked for.

Filters (all optional, combined): project, dataset, age (waiting at least N
days), statbarn (the kind of output any file holds: frequency, linear
aggregate, ...) and reviewers still needed.  "Reviewers still needed" is the
number of further people who must vote before the quorum: the profile's
reviewers required minus the votes on the least-reviewed file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airlock.domain.review import same_user
from airlock.service.context import Ctx
from airlock.ui.queries import QueueRow, queue_rows
from tre.clock import utc

AGES = {"": "any age", "1": "1 day or more", "3": "3 days or more", "7": "7 days or more"}


@dataclass(frozen=True)
class Filters:
    project: str = ""
    dataset: str = ""
    age: str = ""
    statbarn: str = ""
    needed: str = ""

    @classmethod
    def parse(cls, params: Any) -> Filters:
        def get(name: str) -> str:
            return str(params.get(name) or "").strip()[:200]

        age = get("age")
        needed = get("needed")
        return cls(get("project"), get("dataset"), age if age in AGES else "",
                   get("statbarn"), needed if needed in ("1", "2") else "")

    @property
    def active(self) -> bool:
        return any((self.project, self.dataset, self.age, self.statbarn, self.needed))


@dataclass
class Item:
    id: str
    project: str
    dataset: str | None
    requester: str
    created_at: datetime
    waiting: str
    days: float
    files: int
    statbarns: list[str]
    verdicts: dict[str, int]
    required: int
    needed: int
    voters: list[str]
    mine: bool  # the viewer made it: cannot review
    voted: bool  # the viewer has voted on every file


@dataclass
class QueuePage:
    items: list[Item]
    waiting: int  # everything in the viewer's queue, before filters
    filters: Filters
    loaded: int = 0  # how many of the (project's) oldest were read: QUEUE_LIMIT at most
    in_scope: int = 0  # how many wait in scope (the chosen project, else every one)
    projects: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    statbarns: list[str] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        """More wait in scope than were read: the newest are not listed."""
        return self.in_scope > self.loaded


def _waiting(seconds: float) -> str:
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def _item(row: QueueRow, user: str, now: datetime) -> Item:
    r = row.req
    per_file = [len(row.votes.get(f.id, ())) for f in r.files] or [0]
    statbarns = sorted({str(c.result.get("statbarn") or "unknown") for f in r.files
                        for c in f.checks})
    verdicts: dict[str, int] = {}
    for f in r.files:
        verdicts[f.verdict or "unchecked"] = verdicts.get(f.verdict or "unchecked", 0) + 1
    age = (now - utc(r.created_at)).total_seconds()
    voters = sorted({v for vs in row.votes.values() for v in vs})
    voted = bool(r.files) and all(any(same_user(v, user) for v in row.votes.get(f.id, ()))
                                  for f in r.files)
    return Item(r.id, r.project, r.dataset, r.requester, r.created_at, _waiting(age),
                age / 86400, len(r.files), statbarns, verdicts, r.reviewers_required,
                max(0, r.reviewers_required - min(per_file)), voters,
                same_user(r.requester, user), voted)


def _keep(item: Item, f: Filters) -> bool:
    return ((not f.project or item.project == f.project)
            and (not f.dataset or item.dataset == f.dataset)
            and (not f.age or item.days >= float(f.age))
            and (not f.statbarn or f.statbarn in item.statbarns)
            and (not f.needed or item.needed == int(f.needed)))


def build(ctx: Ctx, user: str, filters: Filters) -> QueuePage:
    """The project filter is applied by the database (so a project's requests are all
    reachable however long the queue); the others to the oldest QUEUE_LIMIT read."""
    now = ctx.clock.now()
    queue = queue_rows(ctx, user, filters.project)
    items = [_item(r, user, now) for r in queue.rows]
    in_scope = queue.waiting.get(filters.project, 0) if filters.project else \
        sum(queue.waiting.values())
    page = QueuePage([i for i in items if _keep(i, filters)], sum(queue.waiting.values()),
                     filters, loaded=len(items), in_scope=in_scope)
    page.projects = sorted(queue.waiting)
    page.datasets = sorted({i.dataset for i in items if i.dataset})
    page.statbarns = sorted({s for i in items for s in i.statbarns})
    return page
