"""Catalog changes and questions.

Every change takes the caller's session, asks :mod:`tre.authz` (``check`` raises
:class:`~tre.authz.enforcer.Forbidden`) and writes its audit event in the same
transaction, with the decision that allowed it.  A grant is the custodian's own
act: only the dataset's custodian can grant it, so the approval recorded is theirs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tre import audit
from tre.authz.events import AuditAction, decision_details
from tre.catalog.models import TIERS, Dataset, Grant, Project
from tre.catalog.names import check_name
from tre.catalog.tiers import default_profile
from tre.clock import Clock
from tre.errors import TreError

if TYPE_CHECKING:
    from tre.authz.enforcer import Authz, Decision

GLOBAL = "*"
DATA_SUFFIXES = (".parquet", ".csv")


class CatalogError(TreError, ValueError):
    """A catalog change refused; the message says why (nothing was changed)."""

    code = "catalog"
    status = 422


def _now(clock: Clock) -> str:
    return clock.now().isoformat(timespec="seconds")


def _name(value: str, what: str) -> str:
    try:
        return check_name(value, what)
    except ValueError as exc:
        raise CatalogError(str(exc)) from None


def check_profile(name: str) -> str:
    """``name`` if statbarn can load it (TRE_PROFILES_DIR first, then statbarn's own)."""
    from statbarn.errors import ProfileError
    from statbarn.profile import load_profile
    from tre.settings import profile_file

    try:
        load_profile(profile_file(name) or name)
    except ProfileError as exc:
        raise CatalogError(f"disclosure profile: {exc}") from None
    return name


def _record(session: Session, decision: Decision, action: str, object_type: str,
            object_id: str, clock: Clock, project: str | None,
            details: dict[str, Any]) -> None:
    audit.record(session, actor=decision.subject, action=action, object_type=object_type,
                 object_id=object_id, project=project, clock=clock,
                 details={**details, **decision_details(decision)})


def get_project(session: Session, name: str) -> Project:
    project = session.get(Project, name)
    if project is None:
        raise CatalogError(f"no project {name!r} (tre project list)")
    return project


def get_dataset(session: Session, name: str) -> Dataset:
    dataset = session.get(Dataset, name)
    if dataset is None:
        raise CatalogError(f"no dataset {name!r} (tre dataset list)")
    return dataset


def create_project(session: Session, authz: Authz, *, name: str, title: str, profile: str,
                   actor: str, clock: Clock) -> Project:
    _name(name, "project name")
    decision = authz.check(actor, GLOBAL, "project", "create")
    if session.get(Project, name) is not None:
        raise CatalogError(f"project {name!r} exists already")
    project = Project(name=name, title=title.strip() or name, profile=check_profile(profile),
                      created_at=_now(clock), created_by=actor)
    session.add(project)
    session.flush()
    _record(session, decision, AuditAction.PROJECT_CREATE, "project", name, clock, name,
            {"title": project.title, "profile": profile})
    return project


def _check_location(location: Path) -> Path:
    path = location.expanduser().resolve()
    if not path.is_dir():
        raise CatalogError(f"{location}: not a directory (a dataset is a directory of "
                           "Parquet or CSV files)")
    if not any(p.suffix in DATA_SUFFIXES for p in path.rglob("*") if p.is_file()):
        raise CatalogError(f"{location}: no .parquet or .csv file in it")
    return path


def register_dataset(session: Session, authz: Authz, *, name: str, location: Path,
                     custodian: str, tier: int, profile: str | None, description: str,
                     actor: str, clock: Clock) -> Dataset:
    """``profile`` None: the tier's preset (tre.catalog.tiers: strict for tiers 3 and 4)."""
    _name(name, "dataset name")
    if tier not in TIERS:
        raise CatalogError(f"tier {tier}: must be one of {', '.join(map(str, TIERS))}")
    if profile is None:
        profile = default_profile(tier)
    if not custodian.strip():
        raise CatalogError("a dataset needs a custodian (--custodian USER)")
    decision = authz.check(actor, GLOBAL, "dataset", "register")
    if session.get(Dataset, name) is not None:
        raise CatalogError(f"dataset {name!r} is registered already")
    dataset = Dataset(name=name, location=str(_check_location(location)), custodian=custodian,
                      tier=tier, profile=check_profile(profile), description=description,
                      registered_at=_now(clock), registered_by=actor)
    session.add(dataset)
    session.flush()
    _record(session, decision, AuditAction.DATASET_REGISTER, "dataset", name, clock, None,
            {"location": dataset.location, "custodian": custodian, "tier": tier,
             "profile": profile})
    return dataset


def _grant(session: Session, project: str, dataset: str) -> Grant | None:
    return session.scalar(select(Grant).where(Grant.project == project,
                                              Grant.dataset == dataset))


def grant_dataset(session: Session, authz: Authz, *, project: str, dataset: str, actor: str,
                  note: str, clock: Clock) -> Grant:
    """Grant ``dataset`` to ``project``: the custodian's own approval, recorded."""
    get_project(session, project)
    ds = get_dataset(session, dataset)
    decision = authz.check(actor, project, "dataset", "grant")
    if actor != ds.custodian:
        raise CatalogError(f"only the custodian of {dataset} ({ds.custodian}) can approve "
                           f"granting it; {actor} is not")
    grant = _grant(session, project, dataset)
    if grant is not None and grant.revoked_at is None:
        raise CatalogError(f"{dataset} is granted to {project} already")
    if grant is None:
        grant = Grant(project=project, dataset=dataset)
        session.add(grant)
    grant.approved_by, grant.granted_at, grant.note = actor, _now(clock), note
    grant.revoked_at = grant.revoked_by = None
    session.flush()
    _record(session, decision, AuditAction.DATASET_GRANT, "dataset", dataset, clock, project,
            {"approved_by": actor, "custodian": ds.custodian, "note": note})
    return grant


def revoke_dataset(session: Session, authz: Authz, *, project: str, dataset: str, actor: str,
                   reason: str, clock: Clock) -> Grant:
    """Withdraw a grant.  Running workspaces keep the mount until they restart."""
    ds = get_dataset(session, dataset)
    decision = authz.check(actor, project, "dataset", "revoke")
    if actor != ds.custodian:
        raise CatalogError(f"only the custodian of {dataset} ({ds.custodian}) can revoke it")
    grant = _grant(session, project, dataset)
    if grant is None or grant.revoked_at is not None:
        raise CatalogError(f"{dataset} is not granted to {project}")
    grant.revoked_at, grant.revoked_by = _now(clock), actor
    session.flush()
    _record(session, decision, AuditAction.DATASET_REVOKE, "dataset", dataset, clock, project,
            {"reason": reason})
    return grant


# ---- questions -------------------------------------------------------------------------------


def list_projects(session: Session) -> list[Project]:
    return list(session.scalars(select(Project).order_by(Project.name)))


def list_datasets(session: Session) -> list[Dataset]:
    return list(session.scalars(select(Dataset).order_by(Dataset.name)))


def granted_datasets(session: Session, project: str) -> list[Dataset]:
    """The datasets granted to ``project`` now (not revoked)."""
    stmt = (select(Dataset).join(Grant, Grant.dataset == Dataset.name)
            .where(Grant.project == project, Grant.revoked_at.is_(None))
            .order_by(Dataset.name))
    return list(session.scalars(stmt))


def projects_of_dataset(session: Session, dataset: str) -> list[str]:
    stmt = select(Grant.project).where(Grant.dataset == dataset, Grant.revoked_at.is_(None))
    return sorted(session.scalars(stmt))


def workspace_projects(session: Session, authz: Authz, user: str) -> list[Project]:
    """The projects ``user`` may start a workspace in now (memberships expire by themselves)."""
    return [p for p in list_projects(session)
            if authz.user_can(user, p.name, "workspace", "spawn")]


def as_dict(obj: Project | Dataset | Grant) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, indent=2, default=str)
