"""The canonical copy of one file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Canonical:
    """A file made by the airlock from what it parsed of a submitted file.

    ``removed`` lists, in sentences, what the submitted file held that the copy does
    not (for the release record and the researcher); ``sha256`` and ``size`` are set
    once the copy is in the store.
    """

    path: Path
    made: str  # how: "re-encoded from its pixels", ...
    removed: list[str] = field(default_factory=list)
    sha256: str = ""  # set when stored
    size: int = 0

    def to_json(self, submitted_sha256: str, submitted_size: int) -> dict[str, Any]:
        """What the file's row (and the release record) keeps of it."""
        return {"submitted_sha256": submitted_sha256, "submitted_size": submitted_size,
                "made": self.made, "removed": list(self.removed)}
