"""The diff page's panes move together; groups holding a change say how many; matched_by shows."""

from __future__ import annotations

from typing import Any

import pytest

from .test_journeys import submit

pytestmark = pytest.mark.browser

VIEWBOX_WIDTH = "(sel) => Number(document.querySelector(sel).getAttribute('viewBox').split(' ')[2])"


def test_panes_follow_each_other_and_mark_changed_groups(
        new_context: Any, server_url: str, shot: Any) -> None:
    a = submit(server_url, "mlp_checkpoint")
    b = submit(server_url, "mlp_checkpoint", {"partitioner": "default"})
    page = new_context().new_page()
    page.goto(f"/diff/{a}..{b}")
    page.wait_for_selector("body[data-ready]", timeout=30_000)
    page.wait_for_selector("#graph-a .graph-view svg [id^='g:']")
    page.wait_for_selector("#graph-b .graph-view svg [id^='g:']")
    # a collapsed group says how many of its nodes changed fate
    badge = page.locator("#graph-a .has-changes .chg-badge text").first
    assert (badge.text_content() or "").endswith("changed")
    # the table says how each row was matched
    assert "Matched by" in page.locator("#moved thead").inner_text()

    group = page.locator("#graph-a .has-changes").first.get_attribute("id")
    assert group and group.startswith("g:")
    page.click(f"#graph-a [id='{group}']")
    page.wait_for_selector(f"#graph-a [id='c:{group[2:]}']")
    page.wait_for_selector(f"#graph-b [id='c:{group[2:]}']", timeout=30_000)  # B followed
    shot(page, "diff-05-panes-follow")

    before_a = page.evaluate(VIEWBOX_WIDTH, "#graph-a .graph-view svg")
    before_b = page.evaluate(VIEWBOX_WIDTH, "#graph-b .graph-view svg")
    page.click("#graph-a button[aria-label='Zoom in']")
    after_a = page.evaluate(VIEWBOX_WIDTH, "#graph-a .graph-view svg")
    after_b = page.evaluate(VIEWBOX_WIDTH, "#graph-b .graph-view svg")
    assert after_a / before_a == pytest.approx(0.8, rel=0.02)
    assert after_b / before_b == pytest.approx(0.8, rel=0.02)  # B zoomed with A

    # unchanged nodes stay legible in the overlay: dark text on a light fill
    page.click("[data-mode=overlay]")
    page.wait_for_selector("#graph-a .chg-same text", timeout=30_000)
    colour = page.evaluate(
        "getComputedStyle(document.querySelector('#graph-a .chg-same text')).fill")
    assert colour in ("rgb(29, 36, 48)",), colour
