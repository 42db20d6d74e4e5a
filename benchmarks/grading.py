"""Benchmark: `labtools grade` on 100 submissions of an nbgrader-format assignment, 10 test cells.

Target (issue 13): 100 submissions of an nbgrader source notebook with 10
autograded test cells, graded in at most 2 minutes on 2 cores under
bubblewrap: each submission's code in its own walled student process, the
tests in its own tester process. The submissions are a mix of correct,
wrong, partly right, raising and endlessly looping answers.

Side by side, in the same process and on the same submissions, nbgrader's own
``autograde`` (which runs each notebook in a Jupyter kernel, tests in the
student's process) and labtools grade the first `--compare` submissions with
the same per-cell time limit (30 s); the script prints the time of both and
their ratio, and checks that both give every compared submission the same total.

Run:  .venv/bin/python benchmarks/grading.py [--submissions 100] [--workers N] [--compare 6]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 120.0
FUNCTIONS = [  # name, solution body, test asserts, wrong body
    ("add", "return a + b", ["add(1, 2) == 3", "add(-1, 1) == 0"], "return a - b"),
    ("mean", "return sum(a) / len(a)", ["mean([1, 2, 3]) == 2", "mean([4]) == 4"], "return a[0]"),
    ("clip01", "return min(max(a, 0), 1)", ["clip01(2) == 1", "clip01(-1) == 0", "clip01(.5) == .5"],
     "return a"),
    ("squares", "return [i * i for i in range(1, a + 1)]", ["squares(3) == [1, 4, 9]"],
     "return [i * i for i in range(a)]"),
    ("dice", "inter = len(set(a) & set(b))\n    return 2 * inter / (len(a) + len(b))",
     ["dice([1, 2], [2, 3]) == 0.5", "dice([1], [1]) == 1"], "return 1.0"),
    ("word_count", "return len(a.split())", ["word_count('a b c') == 3"], "return a.count(' ')"),
    ("reverse", "return a[::-1]", ["reverse([1, 2, 3]) == [3, 2, 1]"], "return a"),
    ("argmax", "return max(range(len(a)), key=lambda i: a[i])", ["argmax([3, 9, 2]) == 1"],
     "return max(a)"),
    ("normalize", "import numpy as np\n    a = np.asarray(a, float)\n    return (a - a.mean()) / a.std()",
     ["abs(float(normalize([1, 2, 3]).mean())) < 1e-12", "abs(float(normalize([1, 2, 3]).std()) - 1) < 1e-9"],
     "return a"),
    ("fib", "x, y = 0, 1\n    for _ in range(a):\n        x, y = y, x + y\n    return x",
     ["fib(10) == 55", "fib(0) == 0"], "return a"),
]
SIGNATURES = {"dice": "a, b", "add": "a, b"}


def _cell(kind, source, **nbgrader):
    cell = {"cell_type": kind, "metadata": {}, "source": source}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    if nbgrader:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, "locked": False, **nbgrader}
    return cell


def source_notebook() -> dict:
    """10 solution cells, each followed by its autograded test cell (1 point each)."""
    cells = [_cell("markdown", "# Ten small functions")]
    for name, body, tests, _ in FUNCTIONS:
        signature = SIGNATURES.get(name, "a")
        cells.append(_cell("code", f"def {name}({signature}):\n    ### BEGIN SOLUTION\n    {body}\n"
                                   "    ### END SOLUTION", solution=True, grade=False, grade_id=name))
        cells.append(_cell("code", "\n".join(f"assert {t}" for t in tests), solution=False,
                           grade=True, grade_id=f"test_{name}", points=1, locked=True))
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                        "display_name": "Python 3"}},
            "nbformat": 4, "nbformat_minor": 5}


def submission(released: dict, index: int) -> dict:
    """The released notebook answered: mostly right, some wrong, one raising, one looping."""
    document = json.loads(json.dumps(released))
    for cell in document["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if not meta.get("solution"):
            continue
        number = [f[0] for f in FUNCTIONS].index(meta["grade_id"])
        name, body, _, wrong = FUNCTIONS[number]
        choice = (index + number) % 7
        text = body if choice < 4 else wrong if choice < 6 else "raise ValueError('not done')"
        if index % 25 == 3 and number == 0:
            text = "while True:\n        pass"
        cell["source"] = f"def {name}({SIGNATURES.get(name, 'a')}):\n    {text}"
    return document


def grade_labtools(folder: Path, subs: Path, out: Path, workers) -> tuple[float, dict]:
    from labtools.grading import grade

    start = time.perf_counter()
    report = grade(folder, subs, out, workers=workers)
    seconds = time.perf_counter() - start
    return seconds, {s.student: s.total for s in report.submissions}, report.layers


def grade_nbgrader(root: Path, students: list[str]) -> tuple[float, dict]:
    """nbgrader autograde of `students` (its course directory layout), as nbgrader runs it."""
    # nbgrader calls the `alembic` command: the venv's bin folder must be on PATH.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    setup = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "ps1",
                            "--force", f"--CourseDirectory.root={root}"],
                           cwd=root, capture_output=True, text=True, env=env)
    if setup.returncode != 0:
        raise RuntimeError(setup.stderr[-2000:])
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "ps1", "--force",
                           f"--CourseDirectory.root={root}", "--ExecutePreprocessor.timeout=30",
                           "--Autograde.create_student=True"],
                          cwd=root, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    totals = {}
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for student in students:
            totals[student] = gradebook.find_submission("ps1", student).score
    return seconds, totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--workers", type=int, default=None, help="default: one per CPU")
    parser.add_argument("--compare", type=int, default=6,
                        help="submissions also graded by nbgrader autograde (0: none)")
    args = parser.parse_args()
    from labtools.grading import read_source

    work = Path(tempfile.mkdtemp(prefix="labtools-bench-grading-"))
    folder = work / "source" / "ps1"
    folder.mkdir(parents=True)
    (folder / "ps1.ipynb").write_text(json.dumps(source_notebook()))
    released = read_source(folder / "ps1.ipynb").student_document()
    subs = work / "subs"
    subs.mkdir()
    for index in range(args.submissions):
        document = submission(released, index)
        (subs / f"s{index:03d}.ipynb").write_text(json.dumps(document))
        if index < args.compare:  # nbgrader's layout: submitted/<student>/<assignment>/
            target = work / "submitted" / f"s{index:03d}" / "ps1"
            target.mkdir(parents=True)
            (target / "ps1.ipynb").write_text(json.dumps(document))
    seconds, ours, layers = grade_labtools(folder, subs, work / "out", args.workers)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print(f"sandbox: {'; '.join(layers)}")
    rate = seconds / args.submissions
    print(f"labtools grade: {args.submissions} submissions x 10 test cells in {seconds:.1f} s "
          f"({rate:.2f} s per submission); target <= {TARGET_SECONDS:.0f} s: "
          f"{'MET' if seconds <= TARGET_SECONDS else 'MISSED'}")
    if args.compare:
        students = [f"s{i:03d}" for i in range(args.compare)]
        few = work / "subs-compared"
        few.mkdir()
        for student in students:
            (few / f"{student}.ipynb").write_text((subs / f"{student}.ipynb").read_text())
        ours_seconds, _, _ = grade_labtools(folder, few, work / "out-compared", args.workers)
        theirs_seconds, theirs = grade_nbgrader(work, students)
        print(f"the first {args.compare} submissions: labtools grade {ours_seconds:.1f} s, "
              f"nbgrader autograde {theirs_seconds:.1f} s; ratio labtools / nbgrader "
              f"{ours_seconds / theirs_seconds:.2f}")
        same = all(abs(ours[s] - theirs[s]) < 1e-9 for s in students)
        print(f"totals equal on the compared submissions: {same} "
              f"(labtools {[ours[s] for s in students]}, nbgrader {[theirs[s] for s in students]})")


if __name__ == "__main__":
    main()
