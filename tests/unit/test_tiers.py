"""Tier presets: a dataset's tier sets its default profile and caps the workspace
(tre.catalog.tiers).  Before, the tier was stored and changed nothing."""

from __future__ import annotations

import pytest

from tre.catalog.tiers import Limits, default_profile, workspace_limits
from workspaces.network import ProjectNetwork
from workspaces.plan import DatasetMount, docker_plan, workspace_spec
from workspaces.settings import load_workspace_settings

pytestmark = pytest.mark.unit

BIG = Limits("16G", 8.0, 4096)


def test_the_tier_sets_the_default_profile() -> None:
    assert [default_profile(t) for t in range(5)] == [
        "default", "default", "default", "strict", "strict"]


def test_the_highest_tier_caps_the_workspace() -> None:
    assert workspace_limits([], BIG) == BIG
    assert workspace_limits([0, 2], BIG) == BIG
    assert workspace_limits([2, 3], BIG) == Limits("8G", 4.0, 512)
    assert workspace_limits([4, 1], BIG) == Limits("4G", 2.0, 256)


def test_a_cap_never_raises_the_deployments_limits() -> None:
    small = Limits("1G", 0.5, 100)
    assert workspace_limits([4], small) == small
    # 3 GiB in another unit is still below tier 4's 4G cap: kept
    assert workspace_limits([4], Limits("3072M", 8.0, 4096)).mem_limit == "3072M"


def test_the_workspace_of_a_tier_4_project_gets_the_cap(tmp_path: object) -> None:
    ws = load_workspace_settings(workspace_mem_limit="16G", workspace_cpu_limit=8,
                                 workspace_pids_limit=4096)
    net = ProjectNetwork("demo", "tre-ws-demo", "tre-ws-1234", "172.30.0.0/24", "172.30.0.1")
    spec = workspace_spec(user="alice", project="demo",
                          datasets=[DatasetMount("open", "/srv/o", 0),
                                    DatasetMount("cancer", "/srv/c", 4)],
                          settings=ws, hub_connect_url="http://h:1", airlock_url="http://a:2")
    assert (spec.mem_limit, spec.cpu_limit, spec.pids_limit) == ("4G", 2.0, 256)
    from pathlib import Path

    hc = docker_plan(spec, net=net, skeleton=Path("/s"), resolv_conf=Path("/r")).host_config
    assert (hc["mem_limit"], hc["memswap_limit"], hc["pids_limit"]) == ("4G", "4G", 256)
    assert hc["cpu_quota"] == 200_000 and hc["cpu_period"] == 100_000  # two CPUs
