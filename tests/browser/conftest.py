"""One JupyterLab server and one headless chromium for all browser tests (they take seconds to start)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.browser.lab import CHROMIUM_FLAGS, chromium_path, jupyterlab, open_and_run

LESSONS = Path(__file__).resolve().parents[2] / "course" / "lessons"


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """(base URL, token, browser): the lessons, and their student versions in student/, served from a scratch copy."""
    from playwright.sync_api import sync_playwright

    root = tmp_path_factory.mktemp("lab") / "root"
    root.mkdir()
    for lesson in LESSONS.glob("*.ipynb"):
        shutil.copy(lesson, root / lesson.name)
    shutil.copytree(LESSONS.parent / "student", root / "student")   # as students get them
    with jupyterlab(root, env={"LABTOOLS_QUICK": "1"}) as (base, token), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield base, token, browser
        browser.close()


@pytest.fixture(scope="module")
def lesson_in_lab(lab, request):
    """(page, its RequestLog): the test module's NOTEBOOK open in JupyterLab, all cells run."""
    base, token, browser = lab
    page, requests = open_and_run(browser, base, token, request.module.NOTEBOOK)
    yield page, requests
    page.close()
