"""Lesson 03 in a real browser: JupyterLab 4 + headless chromium, all cells, a slider moved.

Proves what nbclient cannot: that the widgets' JavaScript loads offline in
JupyterLab, that the metric explorer renders its image and table, and that a
slider moved with the keyboard makes the kernel recompute the metrics. The
screenshots are kept in docs/screenshots/ (CI artefacts, shown in docs/widgets.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser.lab import ERRORS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Under build/ (ignored): tests never modify tracked files; copy to docs/screenshots by hand.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
NOTEBOOK = "03-metrics.ipynb"   # opened and run by the lesson_in_lab fixture (conftest.py)


def _explorer(page):
    """The output holding the metric explorer: the one with a 'shift' slider and a metrics table."""
    slider = page.locator(".widget-slider", has=page.locator(".widget-label", has_text="shift")).first
    slider.wait_for(timeout=30_000)
    output = page.locator(".jp-OutputArea-output", has=slider).first
    return output, slider


def test_lesson_runs_in_jupyterlab_without_errors(lesson_in_lab):
    page, _ = lesson_in_lab
    assert page.evaluate(ERRORS) == []


def test_metric_explorer_renders_and_follows_its_slider(lesson_in_lab):
    page, _ = lesson_in_lab
    output, slider = _explorer(page)
    output.scroll_into_view_if_needed()
    table = output.locator(".widget-html", has_text="Dice").first
    image = output.locator("img").first
    image.wait_for(timeout=30_000)
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    before_table, before_image = table.inner_text(), image.get_attribute("src")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    output.screenshot(path=str(SCREENSHOTS / "lesson03-explorer-before.png"))

    handle = slider.locator(".noUi-handle").first
    handle.focus()
    for _ in range(3):                       # the keyboard moves a noUiSlider one step per press
        page.keyboard.press("ArrowRight")
    page.wait_for_function("([el, old]) => el.innerText !== old", arg=[table.element_handle(), before_table],
                           timeout=30_000)
    page.wait_for_function("([el, old]) => el.getAttribute('src') !== old",
                           arg=[image.element_handle(), before_image], timeout=30_000)
    output.screenshot(path=str(SCREENSHOTS / "lesson03-explorer-after.png"))
    page.screenshot(path=str(SCREENSHOTS / "lesson03-jupyterlab.png"))
    after_table = table.inner_text()
    assert "Dice" in after_table and after_table != before_table


def test_no_request_left_localhost(lesson_in_lab):
    _, requests = lesson_in_lab
    hosts = sorted({url.split("/")[2].rsplit(":", 1)[0] for url in requests.local if "://" in url})
    record = {"hosts": hosts, "refused": requests.external}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "lesson03-requests.json").write_text(json.dumps(record, indent=1) + "\n")
    assert requests.local, "the page made no request at all: the route log is broken"
    assert requests.external == []
