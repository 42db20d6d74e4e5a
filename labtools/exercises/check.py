"""The check of one exercise: right, not done yet, or wrong with an explanation.

A check cell is one ``with`` block::

    with exercises.check(2, "the convolution matrix") as check:
        for k, n in [(3, 8), (5, 12)]:
            check.close(f"my_conv_matrix_1d(kernel of {k}, n={n})",
                        my_conv_matrix_1d(kernel[:k], n), upsampling.conv_matrix(kernel[:k], (n,)),
                        hint="row r holds the kernel from column r * stride - padding")

* the student's stub raises ``NotImplementedError`` inside the block: the
  check prints "not done yet" and the notebook goes on (Run All reaches the
  end, later cells never use the student's function);
* a comparison fails: :class:`ExerciseFailed` is raised with the quantity,
  the student's value, the expected value and the hint; in Jupyter it is
  shown as that message alone, without a traceback into labtools;
* any other error comes from the student's code and is shown as usual.
"""

from __future__ import annotations

from labtools.exercises.describe import as_numbers, first_difference, show

__all__ = ["Check", "ExerciseFailed", "check", "report", "results"]

_RESULTS: dict[int, tuple[str, str]] = {}     # exercise number -> (title, outcome) in this kernel
_RED, _RESET = "\x1b[31m", "\x1b[0m"


class ExerciseFailed(AssertionError):
    """A wrong answer: what was checked, the student's value, the expected value or property, a hint.

    An ``AssertionError``, so graders and test runners count it as a failed check.

    Attributes
    ----------
    quantity, yours, expected, hint : str
        The parts of the message; ``yours`` and ``expected`` are already rendered.
    """

    def __init__(self, heading: str, quantity: str, yours: str, expected: str, hint: str | None = None,
                 detail: str = ""):
        self.heading, self.quantity, self.yours, self.expected = heading, quantity, yours, expected
        self.hint, self.detail = hint, detail
        super().__init__(self.message())

    def message(self) -> str:
        lines = [f"{self.heading} is not right yet.",
                 f"{self.quantity}: yours is {self.yours}, expected {self.expected}."]
        if self.detail:
            lines.append(f"({self.detail})")
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        return "\n".join(lines)

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the student needs the message, not the
        # frames of labtools' comparison code.
        return [f"{_RED}✗ {line}{_RESET}" if number == 0 else line
                for number, line in enumerate(self.message().splitlines())]


class _NotDone(Exception):
    """An answer still holds the stub's ``...``."""


class Check:
    """The comparisons of one exercise's check cell; made by :func:`check`.

    Every method raises :class:`ExerciseFailed` when the answer is wrong and
    returns nothing when it is right.
    """

    def __init__(self, number: int, title: str):
        self.number, self.title = int(number), str(title)

    @property
    def heading(self) -> str:
        return f"Exercise {self.number} ({self.title})"

    # ---------------------------------------------------------------- context
    def __enter__(self) -> Check:
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if kind is None:
            _RESULTS[self.number] = (self.title, "correct")
            print(f"{self.heading}: correct.")
            return False
        if issubclass(kind, (NotImplementedError, _NotDone)):
            _RESULTS[self.number] = (self.title, "not done yet")
            print(f"{self.heading} is not done yet: write your code where it says # YOUR CODE HERE, "
                  "run that cell, then run this one again.")
            return True                       # the notebook runs on past an unfinished exercise
        _RESULTS[self.number] = (self.title, "wrong" if issubclass(kind, ExerciseFailed) else "error")
        return False

    # ------------------------------------------------------------ comparisons
    def answered(self, value, name: str = "your answer"):
        """`value` itself, unless it is still the stub's ``...`` (then the exercise is not done)."""
        if value is Ellipsis:
            raise _NotDone(name)
        return value

    def equal(self, quantity: str, yours, expected, *, hint: str | None = None, mistakes=None) -> None:
        """`yours` must equal `expected` exactly (numbers, arrays, strings, lists, dicts of them).

        Parameters
        ----------
        quantity : str
            What was computed, in words or as the call (``"output_size(5, k=3)"``).
        yours, expected
            The student's value and the right one.
        hint : str, optional
            What to look at when they differ.
        mistakes : dict, optional
            ``{description: value}`` of typical wrong answers: when `yours` equals
            one of them, the hint names that mistake.

        Examples
        --------
        >>> with check(1, "counting") as c:
        ...     c.equal("len('abc')", 4, 3, hint="count the letters")
        Traceback (most recent call last):
        labtools.exercises.check.ExerciseFailed: Exercise 1 (counting) is not right yet.
        len('abc'): yours is 4, expected 3.
        Hint: count the letters
        """
        self._compare(quantity, yours, expected, None, 0.0, hint, mistakes)

    def close(self, quantity: str, yours, expected, *, rtol: float = 1e-5, atol: float = 1e-8,
              hint: str | None = None, mistakes=None) -> None:
        """`yours` must match `expected` within ``atol + rtol * |expected|`` (NaN matches NaN).

        Arrays must have the expected shape; the message shows the first element
        that differs and how many do. Torch tensors are compared as arrays.

        Examples
        --------
        >>> import numpy as np
        >>> with check(2, "a mean") as c:
        ...     c.close("mean of [1, 2, 4]", np.median([1, 2, 4]), 7 / 3,
        ...             mistakes={"the median instead of the mean": 2.0})
        Traceback (most recent call last):
        labtools.exercises.check.ExerciseFailed: Exercise 2 (a mean) is not right yet.
        mean of [1, 2, 4]: yours is 2, expected 2.33333.
        Hint: this is what the median instead of the mean gives.
        """
        self._compare(quantity, yours, expected, rtol, atol, hint, mistakes)

    def that(self, quantity: str, holds: bool, *, yours, expected: str, hint: str | None = None) -> None:
        """A property that must hold: `expected` says it in words ("a finite number").

        Examples
        --------
        >>> with check(3, "a property") as c:
        ...     c.that("loss at logits ±1000", False, yours=float("nan"), expected="a finite number")
        Traceback (most recent call last):
        labtools.exercises.check.ExerciseFailed: Exercise 3 (a property) is not right yet.
        loss at logits ±1000: yours is nan, expected a finite number.
        """
        self.answered(yours)
        if not holds:
            raise ExerciseFailed(self.heading, quantity, show(yours), expected, hint)

    # --------------------------------------------------------------- internals
    def _compare(self, quantity, yours, expected, rtol, atol, hint, mistakes) -> None:
        self.answered(yours)
        problem = _problem(yours, expected, rtol, atol)
        if problem is None:
            return
        shown_yours, shown_expected, detail = problem
        for description, wrong in (mistakes or {}).items():
            if _problem(yours, wrong, rtol, atol) is None:
                hint = f"this is what {description} gives."
                break
        if yours is None:
            hint = "your function returned None: did you forget the `return`?"
        raise ExerciseFailed(self.heading, quantity + _where(detail), shown_yours, shown_expected, hint,
                             detail.spread() if detail is not None else "")


def _problem(yours, expected, rtol, atol):
    """None when `yours` matches `expected`, else (yours shown, expected shown, Difference or None)."""
    if isinstance(expected, dict):
        if not isinstance(yours, dict):
            return show(yours), "a dict", None
        for key in expected:
            if key not in yours:
                return f"a dict without the key {key!r}", f"the keys {sorted(map(str, expected))}", None
            inner = _problem(yours[key], expected[key], rtol, atol)
            if inner is not None:
                return f"{inner[0]} for {key!r}", f"{inner[1]} for {key!r}", inner[2]
        return None
    expected_numbers, yours_numbers = as_numbers(expected), as_numbers(yours)
    if expected_numbers is None:                       # strings, None, lists of names: plain ==
        try:
            same = type(yours) is type(expected) and bool(yours == expected)
        except Exception:  # noqa: BLE001 (an odd __eq__ is "not equal", never a crash)
            same = False
        return None if same else (show(yours), show(expected), None)
    if yours_numbers is None:
        return show(yours), _kind(expected_numbers), None
    if yours_numbers.shape != expected_numbers.shape:
        if expected_numbers.ndim == 0:
            return show(yours), show(expected), None
        return (f"an array of shape {yours_numbers.shape}",
                f"shape {expected_numbers.shape}", None)
    difference = first_difference(yours_numbers, expected_numbers, rtol=rtol, atol=atol)
    if difference is None:
        return None
    return show(difference.yours), show(difference.expected), difference


def _where(difference) -> str:
    return difference.where() if difference is not None else ""


def _kind(array) -> str:
    return "a number" if array.ndim == 0 else f"an array of shape {array.shape}"


def check(number: int, title: str) -> Check:
    """The check of exercise `number` (`title` in a few words), used as a ``with`` block.

    Parameters
    ----------
    number : int
        The exercise's number in its lesson.
    title : str
        What the exercise is about, as its heading says.

    Returns
    -------
    Check
        Whose methods compare the student's values with the expected ones.

    Examples
    --------
    >>> with check(1, "one plus one") as c:
    ...     c.equal("1 + 1", 1 + 1, 2)
    Exercise 1 (one plus one): correct.
    """
    return Check(number, title)


def results() -> dict[int, tuple[str, str]]:
    """``{exercise number: (title, outcome)}`` of the checks run in this kernel.

    Outcomes: ``"correct"``, ``"not done yet"``, ``"wrong"``, ``"error"``.
    """
    return dict(sorted(_RESULTS.items()))


def report() -> None:
    """Print one line per exercise checked so far: what is done, what is left (:func:`results` as data).

    Examples
    --------
    >>> report()  # doctest: +ELLIPSIS
    Exercises checked in this notebook:...
    """
    lines = ["Exercises checked in this notebook:"]
    lines += [f"  {number}. {title}: {outcome}" for number, (title, outcome) in results().items()]
    if len(lines) == 1:
        lines.append("  none yet (run the check cell after each exercise)")
    print("\n".join(lines))
