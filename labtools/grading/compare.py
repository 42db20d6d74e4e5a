"""Compare a student's answer with the reference value, in the grading process.

Numbers match within ``atol + rtol * |expected|``; NaN matches NaN and an
infinity matches the same infinity. Arrays must have the expected shape and
match element-wise the same way. The comparison runs in the parent, so
whatever a submission does to numpy in its own process cannot change it.
Messages are for students: "expected nan, got 0.0".
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["Difference", "compare", "describe", "first_difference"]


def describe(value) -> str:
    """A short, readable rendering of a value for feedback.

    Examples
    --------
    >>> import numpy as np
    >>> describe(float("nan")), describe(np.zeros((2, 3))), describe(3)
    ('nan', 'an array of shape (2, 3), dtype float64', '3')
    """
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return f"an array of shape {value.shape}, dtype {value.dtype}"
    if isinstance(value, np.ndarray):
        value = value.item()
    if isinstance(value, float):
        return repr(round(value, 10)) if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        text = repr(value)
        if len(text) <= 60 and all(isinstance(v, (int, float, str, bool, type(None))) for v in value):
            return text
        return f"a {type(value).__name__} of {len(value)} item{'' if len(value) == 1 else 's'}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def compare(expected, got, *, rtol: float = 1e-6, atol: float = 1e-9) -> tuple[bool, str]:
    """Whether `got` matches `expected`, and why not.

    Numbers and arrays match within the tolerances (NaN equals NaN); lists and
    tuples item by item (either kind for either); dicts need the same keys and
    matching values; anything else (strings, None, sets) must be equal and of
    the same kind (1 is not "1").

    Examples
    --------
    >>> compare(float("nan"), 0.0)
    (False, 'expected nan, got 0.0')
    >>> compare(1.0, 1.0 + 1e-9)
    (True, '')
    >>> compare(np.ones((2, 2)), np.ones((2, 3)))
    (False, 'expected an array of shape (2, 2), got shape (2, 3)')
    >>> compare({"a": [1, 2.0], "b": "x"}, {"a": (1, 2.0000000001), "b": "x"})
    (True, '')
    >>> compare({"a": 1, "b": 2}, {"a": 1})
    (False, "missing key 'b'")
    """
    if isinstance(expected, (tuple, list)):
        return _compare_sequence(expected, got, rtol, atol)
    if isinstance(expected, dict):
        return _compare_dict(expected, got, rtol, atol)
    if isinstance(expected, np.ndarray) or _is_number(expected):
        expected_array = np.asarray(expected)
        if expected_array.ndim == 0 and _is_number(expected):
            return _compare_number(expected_array.item(), got, rtol, atol)
        return _compare_array(expected_array, got, rtol, atol)
    try:  # an odd __eq__ in the data is "not equal", never a crash
        same = isinstance(got, type(expected)) and bool(got == expected)
    except Exception:
        same = False
    return (True, "") if same else (False, f"expected {describe(expected)}, got {describe(got)}")


def _compare_dict(expected: dict, got, rtol, atol) -> tuple[bool, str]:
    if not isinstance(got, dict):
        return False, f"expected a dict, got {describe(got)}"
    missing = [k for k in expected if k not in got]
    if missing:
        return False, f"missing key {describe(missing[0])}"
    extra = [k for k in got if k not in expected]
    if extra:
        return False, f"unexpected key {describe(extra[0])}"
    for key, value in expected.items():
        ok, message = compare(value, got[key], rtol=rtol, atol=atol)
        if not ok:
            return False, f"key {describe(key)}: {message}"
    return True, ""


def _is_number(value) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iufb"
    return isinstance(value, numbers.Number) and not isinstance(value, complex)


def _compare_number(expected, got, rtol, atol) -> tuple[bool, str]:
    if isinstance(got, (bool, np.bool_)) and not isinstance(expected, bool):
        return False, f"expected {describe(expected)}, got the bool {got} (return a number)"
    if not _is_number(got):
        return False, f"expected the number {describe(expected)}, got {describe(got)}"
    value = np.asarray(got).item()
    if _close(float(expected), float(value), rtol, atol):
        return True, ""
    # Numbers as the student and the reference wrote them: an integer stays an integer.
    return False, f"expected {describe(expected)}, got {describe(value)}"


def _close(expected: float, got: float, rtol: float, atol: float) -> bool:
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if math.isinf(expected) or math.isinf(got):
        return expected == got
    return abs(got - expected) <= atol + rtol * abs(expected)


def _compare_array(expected: np.ndarray, got, rtol, atol) -> tuple[bool, str]:
    if not isinstance(got, np.ndarray):
        return False, f"expected {describe(expected)}, got {describe(got)}"
    if got.shape != expected.shape:
        return False, f"expected an array of shape {expected.shape}, got shape {got.shape}"
    if expected.dtype.kind in "iufb" and got.dtype.kind not in "iufb":
        return False, f"expected numbers, got an array of dtype {got.dtype}"
    e, g = expected.astype(np.float64), got.astype(np.float64)
    with np.errstate(invalid="ignore"):
        difference = first_difference(g, e, rtol=rtol, atol=atol)
    if difference is None:
        return True, ""
    return False, (f"{difference.count} of {e.size} values differ; first at index {difference.index}: expected "
                   f"{describe(float(difference.expected))}, got {describe(float(difference.yours))}")


def _compare_sequence(expected, got, rtol, atol) -> tuple[bool, str]:
    if not isinstance(got, (list, tuple)) or len(got) != len(expected):
        count = f"{len(expected)} value{'' if len(expected) == 1 else 's'}"
        return False, f"expected {count} ({describe(expected)}), got {describe(got)}"
    for index, (e, g) in enumerate(zip(expected, got)):
        ok, message = compare(e, g, rtol=rtol, atol=atol)
        if not ok:
            return False, f"item {index}: {message}"
    return True, ""


class Difference:
    """Where two arrays of the same shape differ: the first index, both values, how many differ."""

    def __init__(self, index, yours, expected, count, total, largest):
        self.index, self.yours, self.expected = index, yours, expected
        self.count, self.total, self.largest = count, total, largest

    def where(self) -> str:
        """``at index (2, 3)``, or an empty string for a scalar."""
        return f" at index {self.index}" if self.index else ""

    def spread(self) -> str:
        """``12 of 400 values differ, by up to 0.5``, or an empty string for one value."""
        if self.total <= 1:
            return ""
        text = f"{self.count} of {self.total} values differ"
        if self.largest is None:
            return text
        largest = f"{self.largest:.6g}" if math.isfinite(self.largest) else str(self.largest)
        return f"{text}, by up to {largest}"


def first_difference(yours: np.ndarray, expected: np.ndarray, *, rtol: float | None,
                     atol: float = 0.0) -> Difference | None:
    """The first element where `yours` and `expected` (same shape) differ, or None if none does.

    With `rtol` None the comparison is exact; otherwise within
    ``atol + rtol * |expected|``. NaN equals NaN.

    Examples
    --------
    >>> d = first_difference(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.5]), rtol=1e-6)
    >>> d.index, d.yours, d.expected, d.spread()
    ((1,), 2.0, 2.5, '2 of 3 values differ, by up to 0.5')
    """
    if rtol is None:
        same = (yours == expected) | (_isnan(yours) & _isnan(expected))
    else:
        same = np.isclose(yours, expected, rtol=rtol, atol=atol, equal_nan=True)
    same = np.broadcast_to(same, expected.shape)
    if same.all():
        return None
    wrong = np.argwhere(~same)
    index = tuple(int(i) for i in wrong[0])
    largest = None
    if yours.dtype.kind in "biuf" and expected.dtype.kind in "biuf":
        gap = np.abs(yours.astype(np.float64) - expected.astype(np.float64))[~same]
        largest = float(np.nanmax(gap)) if np.isfinite(gap).any() else float("inf")
    return Difference(index, yours[index].item(), expected[index].item(), len(wrong), expected.size, largest)


def _isnan(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind == "f":
        return np.isnan(array)
    return np.zeros(array.shape, bool)
