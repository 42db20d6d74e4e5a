"""Cases for any function: a case table, an instructor's generator, Hypothesis properties,
structure checks; added by assignment.toml to nbgrader's own ps1 problem1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from labtools.grading import grade, load_assignment

PS1 = Path(__file__).parent / "data" / "nbgrader" / "source" / "ps1"

TOML = '''
[assignment]
notebook = "problem1.ipynb"
seed = 3

[[functions]]
name = "squares"
points = 3
reference = "reference.py:squares"
cases = [
  { args = [3], expect = [1, 4, 9] },
  { args = [0], raises = "ValueError", hint = "n < 1 must raise ValueError" },
  { args = [2] },
]
strategy = "strategies.py:small_ints"
examples = 60

[[functions]]
name = "sum_of_squares"
points = 2
reference = "reference.py:sum_of_squares"
generator = "cases.py:make_cases"
cases = 5
must_call = ["squares"]
'''
REFERENCE = '''
def squares(n):
    if n < 1:
        raise ValueError("n must be >= 1")
    return [i * i for i in range(1, n + 1)]

def sum_of_squares(n):
    return sum(squares(n))
'''
STRATEGIES = '''
from hypothesis import strategies as st
small_ints = st.tuples(st.integers(min_value=-5, max_value=30))
'''
CASES = '''
def make_cases(rng):
    yield (1,)
    for n in rng.integers(2, 40, size=10):
        yield (int(n),)
'''
SUBMISSIONS = {
    "correct": ("if n < 1:\n        raise ValueError('n')\n    return [i ** 2 for i in range(1, n + 1)]",
                "return sum(squares(n))"),
    # Right for n >= 1, but returns [] instead of raising: the table's raise case and the
    # property fail; Hypothesis shrinks the failing input to the boundary, squares(0).
    "no_raise": ("return [i ** 2 for i in range(1, n + 1)]", "return sum(squares(n))"),
    # Correct values, but sum_of_squares does its own loop instead of calling squares
    # (nbgrader's own test for this deletes `squares` and expects a NameError: it catches
    # this student too, through the tester's stubs).
    "own_loop": ("if n < 1:\n        raise ValueError('n')\n    return [i ** 2 for i in range(1, n + 1)]",
                 "total = 0\n    for i in range(1, n + 1):\n        total += i * i\n    return total"),
    # Raises the wrong type for n < 1.
    "type_error": ("if n < 1:\n        raise TypeError('n')\n    return [i ** 2 for i in range(1, n + 1)]",
                   "return sum(squares(n))"),
}


def _submission(released: dict, bodies) -> dict:
    document = json.loads(json.dumps(released))
    for cell in document["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id == "squares":
            cell["source"] = f"def squares(n):\n    {bodies[0]}"
        elif grade_id == "sum_of_squares":
            cell["source"] = f"def sum_of_squares(n):\n    {bodies[1]}"
    return document


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("anyfunction")
    folder = root / "ps1"
    folder.mkdir()
    shutil.copy(PS1 / "problem1.ipynb", folder)
    for name, text in {"assignment.toml": TOML, "reference.py": REFERENCE,
                       "strategies.py": STRATEGIES, "cases.py": CASES}.items():
        (folder / name).write_text(text)
    released = load_assignment(folder).notebooks[0].student_document()
    subs = root / "subs"
    subs.mkdir()
    for student, bodies in SUBMISSIONS.items():
        (subs / f"{student}.ipynb").write_text(json.dumps(_submission(released, bodies)))
    report = grade(folder, subs, root / "out")
    return {s.student: {g.name: g for g in s.items} for s in report.submissions}


def test_correct_gets_every_point(graded):
    items = graded["correct"]
    assert items["squares"].points == 3 and items["squares"].passed == 4  # 3 rows + property
    assert items["sum_of_squares"].points == 2 and items["sum_of_squares"].total == 5
    # nbgrader's own grade cells are graded too, beside the toml's functions
    assert items["correct_squares"].points == 1 and items["sum_of_squares_uses_squares"].points == 0.5


def test_property_failure_is_shrunk_to_the_smallest_input(graded):
    squares = graded["no_raise"]["squares"]
    assert squares.passed == 2 and squares.points == pytest.approx(1.5)
    table, prop = squares.failed_cases
    assert "expected it to raise ValueError, but it returned []" in table
    assert "n < 1 must raise ValueError" in table  # the instructor's hint
    assert "squares(0)" in prop  # the boundary, not a random negative number


def test_wrong_exception_type_is_named(graded):
    squares = graded["type_error"]["squares"]
    assert "expected it to raise ValueError, but it raised TypeError" in squares.failed_cases[0]


def test_structure_checks_come_from_the_syntax_tree(graded):
    grade = graded["own_loop"]["sum_of_squares"]
    assert grade.points == 0
    assert "sum_of_squares must call squares" in grade.reason
    assert graded["own_loop"]["squares"].points == 3
    assert graded["own_loop"]["sum_of_squares_uses_squares"].points == 0
    assert graded["correct"]["sum_of_squares_uses_squares"].points == 0.5
