"""Turn what the tester reported into points per question, with feedback in words.

A question's points are the sum of its tests' points (nbgrader: one grade cell
is one question; otter: a question's test cases), or all or nothing when the
question says so (otter's ``all_or_nothing``). Manually graded questions score
nothing here: their points are left for the instructor (``manual=True``).
A hidden test's failure says which test failed and the instructor's failure
message, never the test's code or the values it compares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FunctionGrade", "score_questions"]

@dataclass
class FunctionGrade:
    """Points of one question or graded function for one student, with reasons."""

    name: str
    points: float
    max_points: float
    passed: int = 0
    total: int = 0
    reason: str | None = None
    failed_cases: list[str] = field(default_factory=list)
    manual: bool = False
    unit: str = "test"  # what `total` counts, in feedback: "test" or "test case"


def score_questions(notebook, result, several: bool = False, unanswered=frozenset(),
                    missing: str | None = None) -> list[FunctionGrade]:
    """One :class:`FunctionGrade` per question of `notebook`, from the tester's `result`.

    A manual question in `unanswered` (its answer is the released stub, or the notebook
    is `missing`: why) scores 0 here. A question that is neither manual nor tested
    (otter allows one) is not graded, as in otter.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from labtools.grading.model import Question, Test
    >>> from labtools.grading.tester import TestResult
    >>> q = Question("q1", tests=[Test("q1 - 1", "", 1.0), Test("q1 - 2", "", 2.0, hidden=True)])
    >>> notebook = SimpleNamespace(questions=[q], path=Path("hw.ipynb"))
    >>> result = SimpleNamespace(tests=[TestResult("q1 - 1", "q1", 1.0, 1.0, True),
    ...                                 TestResult("q1 - 2", "q1", 0.0, 2.0, False, "x == 3",
    ...                                            hidden=True)])
    >>> grade = score_questions(notebook, result)[0]
    >>> grade.points, grade.max_points, grade.failed_cases
    (1.0, 3.0, ['hidden test q1 - 2 failed'])
    """
    by_name: dict[str, list] = {}
    for test in result.tests:
        by_name.setdefault(test.name, []).append(test)
    grades = []
    for question in notebook.questions:
        name = f"{Path(notebook.path).stem}:{question.name}" if several else question.name
        if not question.manual and not question.tests:
            continue
        if question.manual and question.name in unanswered:
            reason = missing or "not answered: the answer is as it was released"
            grades.append(FunctionGrade(name, 0.0, float(question.max_points), reason=reason))
            continue
        if question.manual:
            grades.append(FunctionGrade(name, 0.0, float(question.max_points), manual=True,
                                        reason="graded by hand (see review/)"))
            continue
        results = [by_name[t.name].pop(0) for t in question.tests if by_name.get(t.name)]
        grade = FunctionGrade(name, 0.0, question.max_points, total=len(question.tests))
        grade.passed = sum(r.passed for r in results)
        points = sum(r.points for r in results)
        if question.all_or_nothing and grade.passed < grade.total:
            points = 0.0
        grade.points = min(points, question.max_points)
        grade.failed_cases = [_failure(r, test) for r, test in zip(results, question.tests)
                              if not r.passed]
        if len(results) < len(question.tests):
            grade.reason = "some tests did not run"
        grades.append(grade)
    return grades


def _failure(result, test) -> str:
    if test.hidden:
        text = f"hidden test {result.name} failed"
        return text + (f": {test.failure_message}" if test.failure_message else "")
    return f"test {result.name}: {result.message or 'failed'}"
