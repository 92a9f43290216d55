"""The demo's catalog and logins, seeded by ``tre up`` (development only).

Two projects, each with its own dataset and researchers:

* ``demo-project``: the ``ehr`` dataset (a synthetic OMOP-shaped health record,
  :mod:`tre.demo.ehr`); researchers alice and bob (policies/policy.csv);
* ``registry-study``: the ``registry`` dataset (a small synthetic cancer registry);
  researcher frank.

Everything goes through tre.authz and the audit log like any other change: grace
(governance) creates the projects, registers the datasets and adds the members;
cedric (the custodian) grants the datasets.  Everyone logs in with one generated
password, kept in the hub's state directory.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from tre.clock import Clock
from tre.db import transaction

PASSWORD_FILE = "demo_password"
GOVERNANCE = "grace"  # the demo's governance user (policies/policy.csv)
FOREVER = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoProject:
    name: str
    title: str
    dataset: str
    custodian: str
    researchers: tuple[str, ...]


DEMO_PROJECTS = (
    DemoProject("demo-project", "Demo: costs of care by region", "ehr", "cedric",
                ("alice", "bob")),
    DemoProject("registry-study", "Demo: cancer registry", "registry", "cedric", ("frank",)),
)
REGISTRY_SITES = ("breast", "lung", "colorectal", "prostate", "melanoma", "pancreas",
                  "mesothelioma")


def read_demo_password(state: Path) -> str | None:
    path = state / PASSWORD_FILE
    return path.read_text().strip() if path.is_file() else None


def demo_password(state: Path) -> str:
    """The demo's shared password, made once (readable by root only)."""
    existing = read_demo_password(state)
    if existing:
        return existing
    state.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path = state / PASSWORD_FILE
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password


def write_demo_data(dest: Path, persons: int | None = None) -> dict[str, Path]:
    """The demo's datasets under ``dest`` (written when missing, or when ``persons`` is
    given); their locations by dataset name."""
    from tre.demo.ehr import DEFAULT_PERSONS, write_ehr

    ehr, registry = dest / "ehr", dest / "registry"
    if persons is not None or not (ehr / "person.parquet").is_file():
        write_ehr(ehr, persons or DEFAULT_PERSONS)
    if not (registry / "registry.csv").is_file():
        write_registry(registry)
    return {"ehr": ehr, "registry": registry}


def write_registry(dest: Path, rows: int = 3000, seed: int = 20240602) -> Path:
    """A small synthetic cancer registry (one CSV), deterministic."""
    rng = np.random.default_rng(seed)
    weights = np.array([0.3, 0.22, 0.2, 0.2, 0.05, 0.025, 0.005])
    frame = pd.DataFrame({
        "case_id": np.arange(1, rows + 1),
        "site": rng.choice(REGISTRY_SITES, size=rows, p=weights / weights.sum()),
        "sex": rng.choice(("F", "M"), size=rows),
        "year": rng.integers(2015, 2025, size=rows),
        "stage": rng.choice(("I", "II", "III", "IV"), size=rows, p=(0.35, 0.3, 0.2, 0.15)),
    })
    dest.mkdir(parents=True, exist_ok=True)
    frame.to_csv(dest / "registry.csv", index=False)
    return dest


def seed(factory: sessionmaker[Session], clock: Clock, locations: dict[str, Path]
         ) -> list[str]:
    """Create what is missing of the demo's projects, datasets, memberships and grants,
    each by the demo user whose job it is, through tre.authz; idempotent.

    Returns what it created, for the log.
    """
    from tre.authz import load_authz
    from tre.catalog import service
    from tre.catalog.members import add_member
    from tre.catalog.models import Dataset, Project

    made: list[str] = []
    authz = load_authz(factory, clock)
    try:
        with transaction(factory) as session:
            for p in DEMO_PROJECTS:
                if session.get(Project, p.name) is None:
                    service.create_project(session, authz, name=p.name, title=p.title,
                                           profile="default", actor=GOVERNANCE, clock=clock)
                    made.append(f"project {p.name}")
                if session.get(Dataset, p.dataset) is None:
                    service.register_dataset(
                        session, authz, name=p.dataset, location=locations[p.dataset],
                        custodian=p.custodian, tier=2, profile="default",
                        description=f"synthetic demo data for {p.name}", actor=GOVERNANCE,
                        clock=clock)
                    made.append(f"dataset {p.dataset}")
        held = {(a.user, a.role, a.domain) for a in authz.memberships()}
        wanted = [(user, "researcher", p.name) for p in DEMO_PROJECTS for user in p.researchers]
        wanted += [(p.custodian, "data_custodian", p.name) for p in DEMO_PROJECTS]
        for user, role, project in wanted:
            if (user, role, project) not in held:
                add_member(factory, project=project, user=user, role=role, until=FOREVER,
                           actor=GOVERNANCE, reason="demo", clock=clock)
                made.append(f"{user} {role} in {project}")
        authz.refresh()
        with transaction(factory) as session:
            for p in DEMO_PROJECTS:
                if p.dataset not in {d.name for d in service.granted_datasets(session, p.name)}:
                    service.grant_dataset(session, authz, project=p.name, dataset=p.dataset,
                                          actor=p.custodian, note="demo", clock=clock)
                    made.append(f"grant {p.dataset} -> {p.name}")
    finally:
        authz.close()
    return made
