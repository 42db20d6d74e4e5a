"""``assign`` and ``grade``: the two things an instructor does with an assignment folder."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labtools.errors import AssignmentError
from labtools.grading import wire
from labtools.grading.cases import generate_cases
from labtools.grading.extract import extract_from_cells, extract_functions
from labtools.grading.notebook import read_cells, student_cells, write_ipynb
from labtools.grading.report import write_reports
from labtools.grading.sandbox import Job, run_jobs
from labtools.grading.scoring import FunctionGrade, score_function
from labtools.grading.spec import Assignment, load_assignment, resolve_reference

__all__ = ["SubmissionGrade", "GradeReport", "Prepared", "prepare", "assign", "grade",
           "grade_cells", "find_submissions"]


@dataclass
class SubmissionGrade:
    """The grades of one student's submission."""

    student: str
    path: Path
    functions: list[FunctionGrade]

    @property
    def total(self) -> float:
        return round(sum(g.points for g in self.functions), 4)


@dataclass
class GradeReport:
    """What :func:`grade` did: every submission's grades, where the files are, how long it took."""

    assignment: Assignment
    submissions: list[SubmissionGrade]
    files: dict
    seconds: float
    layers: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


@dataclass
class Prepared:
    """An assignment ready to grade: cases, expected values (parent only) and encoded inputs."""

    assignment: Assignment
    cases: dict
    expected: dict
    jobs_json: dict


def prepare(assignment: Assignment) -> Prepared:
    """Generate every function's cases and compute the reference answers (in this process).

    Examples
    --------
    >>> from pathlib import Path
    >>> import labtools
    >>> from labtools.grading import load_assignment
    >>> folder = Path(labtools.__file__).parents[1] / "course" / "assignments" / "metrics-basics"
    >>> prepared = prepare(load_assignment(folder))
    >>> prepared.expected["dice_score"][0]  # the first case: both masks empty
    nan
    """
    cases, expected, jobs_json = {}, {}, {}
    for position, function in enumerate(assignment.functions):
        reference = resolve_reference(assignment, function)
        cases[function.name] = generate_cases(function, assignment.seed, position)
        values = []
        for number, case in enumerate(cases[function.name], start=1):
            try:
                values.append(_plain(reference(*copy.deepcopy(case.args))))
            except Exception as err:
                raise AssignmentError(
                    f"reference {function.reference} fails on case {number} of {function.name} "
                    f"({case.label}): {type(err).__name__}: {err}; fix the generator or the "
                    "reference") from err
        expected[function.name] = values
        jobs_json[function.name] = json.dumps([wire.encode(list(c.args)) for c in cases[function.name]])
    return Prepared(assignment, cases, expected, jobs_json)


def _plain(value):
    """Reference results as numbers and numpy arrays (torch tensors are converted)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, np.ndarray) and value.ndim == 0 or isinstance(value, np.generic):
        return value.item()
    return value


def grade_cells(prepared: Prepared, extractions: dict, layers=None) -> list[FunctionGrade]:
    """Run the extracted functions in the sandbox and score them."""
    assignment = prepared.assignment
    jobs, modules = [], set()
    for function in assignment.functions:
        extraction = extractions[function.name]
        if extraction.error is None:
            jobs.append(Job(function.name, extraction.snippets, prepared.jobs_json[function.name],
                            len(prepared.cases[function.name])))
            modules |= set(extraction.modules)
    outcomes = run_jobs(jobs, limits=assignment.limits, modules=modules,
                        forbidden=assignment.forbidden_modules, layers=layers) if jobs else {}
    return [score_function(f, prepared.cases[f.name], prepared.expected[f.name],
                           outcomes.get(f.name), extractions[f.name].error)
            for f in assignment.functions]


def find_submissions(folder) -> dict[str, Path]:
    """``{student_id: path}`` for every ``<student_id>.ipynb`` or ``.py`` in `folder`.

    Student ids come from file names; characters other than letters, digits and
    ``._@+-`` become ``_`` (ids end up in file names and a CSV).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AssignmentError(f"submissions folder {folder} does not exist; give the folder "
                              "holding one <student_id>.ipynb (or .py) per student")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".ipynb", ".py") or path.name.startswith(".") or not path.is_file():
            continue
        student = re.sub(r"[^\w.@+-]", "_", path.stem)
        if student[:1] in ("=", "+", "-", "@"):  # never a formula in a spreadsheet
            student = "_" + student
        if student in found:
            raise AssignmentError(f"two submissions for student {student}: {found[student].name} "
                                  f"and {path.name}; keep one")
        found[student] = path
    if not found:
        raise AssignmentError(f"{folder} holds no submissions: expected <student_id>.ipynb or "
                              "<student_id>.py files")
    return found


def grade(folder, submissions, out, *, workers: int | None = None, progress=None) -> GradeReport:
    """Grade every submission in `submissions` against the assignment in `folder`.

    Writes ``grades.csv``, ``feedback/<student>.md`` and ``results/<student>.json``
    under `out`. Submissions are graded in parallel (`workers`, default: one
    per CPU), each in its own sandboxed process; `progress` is called with each
    finished :class:`SubmissionGrade`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import labtools
    >>> folder = pathlib.Path(labtools.__file__).parents[1] / "course/assignments/metrics-basics"
    >>> work = pathlib.Path(tempfile.mkdtemp())
    >>> (work / "subs").mkdir()
    >>> _ = (work / "subs" / "ada.py").write_text("def dice_score(pred, ref):\\n    return 1.0\\n")
    >>> report = grade(folder, work / "subs", work / "out")
    >>> grades = report.submissions[0].functions
    >>> [(g.name, g.points > 0, g.reason is None) for g in grades]
    [('dice_score', True, True), ('hausdorff_distance', False, False)]
    >>> sorted(p.name for p in (work / "out").iterdir())
    ['feedback', 'grades.csv', 'results']
    """
    start = time.perf_counter()
    assignment = load_assignment(folder)
    paths = find_submissions(submissions)
    prepared = prepare(assignment)
    names = [f.name for f in assignment.functions]
    layers: list = []

    def one(item):
        student, path = item
        extractions = extract_functions(path, names, assignment.forbidden_modules)
        result = SubmissionGrade(student, path, grade_cells(prepared, extractions, layers))
        if progress is not None:
            progress(result)
        return result

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        results = list(pool.map(one, paths.items()))
    files = write_reports(out, assignment, results)
    return GradeReport(assignment, results, files, time.perf_counter() - start, layers,
                       _warnings(assignment) + _skipped_files(Path(submissions), paths))


def _skipped_files(folder: Path, graded: dict[str, Path]) -> list[str]:
    """A warning naming files in the submissions folder that were not graded (e.g. alice.txt)."""
    taken = set(graded.values())
    skipped = sorted(p.name for p in folder.iterdir()
                     if p.is_file() and not p.name.startswith(".") and p not in taken)
    if not skipped:
        return []
    return [f"not graded, not .ipynb or .py: {', '.join(skipped[:10])}"
            + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")]


def _warnings(assignment: Assignment) -> list[str]:
    if os.geteuid() != 0:
        return ["not running as root: the sandbox cannot switch to an unprivileged user or a "
                "private network; isolation relies on the audit hook and resource limits"]
    folder = assignment.folder.resolve()
    others_can_enter = all(p.stat().st_mode & stat.S_IXOTH for p in [folder, *folder.parents])
    if others_can_enter and (folder / "assignment.toml").stat().st_mode & stat.S_IROTH:
        return [f"{folder} is readable by other users, so also by the sandbox user if graded "
                f"code got past the audit hook; `chmod -R o-rwx {folder}` closes that"]
    return []


def assign(folder, out, *, check_solution: bool = True) -> list[Path]:
    """Write the student version of the assignment in `folder` to `out`.

    The student notebook ``<name>.ipynb`` has the solutions replaced by stubs
    and the hidden tests removed; public files named in ``assignment.toml``
    are copied next to it. With `check_solution`, the solution's functions are
    first graded in the sandbox and must earn full marks.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> import labtools
    >>> folder = pathlib.Path(labtools.__file__).parents[1] / "course/assignments/metrics-basics"
    >>> written = assign(folder, tempfile.mkdtemp(), check_solution=False)
    >>> [p.name for p in written]
    ['metrics-basics.ipynb']
    """
    assignment = load_assignment(folder)
    cells = read_cells(assignment.notebook)
    student = student_cells(cells)
    names = [f.name for f in assignment.functions]
    for label, version in (("solution", cells), ("student version", student)):
        for name, extraction in extract_from_cells(version, names).items():
            if extraction.error:
                raise AssignmentError(f"the {label} of {assignment.notebook.name} cannot be "
                                      f"graded for {name}: {extraction.error}")
    if check_solution:
        _check_solution(assignment, cells, names)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_ipynb(student, out / f"{assignment.name}.ipynb")]
    for name in assignment.public_files:
        source = assignment.folder / name
        if not source.is_file():
            raise AssignmentError(f"public file {name} named in assignment.toml is missing")
        written.append(Path(shutil.copy2(source, out / source.name)))
    return written


def _check_solution(assignment: Assignment, cells, names) -> None:
    prepared = prepare(assignment)
    extractions = extract_from_cells(cells, names, assignment.forbidden_modules)
    for result in grade_cells(prepared, extractions):
        if result.points < result.max_points:
            detail = result.reason or (result.failed_cases[:1] or ["?"])[0]
            raise AssignmentError(f"the solution scores {result.points:g} of {result.max_points:g} "
                                  f"on {result.name}: {detail}")
