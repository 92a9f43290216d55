"""Build the workspace image: a debootstrap base, then the Dockerfile on top.

No registry is used or reachable, so the base is made here from Debian
(``workspaces/image/base.sh``: debootstrap, then ``docker import``) and tagged with
a fingerprint of its recipe; it is built only when no image of that tag exists.
The workspace image is then built with BuildKit, whose layer cache makes a build
with nothing changed take seconds.  pip inside the build trusts the host's CA bundle
through a BuildKit secret, mounted per step and never stored in a layer.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tre.errors import TreError
from workspaces.settings import WorkspaceSettings

REPO = Path(__file__).resolve().parent.parent
IMAGE_DIR = REPO / "workspaces" / "image"
# What pip needs to build and install tre from the checkout (see pyproject.toml).
# pyproject.toml force-includes files under policies/, so the wheel build needs them all.
SOURCES = ("pyproject.toml", "README.md", "statbarn", "tre", "airlock", "workspaces", "policies")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


class ImageError(TreError, RuntimeError):
    """The image cannot be built; the message says why and what to do."""

    code = "image"
    status = 500


@dataclass(frozen=True)
class BuildResult:
    tag: str
    base: str
    base_built: bool
    seconds: float


def base_tag(settings: WorkspaceSettings) -> str:
    """``tre-base:<suite>-<fingerprint>``: changes whenever the base recipe does."""
    recipe = (IMAGE_DIR / "base.sh").read_bytes()
    digest = hashlib.sha256(
        b"\0".join([recipe, settings.image_suite.encode(), settings.image_mirror.encode()])
    ).hexdigest()
    return f"tre-base:{settings.image_suite}-{digest[:12]}"


def _docker(settings: WorkspaceSettings) -> str:
    found = shutil.which(settings.docker)
    if found is None:
        raise ImageError(
            f"no docker CLI at {settings.docker!r}; run ./scripts/docker-engine "
            "(or set TRE_DOCKER)"
        )
    return found


def image_exists(settings: WorkspaceSettings, tag: str) -> bool:
    proc = subprocess.run(
        [_docker(settings), "image", "inspect", tag],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None, quiet: bool = True) -> None:
    proc = subprocess.run(
        cmd,
        env=env,
        stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout or "").splitlines()[-25:])
        raise ImageError(f"{what} failed (exit {proc.returncode})" + (f":\n{tail}" if tail else ""))


def build_base(settings: WorkspaceSettings, tag: str, quiet: bool = True) -> None:
    if os.geteuid() != 0:
        raise ImageError(f"{tag} is missing and building it needs root (debootstrap)")
    env = {**os.environ, "DOCKER": _docker(settings)}
    cmd = [str(IMAGE_DIR / "base.sh"), tag, settings.image_suite, settings.image_mirror]
    _run(cmd, f"building the base image {tag}", env=env, quiet=quiet)


def stage_context(dest: Path) -> Path:
    """Copy the Dockerfile's directory and tre's sources (as ``src/``) into ``dest``.

    A staged copy rather than the checkout itself: the build sees only what it
    needs, never ``.venv`` or data.  BuildKit checksums contents, not times, so a
    fresh copy of unchanged files still hits the cache.
    """
    if not (IMAGE_DIR / "Dockerfile").is_file():
        raise ImageError(f"{IMAGE_DIR}/Dockerfile not found: `tre image build` needs a checkout")
    shutil.copytree(IMAGE_DIR, dest, ignore=_IGNORE, dirs_exist_ok=True)
    for name in SOURCES:
        src, target = REPO / name, dest / "src" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=_IGNORE)
        elif src.is_file():
            shutil.copy2(src, target)
    return dest


def build(settings: WorkspaceSettings, *, quiet: bool = True) -> BuildResult:
    """Build the base when missing, then the workspace image (cached by BuildKit)."""
    started = time.monotonic()
    docker = _docker(settings)
    base = base_tag(settings)
    base_built = False
    if not image_exists(settings, base):
        build_base(settings, base, quiet=quiet)
        base_built = True
    with tempfile.TemporaryDirectory(prefix="tre-image-") as tmp:
        ctx = stage_context(Path(tmp))
        cmd = [docker, "build", "--tag", settings.workspace_image,
               "--build-arg", f"BASE_IMAGE={base}"]
        if settings.image_ca_bundle is not None:
            if not settings.image_ca_bundle.is_file():
                raise ImageError(f"TRE_IMAGE_CA_BUNDLE: {settings.image_ca_bundle} is not a file")
            cmd += ["--secret", f"id=ca,src={settings.image_ca_bundle}"]
        if quiet:
            cmd += ["--progress", "plain"]
        cmd.append(str(ctx))
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        _run(cmd, f"building {settings.workspace_image}", env=env, quiet=quiet)
    return BuildResult(settings.workspace_image, base, base_built, time.monotonic() - started)
