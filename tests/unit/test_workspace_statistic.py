"""The researcher client declares what a bare table holds (issue 11): ``statistic=``
goes into the manifest of every table without a sidecar, or per file."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tre.workspace.airlock_client import Client

pytestmark = pytest.mark.unit


def manifest_sent(tmp_path: Path, files: list[Path], **kw: object) -> list[dict[str, str]]:
    seen: dict[str, bytes] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["body"] = request.read()
        return httpx.Response(201, json={"id": "r1", "state": "in_review"})

    with Client("http://airlock", "tok", httpx.MockTransport(handler)) as c:
        c.submit(files, project="demo-project", context="why", **kw)  # type: ignore[arg-type]
    body = seen["body"]
    start = body.index(b'name="manifest"')
    value = body[start:].split(b"\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0]
    result: list[dict[str, str]] = json.loads(value)
    return result


def test_one_statistic_for_every_bare_table(tmp_path: Path) -> None:
    (tmp_path / "means.csv").write_text("a,b\n1,2\n")
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    (tmp_path / "t.csv.statbarn.json").write_text("{}")  # its evidence says what it holds
    (tmp_path / "n.md").write_text("# n\n")
    sent = manifest_sent(tmp_path, [tmp_path / "means.csv", tmp_path / "t.csv",
                                    tmp_path / "n.md"], statistic="mean")
    assert sent == [{"name": "means.csv", "statistic": "mean"}, {"name": "t.csv"},
                    {"name": "n.md"}]


def test_a_statistic_per_file(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a,b\n1,2\n")
    (tmp_path / "b.csv").write_text("a,b\n1,2\n")
    sent = manifest_sent(tmp_path, [tmp_path / "a.csv", tmp_path / "b.csv"],
                         statistic={str(tmp_path / "a.csv"): "count"})
    assert sent == [{"name": "a.csv", "statistic": "count"}, {"name": "b.csv"}]
