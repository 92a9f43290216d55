"""The documented keys of the chart's values.yaml: each key with the comment above it.

values.yaml documents every key with a ``# -- `` comment block right above it (the
helm-docs convention).  :func:`documented_keys` reads them, without a YAML library's
help (PyYAML drops comments), so the tests can hold values.yaml and
values.schema.json in step: the same keys, the same descriptions.
"""

from __future__ import annotations

import re
from pathlib import Path

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z][A-Za-z0-9]*):(?P<rest>.*)$")


def documented_keys(path: Path) -> dict[str, str | None]:
    """Dotted key -> its description (None when a key has no ``# --`` comment)."""
    found: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    comment: list[str] = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("# -- "):
            comment = [stripped[5:]]
            continue
        if stripped.startswith("#") and comment:
            comment.append(stripped.lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if not match:
            if not stripped:
                comment = []
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        dotted = ".".join([k for _, k in stack] + [match["key"]])
        found[dotted] = " ".join(comment) if comment else None
        comment = []
        stack.append((indent, match["key"]))
    return found
