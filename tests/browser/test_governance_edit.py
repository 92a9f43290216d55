"""The governance page's policy edit in the browser: the effective permissions, and a
preview of a proposed grant (no apply: the live airlock's policy is shared by the module)."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import text_of


def test_governance_preview_of_a_grant(browse: Any) -> None:
    grace = browse("grace")
    grace.goto("/governance")
    assert "spawn workspace" in text_of(grace.page, "#perms-by-user")
    grace.shot("30-governance-permissions")
    grace.page.click("#edit-policy")
    grace.page.wait_for_load_state("load")
    box = grace.page.locator("#policy-text")
    box.fill(box.input_value() + "g, frank, researcher, demo-project, 2025-01-01, 2099-01-01\n")
    grace.page.click("#preview-button")
    grace.page.wait_for_load_state("load")
    diff = text_of(grace.page, "#diff")
    assert "gained" in diff and "frank" in diff and "spawn workspace" in diff
    grace.shot("31-governance-preview")
