"""The chart's two images come from the one debootstrap base, and agree with each other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "helm" / "images" / "server"
WORKSPACE = REPO / "workspaces" / "image"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


@pytest.mark.parametrize("folder", [SERVER, WORKSPACE], ids=["server", "workspace"])
def test_both_images_are_built_from_the_debootstrap_base(folder: Path) -> None:
    text = (folder / "Dockerfile").read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    assert re.findall(r"^FROM .*$", text, re.MULTILINE) == ["FROM ${BASE_IMAGE}"]
    assert "ARG BASE_IMAGE=tre-base:bookworm" in text
    # the CA bundle only ever as a BuildKit secret, never COPYed into a layer
    assert "ca.crt" not in "".join(line for line in text.splitlines()
                                   if line.startswith(("COPY", "ADD")))


def test_the_server_runs_as_the_chart_expects() -> None:
    text = (SERVER / "Dockerfile").read_text()
    assert "USER 1000:1000" in text  # the chart's runAsUser / runAsGroup
    assert '"/tmp/src[server,hub,kube,s3]"' in text
    assert "configurable-http-proxy" in text


def test_the_hub_and_the_workspaces_pin_the_same_jupyterhub() -> None:
    server, workspace = _pins(SERVER / "requirements.txt"), _pins(WORKSPACE / "requirements.txt")
    shared = set(server) & set(workspace)
    assert "jupyterhub" in shared
    assert {k: server[k] for k in shared} == {k: workspace[k] for k in shared}
