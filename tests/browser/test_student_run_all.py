"""Each student notebook, as shipped, with Run All in JupyterLab: it reaches its last cell.

Every exercise is still a stub, so every check must say "not done yet"
instead of raising, and no later cell may depend on a student's function;
the last cell's report then lists the unfinished exercises. This is what a
student sees on opening a lesson and pressing Run All before writing anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.lab import (
    ERRORS,
    LAST_CELL_TEXT,
    RAN_OR_STOPPED,
    open_and_run,
    shut_down,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STUDENT = Path(__file__).resolve().parents[2] / "course" / "student"
NOTEBOOKS = sorted(path.name for path in STUDENT.glob("[0-9][0-9]-*.ipynb"))


@pytest.mark.timeout(400)
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_run_all_reaches_the_last_cell_of_the_student_notebook(lab, notebook):
    base, token, browser = lab
    page, requests = open_and_run(browser, base, token, f"student/{notebook}", until=RAN_OR_STOPPED)
    try:
        errors, last = page.evaluate(ERRORS), page.evaluate(LAST_CELL_TEXT)
    finally:
        shut_down(page)
    assert errors == [], f"Run All stopped at an error in {notebook}"
    assert last["ran"], f"Run All did not reach the last cell of {notebook}"
    assert "Exercises checked in this notebook" in last["text"] and "not done yet" in last["text"]
    assert "correct" not in last["text"].replace("not done yet", "")   # nothing solved by the stubs
    assert requests.external == []
