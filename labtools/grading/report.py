"""Grading outputs: grades, feedback, Gradescope results, and the files for grading by hand.

* ``grades.csv``: one row per student: ``student``, one column of points per
  question or graded function (blank for a manually graded question: the
  instructor fills it in), ``total`` (auto-graded points) and ``max`` (all points);
* ``feedback/<student>.md``: per question the points, the tests that failed in
  words (expected vs got), or why it scored 0;
* ``results/<student>.json``: Gradescope's autograder ``results.json``;
* when there are manually graded parts: ``review/<student>.md`` (each manual
  question's answer as written, figures saved beside it as PNG) and
  ``manual.csv`` (student, question, points left blank, max points).
"""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

__all__ = ["write_reports", "feedback_text", "gradescope_results", "review_text"]

MAX_LISTED = 8


def write_reports(out, assignment, submissions) -> dict[str, Path]:
    """Write the outputs for `submissions` (list of SubmissionGrade) under `out`."""
    out = Path(out)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    (out / "results").mkdir(parents=True, exist_ok=True)
    names = [g.name for g in submissions[0].items] if submissions else []
    grades = out / "grades.csv"
    with grades.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["student", *names, "total", "max"])
        for submission in submissions:
            writer.writerow([submission.student,
                             *("" if g.manual else number(g.points) for g in submission.items),
                             number(submission.total), number(assignment.max_points)])
    files = {"grades": grades, "feedback": out / "feedback", "results": out / "results"}
    for submission in submissions:
        (out / "feedback" / f"{submission.student}.md").write_text(
            feedback_text(assignment, submission), encoding="utf-8")
        (out / "results" / f"{submission.student}.json").write_text(
            json.dumps(gradescope_results(assignment, submission), indent=1), encoding="utf-8")
    if any(g.manual for s in submissions for g in s.items):
        files.update(_write_manual(out, submissions))
    return files


def number(value: float) -> str:
    """Points as people write them: ``2``, ``0.5``, ``1.25``.

    Examples
    --------
    >>> number(2.0), number(0.5), number(1.255)
    ('2', '0.5', '1.25')
    """
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _plural_points(points: float) -> str:
    return f"{number(points)} point" + ("" if points == 1 else "s")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _item_text(grade) -> list[str]:
    lines = [f"## {grade.name}: " + (f"graded by hand, {_plural_points(grade.max_points)}"
                                     if grade.manual else
                                     f"{number(grade.points)} / {number(grade.max_points)}"), ""]
    if grade.manual:
        return lines
    if grade.reason:
        lines += [f"{grade.reason[:1].upper()}{grade.reason[1:]}.", ""]
        if not grade.failed_cases:
            return lines
    if grade.total:
        lines.append(f"{grade.passed} of {_plural(grade.total, grade.unit)} passed.")
    if grade.failed_cases:
        lines += ["", "Failed:", ""]
        shown = grade.failed_cases[:MAX_LISTED]
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
    >>> sub = SimpleNamespace(student="ada", items=[grade], total=0.0, cells=[])
    >>> print(feedback_text(SimpleNamespace(title="Demo", max_points=2.0), sub).splitlines()[6])
    Time limit: it ran for more than 5 s.
    """
    manual = sum(g.max_points for g in submission.items if g.manual)
    lines = [f"# {assignment.title}: feedback for {submission.student}", "",
             f"Total: {number(submission.total)} / {number(assignment.max_points)}"
             + (f" ({_plural_points(manual)} graded by hand not counted yet)" if manual else ""),
             ""]
    for grade in submission.items:
        lines += _item_text(grade)
    problems = getattr(submission, "cells", [])
    if problems:
        lines += ["## Cells of your notebook that failed", ""]
        lines += [f"- {p.label}: {p.message}" for p in problems[:MAX_LISTED]]
        lines.append("")
    return "\n".join(lines)


def gradescope_results(assignment, submission) -> dict:
    """Gradescope autograder ``results.json`` content for one student.

    Manually graded questions are not tests here (Gradescope grades them in its
    own rubric); their answers travel in ``extra_data`` for the record.
    """
    tests = []
    for grade in submission.items:
        if grade.manual:
            continue
        output = "\n".join(_item_text(grade)[2:]).strip()
        tests.append({"name": grade.name, "score": round(grade.points, 4),
                      "max_score": grade.max_points, "output": output,
                      "status": "passed" if grade.points >= grade.max_points else "failed",
                      "visibility": "visible"})
    manual = [g for g in submission.items if g.manual]
    output = (f"{assignment.title}: {number(submission.total)} / "
              f"{number(sum(g.max_points for g in submission.items if not g.manual))} "
              "auto-graded points")
    by_hand = sum(g.max_points for g in manual)
    if by_hand:
        output += f"; {_plural_points(by_hand)} more graded by hand"
    result = {"score": round(submission.total, 4), "output": output, "visibility": "visible",
              "tests": tests}
    if manual:
        result["extra_data"] = {"manual": [
            {"question": label, "max_score": answer.points, "answer": _answer_text(answer)}
            for label, answer in getattr(submission, "manual", [])]}
    return result


def _answer_text(answer) -> str:
    parts = []
    for cell in answer.cells:
        source = cell.get("source", "")
        parts.append("".join(source) if isinstance(source, list) else str(source))
    return "\n\n".join(parts)


def review_text(student: str, manual, figures: Path | None = None) -> str:
    """One student's answers to the manually graded questions, for the instructor (Markdown).

    Code cells are shown as code with their text output; ``image/png`` outputs
    are written to `figures` and linked.

    Examples
    --------
    >>> from labtools.grading.model import ManualAnswer
    >>> answer = ManualAnswer("q5", 2.0, [{"cell_type": "markdown", "source": "Mint is dearest."}])
    >>> print(review_text("ada", [("q5", answer)]))
    # Answers to grade by hand: ada
    <BLANKLINE>
    ## q5 (2 points)
    <BLANKLINE>
    Mint is dearest.
    <BLANKLINE>
    Points: ___ / 2
    <BLANKLINE>
    """
    lines = [f"# Answers to grade by hand: {student}", ""]
    for label, answer in manual:
        lines += [f"## {label} ({_plural_points(answer.points)})", ""]
        if answer.prompt:
            lines += [f"> {line}" for line in answer.prompt.strip().splitlines()] + [""]
        if not answer.cells:
            lines += ["(no answer)", ""]
        for index, cell in enumerate(answer.cells):
            lines += _cell_lines(cell, figures, f"{_safe(label)}-{index + 1}")
        lines += [f"Points: ___ / {number(answer.points)}", ""]
    return "\n".join(lines)


def _cell_lines(cell: dict, figures: Path | None, stem: str) -> list[str]:
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else str(source)
    if cell.get("cell_type") != "code":
        return [source, ""]
    lines = ["```python", source, "```", ""]
    for number_, output in enumerate(cell.get("outputs", []) or []):
        data = output.get("data", {}) if isinstance(output, dict) else {}
        png = data.get("image/png")
        if png and figures is not None:
            figures.mkdir(parents=True, exist_ok=True)
            path = figures / f"{stem}-{number_ + 1}.png"
            try:
                path.write_bytes(base64.b64decode("".join(png) if isinstance(png, list) else png))
                lines += [f"![figure]({figures.name}/{path.name})", ""]
            except ValueError:
                lines += ["(a figure that could not be decoded)", ""]
        elif "text" in output or "text/plain" in data:
            text = output.get("text") or data.get("text/plain")
            text = "".join(text) if isinstance(text, list) else str(text)
            lines += ["```", text.rstrip(), "```", ""]
    return lines


def _safe(text: str) -> str:
    return re.sub(r"[^\w.-]", "_", text)


def _write_manual(out: Path, submissions) -> dict[str, Path]:
    review = out / "review"
    review.mkdir(exist_ok=True)
    table = out / "manual.csv"
    with table.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["student", "question", "points", "max", "review"])
        for submission in submissions:
            path = review / f"{submission.student}.md"
            path.write_text(review_text(submission.student, submission.manual,
                                        review / submission.student), encoding="utf-8")
            for grade in submission.items:
                if grade.manual:
                    writer.writerow([submission.student, grade.name, "", number(grade.max_points),
                                     f"review/{path.name}"])
    return {"review": review, "manual": table}
