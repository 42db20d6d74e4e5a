"""Turn what the sandbox reported for one function into points and feedback in words.

A function scores 0, with one reason, when it could not be extracted, did not
load, hit a limit, exited, was blocked by the sandbox or changed numpy;
otherwise it scores ``points * passed / cases``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labtools.grading.compare import compare, describe

__all__ = ["FunctionGrade", "score_function"]

MAX_LISTED_CASES = 8


@dataclass
class FunctionGrade:
    """Points of one function for one student, with the reason or the failed cases."""

    name: str
    points: float
    max_points: float
    passed: int = 0
    total: int = 0
    reason: str | None = None
    failed_cases: list[str] = field(default_factory=list)


def score_function(function, cases, expected, outcome=None, error=None) -> FunctionGrade:
    """Score one function from its extraction `error` or its sandbox `outcome`.

    Examples
    --------
    >>> from labtools.grading.spec import GradedFunction
    >>> from labtools.grading.cases import Case
    >>> from labtools.grading.sandbox import Outcome
    >>> f = GradedFunction("dice_score", 4, "labtools.metrics.dice", generator={},
    ...                    hints={"both_empty": "conventions say return NaN"})
    >>> cases = [Case((), "both masks empty", "both_empty"), Case((), "random masks")]
    >>> outcome = Outcome("dice_score", cases=[(True, 0.0, None, None), (True, 0.5, None, None)])
    >>> grade = score_function(f, cases, [float("nan"), 0.5], outcome)
    >>> grade.points, grade.failed_cases
    (2.0, ['case 1 (both masks empty): expected nan, got 0.0 — conventions say return NaN'])
    """
    grade = FunctionGrade(function.name, 0.0, function.points, total=len(cases))
    grade.reason = error or _failure_reason(outcome)
    if grade.reason:
        return grade
    for number, (case, value, answer) in enumerate(zip(cases, expected, outcome.cases), start=1):
        ok, got, where, _ = answer
        if ok:
            ok, message = compare(value, got, rtol=function.rtol, atol=function.atol)
        else:
            message = f"expected {describe(value)}, but it raised {got}" + (f" ({where})" if where else "")
        if ok:
            grade.passed += 1
            continue
        hint = function.hints.get(case.edge) if case.edge else None
        grade.failed_cases.append(f"case {number} ({case.label}): {message}"
                                  + (f" — {hint}" if hint else ""))
    grade.points = round(function.points * grade.passed / max(1, grade.total), 4)
    return grade


def _failure_reason(outcome) -> str | None:
    if outcome.failure:
        return outcome.failure
    if outcome.violations:
        return (f"the sandbox blocked it: {outcome.violations[0]}. Graded code must not read or "
                "write files outside its working folder, start programs, use the network or "
                "import labtools")
    if outcome.patched:
        return (f"it changed {', '.join(outcome.patched)}. Graded code must not modify numpy, "
                "math or builtins (monkeypatching); answers are checked outside your code anyway")
    if outcome.load_error:
        text, where, kind = outcome.load_error
        if kind == "exit":
            return "the code it needs calls sys.exit()/exit() when it loads"
        return f"the code it needs failed to load: {text}" + (f" ({where})" if where else "")
    kinds = {case[3] for case in outcome.cases if not case[0]}
    if "exit" in kinds:
        return ("it called sys.exit() or exit(); a graded function must return its result, "
                "not end the program")
    if "memory" in kinds:
        return "memory limit: it tried to use more memory than the sandbox allows (MemoryError)"
    return None
