"""Settings of the workspace side of tre: image, networks, hub and spawner.

Read from ``TRE_*`` environment variables like :mod:`tre.settings`, kept in a class of
their own so the platform settings stay free of Docker and JupyterHub concerns.
Nothing is read at import time, or cached: call :func:`load_workspace_settings`
(cheap) where the settings are needed.

=============================  ===============================================
``TRE_DOCKER``                 the docker CLI (image builds)
``TRE_WORKSPACE_IMAGE``        tag of the workspace image
``TRE_IMAGE_SUITE``            Debian suite of the debootstrap base
``TRE_IMAGE_MIRROR``           Debian mirror for debootstrap
``TRE_IMAGE_CA_BUNDLE``        CA bundle handed to builds as a BuildKit secret
``TRE_HUB_PUBLIC_IP``          where the proxy listens for browsers
``TRE_HUB_PUBLIC_PORT``        the proxy's public port
``TRE_HUB_PORT``               the hub API port (loopback only)
``TRE_HUB_GATE_PORT``          the hub gate's port (workspaces connect to it)
``TRE_AIRLOCK_PORT``           the airlock service port (workspaces submit to it), the
                               platform's :class:`tre.settings.ServiceSettings`
``TRE_HUB_AUTHENTICATOR``      ``shared-password`` (demo) or an authenticator class
``TRE_HUB_EXTRA_CONFIG``       a JupyterHub config file loaded after tre's own
``TRE_WORKSPACE_MEM_LIMIT``    memory limit of a workspace
``TRE_WORKSPACE_CPU_LIMIT``    CPUs of a workspace
``TRE_WORKSPACE_PIDS_LIMIT``   processes of a workspace
``TRE_IDLE_TIMEOUT``           seconds of inactivity before a workspace is culled
``TRE_MEMBERSHIP_CHECK``       seconds between checks that a running workspace's
                               user is still a member of its project
``TRE_NETWORK_PREFIX``         prefix of workspace network, bridge and chain names
``TRE_WORKSPACE_SUBNETS``      the IPv4 range each workspace's own /28 is taken from
=============================  ===============================================
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_settings import SettingsConfigDict

from tre.settings import ENV_PREFIX, ServiceSettings, load_section

SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SHARED_PASSWORD = "shared-password"


def _default_docker() -> str:
    # Debian's client matches Debian's engine; another (newer) client may come first on PATH.
    debian = Path("/usr/bin/docker")
    return str(debian) if debian.exists() else (shutil.which("docker") or "docker")


def _default_ca_bundle() -> Path | None:
    return SYSTEM_CA_BUNDLE if SYSTEM_CA_BUNDLE.is_file() else None


def _memory(value: str) -> str:
    if not value or not (value[:-1] if value[-1] in "KMGT" else value).isdigit():
        raise ValueError("must be bytes or a number followed by K, M, G or T (e.g. 2G)")
    return value


class WorkspaceSettings(ServiceSettings):
    """Field ``x`` is read from ``TRE_X``.  ``airlock_port`` is the platform's
    (:class:`tre.settings.ServiceSettings`), which the airlock serves on: one declaration."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    docker: str = Field(default_factory=_default_docker, description="The docker CLI.")
    workspace_image: str = Field(
        "tre-workspace:latest",
        min_length=1,
        description="Tag of the workspace image; the spawner runs nothing else.",
    )
    image_suite: str = Field("bookworm", description="Debian suite of the base image.")
    image_mirror: str = Field(
        "http://deb.debian.org/debian", description="Debian mirror debootstrap installs from."
    )
    image_ca_bundle: Path | None = Field(
        default_factory=_default_ca_bundle,
        description="CA bundle trusted by pip during image builds, passed as a BuildKit "
        "secret (never stored in the image). Default: the system bundle when present.",
    )
    hub_public_ip: str = Field(
        "127.0.0.1",
        description="Address the proxy listens on for browsers. Default: loopback only; "
        "set 0.0.0.0 to serve other machines (with TLS in front).",
    )
    hub_public_port: int = Field(8000, gt=0, lt=65536, description="The proxy's public port.")
    hub_port: int = Field(
        8081, gt=0, lt=65536, description="The hub API port, on loopback only."
    )
    hub_gate_port: int = Field(
        8082, gt=0, lt=65536, description="The hub gate's port (workspaces.gate): the allow-list "
        "of the hub API that workspaces may connect to."
    )
    hub_authenticator: str = Field(
        SHARED_PASSWORD,
        min_length=1,
        description="'shared-password' (demo users, one password) or the import path of a "
        "JupyterHub authenticator class, e.g. oauthenticator.generic.GenericOAuthenticator "
        "or ldapauthenticator.LDAPAuthenticator, configured in TRE_HUB_EXTRA_CONFIG.",
    )
    hub_extra_config: Path | None = Field(
        None,
        description="A jupyterhub_config.py loaded after tre's configuration (authenticator "
        "settings, TLS, ...).",
    )
    workspace_mem_limit: Annotated[str, AfterValidator(_memory)] = Field(
        "2G", description="Memory limit of one workspace."
    )
    workspace_cpu_limit: float = Field(1.0, gt=0, description="CPUs of one workspace.")
    workspace_pids_limit: int = Field(
        512, gt=16, description="Processes (and threads) of one workspace."
    )
    idle_timeout: int = Field(
        3600, gt=0, description="Seconds of inactivity after which a workspace is stopped."
    )
    membership_check: int = Field(
        30, gt=0, description="Seconds between two checks that a running workspace's user "
        "may still work in its project (an ended membership stops the workspace)."
    )
    network_prefix: str = Field(
        "tre-ws-", description="Prefix of workspace networks, bridges and firewall chains "
        "(2 to 7 characters ending in '-'); one TRE per prefix on a machine."
    )
    workspace_subnets: str = Field(
        "10.213.0.0/16", description="IPv4 range for workspace networks: each workspace gets "
        "a /28 of it (a /16 holds 4096). Choose one no other network of the site uses."
    )

    @property
    def workspace_ports(self) -> list[int]:
        """What workspaces may connect to on the host: the hub gate and the airlock."""
        return [self.hub_gate_port, self.airlock_port]


def load_workspace_settings(**overrides: object) -> WorkspaceSettings:
    return load_section(WorkspaceSettings, "settings", **overrides)
