"""The policy in the database, and the processes that follow it.

Why our own tables rather than casbin-sqlalchemy-adapter: the adapter opens and
commits its own session, so a policy change could never share a transaction with
its audit event; a crash between the two would leave a change nobody recorded, or
a record of a change that never happened.  Here a change is one transaction:
the new version's rows, the head's new version number and the audit event
(tre.authz.apply).

Tables (migration 0003_governance):

* ``policy_head``: one row, the version in force.  Writers lock it (serialising
  changes); every process polls it (``TRE_POLICY_POLL_SECONDS``) and reloads when
  it moves, so a change is seen everywhere within seconds, without a restart.
* ``policy_versions``: every version ever in force, with its text (as the editor
  wrote it), editor, approver, reason and time.  Versions are never changed.
* ``policy_rules``: the rules and memberships of each version, one row per line,
  so reports can query them; the authorisation point loads from here.
* ``policy_truth_tables`` (migration 0007_governance_tables): the truth tables in force
  from a version on, stored with the version that brought them (the seed, or a change
  that proposed new tables and was approved by a second governance user).  Every apply
  runs the tables in force: they are part of what is proposed and reviewed, never an
  option of the command that applies.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from tre import audit
from tre.authz.enforcer import Authz, Decision
from tre.authz.events import AuditAction
from tre.authz.lint import Known, read_policy_file
from tre.authz.policyfile import Assignment, Policy, Rule
from tre.authz.settings import PolicySettings
from tre.authz.truthtable import Tables, read_tables
from tre.clock import Clock, SystemClock
from tre.db import Base, transaction

log = logging.getLogger(__name__)


class PolicyHead(Base):
    __tablename__ = "policy_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)  # 0: nothing stored yet
    changed_at: Mapped[str] = mapped_column(String(40))


class PolicyVersion(Base):
    __tablename__ = "policy_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    editor: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


class PolicyRuleRow(Base):
    __tablename__ = "policy_rules"

    version: Mapped[int] = mapped_column(
        ForeignKey("policy_versions.version"), primary_key=True, autoincrement=False
    )
    line: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ptype: Mapped[str] = mapped_column(String(1))  # p: rule, g: membership
    v0: Mapped[str] = mapped_column(String(200))  # role | user
    v1: Mapped[str] = mapped_column(String(200))  # project | role
    v2: Mapped[str] = mapped_column(String(200))  # object | project
    v3: Mapped[str] = mapped_column(String(200))  # action | from (ISO, UTC)
    v4: Mapped[str] = mapped_column(String(200))  # effect | until (ISO, UTC)


class PolicyTruthTable(Base):
    __tablename__ = "policy_truth_tables"

    version: Mapped[int] = mapped_column(
        ForeignKey("policy_versions.version"), primary_key=True, autoincrement=False
    )
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


def store_tables(session: Session, version: int, tables: Tables) -> None:
    import hashlib

    for name, text in sorted(tables.items()):
        session.add(PolicyTruthTable(version=version, name=name, text=text,
                                     sha256=hashlib.sha256(text.encode()).hexdigest()))
    session.flush()


def tables_in_force(session: Session, settings: PolicySettings) -> tuple[Tables, str]:
    """The truth tables every change must pass, and where they come from: those stored
    with the latest version that has any; a database from before they were stored: the
    files of ``TRE_POLICY_TESTS_DIR`` (stored with the next change)."""
    latest = session.scalar(select(PolicyTruthTable.version)
                            .order_by(PolicyTruthTable.version.desc()).limit(1))
    if latest is None:
        return read_tables([settings.tests_dir]), str(settings.tests_dir)
    rows = session.scalars(select(PolicyTruthTable).where(PolicyTruthTable.version == latest))
    return {r.name: r.text for r in rows}, f"policy version {latest}"


def lock_head(session: Session) -> PolicyHead:
    """The head row, locked until the transaction ends (created if missing)."""
    head = session.get(PolicyHead, 1, with_for_update=True)
    if head is None:
        head = PolicyHead(id=1, version=0, changed_at="")
        session.add(head)
        session.flush()
    return head


def current_version(session: Session) -> int:
    return session.scalar(select(PolicyHead.version).where(PolicyHead.id == 1)) or 0


def load_version(session: Session, version: int) -> Policy:
    row = session.get(PolicyVersion, version)
    if row is None:
        raise LookupError(f"policy version {version} is not in the database")
    rules: list[Rule] = []
    members: list[Assignment] = []
    for r in session.scalars(
        select(PolicyRuleRow).where(PolicyRuleRow.version == version).order_by(PolicyRuleRow.line)
    ):
        if r.ptype == "p":
            rules.append(Rule(r.v0, r.v1, r.v2, r.v3, r.v4, r.line))
        else:
            start, until = datetime.fromisoformat(r.v3), datetime.fromisoformat(r.v4)
            members.append(Assignment(r.v0, r.v1, r.v2, start, until, r.line))
    return Policy(tuple(rules), tuple(members), f"policy version {version}", row.text)


def store_version(
    session: Session,
    head: PolicyHead,
    policy: Policy,
    *,
    editor: str,
    reason: str,
    clock: Clock,
    approved_by: str | None = None,
) -> int:
    """Add ``policy`` as the next version and put it in force (head locked by the caller)."""
    version = head.version + 1
    at = clock.now().isoformat(timespec="microseconds")
    session.add(PolicyVersion(version=version, at=at, editor=editor, approved_by=approved_by,
                              reason=reason, source=policy.source[:500], sha256=policy.sha256,
                              text=policy.text or policy.to_csv()))
    session.flush()  # the version row first: the rule rows refer to it
    for r in policy.rules:
        session.add(PolicyRuleRow(version=version, line=r.line, ptype="p", v0=r.role,
                                  v1=r.domain, v2=r.obj, v3=r.action, v4=r.effect))
    for a in policy.assignments:
        session.add(PolicyRuleRow(version=version, line=a.line, ptype="g", v0=a.user, v1=a.role,
                                  v2=a.domain, v3=a.start.isoformat(), v4=a.until.isoformat()))
    head.version, head.changed_at = version, at
    session.flush()
    return version


def ensure_seeded(factory: sessionmaker[Session], settings: PolicySettings, clock: Clock) -> int:
    """The version in force, storing the seed file first if the database has none."""
    with factory() as session:
        version = current_version(session)
    if version:
        return version
    policy = read_policy_file(settings.seed_file, clock.now())  # before locking: may be refused
    tables = read_tables([settings.tests_dir])
    with transaction(factory) as session:
        head = lock_head(session)
        if head.version:  # another process seeded while we read the file
            return head.version
        version = store_version(session, head, policy, editor="system",
                                reason="first use: seeded from the policy file", clock=clock)
        store_tables(session, version, tables)
        audit.record(session, actor="system", action=AuditAction.POLICY_SEED, object_type="policy",
                     object_id=str(version), clock=clock,
                     details={"version": version, "source": str(settings.seed_file),
                              "sha256": policy.sha256, "truth_tables": sorted(tables)})
    return version


def known_names(session: Session) -> Known:
    """Users and projects the platform has seen: the policy in force and the audit log."""
    users: set[str] = set()
    projects: set[str] = set()
    version = current_version(session)
    if version:
        policy = load_version(session, version)
        users |= policy.users()
        projects |= policy.projects()
    users |= set(session.scalars(select(audit.AuditEvent.actor).distinct()))
    projects |= {p for p in session.scalars(select(audit.AuditEvent.project).distinct()) if p}
    return Known(frozenset(users - {"system"}), frozenset(projects))


class StoredAuthz(Authz):
    """The authorisation point on the database's policy, following its changes."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        policy: Policy,
        clock: Clock | None,
        *,
        settings: PolicySettings,
        version: int,
    ) -> None:
        super().__init__(policy, clock, model=settings.model_file, version=version)
        self._factory, self._poll = factory, settings.poll_seconds
        self._stop = threading.Event()
        self._pid = -1

    @classmethod
    def open(
        cls, factory: sessionmaker[Session], clock: Clock | None, settings: PolicySettings
    ) -> StoredAuthz:
        clock = clock or SystemClock()
        version = ensure_seeded(factory, settings, clock)
        with factory() as session:
            policy = load_version(session, version)
        authz = cls(factory, policy, clock, settings=settings, version=version)
        authz._follow()
        return authz

    def refresh(self) -> bool:
        with self._factory() as session:
            version = current_version(session)
            if version == self.version:
                return False
            policy = load_version(session, version)
        self.replace(policy, version)
        log.info("policy version %s in force", version)
        return True

    def close(self) -> None:
        self._stop.set()

    def enforce(
        self,
        subject: str,
        domain: str,
        obj: str,
        action: str,
        context: Mapping[str, str] | None = None,
        *,
        at: datetime | None = None,
    ) -> Decision:
        if self._pid != os.getpid() and not self._stop.is_set():
            self._follow()  # forked since: threads do not survive a fork
        return super().enforce(subject, domain, obj, action, context, at=at)

    def _follow(self) -> None:
        self._pid = os.getpid()
        thread = threading.Thread(target=self._poll_loop, name="tre-policy-poll", daemon=True)
        thread.start()

    def _poll_loop(self) -> None:
        # A background thread, so that a decision never waits on the database (on SQLite a
        # read would queue behind the caller's own open write transaction).
        while not self._stop.wait(self._poll):
            try:
                self.refresh()
            except Exception as exc:  # keep deciding with the last policy; try again
                log.warning("cannot read the policy version: %s", exc)
