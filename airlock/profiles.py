"""A project's disclosure profile (its risk appetite) and its datasets, as the catalog says.

Always the project's profile, never the one recorded in an evidence sidecar (the
researcher's own process wrote that).  The project's profile *name* comes from
the catalog (``tre project``); for a project the catalog does not know, from
``TRE_AIRLOCK_PROJECT_PROFILES`` or ``TRE_PROFILE``.  The profile's *parameters*
come from the version governance applied (``tre profile apply``), else the
profile file.  Answers are cached for a couple of seconds, so a governance change
applies within moments without a restart, and a burst of requests reads the
catalog once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from airlock.settings import Resolved
from statbarn.errors import ProfileError
from statbarn.profile import Profile
from tre.authz.profiles import current_profile
from tre.catalog.models import Project
from tre.catalog.service import granted_datasets

TTL_SECONDS = 2.0


@dataclass(frozen=True)
class ProjectInfo:
    profile: Profile
    in_catalog: bool
    datasets: frozenset[str]  # granted now (empty when the catalog does not know the project)


class ProfileResolver:
    def __init__(self, settings: Resolved, db: sessionmaker[Session],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        # The cache's expiry runs on a monotonic clock (wall-clock jumps must not keep a
        # stale profile); injected so that tests move it instead of sleeping.
        self.settings, self.db, self._monotonic = settings, db, monotonic
        self._cache: dict[str, tuple[float, ProjectInfo]] = {}
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # never taken while holding a database session

    def info(self, project: str) -> ProjectInfo:
        hit = self._fresh(project, self._monotonic())
        if hit is not None:
            return hit
        # One thread reads the catalog (and parses the profile) while the others wait for
        # its answer, rather than every request of a burst doing it again at expiry.
        with self._refreshing:
            now = self._monotonic()
            hit = self._fresh(project, now)
            if hit is not None:
                return hit
            return self._read(project, now)

    def _fresh(self, project: str, now: float) -> ProjectInfo | None:
        with self._lock:
            hit = self._cache.get(project)
            return hit[1] if hit is not None and hit[0] > now else None

    def _read(self, project: str, now: float) -> ProjectInfo:
        with self.db() as s:
            row = s.get(Project, project)
            name = row.profile if row is not None else self.settings.profile_for(project)
            profile, origin = current_profile(s, name)
            datasets = frozenset(d.name for d in granted_datasets(s, project)) if row else \
                frozenset()
        if profile is None:
            raise ProfileError(f"project {project!r} uses the disclosure profile {name!r}, "
                               f"which cannot be found ({origin})")
        info = ProjectInfo(profile, row is not None, datasets)
        with self._lock:
            self._cache[project] = (now + TTL_SECONDS, info)
        return info

    def __call__(self, project: str) -> Profile:
        return self.info(project).profile
