"""Generate the lessons' notebooks from their jupytext sources.

Each lesson is written once, as a py:percent script with its solutions
(``course/lessons/NN-name.py``). This script writes, for each:

* ``course/lessons/NN-name.ipynb``: the solution notebook (jupytext-paired with
  the script, no outputs), which instructors open;
* ``course/student/NN-name.ipynb``: the student notebook, with every
  ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block and every line ending
  in ``# SOLUTION`` replaced by a stub, and ``### BEGIN HIDDEN TESTS`` blocks
  removed: the same rules as ``labtools assign`` (labtools/grading/notebook.py).

Usage (``make notebooks`` runs the first)::

    python course/build.py            # (re)write every generated notebook
    python course/build.py --check    # exit 1, naming them, if any is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import jupytext

from labtools.grading.notebook import read_cells, student_cells, write_ipynb

COURSE = Path(__file__).resolve().parent
LESSONS = COURSE / "lessons"
STUDENT = COURSE / "student"


def lesson_sources(folder: Path = LESSONS) -> list[Path]:
    """The lessons' py:percent sources, in lesson order (``00-tour.py``, ``01-...``)."""
    return sorted(folder.glob("[0-9][0-9]-*.py"))


def solution_notebook(source: Path, previous: Path | None = None) -> str:
    """The solution notebook of `source` as .ipynb text (jupytext, no outputs).

    jupytext draws new cell ids on every run; the ids of `previous` (the
    notebook written last time) are kept cell by cell, so that editing one
    sentence of a lesson changes one cell of its notebook, not every id.
    """
    notebook = jupytext.read(source)
    if previous is not None and previous.exists():
        old_ids = [cell.get("id") for cell in json.loads(previous.read_text())["cells"]]
        for cell, old_id in zip(notebook.cells, old_ids):
            if old_id:
                cell["id"] = old_id
    return jupytext.writes(notebook, fmt="ipynb")


def student_notebook(source: Path, folder: Path) -> Path:
    """Write the student version of `source` into `folder`; returns its path."""
    return write_ipynb(student_cells(read_cells(source)), folder / f"{source.stem}.ipynb")


def cell_sources(text: str) -> list[tuple[str, str]]:
    """(kind, source) of each cell of an .ipynb text: what the generated files must agree on.

    Cell ids and metadata are left out: jupytext draws new ids on every run.
    """
    cells = json.loads(text)["cells"]
    return [(cell["cell_type"], "".join(cell["source"])) for cell in cells]


def build(*, check: bool = False) -> list[Path]:
    """Write (or, with `check`, compare) every generated notebook; returns the stale ones."""
    stale = []
    STUDENT.mkdir(exist_ok=True)
    for source in lesson_sources():
        solution = source.with_suffix(".ipynb")
        expected = solution_notebook(source, previous=solution)
        if not solution.exists() or cell_sources(solution.read_text()) != cell_sources(expected):
            stale.append(solution)
            if not check:
                solution.write_text(expected, encoding="utf-8")
        student = STUDENT / f"{source.stem}.ipynb"
        if check:
            with tempfile.TemporaryDirectory() as scratch:
                fresh = student_notebook(source, Path(scratch)).read_text()
            if not student.exists() or cell_sources(student.read_text()) != cell_sources(fresh):
                stale.append(student)
        else:
            before = student.read_text() if student.exists() else None
            if student_notebook(source, STUDENT).read_text() != before:
                stale.append(student)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only report notebooks that differ from their sources")
    args = parser.parse_args(argv)
    stale = build(check=args.check)
    root = COURSE.parent
    for path in stale:
        verb = "out of date" if args.check else "written"
        print(f"{path.relative_to(root)}: {verb}")
    if args.check and stale:
        print("Regenerate them with: make notebooks", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
