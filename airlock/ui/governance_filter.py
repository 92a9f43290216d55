"""The governance page's search and filters: by project, by user, and free text.

The page is read by governance leads looking for one person or one project;
unfiltered it is every membership and every permission.  Filtering happens on
the view models (pure): the same rows, fewer of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airlock.ui.governance_edit import Effective
from airlock.ui.other_pages import GovernancePage


@dataclass(frozen=True)
class GovFilters:
    project: str = ""
    user: str = ""
    q: str = ""

    @classmethod
    def parse(cls, params: Any) -> GovFilters:
        def get(name: str) -> str:
            return " ".join(str(params.get(name) or "").split())[:200]

        return cls(get("project"), get("user"), get("q").lower())

    @property
    def active(self) -> bool:
        return bool(self.project or self.user or self.q)

    def keeps(self, project: str, user: str, *text: str) -> bool:
        if self.project and project not in (self.project, "*"):
            return False
        if self.user and user.lower() != self.user.lower():
            return False
        hay = " ".join((project, user, *text)).lower()
        return not self.q or self.q in hay


def apply(f: GovFilters, page: GovernancePage, perms: Effective) -> None:
    """Narrow the page's rows in place (nothing to do without a filter)."""
    if not f.active:
        return
    page.memberships = [m for m in page.memberships if f.keeps(m.project, m.user, m.role)]
    page.projects = [p for p in page.projects
                     if (not f.project or p.project == f.project) and not f.user
                     and (not f.q or f.q in f"{p.project} {p.title} {p.profile}".lower())]
    perms.expiries = [e for e in perms.expiries if f.keeps(e.project, e.user, e.role)]
    perms.by_user = {u: kept for u, where in perms.by_user.items()
                     if (kept := {d: w for d, w in where.items()
                                  if f.keeps(d, u, *w)})}
    by_project: dict[str, dict[str, list[str]]] = {}
    for d, whats in perms.by_project.items():
        for what, users in whats.items():
            who = [u for u in users if f.keeps(d, u, what)]
            if who:
                by_project.setdefault(d, {})[what] = who
    perms.by_project = by_project


def choices(page: GovernancePage) -> tuple[list[str], list[str]]:
    """The projects and users the filters offer (before filtering)."""
    projects = sorted({m.project for m in page.memberships if m.project != "*"}
                      | {p.project for p in page.projects})
    users = sorted({m.user for m in page.memberships})
    return projects, users
