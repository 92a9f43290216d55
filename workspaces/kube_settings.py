"""Settings of the Kubernetes spawner, read from ``TRE_KUBE_*`` (the chart sets them).

=================================  ================================================
``TRE_KUBE_INSTANCE``              the Helm release: the workspace pods' instance
                                   label, which the chart's NetworkPolicies select
``TRE_KUBE_HUB_API_URL``           the hub API as workspaces reach it (the
                                   allow-list port of the hub, never its full API)
``TRE_KUBE_AIRLOCK_URL``           the airlock as workspaces reach it
``TRE_KUBE_DATASET_CLAIM_PREFIX``  a dataset ``x`` is the ReadOnlyMany PVC
                                   ``<prefix>x`` (the chart makes them)
``TRE_KUBE_STORAGE_CLASS``         storage class of home and outputs PVCs
``TRE_KUBE_HOME_CAPACITY``         size of a home PVC (per user x project)
``TRE_KUBE_OUTPUTS_CAPACITY``      size of an outputs PVC (per user x project)
``TRE_KUBE_DNS_NAMESERVER``        an internal mirror's resolver; empty: workspaces
                                   resolve no names (as with Docker)
``TRE_KUBE_IMAGE_PULL_POLICY``     of the workspace image
=================================  ================================================
"""

from __future__ import annotations

import ipaddress
import re

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tre.settings import load_section

_QUANTITY = re.compile(r"^[1-9][0-9]{0,5}(Mi|Gi|Ti)$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$")


class KubeSettings(BaseSettings):
    """Field ``x`` is read from ``TRE_KUBE_X``."""

    model_config = SettingsConfigDict(env_prefix="TRE_KUBE_", extra="ignore", frozen=True)

    instance: str = Field("tre", description="The Helm release name (a label value).")
    hub_api_url: str = Field(
        "http://tre-hub-api-allowlist:8082",
        description="The hub API as workspaces reach it: the allow-list port only.")
    airlock_url: str = Field("http://tre-airlock:8090",
                             description="The airlock as workspaces reach it.")
    dataset_claim_prefix: str = Field("tre-dataset-", description="PVC name prefix of datasets.")
    storage_class: str | None = Field(None, description="Storage class of home/outputs PVCs.")
    home_capacity: str = Field("10Gi", description="Size of a home PVC.")
    outputs_capacity: str = Field("10Gi", description="Size of an outputs PVC.")
    dns_nameserver: str | None = Field(
        None, description="Resolver of an internal mirror; none: no name resolves.")
    image_pull_policy: str = Field("IfNotPresent", pattern="^(Always|IfNotPresent|Never)$",
                                   description="Pull policy of the workspace image.")

    @field_validator("instance")
    @classmethod
    def _label(cls, value: str) -> str:
        if not _LABEL.match(value):
            raise ValueError("must be a Kubernetes label value (lowercase, digits, '-', '.')")
        return value

    @field_validator("home_capacity", "outputs_capacity")
    @classmethod
    def _quantity(cls, value: str) -> str:
        if not _QUANTITY.match(value):
            raise ValueError("must be a size such as 10Gi (Mi, Gi or Ti)")
        return value

    @field_validator("hub_api_url", "airlock_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith("http://") or "/" in value.removeprefix("http://"):
            raise ValueError("must be http://host:port (the cluster network, no path)")
        return value

    @field_validator("dns_nameserver")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if not value:
            return None
        ipaddress.ip_address(value)  # ValueError names the bad address
        return value


def load_kube_settings(**overrides: object) -> KubeSettings:
    return load_section(KubeSettings, "Kubernetes settings", **overrides)
