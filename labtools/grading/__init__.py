"""Graded assignments: student versions, and sandboxed grading that students cannot game.

An assignment is a folder holding a solution notebook (nbgrader/otter markers:
``### BEGIN SOLUTION`` / ``### END SOLUTION``, ``# SOLUTION`` lines,
``### BEGIN HIDDEN TESTS`` blocks) and an ``assignment.toml`` naming each
graded function, its points, its reference and its random cases.

* :func:`assign` writes the student notebook (``labtools assign``);
* :func:`grade` extracts each graded function from each submission without
  running the rest, runs it on the cases in a sandboxed child process, and
  compares its answers with the reference in this process (``labtools grade``).

The workflow, the file format and the threat model are in docs/grading.md.

Examples
--------
>>> from pathlib import Path
>>> import labtools
>>> from labtools import grading
>>> folder = Path(labtools.__file__).parents[1] / "course" / "assignments" / "metrics-basics"
>>> grading.load_assignment(folder).title
'Metrics basics: Dice and Hausdorff distance'
"""

from labtools.grading.api import GradeReport, SubmissionGrade, assign, find_submissions, grade, prepare
from labtools.grading.cases import Case, generate_cases
from labtools.grading.compare import compare
from labtools.grading.extract import extract_functions
from labtools.grading.notebook import read_cells, student_cells
from labtools.grading.scoring import FunctionGrade
from labtools.grading.spec import Assignment, GradedFunction, Limits, load_assignment

__all__ = [
    "assign", "grade", "load_assignment", "prepare", "find_submissions",
    "Assignment", "GradedFunction", "Limits", "GradeReport", "SubmissionGrade", "FunctionGrade",
    "Case", "generate_cases", "compare", "extract_functions", "read_cells", "student_cells",
]
