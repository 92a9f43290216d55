"""The review queue: what waits, oldest first, with the filters checkers asked for.

Filters (all optional, combined): project, dataset, age (waiting at least N
days), statbarn (the kind of output any file holds: frequency, linear
aggregate, ...), reviewers still needed, and the reason it waits (a small cell,
differencing, no evidence, an exception asked, a type statbarn cannot check:
:mod:`airlock.ui.triage`).  Each row shows the researcher's title, the file
names and the start of the context, so fifty waiting requests are told apart.
The "decided" tab lists requests no longer in review that the checker may read,
newest first, with a search over title, id, requester and file names.

"Reviewers still needed" is the number of further people who must vote before
the quorum: the profile's reviewers required minus the votes on the least-reviewed file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airlock.domain.review import same_user
from airlock.review_limits import excerpt
from airlock.service import queue as queue_service
from airlock.service.context import Ctx
from airlock.service.queue import DECIDED_LIMIT, RequestSummary
from airlock.ui import triage
from tre.clock import utc

MAX_NAMES = 4
AGES = {"": "any age", "1": "1 day or more", "3": "3 days or more", "7": "7 days or more"}


@dataclass(frozen=True)
class Filters:
    project: str = ""
    dataset: str = ""
    age: str = ""
    statbarn: str = ""
    needed: str = ""
    reason: str = ""

    @classmethod
    def parse(cls, params: Any) -> Filters:
        def get(name: str) -> str:
            return str(params.get(name) or "").strip()[:200]

        age = get("age")
        needed = get("needed")
        reason = get("reason")
        return cls(get("project"), get("dataset"), age if age in AGES else "",
                   get("statbarn"), needed if needed in ("1", "2") else "",
                   reason if reason in triage.REASONS else "")

    @property
    def active(self) -> bool:
        return any((self.project, self.dataset, self.age, self.statbarn, self.needed,
                    self.reason))


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
    title: str = ""
    names: list[str] = field(default_factory=list)  # the first MAX_NAMES file names
    more_names: int = 0
    excerpt: str = ""
    reasons: list[str] = field(default_factory=list)  # keys of triage.REASONS
    state: str = ""

    @property
    def reason_labels(self) -> list[tuple[str, str]]:
        return [(k, triage.REASONS[k]) for k in self.reasons]


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


def _item(r: RequestSummary, user: str, now: datetime) -> Item:
    per_file = [len(r.votes.get(f.id, ())) for f in r.files] or [0]
    statbarns = sorted({sb for f in r.files for sb in f.statbarns})
    verdicts: dict[str, int] = {}
    for f in r.files:
        verdicts[f.verdict or "unchecked"] = verdicts.get(f.verdict or "unchecked", 0) + 1
    age = (now - utc(r.created_at)).total_seconds()
    voters = sorted({v for vs in r.votes.values() for v in vs})
    voted = bool(r.files) and all(any(same_user(v, user) for v in r.votes.get(f.id, ()))
                                  for f in r.files)
    item = Item(r.id, r.project, r.dataset, r.requester, r.created_at, _waiting(age),
                age / 86400, len(r.files), statbarns, verdicts, r.reviewers_required,
                max(0, r.reviewers_required - min(per_file)), voters,
                same_user(r.requester, user), voted)
    describe(item, r)
    return item


def describe(item: Item, r: RequestSummary) -> None:
    """What tells one request from another: title, file names, context, reasons."""
    item.title = r.title or ""
    item.names = [f.name for f in r.files[:MAX_NAMES]]
    item.more_names = max(0, len(r.files) - MAX_NAMES)
    item.excerpt = excerpt(next((f.context for f in r.files if f.context), ""))
    item.reasons = triage.reasons(triage.FileFacts(f.checks, bool(f.exception and
                                                                  f.exception.strip()))
                                  for f in r.files)
    item.state = r.state


def _keep(item: Item, f: Filters) -> bool:
    return ((not f.project or item.project == f.project)
            and (not f.dataset or item.dataset == f.dataset)
            and (not f.age or item.days >= float(f.age))
            and (not f.statbarn or f.statbarn in item.statbarns)
            and (not f.needed or item.needed == int(f.needed))
            and (not f.reason or f.reason in item.reasons))


def build(ctx: Ctx, user: str, filters: Filters) -> QueuePage:
    """The project filter is applied by the database (so a project's requests are all
    reachable however long the queue); the others to the oldest QUEUE_LIMIT read."""
    now = ctx.clock.now()
    queue = queue_service.queue(ctx, user, filters.project)
    items = [_item(r, user, now) for r in queue.rows]
    in_scope = queue.waiting.get(filters.project, 0) if filters.project else \
        sum(queue.waiting.values())
    page = QueuePage([i for i in items if _keep(i, filters)], sum(queue.waiting.values()),
                     filters, loaded=len(items), in_scope=in_scope)
    page.projects = sorted(queue.waiting)
    page.datasets = sorted({i.dataset for i in items if i.dataset})
    page.statbarns = sorted({s for i in items for s in i.statbarns})
    return page


@dataclass
class DecidedPage:
    items: list[Item]
    q: str
    limit: int


def decided(ctx: Ctx, user: str, q: str) -> DecidedPage:
    """Requests out of review (newest first) in the projects whose queue the user reads."""
    now = ctx.clock.now()
    q = " ".join(q.split())[:200]
    rows = queue_service.decided(ctx, user, q)
    return DecidedPage([_item(r, user, now) for r in rows], q, DECIDED_LIMIT)
