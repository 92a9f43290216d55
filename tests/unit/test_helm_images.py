"""The chart's two images come from one Python base (on the one debootstrap base), which
alone makes the virtualenv, pins the shared libraries and handles the build's CA."""

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


PYTHON = WORKSPACE / "python"


def _steps(text: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined."""
    return [step.strip() for step in re.sub(r"\\\n", " ", text).splitlines()
            if step.strip() and not step.lstrip().startswith("#")]


@pytest.mark.parametrize("folder", [SERVER, WORKSPACE], ids=["server", "workspace"])
def test_both_images_are_built_from_the_one_python_base(folder: Path) -> None:
    text = (folder / "Dockerfile").read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    assert re.findall(r"^FROM .*$", text, re.MULTILINE) == ["FROM ${BASE_IMAGE}"]
    assert "ARG BASE_IMAGE=tre-python:bookworm" in text
    # what the base does is not done again: no second virtualenv, no CA handling of
    # its own (tre-ca does it), no second copy of the base's pins
    assert "python3 -m venv" not in text
    assert "PIP_CERT" not in text and "NODE_EXTRA_CA_CERTS" not in text
    assert not set(_pins(folder / "requirements.txt")) & set(_pins(PYTHON / "requirements.txt"))


def test_the_python_base_is_built_from_the_debootstrap_base() -> None:
    text = (PYTHON / "Dockerfile").read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    assert re.findall(r"^FROM .*$", text, re.MULTILINE) == ["FROM ${BASE_IMAGE}"]
    assert "python3 -m venv /opt/tre" in text
    assert "jupyterhub" in _pins(PYTHON / "requirements.txt")


@pytest.mark.parametrize("folder", [SERVER, WORKSPACE, PYTHON],
                         ids=["server", "workspace", "python"])
def test_every_download_trusts_the_ca_only_through_the_secret(folder: Path) -> None:
    """A step that runs pip or npm install mounts the secret "ca" and runs under
    tre-ca; nothing COPYs or ADDs a CA file into a layer."""
    steps = _steps((folder / "Dockerfile").read_text())
    downloads = [s for s in steps if re.search(r"(pip|npm) install", s)]
    assert downloads
    for step in downloads:
        assert "--mount=type=secret,id=ca,target=/run/secrets/ca.crt" in step, step
        assert re.search(r"tre-ca (pip|npm) install", step), step
    for step in steps:
        if step.startswith(("COPY", "ADD")):
            assert "ca.crt" not in step and "/run/secrets" not in step, step


def test_the_server_runs_as_the_chart_expects() -> None:
    text = (SERVER / "Dockerfile").read_text()
    assert "USER 1000:1000" in text  # the chart's runAsUser / runAsGroup
    assert '"/tmp/src[server,hub,kube,s3]"' in text
    assert "configurable-http-proxy" in text


def test_the_fingerprints_follow_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python base's tag changes with its directory; an image's content tag with
    its directory and with tre's sources; neither with anything else."""
    import shutil

    from tre import image
    from workspaces.settings import load_workspace_settings

    settings = load_workspace_settings()
    python = tmp_path / "python"
    shutil.copytree(PYTHON, python)
    server = tmp_path / "server"
    shutil.copytree(SERVER, server)
    monkeypatch.setattr(image, "PYTHON_DIR", python)
    before = image.python_base_tag(settings), image.content_tag(settings, "tre-server", server)
    assert before[0].startswith("tre-python:bookworm-")
    assert before[1].startswith("tre-server:")
    (tmp_path / "unrelated").write_text("x")
    assert (image.python_base_tag(settings),
            image.content_tag(settings, "tre-server", server)) == before
    (server / "requirements.txt").write_text("boto3==1.0.0\n")
    assert image.content_tag(settings, "tre-server", server) != before[1]
    (python / "requirements.txt").write_text("jupyterhub==1.0.0\n")
    assert image.python_base_tag(settings) != before[0]


def test_the_one_jupyterhub_pin_is_the_hubs() -> None:
    """Both images take jupyterhub from the Python base; `tre up`'s hub is this venv's."""
    import jupyterhub

    assert _pins(PYTHON / "requirements.txt")["jupyterhub"] == jupyterhub.__version__
