"""The axe scan that every photographed page state passes (conftest.Browsing.shot) is
able to fail: a page with known violations is reported, rule by rule."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import axe_violations


def test_the_scan_reports_violations(chromium: Any) -> None:
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_content('<html><body><img src="x.png"><div class="w" style="overflow:auto;'
                         'height:40px"><p style="height:400px">tall</p></div></body></html>')
        found = axe_violations(page)
        rules = {v.split(" ", 1)[0] for v in found}
        assert {"image-alt", "html-has-lang"} <= rules, found
        page.set_content('<html lang="en"><head><title>ok</title></head><body><main>'
                         '<h1>Fine</h1><img src="x.png" alt="a plot"></main></body></html>')
        assert axe_violations(page) == []
    finally:
        context.close()
