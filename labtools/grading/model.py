"""What every assignment format is read into: questions, tests, grading steps, manual answers.

The formats (nbgrader source notebooks, otter-grader's assign format, labtools'
``assignment.toml``) differ in how they mark solutions and tests; once read,
an assignment is the same thing for the grader:

* a list of :class:`Question` (points, manual or not, the :class:`Test` cases);
* the student version to release (an nbformat document as a dict);
* for each submission, a list of :class:`Step`: student code to run in the
  sandboxed student process, or an instructor's test to run in the trusted
  tester process, in the order they run;
* the written answers and figures an instructor grades by hand
  (:class:`ManualAnswer`).

Examples
--------
>>> test = Test("q1-1", "assert square(2) == 4", points=1.0)
>>> Question("q1", points=1.0, tests=[test]).max_points
1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Test", "Question", "Step", "ManualAnswer", "SourceNotebook"]


@dataclass
class Test:
    """One instructor test, run in the tester process.

    ``mode`` says when it passes:

    * ``"assert"`` (nbgrader's grade cells): it runs without raising. When its
      last statement is an expression whose value is a number (not a bool),
      that number is its score, capped at ``points`` (nbgrader's partial credit).
    * ``"output"`` (otter's OK-format cases): what it prints plus the repr of
      its last expression's value equals ``expected`` (doctest rules, trailing
      whitespace ignored). ``expected=None`` means "what the solution gives":
      the grader computes it by running the solution the same way.
    """

    __test__ = False  # not a pytest test class

    name: str
    source: str
    points: float = 0.0
    hidden: bool = False
    mode: str = "assert"
    expected: str | None = None
    question: str | None = None
    success_message: str | None = None
    failure_message: str | None = None


@dataclass
class Question:
    """A graded question: its tests (auto-graded) or a manual part (``manual=True``)."""

    name: str
    points: float = 0.0
    manual: bool = False
    all_or_nothing: bool = False
    tests: list[Test] = field(default_factory=list)
    text: str = ""

    @property
    def max_points(self) -> float:
        """Its points; 0 for a question neither manual nor tested (nothing grades it)."""
        if self.manual:
            return float(self.points)
        return float(sum(t.points for t in self.tests))


@dataclass
class Step:
    """One thing to run while grading a submission, in order.

    ``kind == "student"``: ``source`` is code run in the sandboxed student process
    (a student's cell, or an instructor's locked cell as the source notebook has it).
    ``kind == "test"``: ``test`` runs in the trusted tester process.
    ``label`` names the cell in feedback ("cell 5", "problem1.ipynb cell 5").
    """

    kind: str
    source: str = ""
    label: str = ""
    test: Test | None = None


@dataclass
class ManualAnswer:
    """A student's answer to a manually graded question: the cells, as written.

    ``cells`` are nbformat cell dicts (markdown text, code with its outputs,
    figures as ``image/png`` outputs); ``points`` is the maximum, left for the
    instructor to award. ``unanswered``: the student left the released stub
    as it was (nbgrader scores that 0 without a person looking).
    """

    question: str
    points: float
    cells: list = field(default_factory=list)
    prompt: str = ""
    unanswered: bool = False  # the answer is still the released stub: 0 points, nothing to review


@dataclass
class SourceNotebook:
    """An instructor's source notebook, read by one format reader (``labtools.grading.formats``).

    Readers fill the fields and implement the three methods; the grader uses
    nothing else. ``document`` is the source notebook as an nbformat dict
    (solutions and hidden tests included), ``config`` the format's own settings
    (otter's ``# ASSIGNMENT CONFIG``; empty for nbgrader).
    """

    format: str
    path: object
    document: dict
    questions: list[Question] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def max_points(self) -> float:
        return float(sum(q.max_points for q in self.questions))

    def student_document(self) -> dict:
        """The version released to students: no solution, hidden test or hidden config."""
        raise NotImplementedError

    def steps(self, submission: dict) -> list[Step]:
        """What to run, in order, to grade `submission` (an nbformat dict; the solution itself
        when grading the source)."""
        raise NotImplementedError

    def manual_answers(self, submission: dict) -> list[ManualAnswer]:
        """The student's answers to the manually graded questions of `submission`."""
        raise NotImplementedError
