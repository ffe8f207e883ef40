"""Journeys: live stages of a real analysis, share-link openers, failures, offline docs, 404s."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
INTERMEDIATE = ("starting", "tracing", "partitioning", "analysing", "storing")

#: reports every stage the panel paints as the current one to `window.recordStage`
WATCH_STAGES = """(sel) => {
  const seen = new Set();
  const look = () => {
    for (const li of document.querySelectorAll(`${sel} .stage-list li.current`)) {
      const stage = li.dataset.stage;
      if (!seen.has(stage)) { seen.add(stage); recordStage(stage); }
    }
  };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true});
  look();
}"""


def test_a_real_12_layer_analysis_shows_its_stages_live(new_context: Any, shot: Any) -> None:
    """gpt_sac.py (12 blocks) compiled for real: the panel paints the stages as they happen,
    each with its elapsed time; a teammate opening the link meanwhile sees them too."""
    source = (REPO / "examples" / "gpt_sac.py").read_text() + "\n# a real compile, not canned\n"
    page = new_context().new_page()
    painted: list[str] = []
    page.expose_function("recordStage", lambda stage: painted.append(stage))
    page.goto("/")
    page.wait_for_selector(".CodeMirror")
    page.evaluate("(s) => window.ckptEditor.setValue(s)", source)
    page.fill("#snippet-name", "gpt_sac_live.py")
    page.evaluate(WATCH_STAGES, "#progress")
    with page.expect_response(lambda r: r.url.endswith("/api/analyses")
                              and r.request.method == "POST") as posted:
        page.click("#submit-btn")
    job = posted.value.json()
    page.wait_for_selector("#progress .stage-list li.current[data-stage='tracing'], "
                           "#progress .stage-list li.current[data-stage='partitioning']",
                           timeout=60_000)
    shot(page, "progress-01-live-stages")
    pct = int(page.get_attribute("#progress [role=progressbar]", "aria-valuenow") or "0")
    assert 0 < pct < 100

    # a teammate opens the share link while the job runs
    other = new_context().new_page()
    other.goto(job["share_url"])
    other.wait_for_selector("#a-progress .stage-list li.done", timeout=30_000)
    shot(other, "progress-02-share-link-while-running")
    assert other.locator("#a-progress .stage-list li[data-stage='queued'] .t").count() == 1

    page.wait_for_url("**/a/**", timeout=300_000)
    other.wait_for_selector("body[data-ready]", timeout=120_000)
    intermediate = [s for s in painted if s in INTERMEDIATE]
    assert len(intermediate) >= 2, painted
    assert painted.index("tracing") < painted.index("partitioning"), painted


def test_a_failed_analysis_marks_its_stage_and_the_next_run_starts_clean(
        new_context: Any, shot: Any) -> None:
    page = new_context().new_page()
    page.goto("/")
    page.wait_for_selector(".CodeMirror")
    page.evaluate("window.ckptEditor.setValue('import torch\\nmodel = 1\\n"
                  "example_inputs = (torch.ones(2),)\\n')")
    page.fill("#snippet-name", "broken.py")
    page.click("#submit-btn")
    page.wait_for_selector("#submit-error:not(.hidden)", timeout=120_000)
    page.wait_for_selector("#progress.failed .stage-list li.failed")
    shot(page, "progress-03-failed")
    # the recent list marks it failed
    page.wait_for_selector("#recent li.failed .chip.fail")
    # a new submission starts from an empty panel (seen by an observer: a cached answer may
    # open the analysis before a test could look)
    cleared: list[bool] = []
    page.expose_function("panelCleared", lambda: cleared.append(True))
    page.evaluate("""() => {
      const panel = document.querySelector('#progress');
      new MutationObserver(() => { if (!panel.classList.contains('failed')) panelCleared(); })
        .observe(panel, {attributes: true, attributeFilter: ['class']});
    }""")
    page.click(".example[data-name='mlp_checkpoint']")
    page.click("#submit-btn")
    page.wait_for_url("**/a/**", timeout=60_000)
    assert cleared


def test_recent_list_names_snippet_settings_and_time(new_context: Any, server_url: str) -> None:
    from .test_journeys import ready, submit

    a = submit(server_url, "mlp_checkpoint", {"partitioner": "default"})
    page = new_context().new_page()
    page.goto(f"/a/{a}")
    ready(page)
    page.goto("/")
    row = page.locator(f"#recent li[data-id='{a}']")
    text = row.inner_text()
    assert "mlp_checkpoint.py" in text and "partitioner=default" in text
    assert re.search(r"just now|min ago", text), text


def test_docs_work_offline(new_context: Any, shot: Any) -> None:
    ctx = new_context()
    outside: list[str] = []
    ctx.route(re.compile(r"^(?!http://127\.0\.0\.1).*"),
              lambda route: (outside.append(route.request.url), route.abort()))
    page = ctx.new_page()
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    shot(page, "offline-01-docs")
    assert not outside, outside


def test_a_dead_link_shows_a_page_that_says_so(new_context: Any, shot: Any) -> None:
    page = new_context().new_page()
    for path in ("/a/doesnotexist", "/diff/doesnotexist..other"):
        response = page.goto(path)
        assert response is not None and response.status == 404
        assert "no analysis 'doesnotexist'" in page.locator("#reason").inner_text()
        page.wait_for_selector("a[href='/']")
    shot(page, "offline-02-not-found")
    page.click("text=Start a new analysis")
    page.wait_for_selector(".CodeMirror")
    # the API under the same names keeps JSON errors
    api = page.request.get("/api/analyses/doesnotexist")
    assert api.status == 404 and json.loads(api.text())["code"] == "not_found"
    # the two 404 documents are what the browser logs; nothing else may be
    new_context.errors[:] = [e for e in new_context.errors if "status of 404" not in e]
