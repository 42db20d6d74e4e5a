"""Graded assignments: student versions, and sandboxed grading that students cannot game.

An assignment is a folder of instructor source notebooks in nbgrader's,
otter-grader's or labtools' format, with an optional ``assignment.toml`` that
adds labtools' random cases, limits and forbidden modules.

* :func:`assign` writes what students get (``labtools assign``);
* :func:`grade` runs each submission's code in a sandboxed student process and
  the instructor's tests in a trusted tester process, where every student
  function or variable is a stub returning plain data (``labtools grade``).

The workflow, the formats and the threat model are in docs/grading.md.

Examples
--------
>>> from pathlib import Path
>>> import labtools
>>> from labtools import grading
>>> folder = Path(labtools.__file__).parents[1] / "course" / "assignments" / "metrics-basics"
>>> grading.load_assignment(folder).title
'Metrics basics: Dice and Hausdorff distance'
"""

import importlib

# A function named like its module: bound now, or `from labtools.grading import compare`
# would return the module once anything imported labtools.grading.compare.
from labtools.grading.compare import compare  # noqa: F401  (in __all__)

# Where each public name lives. Loaded on first use (PEP 562): the tester process starts
# with `python -m labtools.grading.tester` once per submission and needs little of this.
_NAMES = {
    "assign": "api", "grade": "api", "grade_submission": "api", "prepare": "api",
    "GradeReport": "api", "SubmissionGrade": "api",
    "Assignment": "assignment", "load_assignment": "assignment", "read_source": "assignment",
    "Case": "cases", "generate_cases": "cases",
    "ManualAnswer": "model", "Question": "model", "SourceNotebook": "model", "Step": "model",
    "Test": "model", "read_cells": "notebook", "student_cells": "notebook",
    "FunctionGrade": "scoring", "GradedFunction": "spec", "Limits": "spec", "Spec": "spec",
    "load_spec": "spec", "find_submissions": "submissions",
}

__all__ = sorted([*_NAMES, "compare"])


def __getattr__(name: str):
    if name in _NAMES:
        value = getattr(importlib.import_module(f"labtools.grading.{_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'labtools.grading' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_NAMES))
