"""Governance settings, read from ``TRE_POLICY_*`` environment variables.

Kept apart from :mod:`tre.settings` because only the authorisation point and the
governance commands use them.  Every setting has a documented default.

================================  ===============================================
``TRE_POLICY_POLL_SECONDS``       how often a process looks for a policy change
``TRE_POLICY_SECOND_APPROVAL``    policy and profile edits need a second
                                  governance user's approval (default: on, except
                                  with TRE_ENVIRONMENT=development; off is refused
                                  outside development)
``TRE_POLICY_REPLAY_LIMIT``       audited decisions replayed by ``policy diff``
``TRE_POLICY_MODEL_FILE``         the Casbin model
``TRE_POLICY_SEED_FILE``          the policy an empty database starts with
``TRE_POLICY_TESTS_DIR``          the truth tables ``policy test``/``apply`` run
================================  ===============================================
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tre.settings import load_section


def _policies_dir() -> Path:
    """The source checkout's ``policies/`` (editable installs); else the copy an installed
    wheel carries in ``tre/authz/policies`` (pyproject.toml force-includes it)."""
    here = Path(__file__).resolve()
    checkout = here.parents[2] / "policies"
    return checkout if (checkout / "model.conf").is_file() else here.parent / "policies"


POLICIES = _policies_dir()
ENV_PREFIX = "TRE_POLICY_"


class PolicySettings(BaseSettings):
    """Field ``x`` is read from ``TRE_POLICY_X``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    poll_seconds: float = Field(
        2.0,
        gt=0,
        le=4.5,
        description="Seconds between two looks at the database's policy version. Every "
        "process sees a change within this time plus one database read; the ceiling keeps "
        "the 5-second promise. Default: 2.",
    )
    second_approval: bool = Field(
        None,  # type: ignore[assignment]  # resolved from TRE_ENVIRONMENT below
        description="When true, `policy apply` and `profile apply` only propose; a second "
        "governance user (never the editor) applies with `approve`. Default: true, except "
        "with TRE_ENVIRONMENT=development; false is refused outside development. A change "
        "of the truth tables, or of a profile below a floor, always needs a second user.",
    )
    replay_limit: int = Field(
        1000,
        ge=0,
        description="How many of the most recent audited decisions `policy diff` replays "
        "under the proposed policy. Default: 1000.",
    )
    model_file: Path = Field(
        POLICIES / "model.conf", description="The Casbin model. Default: policies/model.conf."
    )
    seed_file: Path = Field(
        POLICIES / "policy.csv",
        description="The policy stored in an empty database on first use. "
        "Default: policies/policy.csv.",
    )
    tests_dir: Path = Field(
        POLICIES / "tests",
        description="Truth tables (*.yaml) run by `policy test` and before every apply. "
        "Default: policies/tests.",
    )


    @model_validator(mode="before")
    @classmethod
    def _second_approval_by_default(cls, data: object) -> object:
        from tre.settings import get_settings

        if not isinstance(data, dict):
            return data
        environment = get_settings().environment
        value = data.get("second_approval")
        if value is None:
            data = {**data, "second_approval": environment != "development"}
        elif str(value).strip().lower() in ("false", "0", "no", "off") \
                and environment != "development":
            raise ValueError(f"TRE_POLICY_SECOND_APPROVAL=false is refused when TRE_ENVIRONMENT="
                             f"{environment}: one person alone may not change who may do what")
        return data


def policy_settings(**overrides: object) -> PolicySettings:
    """Read the settings now (not cached: they are cheap, and tests change the environment)."""
    return load_section(PolicySettings, "settings", **overrides)
