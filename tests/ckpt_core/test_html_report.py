"""The static HTML report: self-contained, and it loads without errors in headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ckpt_core.html_report import html_report
from tests.ckpt_core.memory.test_memory import analysis, region

from ..conftest import EXAMPLES

CHROMIUM = "/usr/bin/chromium"


def test_report_is_self_contained() -> None:
    text = html_report(analysis((region(),)))
    # plotly.js is inlined (its source mentions CDN URLs for geo maps, which we never draw;
    # the browser test below blocks every network request)
    assert "<script src=" not in text and "<link " not in text
    assert "Plotly" in text
    for heading in ("Summary", "Memory", "Timeline", "Saved tensors", "Recomputed",
                    "Graph by module"):
        assert f"<h2>{heading}</h2>" in text
    assert 'id="timeline-0"' in text


def test_report_escapes_names() -> None:
    a = analysis((region(),))
    a = type(a)(**{**a.__dict__, "snippet_name": "<b>x</b>.py"})
    text = html_report(a)
    assert "<b>x</b>.py" not in text and "&lt;b&gt;x&lt;/b&gt;.py" in text


def _load_in_chromium(path: Path) -> tuple[list[str], int]:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        # offline: any network request would be an error
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
            "file:") else route.abort())
        page.goto(path.as_uri())
        page.wait_for_selector(".js-plotly-plot")
        plots = page.locator(".js-plotly-plot").count()
        browser.close()
    finally:
        pw.stop()
    return errors, plots


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")
def test_report_loads_without_errors(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(html_report(analysis((region(),))), encoding="utf-8")
    errors, plots = _load_in_chromium(path)
    assert errors == [] and plots == 1


@pytest.mark.browser
@pytest.mark.torch_compile
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")
def test_cli_html_report_of_an_example_loads(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from ckpt_core.cli import main

    path, out = tmp_path / "report.html", tmp_path / "a.json"
    assert main(["analyze", str(EXAMPLES / "two_regions.py"), "--html", str(path),
                 "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    import json

    doc: dict[str, Any] = json.loads(out.read_text())
    assert doc["memory"]["regions"][0]["peak"]["bytes"] > 0
    errors, plots = _load_in_chromium(path)
    assert errors == [] and plots == len(doc["regions"])
