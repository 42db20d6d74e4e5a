"""Every exercise check of the course, tried as a student would: not done, wrong, then right.

For each lesson one Jupyter kernel runs the *student* notebook top to bottom
(``LABTOOLS_QUICK=1``). At each exercise it runs, in turn:

1. the stub as shipped, then the check: it must say "not done yet" and raise
   nothing, so that Run All goes on past an unfinished exercise;
2. each plausible wrong answer of ``tests/course_wrong_answers.py`` (the
   solution with one typical mistake), then the check: it must fail with
   ``ExerciseFailed`` and a message that names what was checked and the
   student's value, next to the expected one, without dumping arrays;
3. the solution, then the check: it must say "correct".

The later cells then run on as in the student's notebook; none may fail.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from labtools.grading.notebook import read_cells, stub_lines, student_cells
from tests.course_wrong_answers import WRONG_ANSWERS

COURSE = Path(__file__).resolve().parent.parent / "course"
LESSONS = sorted((COURSE / "lessons").glob("[0-9][0-9]-*.py"))
STUB = stub_lines()[-1].strip()
_DEF = re.compile(r"^def (\w+)\(", re.MULTILINE)
_YOURS = re.compile(r"yours is (?P<yours>.+?), expected (?P<expected>.+?)\.\n")
CELL_TIMEOUT = 180


def exercises(source: Path) -> list[tuple[int, str, str]]:
    """(index in the student cells, exercise name, solution cell source) of each code exercise."""
    solutions = {cell.first_line: cell for cell in read_cells(source)}
    found = []
    for index, cell in enumerate(student_cells(read_cells(source))):
        if cell.kind == "code" and STUB in cell.source:
            solution = solutions[cell.first_line].source
            found.append((index, _DEF.search(solution).group(1), solution))
    return found


def mutated(solution: str, old: str, new: str) -> str:
    assert solution.count(old) == 1, f"{old!r} must occur once in the solution:\n{solution}"
    return solution.replace(old, new)


@pytest.mark.parametrize("source", LESSONS, ids=lambda p: p.stem)
def test_every_exercise_has_plausible_wrong_answers(source):
    found = {name: solution for _, name, solution in exercises(source)}
    assert found, f"{source.stem} has no exercise"
    spec = WRONG_ANSWERS[source.stem]
    assert sorted(spec) == sorted(found), "course_wrong_answers.py must list exactly this lesson's exercises"
    for name, wrong in spec.items():
        assert len(wrong) >= 2, f"{name}: give at least two typical wrong answers"
        for _, old, new in wrong:
            assert mutated(found[name], old, new) != found[name]


class _Kernel:
    """One kernel running cells given as text, keeping their outputs."""

    def __init__(self, client: NotebookClient, notebook):
        self.client, self.notebook = client, notebook

    def run(self, source: str):
        cell = nbformat.v4.new_code_cell(source)
        self.notebook.cells.append(cell)
        self.client.execute_cell(cell, len(self.notebook.cells) - 1)
        text = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
        errors = [out for out in cell.outputs if out.output_type == "error"]
        return text, errors


def _next_code_cell(cells, index: int) -> int:
    return next(i for i in range(index + 1, len(cells)) if cells[i].kind == "code")


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("source", LESSONS, ids=lambda p: p.stem)
def test_checks_say_not_done_reject_wrong_answers_and_accept_the_solution(source, tmp_path, monkeypatch):
    monkeypatch.setenv("LABTOOLS_QUICK", "1")
    cells = student_cells(read_cells(source))
    exercise_at = {index: (name, solution) for index, name, solution in exercises(source)}
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                 "language": "python"}})
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    problems = []
    with client.setup_kernel():
        kernel = _Kernel(client, notebook)
        index = 0
        while index < len(cells):
            cell = cells[index]
            if cell.kind != "code":
                index += 1
                continue
            if index not in exercise_at:
                _, errors = kernel.run(cell.source)
                problems += [f"{source.stem} cell {index}: {e.ename}: {e.evalue}" for e in errors]
                index += 1
                continue
            name, solution = exercise_at[index]
            check = cells[_next_code_cell(cells, index)].source
            problems += _try_exercise(kernel, source.stem, name, cell.source, solution, check)
            index = _next_code_cell(cells, index) + 1
    assert problems == [], "\n\n".join(problems)


def _try_exercise(kernel: _Kernel, lesson: str, name: str, stub: str, solution: str, check: str) -> list[str]:
    problems = []
    where = f"{lesson} {name}"
    kernel.run(stub)
    text, errors = kernel.run(check)
    if errors or "not done yet" not in text:
        problems.append(f"{where}, stub as shipped: expected 'not done yet' and no error, got {text!r} "
                        f"{[(e.ename, e.evalue) for e in errors]}")
    for mistake, old, new in WRONG_ANSWERS[lesson][name]:
        _, errors = kernel.run(mutated(solution, old, new))
        if errors:
            problems.append(f"{where}, wrong answer '{mistake}' does not even run: {errors[0].evalue}")
            continue
        text, errors = kernel.run(check)
        problems += _judge_failure(f"{where}, wrong answer '{mistake}'", text, errors)
    kernel.run(solution)
    text, errors = kernel.run(check)
    if errors or "correct" not in text:
        problems.append(f"{where}: the solution is not accepted: {text!r} "
                        f"{[(e.ename, e.evalue) for e in errors]}")
    return problems


def _judge_failure(where: str, text: str, errors) -> list[str]:
    if not errors:
        return [f"{where} was accepted (the check printed {text.strip()!r})"]
    error = errors[0]
    if error.ename != "ExerciseFailed":
        return [f"{where} fails with {error.ename}: {error.evalue} (expected an ExerciseFailed that explains)"]
    message = error.evalue + "\n"
    found = _YOURS.search(message)
    problems = []
    if found is None or found["yours"] == found["expected"]:
        problems.append(f"{where}: the message does not show the student's value next to the expected one:\n"
                        f"{message}")
    if "Hint:" not in message:
        problems.append(f"{where}: the message has no hint:\n{message}")
    if "array(" in message or len(message) > 1200:
        problems.append(f"{where}: the message prints whole arrays:\n{message}")
    return problems
