"""Typed settings for the tre platform, read from ``TRE_*`` environment variables.

Every setting has a documented default, so a fresh checkout runs with no
configuration at all.  The default environment is ``production``: static tokens, the
development login and lenient governance only exist where somebody wrote
``TRE_ENVIRONMENT=development`` (the demo, ``scripts/up`` and the tests do).
Nothing is read at import time: call :func:`get_settings` (cached) where a setting is
needed, and :func:`reset_settings` in tests after changing the environment.

Settings:

==========================  ==================================================
``TRE_DATA_DIR``            where tre keeps its state
``TRE_DATABASE_URL``        SQLAlchemy URL of the platform database
``TRE_PROFILE``             disclosure profile used when none is named
``TRE_PROFILES_DIR``        directory of disclosure profile files
``TRE_LOG_LEVEL``           DEBUG, INFO, WARNING, ERROR or CRITICAL
``TRE_MAX_UPLOAD_BYTES``    largest single file accepted
``TRE_MAX_REQUEST_BYTES``   largest export request (all files together)
``TRE_ENVIRONMENT``         production (default) or development
``TRE_SECRET_KEY``          signing key; checked for strength in production
``TRE_AIRLOCK_PORT``        the airlock's port (:class:`ServiceSettings`)
==========================  ==================================================
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

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

from tre.errors import TreError

ENV_PREFIX = "TRE_"
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "changethis", "secret"})
PLACEHOLDER_WORDS = ("changeme", "change-me", "changethis", "password", "secret", "example")
MIN_PRODUCTION_SECRET_LENGTH = 32
# Estimated from the characters' frequencies: 32 random hex digits give 100-128 bits,
# `openssl rand -hex 32` about 240; 'a' * 32 gives 0 and 'changeme' * 4 is a repetition.
MIN_SECRET_BITS = 80
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


class SettingsError(TreError, ValueError):
    """Settings that cannot be used; the message names the ``TRE_`` variable(s) at fault."""

    code = "settings"
    status = 500


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
        "production",
        description="production (the default) or development. Only development accepts "
        "static tokens, the development login, `--as` on the command line, placeholder "
        "secrets and governance changes without a second approver; set it explicitly.",
    )
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Key for signing sessions and tokens. Unset: development keeps a random "
        "key in the data directory; production refuses to serve pages. In production set a "
        f"random value of at least {MIN_PRODUCTION_SECRET_LENGTH} characters "
        "(e.g. `openssl rand -hex 32`): placeholders, repetitions and low-entropy values "
        "are refused.",
    )

    @field_validator("secret_key")
    @classmethod
    def _real_secret_in_production(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        environment = info.data.get("environment")
        secret = value.get_secret_value()
        if environment != "production" or secret == "":  # unset: refused where it is used
            return value
        problem = secret_weakness(secret)
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _request_holds_a_file(self) -> Settings:
        if self.max_request_bytes < self.max_upload_bytes:
            raise ValueError(
                f"{ENV_PREFIX}MAX_REQUEST_BYTES ({self.max_request_bytes}) must be at least "
                f"{ENV_PREFIX}MAX_UPLOAD_BYTES ({self.max_upload_bytes})"
            )
        return self


class ServiceSettings(BaseSettings):
    """Where the services listen, read by every component that serves them or connects to
    them: the airlock serves on its port, the hub and the workspaces' firewall reach it
    there.  Declared once, here in the platform core, because the apps may not import each
    other (pyproject's import-linter contract); each app reads the same field, so the two
    cannot disagree about a default or a bound."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    airlock_port: int = Field(
        8090, gt=0, lt=65536,
        description="The airlock's port: `tre airlock serve` listens on it, the hub proxies "
        "to it and workspaces may connect to it.",
    )


def load_service_settings(**overrides: Any) -> ServiceSettings:
    """Read :class:`ServiceSettings` (``overrides`` win), raising :class:`SettingsError`."""
    return load_section(ServiceSettings, "service settings", **overrides)


def _estimated_bits(secret: str) -> float:
    counts = Counter(secret)
    n = len(secret)
    per_char = -sum(c / n * math.log2(c / n) for c in counts.values())
    return per_char * n


def _repeats(secret: str) -> bool:
    n = len(secret)
    return any(n % p == 0 and secret[:p] * (n // p) == secret for p in range(1, n // 2 + 1))


def secret_weakness(secret: str) -> str | None:
    """Why ``secret`` is not good enough for production, as a sentence; None if it is."""
    how = "make one with `openssl rand -hex 32`"
    lowered = secret.strip().lower()
    if lowered in PLACEHOLDER_SECRETS or any(w in lowered for w in PLACEHOLDER_WORDS):
        return f"is a placeholder; production needs a random secret ({how})"
    if len(secret) < MIN_PRODUCTION_SECRET_LENGTH:
        return (f"is too short for production (at least {MIN_PRODUCTION_SECRET_LENGTH} "
                f"characters; {how})")
    if _repeats(secret):
        return f"repeats a shorter piece, so it is easy to guess ({how})"
    bits = _estimated_bits(secret)
    if bits < MIN_SECRET_BITS:
        return (f"has too little randomness (about {bits:.0f} bits, at least "
                f"{MIN_SECRET_BITS} needed; {how})")
    return None


PROFILE_SUFFIXES = (".yaml", ".yml")


def profile_file(name: str, settings: Settings | None = None) -> Path | None:
    """The file of disclosure profile ``name`` in TRE_PROFILES_DIR (``name.yaml``, else
    ``name.yml``), or None: the one lookup of that directory (the CLI, the catalog and
    governance used three, and only one accepted ``.yml``)."""
    folder = (settings or get_settings()).profiles_dir
    if folder is None or not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    for suffix in PROFILE_SUFFIXES:
        candidate = folder / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def env_var(field: str) -> str:
    """The environment variable that sets ``field``."""
    return f"{ENV_PREFIX}{field.upper()}"


# A field whose value is never repeated in an error (its name says it holds a secret).
_SECRET_NAMES = ("secret", "token", "password", "key")
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]*@")


def _is_secret(model: type[BaseSettings], field: str) -> bool:
    info = model.model_fields.get(field)
    annotation = str(info.annotation) if info is not None else ""
    return "SecretStr" in annotation or any(w in field.lower() for w in _SECRET_NAMES)


def _shown_input(value: Any) -> str:
    """The value as given, with any URL's credentials (user:password@) hidden."""
    return _URL_CREDENTIALS.sub("***@", repr(value))


def describe(exc: ValidationError, model: type[BaseSettings], label: str = "settings") -> str:
    """The one error format of every settings section: ``invalid <label>: TRE_X: why (got
    'value')``, one part per problem.  A secret's value is never repeated, nor a URL's
    credentials."""
    prefix = str(model.model_config.get("env_prefix") or "")
    parts: list[str] = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        msg = err["msg"].removeprefix("Value error, ")
        if not loc:
            parts.append(msg)
            continue
        hidden = _is_secret(model, loc[0]) or "input" not in err or isinstance(
            err.get("input"), dict)
        shown = "" if hidden else f" (got {_shown_input(err['input'])})"
        parts.append(f"{prefix}{loc[0].upper()}: {msg}{shown}")
    return f"invalid {label}: " + "; ".join(parts)


S = TypeVar("S", bound=BaseSettings)


def load_section(model: type[S], label: str = "settings", **overrides: Any) -> S:
    """Read one section of the settings from the environment (``overrides`` win): the one
    loader of every ``TRE_*`` settings class, raising :class:`SettingsError` in the one
    format (:func:`describe`) for every section."""
    from pydantic_settings import SettingsError as SourceError

    try:
        return model(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe(exc, model, label)) from None
    except json.JSONDecodeError as exc:
        raise SettingsError(f"invalid {label}: not valid JSON: {exc}") from None
    except SourceError as exc:  # a value the environment source cannot decode
        raise SettingsError(f"invalid {label}: {str(exc).splitlines()[0]}") from None


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (``overrides`` win), raising :class:`SettingsError`."""
    return load_section(Settings, **overrides)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings, so the next :func:`get_settings` re-reads the environment."""
    get_settings.cache_clear()
