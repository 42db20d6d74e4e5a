"""The course's lessons: generated notebooks are current, run headless, and students get no answers.

Each lesson runs in a real Jupyter kernel (nbclient) with ``LABTOOLS_QUICK=1``
(small data, few epochs), twice in one kernel as students re-run cells; the
budget is three minutes per run on two cores, enforced here as a timeout. The
student version must contain none of the solution code; how its exercises'
checks behave is tests/test_course_exercises.py, Run All in JupyterLab is
tests/browser/test_student_run_all.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from labtools.grading.notebook import read_cells, stub_lines

COURSE = Path(__file__).resolve().parent.parent / "course"
LESSONS = sorted((COURSE / "lessons").glob("[0-9][0-9]-*.py"))
NAMES = [path.stem for path in LESSONS]
EXPECTED = ["00-tour", "01-upsampling", "02-losses", "03-metrics", "04-interactive-labeling",
            "05-unet-lab", "06-evaluation-lab", "07-few-labels"]
BUDGET_SECONDS = 180
STUB = stub_lines()[-1].strip()          # the `raise NotImplementedError(...)` line students see
_SOLUTION_BLOCK = re.compile(r"^\s*#+\s*BEGIN SOLUTION\s*$(.*?)^\s*#+\s*END SOLUTION\s*$",
                             re.MULTILINE | re.DOTALL)
_SOLUTION_LINE = re.compile(r"^\s*(?P<code>.*?)\s*#\s*SOLUTION\s*$", re.MULTILINE)


def test_every_planned_lesson_exists():
    assert NAMES == EXPECTED


def test_generated_notebooks_match_their_sources():
    result = subprocess.run([sys.executable, str(COURSE / "build.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", sorted(COURSE.rglob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_carry_no_outputs_or_widget_state(path):
    document = json.loads(path.read_text())
    assert "widgets" not in document.get("metadata", {})
    for cell in document["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path


def _execute(notebook, folder: Path, monkeypatch, allow_errors: bool = False) -> None:
    monkeypatch.setenv("LABTOOLS_QUICK", "1")
    NotebookClient(notebook, timeout=BUDGET_SECONDS, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(folder)}}).execute()


@pytest.mark.slow
@pytest.mark.timeout(2 * BUDGET_SECONDS)
@pytest.mark.parametrize("name", NAMES)
def test_lesson_runs_twice_in_one_kernel_and_writes_where_it_says(name, tmp_path, monkeypatch):
    """All cells, then all cells again in the same kernel, as a student re-runs them: no error,
    no flaky draw (every cell that draws seeds its own generator), and the files a lesson
    writes are in ``labtools-output/<lesson>/`` next to the notebook, as its text says."""
    notebook = nbformat.read(COURSE / "lessons" / f"{name}.ipynb", as_version=4)
    again = [nbformat.v4.new_code_cell(cell.source) if cell.cell_type == "code"
             else nbformat.v4.new_markdown_cell(cell.source) for cell in notebook.cells]
    twice = [*notebook.cells, *again]
    run = nbformat.v4.new_notebook(cells=twice, metadata=notebook.metadata)
    _execute(run, tmp_path, monkeypatch)
    errors = [(index % len(notebook.cells), "second run" if index >= len(notebook.cells) else "first run",
               output.ename, output.evalue)
              for index, cell in enumerate(run.cells) for output in cell.get("outputs", [])
              if output.output_type == "error"]
    assert errors == []
    source = (COURSE / "lessons" / f"{name}.py").read_text()
    if f"labtools-output/{name}" in source or f'"labtools-output") / "{name}"' in source:
        written = tmp_path / "labtools-output" / name
        assert written.is_dir() and any(written.rglob("*")), f"{name} says it writes to {written}"


def _solution_code(source: Path) -> list[str]:
    """Lines of solution code in a lesson source (long enough to be telling)."""
    code = []
    for cell in read_cells(source):
        if cell.kind != "code":
            continue
        for block in _SOLUTION_BLOCK.findall(cell.source):
            code += block.splitlines()
        code += [match.group("code") for match in _SOLUTION_LINE.finditer(cell.source)]
    return [line.strip() for line in code if len(line.strip()) >= 12 and not line.strip().startswith("#")]


@pytest.mark.parametrize("name", NAMES)
def test_student_version_contains_no_solution_code(name):
    solution_lines = _solution_code(COURSE / "lessons" / f"{name}.py")
    assert solution_lines, f"{name} has no exercise (no BEGIN SOLUTION block or # SOLUTION line)"
    student = json.loads((COURSE / "student" / f"{name}.ipynb").read_text())
    text = "\n".join("".join(cell["source"]) for cell in student["cells"])
    assert STUB in text
    leaked = [line for line in solution_lines if line in text]
    assert leaked == []
