"""``assign`` and ``grade``: the two things an instructor does with an assignment folder."""

from __future__ import annotations

import copy
import os
import pickle
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labtools.errors import AssignmentError
from labtools.grading.assignment import Assignment, load_assignment
from labtools.grading.cases import NO_EXPECT, generate_cases
from labtools.grading.code import bound_names, code_sources, imported_modules
from labtools.grading.properties import generator_cases
from labtools.grading.structure import check_structure
from labtools.grading.table import table_cases
from labtools.grading.notebook import write_document
from labtools.grading.report import write_reports
from labtools.grading.scoring import FunctionGrade, score_questions
from labtools.grading.spec import SPEC_NAME, resolve_reference
from labtools.grading.submissions import find_submissions, read_submission, skipped_files
from labtools.grading.tester import (CellProblem, ExpectedRaise, FunctionCheck, Plan, PlanResult,
                                     fail_everything)
from labtools.grading.walls import check_hidden, choose_walls

__all__ = ["SubmissionGrade", "GradeReport", "Prepared", "prepare", "assign", "grade",
           "grade_submission", "find_submissions"]


@dataclass
class SubmissionGrade:
    """The grades of one student's submission: one item per question or graded function."""

    student: str
    path: Path
    items: list[FunctionGrade]
    manual: list = field(default_factory=list)   # (label, ManualAnswer)
    cells: list = field(default_factory=list)    # CellProblem

    @property
    def functions(self) -> list[FunctionGrade]:
        return self.items

    @property
    def total(self) -> float:
        return sum(g.points for g in self.items if not g.manual)


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
    """The toml functions' cases and reference answers (computed once, in this process)."""

    assignment: Assignment
    cases: dict
    expected: dict


def prepare(assignment: Assignment) -> Prepared:
    """Every toml function's cases and expected answers (reference values or exceptions).

    Examples
    --------
    >>> from pathlib import Path
    >>> import labtools
    >>> folder = Path(labtools.__file__).parents[1] / "course" / "assignments" / "metrics-basics"
    >>> prepared = prepare(load_assignment(folder))
    >>> prepared.expected["dice_score"][0]  # the first case: both masks empty
    nan
    """
    cases, expected = {}, {}
    for position, function in enumerate(assignment.functions):
        cases[function.name] = _function_cases(assignment, function, position)
        reference = (resolve_reference(assignment.spec, function)
                     if function.reference is not None else None)
        expected[function.name] = [_expected(function, reference, number, case)
                                   for number, case in enumerate(cases[function.name], start=1)]
    return Prepared(assignment, cases, expected)


def _function_cases(assignment: Assignment, function, position: int) -> list:
    where = f"{SPEC_NAME} [[functions]] {function.name}"
    if isinstance(function.cases, list):
        return table_cases(function.cases, where=where, name=function.name,
                           has_reference=function.reference is not None)
    if isinstance(function.generator, str):
        return generator_cases(assignment.folder, function.generator, name=function.name,
                               seed=assignment.seed * 1000 + position, count=function.cases)
    if isinstance(function.generator, dict):
        return generate_cases(function, assignment.seed, position)
    return []  # a Hypothesis strategy only


def _expected(function, reference, number: int, case):
    """What case `number` must give: the table's value or exception, else the reference's."""
    if case.raises:
        return ExpectedRaise(case.raises)
    if case.expect is not NO_EXPECT:
        return case.expect
    try:
        return _plain(reference(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs)))
    except Exception as err:
        if isinstance(function.cases, list):  # a table row: the student must raise it too
            return ExpectedRaise(type(err).__name__)
        raise AssignmentError(
            f"reference {function.reference} fails on case {number} of {function.name} "
            f"({case.label}): {type(err).__name__}: {err}; fix the generator or the "
            "reference") from err


def _plain(value):
    """Reference results as numbers and numpy arrays (torch tensors are converted)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, np.ndarray) and value.ndim == 0 or isinstance(value, np.generic):
        return value.item()
    return value


def make_plan(assignment: Assignment, notebook, document: dict, prepared: Prepared | None,
              walls, with_functions: bool, files: dict | None = None) -> Plan:
    """The grading plan of one notebook of one submission (`document`); `files` are the
    assignment's public files (name -> bytes), given to the student process and the tester."""
    steps = notebook.steps(document)
    functions = []
    if with_functions and prepared is not None:
        functions = [FunctionCheck(f.name, f.points, prepared.cases[f.name],
                                   prepared.expected[f.name], f.rtol, f.atol, dict(f.hints),
                                   _property(assignment, f, position))
                     for position, f in enumerate(assignment.functions)]
    student_code = [s.source for s in steps if s.kind == "student"]
    forbidden = tuple(assignment.forbidden_modules)
    # Preloaded before student code runs; not otter, which the otter format's stand-in replaces
    # (importing the real one costs seconds and is never used).
    modules = {m for m in imported_modules(student_code)
               if not any(m == f or m.startswith(f + ".") for f in (*forbidden, "otter"))}
    instructor = code_sources(notebook.document)
    return Plan(steps, functions, walls, assignment.limits, tuple(sorted(modules)), forbidden,
                dict(files or {}), frozenset(m.split(".")[0] for m in imported_modules(instructor)),
                frozenset(bound_names(instructor)) | {f.name for f in assignment.functions})


def _property(assignment: Assignment, function, position: int) -> dict | None:
    """What the tester needs to run a Hypothesis property (it loads the files itself)."""
    if function.strategy is None:
        return None
    return {"folder": str(assignment.folder), "strategy": function.strategy,
            "reference": function.reference, "examples": function.examples,
            "raises": list(function.raises) or None, "seed": assignment.seed * 1000 + position}


def _structure(assignment: Assignment, document: dict, grades: list) -> None:
    """Structure checks ("must call squares", "no loops") from the submission's syntax tree."""
    sources = code_sources(document)
    for function in assignment.functions:
        if not function.structure:
            continue
        problems = check_structure(sources, function.name, **function.structure)
        grade = next((g for g in grades if g.name == function.name), None)
        if problems and grade is not None:
            grade.points = 0.0
            grade.reason = "; ".join(problems)


def run_tester(plan: Plan) -> PlanResult:
    """Run `plan` in a fresh tester process (``python -m labtools.grading.tester``)."""
    limits = plan.limits
    budget = (limits.startup_seconds * 3 + limits.wall_seconds
              * (len(plan.steps) + sum(len(f.cases) for f in plan.functions) + 5) * 2)
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    try:
        done = subprocess.run([sys.executable, "-m", "labtools.grading.tester"],
                              input=pickle.dumps(plan), capture_output=True, timeout=budget,
                              env=environment)
        if done.returncode == 0:
            return pickle.loads(done.stdout)
        problem = f"the tester stopped (exit status {done.returncode}): {done.stderr[-500:]!r}"
    except subprocess.TimeoutExpired:
        problem = f"grading took longer than {budget:g} s"
    result = PlanResult(cells=[CellProblem("grader", problem)])
    fail_everything(plan, result, f"not graded: {problem}")
    return result


def grade_submission(assignment: Assignment, prepared: Prepared | None, student: str, path,
                     walls, layers: list | None = None, files: dict | None = None) -> SubmissionGrade:
    """Grade one student's submission (a notebook file or a folder of notebooks)."""
    names = [Path(n.path).name for n in assignment.notebooks]
    documents = read_submission(Path(path), names)
    several = len(assignment.notebooks) > 1
    items, manual, cells = [], [], []
    for index, (notebook, name) in enumerate(zip(assignment.notebooks, names)):
        document = documents[name]
        with_functions = index == 0
        unanswered = set()
        if isinstance(document, str):  # unreadable or missing: every question scores 0
            unanswered = {q.name for q in notebook.questions if q.manual}
            plan = make_plan(assignment, notebook, notebook.student_document(), prepared, walls,
                             with_functions, files)
            result = PlanResult()
            fail_everything(plan, result, document)
            cells.append(CellProblem(name, document))
        else:
            plan = make_plan(assignment, notebook, document, prepared, walls, with_functions, files)
            result = run_tester(plan)
            answers = notebook.manual_answers(document)
            unanswered = {answer.question for answer in answers if answer.unanswered}
            manual += [(_label(notebook, answer.question, several), answer)
                       for answer in answers if not answer.unanswered]
            cells += result.cells
            if layers is not None and result.layers:
                layers[:] = result.layers
        items += score_questions(notebook, result, several, unanswered,
                                 document if isinstance(document, str) else None)
        functions = _with_cell_problems(result.functions, result.cells)
        if with_functions and not isinstance(document, str):
            _structure(assignment, document, functions)
        items += functions
    return SubmissionGrade(student, Path(path), items, manual, cells)


def _label(notebook, question: str, several: bool) -> str:
    return f"{Path(notebook.path).stem}:{question}" if several else question


def _with_cell_problems(functions: list[FunctionGrade], cells: list) -> list[FunctionGrade]:
    """A function that was never defined: say which cells failed, that is usually why."""
    for grade in functions:
        if grade.reason and grade.reason.startswith("no function named") and cells:
            problems = "; ".join(f"{c.label}: {c.message}" for c in cells[:3])
            grade.reason += f" (cells that failed: {problems})"
    return functions


def grade(folder, submissions, out, *, workers: int | None = None, progress=None,
          unsafe: bool = False) -> GradeReport:
    """Grade every submission in `submissions` against the assignment in `folder`.

    Writes ``grades.csv``, ``feedback/<student>.md``, ``results/<student>.json``
    (Gradescope's format) and, when the assignment has manually graded parts,
    ``review/<student>.md`` and ``manual.csv`` under `out`. Each submission is
    graded by its own tester process, its code in a sandboxed student process
    (`unsafe`: allow grading without bubblewrap); `progress` is called with each
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
    >>> grades = report.submissions[0].items
    >>> [(g.name, g.points > 0, g.reason is None) for g in grades]
    [('dice_score', True, True), ('hausdorff_distance', False, False)]
    """
    start = time.perf_counter()
    assignment = load_assignment(folder)
    _check_out(Path(out), assignment, "grades")
    paths = find_submissions(submissions)
    walls = choose_walls(unsafe=unsafe)
    check_hidden(walls, [assignment.folder])  # the folder must not lie inside what walls show
    prepared = prepare(assignment) if assignment.functions else None
    files = public_files(assignment)
    solution_problems = solution_failures(assignment, walls, prepared, files)
    layers: list = []

    def one(item):
        student, path = item
        result = grade_submission(assignment, prepared, student, path, walls, layers, files)
        if progress is not None:
            progress(result)
        return result

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        results = list(pool.map(one, paths.items()))
    files = write_reports(out, assignment, results)
    warnings = [f"{problem}: every student loses these points; fix the test or the solution"
                for problem in solution_problems]
    warnings += skipped_files(Path(submissions), paths)
    return GradeReport(assignment, results, files, time.perf_counter() - start,
                       layers or list(walls.layers), warnings)


def assign(folder, out, *, check_solution: bool = True, unsafe: bool = False) -> list[Path]:
    """Write the student version of the assignment in `folder` to `out`.

    Each source notebook becomes the notebook its format releases (nbgrader's
    ``generate_assignment``, otter's ``otter assign``, labtools' stubs): no line
    of a solution, hidden test or hidden config. Files the notebooks show
    (images, data) and the toml's ``public_files`` are copied next to them;
    Python files and the toml never are. With `check_solution`, the source
    notebooks are first graded like a submission and must earn full marks.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import labtools
    >>> folder = pathlib.Path(labtools.__file__).parents[1] / "course/assignments/metrics-basics"
    >>> written = assign(folder, tempfile.mkdtemp(), check_solution=False)
    >>> [p.name for p in written]
    ['metrics-basics.ipynb']
    """
    assignment = load_assignment(folder)
    released = {Path(n.path).stem: n.student_document() for n in assignment.notebooks}
    prepared = prepare(assignment) if assignment.functions else None  # toml mistakes, always
    if check_solution:
        problems = solution_failures(assignment, choose_walls(unsafe=unsafe), prepared,
                                     public_files(assignment, released))
        if problems:
            raise AssignmentError(f"{problems[0]}; fix the solution or the test (or assign with "
                                  "--no-check)")
    out = Path(out)
    _check_out(out, assignment, "the student version")
    out.mkdir(parents=True, exist_ok=True)
    several = len(released) > 1
    written = []
    for stem, document in released.items():
        name = stem if several or assignment.spec is None else assignment.name
        written.append(write_document(document, out / f"{name}.ipynb"))
    for source in _public_paths(assignment, released):
        written.append(Path(shutil.copy2(source, out / source.name)))
    return written


MAX_PUBLIC_BYTES = 64 << 20


def public_files(assignment: Assignment, released: dict | None = None) -> dict[str, bytes]:
    """The files students get with the notebook (name -> content): what graded code finds in
    its working folder, as it would next to the released notebook."""
    if released is None:
        released = {Path(n.path).stem: n.student_document() for n in assignment.notebooks}
    paths = _public_paths(assignment, released)
    if sum(p.stat().st_size for p in paths) > MAX_PUBLIC_BYTES:
        raise AssignmentError(f"the public files of {assignment.folder} are larger than "
                              f"{MAX_PUBLIC_BYTES >> 20} MB together: too much to copy into every "
                              "sandbox")
    return {path.name: path.read_bytes() for path in paths}


def _public_paths(assignment: Assignment, released: dict) -> list[Path]:
    """Files students get: the toml's public_files, otter's ``files``, and files of the
    folder that the released notebooks name (an image, a data file). Never .py or .toml:
    references and hidden tests live in those."""
    folder = assignment.folder
    chosen = [folder / name for name in assignment.public_files]
    for notebook in assignment.notebooks:
        config = notebook.config or {}
        chosen += [folder / name for name in list(config.get("files", []) or [])
                   + list(config.get("student_files", []) or [])]
    text = repr(released)
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix not in (".py", ".toml", ".ipynb", ".pyc") \
                and path.name in text:
            chosen.append(path)
    unique = []
    for path in chosen:
        if not path.is_file():
            raise AssignmentError(f"public file {path.name} named by the assignment is missing "
                                  f"from {folder}")
        if path.suffix == ".toml" or path.resolve() in (p.resolve() for p in unique):
            continue
        unique.append(path)
    return unique


def _check_out(out: Path, assignment: Assignment, what: str) -> None:
    """An output folder inside the assignment folder would mix students' files with the
    hidden parts (and end up in a Gradescope bundle)."""
    folder = assignment.folder.resolve()
    if out.resolve() == folder or folder in out.resolve().parents:
        raise AssignmentError(f"--out {out} is inside the assignment folder {assignment.folder}: "
                              f"{what} would be mixed with the hidden parts; give another folder")


def solution_failures(assignment: Assignment, walls, prepared: Prepared | None,
                      files: dict | None = None) -> list[str]:
    """Grade the source notebooks themselves: what their own solution fails, in words.

    Examples
    --------
    >>> from pathlib import Path
    >>> import labtools
    >>> from labtools.grading.walls import choose_walls
    >>> folder = Path(labtools.__file__).parents[1] / "course" / "assignments" / "metrics-basics"
    >>> assignment = load_assignment(folder)
    >>> solution_failures(assignment, choose_walls(unsafe=True), prepare(assignment))
    []
    """
    problems = []
    for index, notebook in enumerate(assignment.notebooks):
        plan = make_plan(assignment, notebook, notebook.document, prepared, walls, index == 0,
                         files)
        result = run_tester(plan)
        problems += [f"{Path(notebook.path).name}: the solution fails test {test.name}: "
                     f"{test.message or 'no message'}" for test in result.tests if not test.passed]
        for function in result.functions:
            if function.points < function.max_points:
                detail = function.reason or (function.failed_cases[:1] or ["?"])[0]
                problems.append(f"the solution scores {function.points:g} of "
                                f"{function.max_points:g} on {function.name}: {detail}")
    return problems
