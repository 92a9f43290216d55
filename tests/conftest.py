"""Fixtures shared by every test tier (unit, integration, e2e, browser).

Every test runs with a clean tre environment: no ``TRE_*`` variable from the
caller's shell leaks in, ``XDG_DATA_HOME`` points into the test's temporary
directory (so defaults never touch the real home), and the settings cache is
reset before and after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tre.settings import reset_settings

_TIERS = ("unit", "integration", "e2e", "browser")


@pytest.fixture(autouse=True)
def _isolated_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("TRE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
    reset_settings()
    yield
    reset_settings()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty tre data directory, set as ``TRE_DATA_DIR``."""
    path = tmp_path / "tre-data"
    path.mkdir()
    monkeypatch.setenv("TRE_DATA_DIR", str(path))
    reset_settings()
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by the tier directory they live in, so ``-m unit`` selects tests/unit."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in _TIERS:
            if tier in parts and tier not in {m.name for m in item.iter_markers()}:
                item.add_marker(getattr(pytest.mark, tier))
