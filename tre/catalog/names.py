"""Names of projects and datasets: they become Docker network, volume and path names."""

from __future__ import annotations

import re
from typing import TypeGuard

from tre.errors import BadInput

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def check_name(value: str, what: str = "name") -> str:
    """``value`` if it is a valid catalog name, else :class:`BadInput` saying why."""
    if not NAME.match(value):
        raise BadInput(
            f"invalid {what} {value!r}: lowercase letters, digits and '-', starting with a "
            "letter or digit, at most 63 characters"
        )
    return value


def is_name(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and NAME.match(value) is not None
