"""Property checks: the student's function agrees with the reference on inputs Hypothesis draws.

The instructor writes a Hypothesis strategy of argument tuples in a Python file
of the assignment folder, and names it in ``assignment.toml``::

    # strategies.py
    from hypothesis import strategies as st
    squares_args = st.tuples(st.integers(-10, 1000))          # positional arguments
    total_args = st.fixed_dictionaries({"args": st.tuples(st.lists(st.integers())),
                                        "kwargs": st.fixed_dictionaries({"start": st.integers()})})

    # assignment.toml, in the function's [[functions]] table
    strategy = "strategies.py:squares_args"
    examples = 100               # how many inputs to try (default 100)
    raises = ["ValueError"]      # optional: the exceptions the reference may raise

The property (:func:`check_property`): on every drawn input the student's
result matches the reference's, or both raise the same exception type. When
it fails, Hypothesis *shrinks* the input, so the student reads the smallest
call that goes wrong (``squares(0)``), not the random one that found it.

Instructors may also write their cases in Python: ``generator =
"cases.py:make_cases"`` names a function ``make_cases(rng)`` that yields
argument tuples or dicts (:func:`generator_cases`).

The instructor's files are trusted code: they run in the tester process,
never in the sandbox, and only files inside the assignment folder are loaded
(:func:`load_instructor_object`).
"""

from __future__ import annotations

import copy
import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labtools.errors import AssignmentError
from labtools.grading.cases import Case
from labtools.grading.spec import _folder_module
from labtools.grading.student_error import exception_matches, exception_text
from labtools.grading.compare import compare
from labtools.grading.table import call_text, parse_row, short_repr

__all__ = ["PropertyResult", "check_property", "load_instructor_object", "generator_cases"]


@dataclass(frozen=True)
class PropertyResult:
    """The outcome of one property check.

    ``examples_run`` counts the calls of the student's function, shrinking
    included. ``failing_call`` is the smallest failing call found, written as
    code ("squares(0)"); ``message`` says what went wrong on it ("expected
    [1], got []"). ``out_of_time`` is set when the time budget ended the check
    early; a check that ran out of time before finding a failure passes.
    ``args`` and ``kwargs`` are the failing call's arguments.
    """

    passed: bool
    examples_run: int
    failing_call: str | None = None
    message: str = ""
    out_of_time: bool = False
    args: tuple | None = None
    kwargs: dict | None = None


class _Mismatch(AssertionError):
    """Raised inside the Hypothesis test when the student disagrees with the reference."""


class _OutOfTime(BaseException):
    # A BaseException (like KeyboardInterrupt) because Hypothesis treats any
    # Exception as a failure to shrink; this one must stop the run at once.
    pass


def check_property(call, reference, strategy, *, examples: int = 100, seed: int = 0,
                   compare=compare, deadline=None, seconds: float | None = 30.0,
                   raises=None, name: str | None = None) -> PropertyResult:
    """Check that `call` agrees with `reference` on inputs drawn from `strategy`.

    Parameters
    ----------
    call : callable
        ``call(*args, **kwargs)`` runs the student's function (in grading, a
        stub that calls into the sandbox). Whatever it raises (a
        :class:`~labtools.grading.student_error.StudentError` or a built-in
        exception) is the student's exception.
    reference : callable
        The trusted reference.
    strategy : hypothesis strategy
        Draws a tuple of positional arguments, or a dict with ``"args"`` (a
        tuple or list) and ``"kwargs"`` (a dict). A function that returns such a
        strategy (e.g. one decorated with ``@st.composite``) is called first.
    examples : int
        At most this many inputs are tried (fewer when the strategy has fewer).
    seed : int
        The same seed tries the same inputs and gives the same result.
    compare : callable
        ``compare(expected, got) -> (ok, message)``; by default
        :func:`~labtools.grading.compare.compare`, which is
        :func:`labtools.grading.compare.compare` for numbers and arrays and also
        compares strings, dicts, None and nested lists. Pass
        ``functools.partial(compare, rtol=..., atol=...)`` for other tolerances.
    deadline : int, float, datetime.timedelta or None
        Hypothesis' limit per input, in milliseconds (reference and student
        together); None for no limit.
    seconds : float or None
        Time budget of the whole check. Each call crosses a process boundary
        (about 1 ms) and student code may be slow: when the budget is spent the
        check stops, passing if no failure was found yet, else reporting the
        smallest failing input found so far (``out_of_time`` says so). Only a
        check cut short this way depends on the machine's speed; None: no budget.
    raises : list of str, optional
        The exception types the reference may raise (``raises = ["ValueError"]``).
        When given, the student must raise the listed type the reference's
        exception is (a subclass passes), and a reference that raises anything
        else is an instructor error. When not given, the student must raise the
        reference's exception type (or a subclass).
    name : str, optional
        The function's name for ``failing_call``; by default ``call.__name__``.

    Returns
    -------
    PropertyResult

    Raises
    ------
    AssignmentError
        The strategy is not a strategy or draws something that is not
        arguments, fails Hypothesis' health checks (it filters out almost every
        input), or the reference raised an exception ``raises`` does not list.

    Examples
    --------
    >>> from hypothesis import strategies as st
    >>> def squares(n):
    ...     if n < 1:
    ...         raise ValueError("n must be at least 1")
    ...     return [i * i for i in range(1, n + 1)]
    >>> def student(n):  # forgets the check
    ...     return [i * i for i in range(1, n + 1)]
    >>> check_property(squares, squares, st.tuples(st.integers(-5, 50))).passed
    True
    >>> result = check_property(student, squares, st.tuples(st.integers(-5, 50)), name="squares")
    >>> result.passed, result.failing_call
    (False, 'squares(0)')
    >>> result.message
    'returned [] but the reference raised ValueError: n must be at least 1'
    """
    hypothesis = _import_hypothesis()
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis.errors import (DeadlineExceeded, FailedHealthCheck, Flaky, InvalidArgument,
                                   Unsatisfiable)

    strategy = _as_strategy(strategy)
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise AssignmentError(f"examples must be a whole number >= 1, e.g. examples = 100 "
                              f"(got {examples!r})")
    allowed = _allowed_exceptions(raises)
    name = name or getattr(call, "__name__", None) or getattr(reference, "__name__", "f")
    state = _State()
    stop_at = None if seconds is None else time.monotonic() + float(seconds)

    def one_example(drawn):
        final = _is_final_replay()
        # The final replay re-runs the shrunk failure: it must run even when time is up,
        # or Hypothesis would see the failure vanish.
        if stop_at is not None and time.monotonic() > stop_at and not final:
            state.out_of_time = True
            raise _OutOfTime
        args, kwargs = _arguments(drawn)
        message = _disagreement(call, reference, args, kwargs, compare, allowed, name, state)
        if message is not None:
            # Each failure Hypothesis sees while shrinking is smaller than the last one.
            state.failure = (args, kwargs, message)
            raise _Mismatch(message)

    # Skipping: the reuse phase (there is no example database: grading must not depend
    # on earlier runs), the target phase (no score to optimise), and the explain phase
    # (it reruns the function many times to point at code lines, meaningless here).
    test = settings(
        max_examples=examples, deadline=deadline, database=None, derandomize=False,
        phases=(Phase.explicit, Phase.generate, Phase.shrink), report_multiple_bugs=False,
        verbosity=Verbosity.quiet, print_blob=False,
        # Slow draws are the instructor's strategy, not the student's fault; filtering and
        # data-size problems stay on and become AssignmentErrors below.
        suppress_health_check=[HealthCheck.too_slow],
    )(hypothesis.seed(seed)(given(strategy)(one_example)))

    try:
        test()
    except _OutOfTime:
        pass
    except _Mismatch:
        pass
    except DeadlineExceeded as err:
        # Hypothesis shrank the slow input and replayed it last.
        args, kwargs = state.last_call
        state.failure = (args, kwargs, _too_slow(err))
    except Flaky:
        # The student's function gave different answers on the same input (randomness,
        # state kept between calls): report the failure that was seen.
        if state.failure is not None:
            args, kwargs, message = state.failure
            state.failure = (args, kwargs, message + " (calling it again on the same input "
                             "gave a different result: does it use randomness or keep state?)")
    except FailedHealthCheck as err:
        raise AssignmentError(f"the strategy of {name} fails Hypothesis' health check: "
                              f"{_first_line(err).rstrip(' .')}; draw valid inputs directly "
                              "instead of filtering them (e.g. st.integers(1, 100), not "
                              "st.integers().filter(lambda n: n > 0))") from None
    except InvalidArgument as err:
        raise AssignmentError(f"the strategy of {name} is invalid: {_first_line(err)}") from None
    except Unsatisfiable as err:
        raise AssignmentError(f"the strategy of {name} drew no usable input: {_first_line(err)}"
                              ) from None
    if state.failure is None:
        message = (f"stopped after {state.calls} of {examples} examples: the time budget of "
                   f"{seconds:g} s was spent") if state.out_of_time else ""
        return PropertyResult(True, state.calls, message=message, out_of_time=state.out_of_time)
    args, kwargs, message = state.failure
    return PropertyResult(False, state.calls, call_text(name, args, kwargs), message,
                          out_of_time=state.out_of_time, args=args, kwargs=kwargs)


class _State:
    def __init__(self):
        self.calls = 0
        self.failure = None  # (args, kwargs, message) of the latest failure
        self.last_call = ((), {})
        self.out_of_time = False


def _disagreement(call, reference, args, kwargs, compare, allowed, name, state) -> str | None:
    """None when the student agrees with the reference on this input, else why not."""
    # Deep copies: neither function may see what the other did to a mutable argument.
    try:
        copies = [copy.deepcopy((args, kwargs)) for _ in range(2)]
    except Exception as err:
        raise AssignmentError(f"the strategy of {name} drew arguments that cannot be copied "
                              f"({exception_text(err)}); draw plain values or arrays") from None
    try:
        expected, expected_error = reference(*copies[0][0], **copies[0][1]), None
    except Exception as err:  # the reference raising is part of the specification
        expected, expected_error = None, err
    state.calls += 1
    state.last_call = (args, kwargs)
    try:
        got, error = call(*copies[1][0], **copies[1][1]), None
    except Exception as err:  # StudentError, or a built-in exception made from one
        got, error = None, err

    if expected_error is not None:
        wanted = _wanted_exception(expected_error, allowed, name, args, kwargs)
        if error is None:
            return (f"returned {short_repr(got)} but the reference raised "
                    f"{exception_text(expected_error)}")
        if exception_matches(error, wanted):
            return None
        return (f"raised {exception_text(error)} but the reference raised "
                f"{exception_text(expected_error)}")
    if error is not None:
        return f"raised {exception_text(error)} but the reference returned {short_repr(expected)}"
    try:
        ok, message = compare(expected, got)
    except Exception as err:  # a comparison that cannot cope with the answer: not equal
        ok, message = False, f"expected {short_repr(expected)}, got {short_repr(got)} ({err})"
    return None if ok else message


def _wanted_exception(error, allowed, name, args, kwargs):
    """What the student must raise when the reference raised `error`."""
    if allowed is None:
        return type(error)
    for type_name in allowed:
        if exception_matches(error, type_name):
            return type_name
    raise AssignmentError(
        f"the reference of {name} raised {exception_text(error)} on "
        f"{call_text(name, args, kwargs)}, which raises = {list(allowed)} does not list: add "
        f"{type(error).__name__!r} to raises, or make the strategy avoid such inputs")


def _allowed_exceptions(raises):
    if raises is None:
        return None
    if isinstance(raises, str) or not all(isinstance(r, str) and r for r in raises):
        raise AssignmentError(f"raises must be a list of exception names, e.g. "
                              f'raises = ["ValueError"] (got {raises!r})')
    return tuple(raises)


def _arguments(drawn) -> tuple[tuple, dict]:
    if isinstance(drawn, tuple):
        return drawn, {}
    if isinstance(drawn, dict) and set(drawn) <= {"args", "kwargs"}:
        args, kwargs = drawn.get("args", ()), drawn.get("kwargs", {})
        if isinstance(args, (tuple, list)) and isinstance(kwargs, dict):
            return tuple(args), dict(kwargs)
    raise AssignmentError(
        f"the strategy drew {short_repr(drawn)}, which is not a set of arguments: draw a tuple "
        "of positional arguments, e.g. st.tuples(st.integers()) (not st.integers()), or a dict "
        "{'args': (...), 'kwargs': {...}} from st.fixed_dictionaries")


def _as_strategy(strategy):
    from hypothesis.strategies import SearchStrategy

    if not isinstance(strategy, SearchStrategy) and callable(strategy):
        try:
            strategy = strategy()  # an @st.composite function, or def args(): return st...
        except TypeError:
            pass
    if not isinstance(strategy, SearchStrategy):
        raise AssignmentError(f"the strategy is {short_repr(strategy)}, not a Hypothesis "
                              "strategy; write e.g. squares_args = st.tuples(st.integers(0, 100))"
                              " in strategies.py")
    return strategy


def _is_final_replay() -> bool:
    from hypothesis.control import current_build_context

    try:
        return bool(getattr(current_build_context(), "is_final", False))
    except Exception:  # outside a test context (never, in practice)
        return False


def _too_slow(err) -> str:
    runtime, deadline = getattr(err, "runtime", None), getattr(err, "deadline", None)
    if runtime is None or deadline is None:
        return f"took too long: {_first_line(err)}"
    # Hypothesis times the whole example: the reference's call is (a small) part of it.
    return (f"took {runtime.total_seconds() * 1000:.0f} ms, more than the "
            f"{deadline.total_seconds() * 1000:.0f} ms allowed per call")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _import_hypothesis():
    try:
        import hypothesis
    except ImportError:  # pragma: no cover - hypothesis is a grading dependency
        raise AssignmentError("property checks (strategy = ...) need the hypothesis package: "
                              "pip install hypothesis") from None
    return hypothesis


# --- instructor code in the assignment folder -----------------------------------------------

def load_instructor_object(folder, text: str, *, what: str):
    """The object ``name`` of ``file.py`` in the assignment `folder`, given as ``"file.py:name"``.

    The file is the instructor's trusted code, imported in the tester process
    (once per process). Paths that leave the folder are refused.

    Parameters
    ----------
    folder : str or Path
        The assignment folder.
    text : str
        ``"strategies.py:squares_args"``.
    what : str
        What is loaded, for error messages: "strategy of squares".

    Raises
    ------
    AssignmentError
        `text` is not ``file.py:name``, the file is not a .py file inside the
        folder, it fails to import, or it has no such name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "strategies.py").write_text("LIMIT = 10\\n")
    >>> load_instructor_object(folder, "strategies.py:LIMIT", what="strategy of squares")
    10
    >>> load_instructor_object(folder, "../x.py:LIMIT", what="strategy of squares")
    Traceback (most recent call last):
    ...
    labtools.errors.AssignmentError: strategy of squares: ../x.py is not a .py file in the assignment folder; write "file.py:name" with file.py next to assignment.toml
    """
    folder = Path(folder)
    filename, colon, attribute = (text.partition(":") if isinstance(text, str) else ("", "", ""))
    if not colon or not filename or not attribute.isidentifier():
        raise AssignmentError(f"{what}: write \"file.py:name\" (a file of the assignment folder "
                              f"and a name in it), got {text!r}")
    path = (folder / filename).resolve()
    if path.suffix != ".py" or not path.is_file() or folder.resolve() not in path.parents:
        raise AssignmentError(f"{what}: {filename} is not a .py file in the assignment folder; "
                              "write \"file.py:name\" with file.py next to assignment.toml")
    try:
        module = _folder_module(folder, filename, what)
    except AssignmentError as err:  # the file failed to import: say which setting loads it
        cause = err.__cause__ or err
        raise AssignmentError(f"{what}: {filename} failed to import: "
                              f"{exception_text(cause)}") from cause
    if not hasattr(module, attribute):
        raise AssignmentError(f"{what}: {filename} has no {attribute!r}; define it there or "
                              f"fix the name in \"{text}\"")
    return getattr(module, attribute)


def generator_cases(folder, text: str, *, seed: int, count: int,
                    name: str | None = None) -> list[Case]:
    """Cases from an instructor's function, ``generator = "cases.py:make_cases"``.

    ``make_cases(rng)`` gets a ``numpy.random.default_rng(seed)`` and returns
    (or yields) cases, each a tuple of positional arguments or a dict with the
    keys of a case-table row (``args``, ``kwargs``, ``label``, ``hint``,
    ``expect``, ``raises``; see :mod:`labtools.grading.table`). The first
    `count` are used; fewer is fine (a fixed list of edge cases), none is not.
    Draw every random number from `rng`, so that each student gets the same cases.

    Parameters
    ----------
    name : str, optional
        The graded function's name, for labels ("squares(3)"); "f" otherwise.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "cases.py").write_text(
    ...     "def make_cases(rng):\\n"
    ...     "    yield {'args': (0,), 'label': 'the empty case', 'raises': 'ValueError'}\\n"
    ...     "    while True:\\n"
    ...     "        yield (int(rng.integers(1, 100)),)\\n")
    >>> cases = generator_cases(folder, "cases.py:make_cases", seed=0, count=3, name="squares")
    >>> [c.label for c in cases], cases[0].raises
    (['the empty case', 'squares(85)', 'squares(64)'], 'ValueError')
    """
    what = f"generator {text!r}"
    make_cases = load_instructor_object(folder, text, what=what)
    if not callable(make_cases):
        raise AssignmentError(f"{what} is {short_repr(make_cases)}, not a function; define "
                              "def make_cases(rng): ... returning tuples of arguments")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise AssignmentError(f"{what}: cases must be a whole number >= 1, got {count!r}")
    try:
        produced = make_cases(np.random.default_rng(seed))
        if not hasattr(produced, "__iter__"):
            raise AssignmentError(f"{what} returned {short_repr(produced)}; return a list of "
                                  "cases or yield them")
        items = list(itertools.islice(iter(produced), count))
    except AssignmentError:
        raise
    except Exception as err:  # the instructor's code: report, do not hide
        raise AssignmentError(f"{what} raised {exception_text(err)}") from err
    if not items:
        raise AssignmentError(f"{what} gave no cases; return or yield tuples of arguments")
    cases = []
    for number, item in enumerate(items, start=1):
        where = f"{what} case {number}"
        if isinstance(item, tuple):
            item = {"args": item}
        elif not isinstance(item, dict):
            raise AssignmentError(f"{where} is {short_repr(item)}; give a tuple of positional "
                                  "arguments such as (3,) or a dict {'args': (3,), 'label': ...}")
        cases.append(parse_row(item, where=where, name=name or "f", args_kinds=(list, tuple)))
    return cases
