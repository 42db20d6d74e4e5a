"""`labtools grade` on a corpus of submissions that try everything students try.

One grading run (through the CLI) over the metrics-basics assignment with few
cases and tight limits; each test then checks one submission's points and
reasons in the written grades.csv, feedback and Gradescope results. Every cell
of a submission runs in the sandboxed student process (as "Run all" would);
the functions are called from the tester through stubs.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import time
from pathlib import Path

import pytest

from labtools import cli
from labtools.grading import load_assignment, prepare
from labtools.grading.notebook import parse_percent

ASSIGNMENT = Path(__file__).resolve().parents[1] / "course" / "assignments" / "metrics-basics"
SOLUTION = (ASSIGNMENT / "metrics-basics.py").read_text()

CORRECT_DICE = '''
import numpy as np
def dice_score(pred, ref):
    pred, ref = np.asarray(pred, bool), np.asarray(ref, bool)
    total = pred.sum() + ref.sum()
    return float("nan") if total == 0 else float(2 * (pred & ref).sum() / total)
'''
CORRECT_HAUSDORFF = '''
import numpy as np
from scipy import ndimage
def hausdorff_distance(pred, ref, spacing):
    pred, ref = np.asarray(pred, bool), np.asarray(ref, bool)
    if not pred.any() and not ref.any():
        return float("nan")
    if not pred.any() or not ref.any():
        return float("inf")
    a, b = pred & ~ndimage.binary_erosion(pred), ref & ~ndimage.binary_erosion(ref)
    to_b = ndimage.distance_transform_edt(~b, sampling=spacing)
    to_a = ndimage.distance_transform_edt(~a, sampling=spacing)
    return float(max(to_b[a].max(), to_a[b].max()))
'''


def _cells(*sources: str) -> str:
    return "\n".join(f"# %%\n{source.strip()}\n" for source in sources)


def _notebook(*sources: str) -> str:
    cells = [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": source.strip().splitlines(keepends=True)} for source in sources]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _corpus(outside: Path, folder: Path) -> dict[str, str]:
    """Submissions by file name. `outside` holds files that graded code must not touch."""
    return {
        # The solution's cells plus cells that fail: each failing cell costs only itself.
        "correct.ipynb": _notebook(*(c.source for c in parse_percent(SOLUTION) if c.kind == "code"),
                                   "%matplotlib inline", "import sys\nsys.exit('bye')",
                                   "while True:\n    pass"),
        "wrong.py": _cells("def dice_score(pred, ref):\n    return 0.5",
                           "def hausdorff_distance(pred, ref, spacing):\n    return 0.0"),
        # Right except for two empty masks (0 instead of NaN): loses exactly that case.
        "partial.py": _cells(CORRECT_DICE.replace('float("nan") if total == 0 else ', "")
                             .replace("return float(2", "return 0.0 if total == 0 else float(2"),
                             CORRECT_HAUSDORFF),
        "hang.py": _cells("def dice_score(pred, ref):\n    while True:\n        pass",
                          CORRECT_HAUSDORFF),
        "bomb.py": _cells("import numpy as np\ndef dice_score(pred, ref):\n    hoard = []\n"
                          "    while True:\n        hoard.append(np.ones(10**7))", CORRECT_HAUSDORFF),
        "exits.py": _cells("import sys\ndef dice_score(pred, ref):\n    sys.exit(0)", CORRECT_HAUSDORFF),
        "killer.py": _cells(CORRECT_DICE, "import os\ndef hausdorff_distance(pred, ref, spacing):\n"
                                          "    os._exit(1)"),
        # The one-line patch that gives full marks in nbgrader and otter-grader.
        "monkey.py": _cells("import numpy as np\nnp.isclose = lambda *a, **k: True",
                            "def dice_score(pred, ref):\n    return 1.0",
                            "import numpy as np\ndef hausdorff_distance(pred, ref, spacing):\n"
                            "    np.isclose = lambda *a, **k: True\n    return 0.0"),
        "tamper.py": _cells(CORRECT_DICE.replace(
            "    pred, ref =", f"    open({str(outside / 'planted.txt')!r}, 'w').write('x')\n"
                              f"    __import__('os').remove({str(outside / 'keep.txt')!r})\n"
                              "    pred, ref =", 1),
            CORRECT_HAUSDORFF.replace(
                "    pred, ref =", f"    open({str(folder / 'assignment.toml')!r}).read()\n"
                                  "    pred, ref =", 1)),
        "broken.ipynb": '{"cells": [{"cell_type": "code", "source": ["def dice_score(',
        "syntax.py": _cells("def dice_score(pred, ref)\n    return 1.0", CORRECT_HAUSDORFF),
        # Correct, but returning what numpy arithmetic gives: np.float64 and a 0-d array.
        "numpy_scalars.py": _cells(
            CORRECT_DICE.replace("else float(2 * (pred & ref).sum() / total)",
                                 "else 2 * np.sum(pred & ref) / total"),
            CORRECT_HAUSDORFF.replace("return float(max(to_b[a].max(), to_a[b].max()))",
                                      "return np.array(max(to_b[a].max(), to_a[b].max()))")),
        "borrower.py": _cells("from labtools.metrics import dice\n"
                              "def dice_score(pred, ref):\n    return dice(pred, ref)",
                              CORRECT_HAUSDORFF),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    folder = root / "metrics-basics"
    shutil.copytree(ASSIGNMENT, folder)
    spec = (folder / "assignment.toml").read_text()
    spec = (spec.replace("cases = 24", "cases = 10").replace("cases = 20", "cases = 8")
            .replace("wall_seconds = 30", "wall_seconds = 4").replace("memory_mb = 1024", "memory_mb = 700"))
    (folder / "assignment.toml").write_text(spec)
    outside = root / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious")
    submissions = root / "submissions"
    submissions.mkdir()
    for name, text in _corpus(outside, folder).items():
        (submissions / name).write_text(text)
    (submissions / "notes.txt").write_text("not a submission")
    out = root / "out"
    start = time.perf_counter()
    status = cli.main(["grade", str(folder), str(submissions), "--out", str(out), "--quiet"])
    seconds = time.perf_counter() - start
    with (out / "grades.csv").open() as stream:
        rows = {row["student"]: row for row in csv.DictReader(stream)}
    prepared = prepare(load_assignment(folder))
    return dict(status=status, seconds=seconds, rows=rows, out=out, outside=outside, folder=folder,
                spec=spec, prepared=prepared)


def _points(graded, student, function):
    return float(graded["rows"][student][function])


def _reason(graded, student, function) -> str:
    """The feedback of one function, lower-cased: tests look for words, not capitals."""
    results = json.loads((graded["out"] / "results" / f"{student}.json").read_text())
    return next(test["output"] for test in results["tests"] if test["name"] == function).lower()


def test_grade_finishes_in_bounded_time_and_writes_every_output(graded):
    assert graded["status"] == 0
    assert graded["seconds"] < 60
    students = set(graded["rows"])
    assert len(students) == 13
    assert {p.stem for p in (graded["out"] / "feedback").iterdir()} == students
    assert {p.stem for p in (graded["out"] / "results").iterdir()} == students
    header = next(csv.reader((graded["out"] / "grades.csv").open()))
    assert header == ["student", "dice_score", "hausdorff_distance", "total", "max"]


def test_correct_notebook_gets_full_marks_whatever_its_other_cells_do(graded):
    row = graded["rows"]["correct"]
    assert (row["dice_score"], row["hausdorff_distance"], row["total"], row["max"]) == ("4", "6", "10", "10")
    results = json.loads((graded["out"] / "results" / "correct.json").read_text())
    assert results["score"] == 10 and [t["status"] for t in results["tests"]] == ["passed"] * 2
    feedback = (graded["out"] / "feedback" / "correct.md").read_text()
    # The failing cells are named for the student, each with its reason.
    assert "SystemExit: bye" in feedback and "time limit" in feedback
    assert "labtools is not available while grading" in feedback  # the hidden-tests cell


def test_wrong_answers_score_only_the_cases_they_happen_to_match(graded):
    expected = graded["prepared"].expected
    dice_hits = sum(value == 0.5 for value in expected["dice_score"])
    hausdorff_hits = sum(value == 0.0 for value in expected["hausdorff_distance"])
    assert hausdorff_hits >= 1  # the identical-masks case
    assert _points(graded, "wrong", "dice_score") == pytest.approx(4 * dice_hits / 10, abs=0.01)
    assert _points(graded, "wrong", "hausdorff_distance") == pytest.approx(6 * hausdorff_hits / 8, abs=0.01)


def test_partial_credit_is_the_fraction_of_cases_passed(graded):
    assert _points(graded, "partial", "dice_score") == pytest.approx(4 * 9 / 10)
    assert _points(graded, "partial", "hausdorff_distance") == 6
    feedback = (graded["out"] / "feedback" / "partial.md").read_text()
    assert ("case 1 (both masks empty; 16×16 int64): expected nan, got 0.0 — two empty masks have "
            "no overlap to measure; the conventions say return NaN") in feedback
    assert "9 of 10 test cases passed" in feedback


@pytest.mark.parametrize("student, words", [
    ("hang", "time limit"),
    ("bomb", "memory limit"),
    ("exits", "sys.exit()"),
    ("syntax", "SyntaxError"),
    ("borrower", "labtools.metrics is not available while grading"),
])
def test_a_broken_dice_score_costs_only_dice_score(graded, student, words):
    assert _points(graded, student, "dice_score") == 0
    assert words.lower() in _reason(graded, student, "dice_score")
    assert _points(graded, student, "hausdorff_distance") == 6


def test_os_exit_in_one_function_leaves_the_other_graded(graded):
    assert _points(graded, "killer", "dice_score") == 4
    assert _points(graded, "killer", "hausdorff_distance") == 0
    assert "exit status 1" in _reason(graded, "killer", "hausdorff_distance")


def test_monkeypatching_numpy_gains_nothing(graded):
    expected = graded["prepared"].expected["dice_score"]
    ones = sum(not math.isnan(v) and v == 1.0 for v in expected)
    # The patch changes numpy in the student's process only; answers are compared in the
    # tester: `return 1.0` earns only the cases whose answer is 1, and `return 0.0` after
    # patching np.isclose earns exactly what `return 0.0` earns without it (wrong.py).
    assert _points(graded, "monkey", "dice_score") == pytest.approx(4 * ones / 10, abs=0.01)
    assert _points(graded, "monkey", "hausdorff_distance") == \
        _points(graded, "wrong", "hausdorff_distance") < 6


def test_tampering_with_files_scores_zero_and_changes_nothing(graded):
    assert _points(graded, "tamper", "dice_score") == 0
    assert "blocked by the grading sandbox" in _reason(graded, "tamper", "dice_score")
    assert _points(graded, "tamper", "hausdorff_distance") == 0
    assert "assignment.toml" in _reason(graded, "tamper", "hausdorff_distance")
    assert not (graded["outside"] / "planted.txt").exists()
    assert (graded["outside"] / "keep.txt").read_text() == "precious"
    assert (graded["folder"] / "assignment.toml").read_text() == graded["spec"]


def test_broken_notebook_json_scores_zero_with_a_reason(graded):
    assert graded["rows"]["broken"]["total"] == "0"
    reason = _reason(graded, "broken", "dice_score")
    assert "not a valid notebook" in reason and "json is broken" in reason


def test_numpy_scalars_and_0d_arrays_count_as_numbers(graded):
    # np.float64 is what 2 * np.sum(...) / total returns: a correct answer, whatever its type.
    assert _points(graded, "numpy_scalars", "dice_score") == 4
    assert _points(graded, "numpy_scalars", "hausdorff_distance") == 6


def test_files_that_are_not_submissions_are_named_in_a_warning(graded, tmp_path, capsys):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (submissions / "ann.py").write_text(_cells(CORRECT_DICE, CORRECT_HAUSDORFF))
    (submissions / "bob.txt").write_text("my answers are in the email")
    status = cli.main(["grade", str(graded["folder"]), str(submissions), "--out", str(tmp_path / "out"),
                       "--quiet"])
    assert status == 0
    assert "not graded, not .ipynb or .py: bob.txt" in capsys.readouterr().err
