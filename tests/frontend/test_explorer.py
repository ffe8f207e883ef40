"""Journeys through the graph explorer: groups opened in place (nested, several, to a depth),
drill-down, deep links, proportions, search aliases, keyboard focus, no leaked graph titles."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import pytest

from ckpt_core import palette

from .test_journeys import ready, submit

pytestmark = pytest.mark.browser

EXPANSION_BUDGET_MS = 300.0


@pytest.fixture(scope="module")
def gpt_id(server_url: str) -> str:
    return submit(server_url, "gpt_sac")


def _rgb(hex_color: str) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def clusters(page: Any) -> set[str]:
    return set(page.evaluate(
        "[...document.querySelectorAll('.graph-view [id^=\"c:\"]')].map(e => e.id.slice(2))"))


def test_groups_open_in_place_nested_and_deep_links_restore(
        new_context: Any, gpt_id: str, shot: Any) -> None:
    page = new_context().new_page()
    page.goto(f"/a/{gpt_id}")
    ready(page)
    shot(page, "explorer-01-top")
    page.click("[id='g:blocks']")
    page.wait_for_selector("[id='c:blocks'] >> nth=0")
    page.wait_for_selector("[id='g:blocks.0']")
    shot(page, "explorer-01b-blocks-open")
    page.click("[id='g:blocks.0']")
    page.wait_for_selector("[id='c:blocks.0']")
    page.click("button:text('Fit')")  # the opened group was framed; see all of it again
    page.click("[id='g:blocks.1']")
    page.wait_for_selector("[id='c:blocks.1']")
    assert {"blocks", "blocks.0", "blocks.1"} <= clusters(page)  # nested, several at once
    assert page.locator("[id='g:blocks.0.attn']").count() == 1
    shot(page, "explorer-02-open-in-place")
    # the README's first picture: two blocks open in place, a saved node selected and explained
    page.evaluate("""() => {
      const view = document.querySelector('.graph-view').getBoundingClientRect();
      const saved = [...document.querySelectorAll('.graph-view [id^="n:"].st-saved')];
      const inside = saved.find((el) => {
        const r = el.getBoundingClientRect();
        return r.top > view.top && r.bottom < view.bottom
          && r.left > view.left && r.right < view.right;
      });
      inside?.dispatchEvent(new MouseEvent('click', {bubbles: true, detail: 1}));
    }""")
    page.wait_for_selector("#inspector h3")
    shot(page, "readme-explorer")
    opened = unquote(page.evaluate("location.hash"))
    assert "open=blocks,blocks.0,blocks.1" in opened, opened

    # a deep link restores the same open groups
    other = new_context().new_page()
    other.goto(page.url)
    ready(other)
    other.wait_for_selector("[id='c:blocks.1']")
    assert clusters(other) == clusters(page)

    # clicking an open group's frame closes it (and what is open inside it)
    page.click("button:text('Fit')")
    page.click("[id='c:blocks'] text >> nth=0")
    page.wait_for_selector("[id='g:blocks']")
    assert clusters(page) == set()


def test_expansion_from_cache_and_keyboard_focus_stays_in_the_graph(
        new_context: Any, gpt_id: str) -> None:
    page = new_context().new_page()
    page.goto(f"/a/{gpt_id}")
    ready(page)
    page.focus("[id='g:blocks']")
    page.keyboard.press("Enter")
    page.wait_for_selector("[id='c:blocks']")
    # focus follows the group into its open frame, so the keyboard keeps working there
    assert page.evaluate("document.activeElement.id") == "c:blocks"
    page.keyboard.press("Enter")  # closes it again
    page.wait_for_selector("[id='g:blocks']")
    assert page.evaluate("document.activeElement.id") == "g:blocks"
    # opening it again is answered from the page's cache of layouts
    elapsed = page.evaluate("""async () => {
      const t0 = performance.now();
      const enter = new KeyboardEvent('keydown', {key: 'Enter', bubbles: true});
      document.getElementById('g:blocks').dispatchEvent(enter);
      while (!document.getElementById('c:blocks')) await new Promise(r => requestAnimationFrame(r));
      return performance.now() - t0;
    }""")
    assert page.evaluate("document.querySelector('.graph-view').dataset.fromCache") == "true"
    print(f"\nexpansion from cache: {elapsed:.0f} ms")
    assert elapsed <= EXPANSION_BUDGET_MS


def test_expand_all_to_depth_and_drill_down(new_context: Any, gpt_id: str, shot: Any) -> None:
    page = new_context().new_page()
    page.goto(f"/a/{gpt_id}")
    ready(page)
    page.select_option("[aria-label='Expand all groups to depth']", "2")
    page.wait_for_selector("[id='c:blocks.11']", timeout=60_000)
    assert {"blocks", "blocks.0", "blocks.11"} <= clusters(page)
    assert "depth=2" in page.evaluate("location.hash")
    shot(page, "explorer-03-depth-2")
    page.select_option("[aria-label='Expand all groups to depth']", "0")
    page.wait_for_selector("[id='g:blocks']")
    page.dblclick("[id='g:blocks']")
    page.wait_for_selector("[id='g:blocks.3']")
    assert "level=blocks" in page.evaluate("location.hash")
    assert "blocks" in page.locator(".crumbs").inner_text()


def test_groups_show_their_proportions_and_no_graph_titles_leak(
        new_context: Any, gpt_id: str) -> None:
    page = new_context().new_page()
    page.goto(f"/a/{gpt_id}")
    ready(page)
    page.click("[id='g:blocks']")
    page.wait_for_selector("[id='g:blocks.0']")
    group = page.locator("[id='g:blocks.0']")
    title = group.locator("title").first.text_content() or ""
    assert re.search(r"\d+ saved", title) and re.search(r"\d+ recomputed", title), title
    fills = set(group.evaluate(
        "g => [...g.querySelectorAll('polygon')].map(p => getComputedStyle(p).fill)"))
    assert {_rgb(palette.color("saved")), _rgb(palette.color("recomputed"))} <= fills, fills
    titles = page.evaluate(
        "[...document.querySelectorAll('.graph-view title')].map(t => t.textContent)")
    assert not [t for t in titles if re.fullmatch(r"%\d+|cluster_.*", t) or "->" in t], titles
    # labels fit their boxes
    overflow = page.evaluate("""[...document.querySelectorAll('.graph-view [id^="n:"]')]
      .filter(g => {
        const shape = g.querySelector('polygon, path, ellipse'); if (!shape) return false;
        const box = shape.getBBox();
        return [...g.querySelectorAll('text')].some(t => t.getBBox().width > box.width + 1);
      }).map(g => g.id)""")
    assert not overflow, overflow


def test_search_aliases_close_on_selection_and_enter_selects(
        new_context: Any, gpt_id: str, shot: Any) -> None:
    page = new_context().new_page()
    page.goto(f"/a/{gpt_id}")
    ready(page)
    page.fill(".graph-toolbar input[type=search]", "sdpa")
    page.wait_for_selector(".search-results:not(.hidden) li[role=option]")
    first = page.locator(".search-results li[role=option]").first.inner_text()
    assert "scaled_dot_product" in first, first
    shot(page, "explorer-04-search-sdpa")
    page.press(".graph-toolbar input[type=search]", "Enter")
    page.wait_for_selector(".search-results.hidden", state="attached")
    page.wait_for_selector("#inspector h3")
    assert "scaled_dot_product" in page.locator("#inspector").inner_text()
    page.wait_for_timeout(300)  # the list stays closed once the level with the node renders
    assert page.locator(".search-results.hidden").count() == 1


def test_download_for_model_explorer(new_context: Any, gpt_id: str, shot: Any,
                                     tmp_path: Any) -> None:
    page = new_context(accept_downloads=True).new_page()
    page.goto(f"/a/{gpt_id}")
    ready(page)
    page.click("#export-btn")
    shot(page, "export-01-menu")
    with page.expect_download() as download:
        page.click("#export-graph")
    path = tmp_path / "graph.hfgraph"
    download.value.save_as(str(path))
    from model_explorer.builtin_hfgraph_adapter import BuiltinHfGraphAdapter

    [collection] = BuiltinHfGraphAdapter().convert(str(path), {})["graphCollections"]
    assert {g.id for g in collection.graphs} == {"r0.forward", "r0.backward", "r0.joint"}
