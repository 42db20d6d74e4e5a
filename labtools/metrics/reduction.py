"""MONAI-style reductions of a (batch, class) table of metric values, NaN left out and counted.

MONAI's metrics return one value per case and class and then reduce that
table ("mean", "mean_batch", ...), skipping NaN (a class absent from both
masks) and returning how many values were not NaN. :func:`reduce_metric`
does the same with numpy, so that a table of labtools values can be reduced
exactly as a MONAI pipeline reduces its own. One difference, on purpose: a
group with no value at all gives NaN here (``all_nan_value=0.0`` reproduces
MONAI, whose 0 there reads like a perfect distance or a failed Dice).

Examples
--------
>>> import numpy as np
>>> table = np.array([[0.9, np.nan], [0.7, 0.5]])       # 2 cases x 2 classes
>>> reduce_metric(table, "mean_batch")
Reduced(value=array([0.8, 0.5]), not_nan=array([2, 1]))
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from labtools.errors import ParameterError

__all__ = ["Reduced", "reduce_metric", "REDUCTIONS"]

REDUCTIONS = ("none", "mean", "sum", "mean_batch", "sum_batch", "mean_channel", "sum_channel")


class Reduced(NamedTuple):
    """The reduced value(s) and how many non-NaN values went into each."""

    value: np.ndarray | float
    not_nan: np.ndarray | int


def reduce_metric(values, reduction: str = "mean", *, all_nan_value: float = np.nan) -> Reduced:
    """Reduce a ``(batch, class, ...)`` table of metric values as MONAI's ``do_metric_reduction``.

    Parameters
    ----------
    values : array_like
        At least 2D: cases along axis 0, classes along axis 1.
    reduction : str
        ``"mean"`` (per case over its classes, then over the cases that have a
        value), ``"sum"``, ``"mean_batch"`` / ``"sum_batch"`` (over cases, one
        value per class), ``"mean_channel"`` / ``"sum_channel"`` (over classes, one
        per case) or ``"none"``.
    all_nan_value : float
        The mean of a group without any non-NaN value: NaN by default, 0.0 as MONAI.

    Returns
    -------
    Reduced
        ``(value, not_nan)``; for "mean", ``not_nan`` counts the cases that had a value.

    Raises
    ------
    ParameterError
        For an unknown reduction or a table with fewer than 2 axes.

    Examples
    --------
    >>> import numpy as np
    >>> reduce_metric(np.array([[np.nan, np.nan], [0.4, 0.6]]), "mean")
    Reduced(value=0.5, not_nan=1)
    >>> reduce_metric(np.full((1, 2), np.nan), "mean", all_nan_value=0.0).value   # MONAI's choice
    0.0
    """
    if reduction not in REDUCTIONS:
        raise ParameterError(f"reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
    table = np.asarray(values, dtype=np.float64)
    if table.ndim < 2:
        raise ParameterError(f"values must be a (batch, class, ...) table, got shape {table.shape}")
    present = ~np.isnan(table)
    if reduction == "none":
        return Reduced(table, present.astype(int))
    filled = np.where(present, table, 0.0)

    def mean(total, count):
        count = np.asarray(count)
        return np.where(count > 0, total / np.maximum(count, 1), all_nan_value)

    if reduction == "mean":
        per_case_count = present.sum(axis=1)
        per_case = mean(filled.sum(axis=1), per_case_count)
        cases = (per_case_count > 0).sum(axis=0)
        value = mean(np.where(per_case_count > 0, per_case, 0.0).sum(axis=0), cases)
        return Reduced(_scalar(value), _scalar(cases))
    axis = {"sum": (0, 1), "mean_batch": 0, "sum_batch": 0, "mean_channel": 1, "sum_channel": 1}[reduction]
    count = present.sum(axis=axis)
    total = filled.sum(axis=axis)
    value = total if reduction.startswith("sum") else mean(total, count)
    return Reduced(_scalar(value), _scalar(count))


def _scalar(array):
    array = np.asarray(array)
    return array.item() if array.ndim == 0 else array
