"""Build tre's images: a debootstrap base, a Python base on it, each image on top.

No registry is used or reachable, so the base is made here from Debian
(``workspaces/image/base.sh``: debootstrap, then ``docker import``) and tagged with
a fingerprint of its recipe; it is built only when no image of that tag exists.  On
it, the **Python base** (``workspaces/image/python/``: tre's virtualenv and the
pinned libraries both images use) is tagged with a fingerprint of the base's tag and
of its directory, also built only when missing.  The workspace image
(``workspaces/image/``) and the server image (``helm/images/server/``) are built FROM
that one Python base with BuildKit, whose layer cache makes a build with nothing
changed take seconds.  Every step that downloads trusts the host's CA bundle through
a BuildKit secret, mounted per step and never stored in a layer.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tre.errors import TreError
from workspaces.settings import WorkspaceSettings

REPO = Path(__file__).resolve().parent.parent
IMAGE_DIR = REPO / "workspaces" / "image"  # the workspace image
PYTHON_DIR = IMAGE_DIR / "python"  # the Python base both images are built FROM
SERVER_DIR = REPO / "helm" / "images" / "server"  # the hub and airlock image
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


def _files(root: Path) -> Iterator[tuple[str, Path]]:
    """(path relative to ``root``, path) of every file a build context would copy."""
    ignored = ("__pycache__", ".mypy_cache", ".pytest_cache")
    if root.is_file():
        yield root.name, root
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not path.name.endswith(".pyc") and \
                not any(part in ignored for part in rel.parts):
            yield rel.as_posix(), path


def _digest(parts: list[bytes], roots: list[tuple[str, Path]]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part + b"\0")
    for prefix, root in roots:
        for rel, path in _files(root):
            h.update(f"{prefix}{rel}\0{path.stat().st_mode & 0o111:o}\0".encode())
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def python_base_tag(settings: WorkspaceSettings) -> str:
    """``tre-python:<suite>-<fingerprint>`` of the debootstrap base's tag and of
    ``workspaces/image/python/``: changes whenever either does."""
    digest = _digest([base_tag(settings).encode()], [("", PYTHON_DIR)])
    return f"tre-python:{settings.image_suite}-{digest}"


def content_tag(settings: WorkspaceSettings, repository: str, context: Path) -> str:
    """``<repository>:<fingerprint>`` of everything an image is built from: its Python
    base, its directory and tre's sources.  An image of this tag exists only if it was
    built from exactly these files, so ``build(..., reuse=True)`` may skip the build."""
    roots = [("ctx/", context)] + [(f"src/{name}/", REPO / name) for name in SOURCES
                                   if (REPO / name).exists()]
    return f"{repository}:{_digest([python_base_tag(settings).encode()], roots)}"


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


def stage_context(dest: Path, context: Path = IMAGE_DIR) -> Path:
    """Copy an image's directory and tre's sources (as ``src/``) into ``dest``.

    A staged copy rather than the checkout itself: the build sees only what it
    needs, never ``.venv`` or data.  BuildKit checksums contents, not times, so a
    fresh copy of unchanged files still hits the cache.
    """
    if not (context / "Dockerfile").is_file():
        raise ImageError(f"{context}/Dockerfile not found: building tre's images needs a "
                         "checkout")
    shutil.copytree(context, dest, ignore=_IGNORE, dirs_exist_ok=True)
    for name in SOURCES:
        src, target = REPO / name, dest / "src" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=_IGNORE)
        elif src.is_file():
            shutil.copy2(src, target)
    return dest


def _docker_build(settings: WorkspaceSettings, ctx: Path, tag: str, base: str,
                  quiet: bool) -> None:
    """``docker build`` of ``ctx`` as ``tag`` FROM ``base``, with the CA secret."""
    cmd = [_docker(settings), "build", "--tag", tag, "--build-arg", f"BASE_IMAGE={base}"]
    if settings.image_ca_bundle is not None:
        if not settings.image_ca_bundle.is_file():
            raise ImageError(f"TRE_IMAGE_CA_BUNDLE: {settings.image_ca_bundle} is not a file")
        cmd += ["--secret", f"id=ca,src={settings.image_ca_bundle}"]
    if quiet:
        cmd += ["--progress", "plain"]
    cmd.append(str(ctx))
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    _run(cmd, f"building {tag}", env=env, quiet=quiet)


def ensure_bases(settings: WorkspaceSettings, *, quiet: bool = True) -> tuple[str, bool]:
    """The Python base's tag, building it (and the debootstrap base under it) when
    missing; and whether the debootstrap base had to be built."""
    base = base_tag(settings)
    base_built = False
    if not image_exists(settings, base):
        build_base(settings, base, quiet=quiet)
        base_built = True
    python = python_base_tag(settings)
    if not image_exists(settings, python):
        with tempfile.TemporaryDirectory(prefix="tre-python-") as tmp:
            ctx = Path(tmp)
            shutil.copytree(PYTHON_DIR, ctx, ignore=_IGNORE, dirs_exist_ok=True)
            _docker_build(settings, ctx, python, base, quiet)
    return python, base_built


def build(settings: WorkspaceSettings, *, context: Path = IMAGE_DIR, tag: str | None = None,
          reuse: bool = False, quiet: bool = True) -> BuildResult:
    """Build an image of tre (the workspace image unless ``context`` names another
    directory, e.g. :data:`SERVER_DIR`) FROM the Python base, the bases first when
    missing; cached by BuildKit.  ``tag``: default the workspace image's name.
    ``reuse``: skip the build when an image of ``tag`` exists (for a
    :func:`content_tag`, which names exactly what it was built from)."""
    started = time.monotonic()
    tag = tag or settings.workspace_image
    if reuse and image_exists(settings, tag):
        return BuildResult(tag, python_base_tag(settings), False, time.monotonic() - started)
    python, base_built = ensure_bases(settings, quiet=quiet)
    with tempfile.TemporaryDirectory(prefix="tre-image-") as tmp:
        _docker_build(settings, stage_context(Path(tmp), context), tag, python, quiet)
    return BuildResult(tag, python, base_built, time.monotonic() - started)
