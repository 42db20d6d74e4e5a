"""Grading outputs: ``grades.csv``, ``feedback/<student>.md`` and ``results/<student>.json``.

``grades.csv`` has one row per student: ``student``, one column of points per
graded function, ``total`` and ``max``. The feedback file tells a student, in
words, which cases failed (expected vs got) or why a function scored 0.
``results/<student>.json`` is in Gradescope's autograder format (``score``,
``output`` and one ``tests`` entry per function).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

__all__ = ["write_reports", "feedback_text", "gradescope_results"]


def write_reports(out, assignment, submissions) -> dict[str, Path]:
    """Write the three outputs for `submissions` (list of SubmissionGrade) under `out`."""
    out = Path(out)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    (out / "results").mkdir(parents=True, exist_ok=True)
    grades = out / "grades.csv"
    with grades.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["student", *(f.name for f in assignment.functions), "total", "max"])
        for submission in submissions:
            writer.writerow([submission.student, *(_number(g.points) for g in submission.functions),
                             _number(submission.total), _number(assignment.max_points)])
    for submission in submissions:
        (out / "feedback" / f"{submission.student}.md").write_text(
            feedback_text(assignment, submission), encoding="utf-8")
        (out / "results" / f"{submission.student}.json").write_text(
            json.dumps(gradescope_results(assignment, submission), indent=1), encoding="utf-8")
    return {"grades": grades, "feedback": out / "feedback", "results": out / "results"}


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _function_text(grade) -> list[str]:
    lines = [f"## {grade.name}: {_number(grade.points)} / {_number(grade.max_points)}", ""]
    if grade.reason:
        lines += [f"Not graded: {grade.reason}.", ""]
        return lines
    lines.append(f"{grade.passed} of {grade.total} test cases passed.")
    if grade.failed_cases:
        lines += ["", "Failed cases:", ""]
        shown = grade.failed_cases[:8]
        lines += [f"- {case}" for case in shown]
        if len(grade.failed_cases) > len(shown):
            lines.append(f"- ... and {len(grade.failed_cases) - len(shown)} more")
    lines.append("")
    return lines


def feedback_text(assignment, submission) -> str:
    """The feedback file of one student (Markdown).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from labtools.grading.scoring import FunctionGrade
    >>> grade = FunctionGrade("f", 0.0, 2.0, reason="time limit: it ran for more than 5 s")
    >>> sub = SimpleNamespace(student="ada", functions=[grade], total=0.0)
    >>> print(feedback_text(SimpleNamespace(title="Demo", max_points=2.0), sub).splitlines()[6])
    Not graded: time limit: it ran for more than 5 s.
    """
    lines = [f"# {assignment.title}: feedback for {submission.student}", "",
             f"Total: {_number(submission.total)} / {_number(assignment.max_points)}", ""]
    for grade in submission.functions:
        lines += _function_text(grade)
    return "\n".join(lines)


def gradescope_results(assignment, submission) -> dict:
    """Gradescope autograder ``results.json`` content for one student."""
    tests = []
    for grade in submission.functions:
        output = "\n".join(_function_text(grade)[2:]).strip()
        tests.append({"name": grade.name, "score": round(grade.points, 4),
                      "max_score": grade.max_points, "output": output,
                      "status": "passed" if grade.points == grade.max_points else "failed",
                      "visibility": "visible"})
    return {"score": round(submission.total, 4), "output": f"{assignment.title}: "
            f"{_number(submission.total)} / {_number(assignment.max_points)} points",
            "visibility": "visible", "tests": tests}
