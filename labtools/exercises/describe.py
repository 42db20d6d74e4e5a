"""Short, readable renderings of answers for exercise feedback.

A check shows a student one number at a time: the value of a scalar, or the
first element where two arrays differ, never a whole array (which would
give the model answer away and fill the screen).

Examples
--------
>>> show(0.1 + 0.2), show(np.zeros((2, 3))), show("41pct"), show([1, 2])
('0.3', 'an array of shape (2, 3), dtype float64', "'41pct'", '[1, 2]')
"""

from __future__ import annotations

import math
import numbers

import numpy as np

# Where two arrays differ is the grader's question too: one implementation, in grading.compare.
from labtools.grading.compare import Difference, first_difference

__all__ = ["Difference", "as_numbers", "first_difference", "show"]


def show(value) -> str:
    """`value` in a few characters: numbers to 6 significant digits, arrays by shape and dtype.

    Examples
    --------
    >>> show(2 / 3), show(np.float32(1.5)), show(True), show(None), show((5, 3, 0, 6))
    ('0.666667', '1.5', 'True', 'None', '(5, 3, 0, 6)')
    """
    value = _plain(value)
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return show(value.item())
        return f"an array of shape {value.shape}, dtype {value.dtype}"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        text = repr(type(value)(_plain_scalar(v) for v in value))
        if len(text) <= 60:
            return text
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_numbers(value):
    """`value` as a numpy array of numbers (torch tensors included), or None if it is not numeric.

    Examples
    --------
    >>> as_numbers([1, 2.5]).tolist(), as_numbers("a")
    ([1.0, 2.5], None)
    """
    value = _plain(value)
    if isinstance(value, (str, bytes, dict)) or value is None:
        return None
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        return None
    if array.dtype == object or array.dtype.kind not in "biuf":
        return None
    return array


def _plain(value):
    """torch tensors (and anything with .numpy()) become numpy arrays; the rest is unchanged."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value


def _plain_scalar(value):
    if isinstance(value, np.generic):
        return value.item()
    return value
