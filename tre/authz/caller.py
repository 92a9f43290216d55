"""Who runs a command: the operating-system user, never a name the caller types.

The governance and catalog commands change who may do what; the audit log must
name who really did it.  A name typed after ``--as`` proves nothing, so outside
development the command acts as the operating-system account that runs it
(``pwd`` of the effective uid: a server's accounts are its governance team's, as
for ``sudo`` and ``git`` logs).  ``--as`` is accepted only with
``TRE_ENVIRONMENT=development`` (the demo and tests play several people from one
account), and even then the audit event also names the account that typed it.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from tre.settings import SettingsError, get_settings


@dataclass(frozen=True)
class Caller:
    name: str  # who the authorisation point is asked about, and the audit event's actor
    os_user: str  # the account that ran the command

    def audit_details(self) -> dict[str, str]:
        """What the audit event says about how the caller was identified."""
        how = "os" if self.name == self.os_user else "--as (development)"
        return {"os_user": self.os_user, "identified_by": how}


def os_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without an account (containers): the number, still the truth
        return f"uid-{os.geteuid()}"


def cli_caller(as_user: str | None) -> Caller:
    """The caller of a command; ``--as`` only in development (SettingsError otherwise)."""
    account = os_user()
    if as_user is None:
        return Caller(account, account)
    environment = get_settings().environment
    if environment != "development":
        raise SettingsError(
            f"--as is refused when TRE_ENVIRONMENT={environment}: tre acts as the "
            f"operating-system user that runs it (here: {account}); run the command as "
            "that person's own account")
    name = as_user.strip()
    if not name:
        raise SettingsError("--as needs a user name")
    return Caller(name, account)
