"""Each lesson at full size (no LABTOOLS_QUICK) against the "time to run" its first cell states.

Runs every solution notebook top to bottom in a fresh Jupyter kernel (nbclient),
as Run All does in JupyterLab, and prints the wall time next to the budget the
lesson promises students; the ratio must be <= 1 on a 2-core machine. The
budget is read from the lesson itself (the line ``**Time to run:** about N
minutes``), so the text and the measurement cannot drift apart.

Usage::

    .venv/bin/python benchmarks/course_lessons.py            # every lesson
    .venv/bin/python benchmarks/course_lessons.py 05 02      # some of them
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

LESSONS = Path(__file__).resolve().parents[1] / "course" / "lessons"
_BUDGET = re.compile(r"\*\*Time to run:\*\* about (?P<n>\d+(?:\.\d+)?) (?P<unit>seconds|minutes?)")


def stated_budget(source: Path) -> float:
    """Seconds the lesson's "Time to run" line promises (ValueError when it has none)."""
    found = _BUDGET.search(source.read_text(encoding="utf-8"))
    if found is None:
        raise ValueError(f"{source.name} has no '**Time to run:** about N minutes' line")
    return float(found["n"]) * (60 if found["unit"].startswith("minute") else 1)


def run_lesson(notebook: Path) -> float:
    """Seconds to run every cell of `notebook` in a fresh kernel, full size."""
    document = nbformat.read(notebook, as_version=4)
    env_quick = os.environ.pop("LABTOOLS_QUICK", None)
    try:
        with tempfile.TemporaryDirectory() as folder:
            client = NotebookClient(document, timeout=900, kernel_name="python3",
                                    resources={"metadata": {"path": folder}})
            start = time.perf_counter()
            client.execute()
            return time.perf_counter() - start
    finally:
        if env_quick is not None:
            os.environ["LABTOOLS_QUICK"] = env_quick


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers (default: all)")
    args = parser.parse_args(argv)
    sources = sorted(LESSONS.glob("[0-9][0-9]-*.py"))
    if args.lessons:
        sources = [s for s in sources if s.name[:2] in args.lessons]
    print(f"{'lesson':28s} {'measured':>9s} {'budget':>8s} {'ratio':>6s}")
    over = []
    for source in sources:
        budget = stated_budget(source)
        seconds = run_lesson(source.with_suffix(".ipynb"))
        ratio = seconds / budget
        print(f"{source.stem:28s} {seconds:8.1f}s {budget:7.0f}s {ratio:6.2f}", flush=True)
        if ratio > 1:
            over.append(source.stem)
    if over:
        print("over budget:", ", ".join(over))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
