"""Typed settings for the tre platform, read from ``TRE_*`` environment variables.

Every setting has a documented default, so a fresh checkout runs with no
configuration at all.  Nothing is read at import time: call :func:`get_settings`
(cached) where a setting is needed, and :func:`reset_settings` in tests after
changing the environment.

Settings:

==========================  ==================================================
``TRE_DATA_DIR``            where tre keeps its state
``TRE_DATABASE_URL``        SQLAlchemy URL of the platform database
``TRE_PROFILE``             disclosure profile used when none is named
``TRE_PROFILES_DIR``        directory of disclosure profile files
``TRE_LOG_LEVEL``           DEBUG, INFO, WARNING, ERROR or CRITICAL
``TRE_MAX_UPLOAD_BYTES``    largest single file accepted
``TRE_MAX_REQUEST_BYTES``   largest export request (all files together)
``TRE_ENVIRONMENT``         development or production
``TRE_SECRET_KEY``          signing key; must be a real secret in production
==========================  ==================================================
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "TRE_"
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "changethis", "secret"})
MIN_PRODUCTION_SECRET_LENGTH = 32
_REPO_PROFILES = Path(__file__).resolve().parent.parent / "policies" / "profiles"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
Environment = Literal["development", "production"]


def _expand(path: Path) -> Path:
    return path.expanduser()


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


# A path with ``~`` expanded, so ``TRE_DATA_DIR=~/tre`` means what it says.
ExpandedPath = Annotated[Path, AfterValidator(_expand)]


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/tre``, or ``~/.local/share/tre`` when XDG_DATA_HOME is unset."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "tre"


def default_profiles_dir() -> Path | None:
    """The source checkout's ``policies/profiles`` when present, else None (statbarn's own)."""
    return _REPO_PROFILES if _REPO_PROFILES.is_dir() else None


def _default_database_url(data: dict[str, Any]) -> str:
    data_dir = data.get("data_dir") or default_data_dir()
    return f"sqlite:///{Path(data_dir) / 'tre.db'}"


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the ``TRE_`` variable(s) at fault."""


class Settings(BaseSettings):
    """All platform settings.  Field ``x`` is read from environment variable ``TRE_X``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    data_dir: ExpandedPath = Field(
        default_factory=default_data_dir,
        description="Where tre keeps its state (database, demo data, stored files). "
        "Default: $XDG_DATA_HOME/tre, or ~/.local/share/tre.",
    )
    database_url: str = Field(
        default_factory=_default_database_url,
        min_length=1,
        description="SQLAlchemy URL of the platform database. "
        "Default: a SQLite file, <data_dir>/tre.db.",
    )
    profile: str = Field(
        "default",
        min_length=1,
        description="Disclosure profile used when a command or project names none: "
        "a profile name (looked up in profiles_dir, then statbarn's search path) or a file.",
    )
    profiles_dir: ExpandedPath | None = Field(
        default_factory=default_profiles_dir,
        description="Directory of disclosure profile files (<name>.yaml). "
        "Default: policies/profiles of the source checkout when present, "
        "else the profiles shipped inside statbarn.",
    )
    log_level: Annotated[LogLevel, BeforeValidator(_upper)] = Field(
        "INFO",
        description="Logging level. DEBUG also shows the traceback of unexpected errors "
        "in the CLI.",
    )
    max_upload_bytes: int = Field(
        100 * 1024**2,
        gt=0,
        description="Largest single file accepted for export, in bytes. Default: 100 MiB.",
    )
    max_request_bytes: int = Field(
        1024**3,
        gt=0,
        description="Largest export request (all its files together), in bytes. Default: 1 GiB.",
    )
    environment: Environment = Field(
        "development",
        description="development or production. Production refuses placeholder secrets.",
    )
    secret_key: SecretStr = Field(
        SecretStr("change-me"),
        description="Key for signing sessions and tokens. The placeholder default is only "
        "accepted in development; in production set a random value of at least "
        f"{MIN_PRODUCTION_SECRET_LENGTH} characters (e.g. `openssl rand -hex 32`).",
    )

    @field_validator("secret_key")
    @classmethod
    def _real_secret_in_production(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if info.data.get("environment") != "production":
            return value
        secret = value.get_secret_value()
        if secret.strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("is a placeholder; production needs a real secret")
        if len(secret) < MIN_PRODUCTION_SECRET_LENGTH:
            raise ValueError(
                f"is too short for production (at least {MIN_PRODUCTION_SECRET_LENGTH} characters)"
            )
        return value

    @model_validator(mode="after")
    def _request_holds_a_file(self) -> Settings:
        if self.max_request_bytes < self.max_upload_bytes:
            raise ValueError(
                f"{ENV_PREFIX}MAX_REQUEST_BYTES ({self.max_request_bytes}) must be at least "
                f"{ENV_PREFIX}MAX_UPLOAD_BYTES ({self.max_upload_bytes})"
            )
        return self


def env_var(field: str) -> str:
    """The environment variable that sets ``field``."""
    return f"{ENV_PREFIX}{field.upper()}"


def _describe(exc: ValidationError) -> str:
    parts: list[str] = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        msg = err["msg"].removeprefix("Value error, ")
        if not loc:
            parts.append(msg)
            continue
        shown = "" if loc[0] == "secret_key" else f" (got {err.get('input')!r})"
        parts.append(f"{env_var(loc[0])}: {msg}{shown}")
    return "invalid settings: " + "; ".join(parts)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (``overrides`` win), raising :class:`SettingsError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings, so the next :func:`get_settings` re-reads the environment."""
    get_settings.cache_clear()
