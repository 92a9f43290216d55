"""Typed settings for the airlock, read from ``TRE_AIRLOCK_*`` environment variables.

The platform settings (:mod:`tre.settings`, ``TRE_*``) still apply: the data
directory, the database URL, the environment and the default upload limits come
from there.  Nothing is read at import time: call :func:`load_airlock_settings`.

==================================  ===================================================
``TRE_AIRLOCK_STORE_DIR``           content-addressed file store
                                    (default ``<TRE_DATA_DIR>/airlock/store``)
``TRE_AIRLOCK_STORE_BACKEND``       ``local`` (that directory) or ``s3`` (a bucket)
``TRE_AIRLOCK_SCRATCH_DIR``         where uploads are received (default ``<store>/tmp``)
``TRE_AIRLOCK_S3_BUCKET`` ...       ``_PREFIX``, ``_ENDPOINT_URL``, ``_REGION``: the bucket;
                                    credentials: the standard ``AWS_*`` variables
``TRE_AIRLOCK_ORPHAN_GRACE_SECONDS``  unreferenced blobs younger than this survive a sweep
``TRE_AIRLOCK_MAX_FILE_BYTES``      largest file (default ``TRE_MAX_UPLOAD_BYTES``)
``TRE_AIRLOCK_MAX_REQUEST_BYTES``   largest request (default ``TRE_MAX_REQUEST_BYTES``)
``TRE_AIRLOCK_MAX_FILES``           most files in one request (50)
``TRE_AIRLOCK_MAX_CHECK_BYTES``     larger tables are escalated unread (32 MiB)
``TRE_AIRLOCK_MAX_TEXT_CHARS``      longest free-text field: context, justification,
                                    population, comment, file name (4000 characters)
``TRE_AIRLOCK_MAX_REQUEST_TEXT_CHARS``  all the free text of one request together
                                    (contexts, exceptions, populations) (12000)
``TRE_AIRLOCK_AUTO_RELEASE_TEXT_CHARS``  a request with more free text than this goes to a
                                    person, never out automatically (1000)
``TRE_AIRLOCK_WORKSPACE_NETWORKS``  JSON list of the workspace networks' subnets
                                    (CIDR): calls from there are *inside* (none)
``TRE_AIRLOCK_CHECK_CONCURRENCY``   uploads checked and recorded at once, per process (2);
                                    also the number of check worker processes
``TRE_AIRLOCK_CHECK_MEMORY_MB``     address space of a check worker process (2048)
``TRE_AIRLOCK_CHECK_CPU_SECONDS``   CPU time of the checks of one file (30)
``TRE_AIRLOCK_CHECK_WALL_SECONDS``  wall-clock time of one check call before its worker is
                                    killed (60)
``TRE_AIRLOCK_CHECK_FILE_MB``       largest file a check worker may write (512)
``TRE_AIRLOCK_MAX_PARTS``           most multipart parts (files, sidecars, fields) (2 x
                                    MAX_FILES + 20)
``TRE_AIRLOCK_BODY_TIMEOUT_SECONDS``  longest wait for the next piece of an upload (30)
``TRE_AIRLOCK_HEADER_TIMEOUT_SECONDS``  longest time to send a request's headers (10)
``TRE_AIRLOCK_KEEPALIVE_SECONDS``   idle keep-alive connections are closed after (5)
``TRE_AIRLOCK_MAX_CONNECTIONS``     concurrent connections (and requests) per server
                                    process; beyond it the answer is 503 (200)
``TRE_AIRLOCK_HOST``                where ``tre airlock serve`` listens (127.0.0.1); its port,
                                    ``TRE_AIRLOCK_PORT`` (8090), is the platform's
                                    (:class:`tre.settings.ServiceSettings`): the hub reads it too
``TRE_AIRLOCK_BASE_PATH``           URL prefix of every route (default: the hub's
                                    ``JUPYTERHUB_SERVICE_PREFIX``, else none)
``TRE_AIRLOCK_PUBLIC_URL``          the URL researchers reach the airlock at
``TRE_AIRLOCK_IDENTITY``            ``hub`` (JupyterHub tokens) or ``dev`` (static tokens)
``TRE_AIRLOCK_HUB_API_URL``         hub API (default ``JUPYTERHUB_API_URL``)
``TRE_AIRLOCK_SERVICE_NAME``        its hub service name (``JUPYTERHUB_SERVICE_NAME``, airlock)
``TRE_AIRLOCK_IDENTITY_CACHE_SECONDS``  how long a validated token is trusted (30)
``TRE_AIRLOCK_DEV_TOKENS``          JSON ``{"token": "user"}``; development only
``TRE_AIRLOCK_AUTO_RELEASE``        master switch for automatic release (true)
``TRE_AIRLOCK_PROJECT_PROFILES``    JSON ``{"project": "profile"}`` (default ``TRE_PROFILE``)
==================================  ===================================================

Webhooks and e-mail are configured with ``TRE_NOTIFY_*`` (see :mod:`airlock.notify`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from airlock.origin import Network, parse_networks
from tre.settings import (
    ServiceSettings,
    Settings,
    SettingsError,
    get_settings,
    load_section,
    load_service_settings,
)

ENV_PREFIX = "TRE_AIRLOCK_"
IdentityKind = Literal["hub", "dev"]
StoreBackend = Literal["local", "s3"]
_BUCKET = r"^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
_PREFIX = r"^$|^[A-Za-z0-9!_.*'()/-]{0,200}/$"


def _expand(path: Path | None) -> Path | None:
    return path.expanduser() if path is not None else None


def _json_mapping(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        return json.loads(text) if text else {}
    return value


def _base_path(value: str) -> str:
    value = value.strip()
    if not value or value == "/":
        return ""
    if not value.startswith("/") or "//" in value or any(c in value for c in "?#"):
        raise ValueError("must be a URL path such as /services/airlock")
    return value.rstrip("/")


class AirlockSettings(BaseSettings):
    """Airlock settings.  Field ``x`` is read from ``TRE_AIRLOCK_X``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    store_dir: Annotated[Path | None, AfterValidator(_expand)] = Field(
        None, description="Content-addressed file store. Default: <TRE_DATA_DIR>/airlock/store."
    )
    store_backend: StoreBackend = Field(
        "local", description="local: blobs in store_dir (a shared ReadWriteMany volume "
        "for replicas); s3: blobs in an S3-compatible bucket."
    )
    scratch_dir: Annotated[Path | None, AfterValidator(_expand)] = Field(
        None, description="Where uploads are received and checked, on this process's own "
        "disk. Default: <store_dir>/tmp."
    )
    s3_bucket: str = Field("", pattern=_BUCKET, description="Bucket of the s3 backend.")
    s3_prefix: str = Field("", pattern=_PREFIX,
                           description="Key prefix inside the bucket, ending in '/'.")
    s3_endpoint_url: str = Field(
        "", description="Endpoint of an S3-compatible store (MinIO, Ceph); empty: AWS.")
    s3_region: str = Field("us-east-1", pattern=r"^[a-z0-9-]{1,32}$", description="Region.")
    orphan_grace_seconds: float = Field(
        0.0, ge=0, le=30 * 86400,
        description="A stored file no request refers to is deleted by the start-up sweep "
        "only when older than this: with several replicas another one may have stored it "
        "and be about to record it.",
    )
    max_file_bytes: int | None = Field(
        None, gt=0, description="Largest single file, bytes. Default: TRE_MAX_UPLOAD_BYTES."
    )
    max_request_bytes: int | None = Field(
        None, gt=0, description="Largest request (all files and sidecars), bytes. "
        "Default: TRE_MAX_REQUEST_BYTES."
    )
    max_files: int = Field(50, ge=1, le=1000, description="Most files in one request.")
    max_check_bytes: int = Field(
        32 * 1024**2, gt=0,
        description="Tables larger than this are not loaded for checking (memory stays "
        "bounded); they escalate to a person with the reason.",
    )
    max_field_bytes: int = Field(
        1024**2, gt=0, description="Largest non-file form field (context, manifest), bytes."
    )
    max_text_chars: int = Field(
        4000, ge=200, le=20_000,
        description="Longest free-text field a request or a vote may carry (a request's or "
        "a file's context, an exception justification, a population, a comment, an override "
        "reason, a file name), in characters.  Free text leaves the TRE with the request, so "
        "it is kept to a few paragraphs and scanned for identifiers (airlock.freetext).",
    )
    max_request_text_chars: int = Field(
        12_000, ge=200, le=200_000,
        description="All the free text of one request together (its context, every file's "
        "own context, exception request and population; a text repeated counts once), in "
        "characters.  Each field passes the identifier scan on its own; this bounds what a "
        "request can carry in words (e.g. records spelt out word by word) across 50 files.",
    )
    auto_release_text_chars: int = Field(
        1000, ge=0, le=200_000,
        description="A request whose free text (counted as for max_request_text_chars) is "
        "longer than this is never released automatically: a person reads it first.  Text "
        "that leaves with no one reading it is kept to a paragraph.",
    )
    check_concurrency: int = Field(
        2, ge=1, le=64,
        description="Uploads checked and recorded at once by one server process; the "
        "others wait their turn, first come first served.  Checking is CPU-bound and the "
        "process has one interpreter lock: beyond a couple, more at once only share the "
        "CPU (each takes longer) and stretch the database transactions that serialise "
        "behind the audit log's lock.  Raise it when very large tables often arrive "
        "together, so small requests are not queued behind them.",
    )
    workspace_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description='The workspace networks\' subnets, JSON ["172.30.0.0/16", ...] or '
        "comma-separated: a hub API token from an address in one of them is a call from "
        "inside a workspace (airlock.origin).  Empty (the default): every call is outside, "
        "so drafts and refused requests' free text are shown to no one.",
    )
    check_memory_mb: int = Field(
        2048, ge=768, le=1024 * 1024,
        description="Address space (RLIMIT_AS) of each check worker process, MB.  A worker "
        "with pandas and pyarrow loaded uses about 520 MB of it before reading a file; a "
        "check that needs more is refused (413) and its worker replaced.",
    )
    check_cpu_seconds: int = Field(
        30, ge=1, le=3600, description="CPU time (RLIMIT_CPU) the checks of one file may use.")
    check_wall_seconds: float = Field(
        60.0, gt=0, le=3600,
        description="Wall-clock time of one check call; a worker still busy then is killed "
        "(a parser stuck in C code never reaches the CPU limit's exception).",
    )
    check_file_mb: int = Field(
        512, ge=1, le=1024 * 1024,
        description="Largest file (RLIMIT_FSIZE) a check worker may write (safe alternatives, "
        "canonical copies), MB.",
    )
    max_parts: int | None = Field(
        None, ge=3, le=100_000,
        description="Most parts in one multipart body (files, sidecars and fields together), "
        "counted while streaming. Default: 2 x max_files + 20.",
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, le=3600,
        description="Longest wait for the next piece of an upload's body; a slower client "
        "is answered 408 and its temporary files deleted.",
    )
    header_timeout_seconds: float = Field(
        10.0, gt=0, le=600,
        description="Longest time a client may take to send a request's headers (slow "
        "header attacks); the connection is then closed.",
    )
    keepalive_seconds: int = Field(
        5, ge=1, le=600, description="Idle keep-alive connections are closed after this.")
    max_connections: int = Field(
        200, ge=1, le=100_000,
        description="Concurrent connections and requests per server process (uvicorn's "
        "limit_concurrency); beyond it new requests are answered 503.",
    )
    host: str = Field("127.0.0.1", description="Address `tre airlock serve` binds to.")
    base_path: Annotated[str, AfterValidator(_base_path)] = Field(
        default_factory=lambda: os.environ.get("JUPYTERHUB_SERVICE_PREFIX", ""),
        description="URL prefix of every route; as a JupyterHub service the hub sets "
        "JUPYTERHUB_SERVICE_PREFIX (e.g. /services/airlock), which is the default.",
    )
    public_url: str = Field(
        "http://127.0.0.1:8090",
        description="Where researchers reach the airlock from outside their workspace "
        "(used in links to release bundles).",
    )
    identity: IdentityKind = Field(
        "hub", description="hub: JupyterHub API tokens; dev: static tokens (development only)."
    )
    hub_api_url: str = Field(
        default_factory=lambda: os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api"),
        description="JupyterHub API. Default: JUPYTERHUB_API_URL, else http://127.0.0.1:8081/hub/api.",
    )
    service_name: str = Field(
        default_factory=lambda: os.environ.get("JUPYTERHUB_SERVICE_NAME") or "airlock",
        min_length=1,
        description="The airlock's JupyterHub service name; tokens need "
        "access:services!service=<name>.",
    )
    identity_cache_seconds: float = Field(
        30.0, ge=0, le=3600,
        description="How long a token the hub validated is trusted without asking again.",
    )
    dev_tokens: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description='Static tokens for development and tests: JSON {"token": "username"}. '
        "Refused unless TRE_ENVIRONMENT=development.",
    )
    auto_release: bool = Field(
        True, description="Master switch: false sends every all-pass request to a person, "
        "whatever the project's profile allows."
    )
    project_profiles: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description='Disclosure profile per project: JSON {"project": "profile name or file"}. '
        "Projects not named use TRE_PROFILE.",
    )
    @field_validator("dev_tokens", "project_profiles", mode="before")
    @classmethod
    def _mappings(cls, value: Any) -> Any:
        return _json_mapping(value)

    @field_validator("s3_endpoint_url")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("workspace_networks", mode="before")
    @classmethod
    def _network_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [v for v in (p.strip() for p in text.split(",")) if v]
        return value

    @field_validator("workspace_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # refused at start-up, with the one that is wrong
        return value

    @field_validator("public_url", "hub_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("dev_tokens")
    @classmethod
    def _real_tokens(cls, value: dict[str, str]) -> dict[str, str]:
        for token, user in value.items():
            if len(token) < 8 or not user:
                raise ValueError("every token must be at least 8 characters and name a user")
        return value


class Resolved:
    """Airlock settings with the platform defaults filled in."""

    def __init__(self, airlock: AirlockSettings, platform: Settings,
                 services: ServiceSettings | None = None) -> None:
        self.airlock = airlock
        self.platform = platform
        # The port is the platform's (TRE_AIRLOCK_PORT), shared with the hub, not an
        # airlock field: one declaration, so the two cannot disagree.
        self.port = (services or load_service_settings()).airlock_port
        self.store_dir = airlock.store_dir or platform.data_dir / "airlock" / "store"
        self.max_file_bytes = airlock.max_file_bytes or platform.max_upload_bytes
        self.max_request_bytes = airlock.max_request_bytes or platform.max_request_bytes
        self.workspace_networks: tuple[Network, ...] = parse_networks(airlock.workspace_networks)
        self.max_parts = airlock.max_parts or 2 * airlock.max_files + 20
        if airlock.identity == "dev" and platform.environment != "development":
            raise SettingsError(
                f"{ENV_PREFIX}IDENTITY=dev (static tokens) is refused when TRE_ENVIRONMENT="
                f"{platform.environment}; use the hub"
            )
        if airlock.store_backend == "s3" and not airlock.s3_bucket:
            raise SettingsError(f"{ENV_PREFIX}STORE_BACKEND=s3 needs {ENV_PREFIX}S3_BUCKET")
        if airlock.dev_tokens and platform.environment != "development":
            raise SettingsError(f"{ENV_PREFIX}DEV_TOKENS is refused outside development")

    def profile_for(self, project: str) -> str:
        return self.airlock.project_profiles.get(project, self.platform.profile)


def load_airlock_settings(platform: Settings | None = None, **overrides: Any) -> Resolved:
    """Read ``TRE_AIRLOCK_*`` (``overrides`` win), raising :class:`SettingsError`."""
    airlock = load_section(AirlockSettings, "airlock settings", **overrides)
    return Resolved(airlock, platform or get_settings())
