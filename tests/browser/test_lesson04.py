"""Lesson 04's scribble canvas in a real browser: a mouse stroke reaches the LabelingSession.

The stroke is drawn with chromium's mouse on the canvas; the test then asks the
kernel which voxels changed and checks they lie where the mouse went (the
canvas's pixel mapping and render.plane's orientation), on the slice shown,
with the class picked, and that the status line reports the refit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser.lab import ERRORS, kernel_print

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Under build/ (ignored): tests never modify tracked files; copy to docs/screenshots by hand.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
NOTEBOOK = "04-interactive-labeling.ipynb"   # opened and run by the lesson_in_lab fixture (conftest.py)
STROKE = ((0.30, 0.50), (0.70, 0.50))   # from (x, y) to (x, y), as fractions of the canvas

CHANGED_VOXELS = """
import json
import numpy as np
from labtools.widgets.render import plane
changed = session.scribbles != _before_browser_stroke
picture = plane(changed, canvas._axis, canvas.index)
rows, cols = np.nonzero(picture)
print(json.dumps({
    "rows": [int(rows.min()), int(rows.max())] if rows.size else None,
    "cols": [int(cols.min()), int(cols.max())] if cols.size else None,
    "shape": list(picture.shape),
    "off_slice": int(changed.sum() - picture.sum()),
    "labels": sorted(int(v) for v in np.unique(session.scribbles[changed])),
    "picked": int(canvas.class_picker.value),
    "status": canvas.status.value,
}))
"""


def test_lesson_runs_in_jupyterlab_without_errors(lesson_in_lab):
    page, requests = lesson_in_lab
    assert page.evaluate(ERRORS) == []
    assert requests.local and requests.external == []


def test_a_mouse_stroke_on_the_canvas_becomes_scribbles_where_it_was_drawn(lesson_in_lab):
    page, _ = lesson_in_lab
    assert kernel_print(page, "_before_browser_stroke = session.scribbles.copy(); print('ok')").strip() == "ok"
    canvas = page.locator(".jp-OutputArea-output canvas").last
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    (x0, y0), (x1, y1) = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in STROKE]
    page.mouse.move(x0, y0)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x0 + (x1 - x0) * step / 10, y0 + (y1 - y0) * step / 10)
    page.mouse.up()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.widget-html')].some(e => e.innerText.includes('refit'))",
        timeout=60_000)
    page.wait_for_timeout(500)   # let the kernel finish the refit it just reported
    result = json.loads(kernel_print(page, CHANGED_VOXELS))
    rows, cols = result["shape"]
    assert result["off_slice"] == 0 and result["labels"] == [result["picked"]]
    assert "refit" in result["status"]
    # Where the mouse went, within the brush radius and one pixel of rounding.
    row_range, col_range = result["rows"], result["cols"]
    assert abs((row_range[0] + row_range[1]) / 2 - STROKE[0][1] * rows) <= 2
    assert abs(col_range[0] - STROKE[0][0] * cols) <= 3 and abs(col_range[1] - STROKE[1][0] * cols) <= 3
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    output = canvas.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea-output')][1]")
    output.screenshot(path=str(SCREENSHOTS / "lesson04-scribble-canvas.png"))
