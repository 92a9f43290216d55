"""Every page in the browser: at 1280x800 and at 200% zoom, focus visible, no console
error (CSP violations included), a screenshot of each."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from tests.browser.conftest import Live, text_of
from tests.browser.outputs import png, small_and_dominated
from tests.browser.test_review_flow import shortcuts_on


def _notebook() -> bytes:
    return json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Admissions by month"]},
            {"cell_type": "code", "metadata": {}, "execution_count": 1,
             "source": ["df.plot()"],
             "outputs": [{"output_type": "display_data", "metadata": {},
                          "data": {"image/png": base64.b64encode(png()).decode(),
                                   "text/plain": ["<Figure>"]}}]},
        ]}).encode()


TEXT = b"BT /F1 18 Tf 20 45 Td (Quarterly report) Tj ET"
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 220 100]/Contents 4 0 R"
       b"/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
       b"4 0 obj<</Length " + str(len(TEXT)).encode() + b">>stream\n" + TEXT +
       b"\nendstream endobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


def test_login_governance_and_queue_pages(browse: Any, live: Live, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live.url}/queue")
    assert "/login?next=/queue" in page.url
    from tests.browser.conftest import SHOTS

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "00-login.png"))
    context.close()
    assert not errors, errors
    grace = browse("grace")
    grace.goto("/governance")
    assert "erin" in text_of(grace.page, "#memberships")
    assert "strict v1" in text_of(grace.page, "#profiles")
    grace.shot("12-governance")
    carol = browse("carol")
    carol.goto("/queue?needed=2")
    carol.shot("13-queue-filtered")


def test_notebook_and_pdf_pages(browse: Any, live: Live) -> None:
    req = live.submit("alice", [("analysis.ipynb", _notebook()), ("report.pdf", PDF)],
                      context="The analysis notebook and the report")
    carol = browse("carol")
    carol.goto(f"/requests/{req['id']}")
    img = carol.page.locator(".notebook img.output")
    assert img.evaluate("i => i.complete && i.naturalWidth") == 24
    assert carol.page.locator("iframe.pdf").count() == 1
    carol.page.locator("iframe.pdf").scroll_into_view_if_needed()
    carol.page.wait_for_timeout(1500)  # the PDF viewer draws once it is on screen
    carol.shot("14-notebook-and-pdf", full_page=False)


def test_usable_at_200_percent_zoom_with_visible_focus(browse: Any, live: Live,
                                                      tmp_path: Path) -> None:
    path, side = small_and_dominated(tmp_path)
    req = live.submit("alice", [(path.name, path.read_bytes())],
                      sidecars=[(side.name, side.read_bytes())],
                      manifest=[{"name": path.name, "context": "cost by region",
                                 "exception": "please look"}])
    # 200% zoom of a 1280x800 window: a 640x400 CSS viewport at two device pixels per pixel
    dave = browse("dave", viewport={"width": 640, "height": 400}, device_scale_factor=2)
    for path_ in ("/queue", f"/requests/{req['id']}", "/mine"):
        dave.goto(path_)
        overflow = dave.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{path_} scrolls sideways at 200% zoom ({overflow}px)"
    dave.goto(f"/requests/{req['id']}")
    shortcuts_on(dave.page)  # off until turned on (issue 14)
    dave.page.locator("body").press("j")
    dave.page.keyboard.press("j")
    outline = dave.page.evaluate(
        "getComputedStyle(document.activeElement).outlineWidth")
    assert float(outline.removesuffix("px")) >= 2  # focus is visible
    assert dave.page.evaluate("document.activeElement.classList.contains('flag')")
    dave.shot("15-request-200-percent-zoom", full_page=False)
    dave.page.keyboard.press("r")
    comment = dave.page.locator('textarea[name^="comment"]')
    assert comment.evaluate("e => e === document.activeElement") and comment.is_visible()
    assert dave.page.locator('input[value="reject"]').is_checked()
    dave.shot("16-request-200-percent-zoom-voting", full_page=False)
