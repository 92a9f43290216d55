"""The result of checking one output: what the CLI prints and the airlock stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from statbarn.kinds import Statbarn
from statbarn.profile import Profile
from statbarn.verdict import CellFlag, CheckResult, Verdict, worst

STATBARN_VERSION = "0.1.0"


class AssessedOutput:
    """Shared by every output object: verdict, flags and checks come from its assessment."""

    assessment: Assessment

    @property
    def verdict(self) -> str:
        return self.assessment.verdict.value

    @property
    def flags(self) -> list[CellFlag]:
        return self.assessment.flags

    @property
    def checks(self) -> list[CheckResult]:
        return self.assessment.checks


@dataclass
class Assessment:
    """Verdict of one output (a table, a model, microdata or an uncheckable file)."""

    statbarn: Statbarn
    checks: list[CheckResult]
    profile: Profile
    statistic: str | None = None
    file: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        if self.statbarn is Statbarn.UNKNOWN and not self.checks:
            return Verdict.ESCALATE
        return worst(c.verdict for c in self.checks)

    @property
    def flags(self) -> list[CellFlag]:
        return [cell for check in self.checks for cell in check.cells]

    def check(self, rule: str) -> CheckResult | None:
        return next((c for c in self.checks if c.rule == rule), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "statbarn": self.statbarn.value,
            "statistic": self.statistic,
            "verdict": self.verdict.value,
            "checks": [c.to_dict() for c in self.checks],
            "profile": self.profile.summary(),
            "statbarn_version": STATBARN_VERSION,
            "notes": list(self.notes),
        }
