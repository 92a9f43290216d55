"""Governance records besides the policy: applied profile versions and pending proposals.

* ``profile_versions``: every disclosure profile version applied through
  ``tre profile apply``, with the file as written and the resolved parameters
  (after ``extends:``), so a check result stamped "strict, version 3" can always
  be explained with the parameters of its day.  (name, version) is unique: one
  version number never means two sets of parameters.
* ``governance_proposals``: a policy or profile change waiting for a second
  governance user's approval (``TRE_POLICY_SECOND_APPROVAL``).
"""

from __future__ import annotations

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tre.db import Base

PENDING, APPLIED = "pending", "applied"


class ProfileVersion(Base):
    __tablename__ = "profile_versions"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_profile_versions_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[str] = mapped_column(String(100))
    at: Mapped[str] = mapped_column(String(40))
    editor: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))  # of the resolved parameters
    text: Mapped[str] = mapped_column(Text)  # the YAML as the editor wrote it
    params: Mapped[str] = mapped_column(Text)  # JSON: the resolved profile


class Proposal(Base):
    __tablename__ = "governance_proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # policy | profile
    name: Mapped[str] = mapped_column(String(200))  # "policy", or the profile's name
    base: Mapped[str] = mapped_column(String(100))  # what was in force when proposed
    source: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    params: Mapped[str | None] = mapped_column(Text)  # profiles: resolved when proposed
    editor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), index=True)  # pending | applied
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[str | None] = mapped_column(String(40))
