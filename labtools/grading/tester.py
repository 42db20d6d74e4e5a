"""The trusted tester: runs a submission's grading plan, instructor tests in its own process.

For each submission the grader starts ``python -m labtools.grading.tester``
(one process per submission, so one submission's tests can never see
another's state) and sends it a :class:`Plan`. The tester starts the
student process inside the walls and goes through the steps: student cells run
in the student process; instructor tests run here, in a
:class:`~labtools.grading.stubs.TesterNamespace` in which every student name is
plain data or a stub. What the student process patches (numpy, builtins, the
grader's modules) is in another process and changes nothing here.

Functions of an ``assignment.toml`` are checked the same way, after the cells:
their cases are called through a stub and compared here.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import io
import math
import os
import pickle
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from labtools.grading.code import blank_magics, syntax_tree
from labtools.grading.compare import compare, describe
from labtools.grading.student import Limits, SandboxFailure, StudentProcess
from labtools.grading.stubs import TesterNamespace

__all__ = ["Plan", "TestResult", "FunctionCheck", "ExpectedRaise", "CellProblem", "PlanResult",
           "run_plan", "fail_everything"]


@dataclass(frozen=True)
class ExpectedRaise:
    """A case whose call must raise this exception type (by name; subclasses count)."""

    type_name: str


@dataclass
class FunctionCheck:
    """An ``assignment.toml`` function: its cases (args, expected), how to compare, and an
    optional Hypothesis property (files loaded here, in the tester: they are trusted)."""

    name: str
    points: float
    cases: list = field(default_factory=list)     # Case objects (labtools.grading.cases)
    expected: list = field(default_factory=list)  # values, or ExpectedRaise
    rtol: float = 1e-6
    atol: float = 1e-9
    hints: dict = field(default_factory=dict)
    property: dict | None = None


@dataclass
class Plan:
    """Everything the tester needs for one submission (sent by the grader, pickled)."""

    steps: list
    functions: list = field(default_factory=list)
    walls: object = None
    limits: Limits = Limits()
    modules: tuple = ()        # imported in the student process before its code runs
    forbidden: tuple = ("labtools",)
    files: dict = field(default_factory=dict)  # public files: the student's and the tester's folder
    tester_modules: frozenset = frozenset()  # module names the instructor's notebook imports
    shadowable: frozenset = frozenset()  # built-in names the instructor's notebook binds itself


@dataclass
class TestResult:
    """One instructor test on one submission."""

    name: str
    question: str | None
    points: float
    max_points: float
    passed: bool
    message: str = ""
    hidden: bool = False


@dataclass
class CellProblem:
    """A student cell that raised or hit a limit (it does not stop the others)."""

    label: str
    message: str


@dataclass
class PlanResult:
    tests: list = field(default_factory=list)
    functions: list = field(default_factory=list)   # scoring.FunctionGrade
    cells: list = field(default_factory=list)       # CellProblem
    layers: list = field(default_factory=list)


def run_plan(plan: Plan) -> PlanResult:
    """Run `plan` against a fresh student process; every outcome comes back as data.

    Examples
    --------
    >>> from labtools.grading.model import Step, Test
    >>> from labtools.grading.walls import choose_walls
    >>> steps = [Step("student", "def square(x):\\n    return x * x", "cell 1"),
    ...          Step("test", test=Test("t1", "assert square(3) == 9", points=2))]
    >>> result = run_plan(Plan(steps, walls=choose_walls(unsafe=True)))
    >>> [(t.name, t.points, t.passed) for t in result.tests]
    [('t1', 2.0, True)]
    """
    result = PlanResult(layers=list(getattr(plan.walls, "layers", [])))
    _public_folder(plan.files)
    student = StudentProcess(plan.walls, plan.limits, plan.modules, plan.forbidden, plan.files)
    try:
        student.start()
    except SandboxFailure as failure:
        result.cells.append(CellProblem("start", failure.reason))
        fail_everything(plan, result, f"not graded: {failure.reason}")
        return result
    namespace = TesterNamespace(student, plan.tester_modules, shadowable=plan.shadowable)
    try:
        for step in plan.steps:
            if step.kind == "student":
                _run_cell(student, step, result)
            else:
                result.tests.append(run_test(step.test, namespace, student))
        for function in plan.functions:
            result.functions.append(check_function(function, namespace, student))
    finally:
        student.close()
    return result


def _public_folder(files: dict) -> None:
    """Tests run in a folder holding the assignment's public files, importable (otter's
    ``import student_file``, a test reading ``data.csv``), as the student's code does."""
    if not files:
        return
    folder = tempfile.mkdtemp(prefix="labtools-tester-")
    for name, data in files.items():
        (Path(folder) / name).write_bytes(data)
    os.chdir(folder)
    sys.path.insert(0, folder)


def fail_everything(plan: Plan, result: PlanResult, message: str) -> None:
    """Record every test and function of `plan` as failed with `message` (nothing ran)."""
    from labtools.grading.scoring import FunctionGrade

    for step in plan.steps:
        if step.kind == "test":
            test = step.test
            result.tests.append(TestResult(test.name, test.question, 0.0, test.points, False,
                                           message, test.hidden))
    for function in plan.functions:
        result.functions.append(FunctionGrade(function.name, 0.0, function.points,
                                              total=len(function.cases), reason=message))


def _run_cell(student: StudentProcess, step, result: PlanResult) -> None:
    try:
        error = student.run(blank_magics(step.source), step.label)
    except SandboxFailure as failure:
        result.cells.append(CellProblem(step.label, failure.reason))
        student.restart()
        return
    if error is not None:
        text = f"{error.type_name}: {error.message}" if error.message else error.type_name
        where = error.where or ""
        if where.startswith(step.label + ", "):  # "cell 4: ... (line 2)", not "(at cell 4, line 2)"
            where = where[len(step.label) + 2:]
        where = f" ({'' if where.startswith('line') else 'at '}{where})" if where else ""
        result.cells.append(CellProblem(step.label, text + where))


def run_test(test, namespace: TesterNamespace, student: StudentProcess) -> TestResult:
    """Run one instructor test in `namespace`; never raises.

    Examples
    --------
    >>> from labtools.grading.model import Test
    >>> namespace = {"__builtins__": __builtins__}
    >>> run_test(Test("t", "assert 1 + 1 == 3, 'arithmetic'", points=1), namespace, None).message
    'AssertionError: arithmetic'
    """
    maximum = float(test.points)
    try:
        if test.mode == "output":
            passed, message = _run_doctest(test, namespace)
            score = maximum if passed else 0.0
        else:
            score, message = _run_assert(test, namespace, maximum)
            passed = score >= maximum
    except SandboxFailure as failure:
        if student is not None:
            student.restart()
        score, passed, message = 0.0, False, failure.reason
    if not passed and test.failure_message:
        message = f"{test.failure_message} ({message})" if message else test.failure_message
    if passed and test.success_message:
        message = test.success_message
    return TestResult(test.name, test.question, score, maximum, passed, message,
                      test.hidden)


def _run_assert(test, namespace, maximum: float) -> tuple[float, str]:
    """nbgrader's rule: full points when it runs without raising; a number as the value of
    its last expression is partial credit (capped at the test's points)."""
    try:
        tree = syntax_tree(blank_magics(test.source), test.name)
    except SyntaxError as err:
        return 0.0, f"the test itself has a syntax error: {err}"
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(tree, test.name, "exec"), namespace)
            value = None
            if last is not None:
                value = eval(compile(ast.Expression(last.value), test.name, "eval"), namespace)
    except SandboxFailure:
        raise
    except BaseException as error:  # an instructor's test failing is the normal case
        return 0.0, _describe_failure(error) + _failed_line(error, test)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return min(max(float(value), 0.0), maximum), ("" if value >= maximum else
                                                       f"partial credit: {value:g} of {maximum:g}")
    return maximum, ""


def _failed_line(error: BaseException, test) -> str:
    """For a bare ``assert`` in a visible test: the line that failed (hidden tests: nothing)."""
    if test.hidden or not isinstance(error, AssertionError) or str(error):
        return ""
    line, tb = None, error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == test.name:
            line = tb.tb_lineno
        tb = tb.tb_next
    lines = test.source.splitlines()
    if line is None or not 0 < line <= len(lines):
        return ""
    return f" in `{lines[line - 1].strip()}`"


def _describe_failure(error: BaseException) -> str:
    """An exception in words; the limits students hit say which limit."""
    name = getattr(error, "type_name", None) or type(error).__name__
    if name == "MemoryError":
        return "MemoryError (memory limit: it tried to use more memory than the sandbox allows)"
    if name == "SystemExit":
        return ("SystemExit: it called sys.exit() or exit(); a graded function must return its "
                "result, not end the program")
    text = getattr(error, "message", None) if hasattr(error, "type_name") else str(error)
    return f"{name}: {text}" if text else name


def _run_doctest(test, namespace) -> tuple[bool, str]:
    """otter's OK-format rule: each top-level statement is a doctest example; the expected
    output belongs to the last one (earlier ones must print nothing)."""
    try:
        tree = syntax_tree(blank_magics(test.source), test.name)
    except SyntaxError as err:
        return False, f"the test itself has a syntax error: {err}"
    lines = test.source.splitlines()
    examples = []
    for number, node in enumerate(tree.body):
        source = "\n".join(lines[node.lineno - 1:node.end_lineno]) + "\n"
        last = number == len(tree.body) - 1
        want = (test.expected or "") if last else ""
        if want and not want.endswith("\n"):
            want += "\n"
        examples.append(doctest.Example(source, want, lineno=node.lineno - 1))
    runner = doctest.DocTestRunner(verbose=False, optionflags=doctest.NORMALIZE_WHITESPACE * 0)
    report = io.StringIO()
    case = doctest.DocTest(examples, {}, test.name, None, 0, test.source)
    case.globs = namespace  # DocTest copies its globs into a plain dict: use ours, live
    with contextlib.redirect_stdout(io.StringIO()):
        runner.run(case, out=report.write, clear_globs=False)
    if runner.failures == 0:
        return True, ""
    return False, _doctest_message(report.getvalue())


def _doctest_message(report: str) -> str:
    """The useful part of doctest's report: the failing line, expected and got; of a
    traceback only its last line (the grader's own frames mean nothing to a student)."""
    body = report.split("*" * 70)
    text = body[1] if len(body) > 1 else report
    text = re.sub(r'^File ".*", line \d+, in .*\n', "", text.strip(), flags=re.M)
    if "Exception raised:" in text:
        head, _, trace = text.partition("Exception raised:")
        last = [line.strip() for line in trace.strip().splitlines() if line.strip()][-1:]
        text = head.rstrip() + "\nException raised: " + (last[0] if last else "")
    return text.strip()[:1500]


def check_function(function: FunctionCheck, namespace, student):
    """Call a toml-graded function on its cases through its stub and score it."""
    from labtools.grading.scoring import FunctionGrade

    grade = FunctionGrade(function.name, 0.0, function.points, total=len(function.cases),
                          unit="test case")
    try:
        stub = namespace[function.name]
    except KeyError:
        grade.reason = f"no function named {function.name} was defined"
        return grade
    except SandboxFailure as failure:
        grade.reason = failure.reason
        return grade
    if not callable(stub):
        grade.reason = f"{function.name} is not a function (it is {describe(stub)})"
        return grade
    for number, (case, expected) in enumerate(zip(function.cases, function.expected), start=1):
        try:
            ok, message = _check_case(stub, case, expected, function)
        except SandboxFailure as failure:
            student.restart()
            grade.reason = failure.reason
            grade.passed = 0
            return grade
        if ok:
            grade.passed += 1
            continue
        hint = case.hint or (function.hints.get(case.edge) if case.edge else None)
        grade.failed_cases.append(f"case {number} ({case.label}): {message}"
                                  + (f" — {hint}" if hint else ""))
    if function.property is not None:
        grade.total += 1
        try:
            passed, message = _check_property(stub, function)
        except SandboxFailure as failure:
            student.restart()
            passed, message = False, failure.reason
        grade.passed += passed
        if not passed:
            grade.failed_cases.append(message)
    grade.points = function.points * grade.passed / max(1, grade.total)
    return grade


def _check_case(stub, case, expected, function) -> tuple[bool, str]:
    from labtools.grading.student_error import exception_matches

    try:
        got = stub(*case.args, **case.kwargs)
    except SandboxFailure:
        raise
    except BaseException as error:
        if isinstance(expected, ExpectedRaise):
            if exception_matches(getattr(error, "student_error", error), expected.type_name) \
                    or exception_matches(error, expected.type_name):
                return True, ""
            return False, (f"expected it to raise {expected.type_name}, but it raised "
                           f"{_describe_failure(error)}")
        return False, f"expected {describe(expected)}, but it raised {_describe_failure(error)}"
    if isinstance(expected, ExpectedRaise):
        return False, f"expected it to raise {expected.type_name}, but it returned {describe(got)}"
    return compare(expected, got, rtol=function.rtol, atol=function.atol)


def _check_property(stub, function) -> tuple[bool, str]:
    """Hypothesis draws inputs, the student's answers must equal the reference's; a failure
    is shown as the smallest failing call Hypothesis finds."""
    from types import SimpleNamespace

    from labtools.grading.properties import check_property, load_instructor_object
    from labtools.grading.spec import GradedFunction, resolve_reference

    spec = function.property
    folder = spec["folder"]
    strategy = load_instructor_object(folder, spec["strategy"], what="strategy")
    reference = resolve_reference(SimpleNamespace(folder=__import__("pathlib").Path(folder)),
                                  GradedFunction(function.name, 1, spec["reference"]))
    result = check_property(stub, reference, strategy, examples=spec["examples"],
                            seed=spec["seed"], raises=spec["raises"], name=function.name)
    if result.passed:
        return True, ""
    return False, (f"property check ({result.examples_run} inputs tried): "
                   f"{result.failing_call}: {result.message}")


def main() -> None:
    """``python -m labtools.grading.tester``: a pickled Plan on stdin, a pickled PlanResult out."""
    channel = os.fdopen(os.dup(1), "wb")
    sys.stdout = sys.stderr = open(os.devnull, "w")  # prints of tests never corrupt the answer
    plan = pickle.load(sys.stdin.buffer)
    result = run_plan(plan)
    pickle.dump(result, channel)
    channel.flush()


if __name__ == "__main__":
    # Run as the module labtools.grading.tester, not as __main__, so that what it pickles
    # names classes the grader can import.
    from labtools.grading import tester

    tester.main()
