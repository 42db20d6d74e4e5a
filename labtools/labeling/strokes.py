"""Strokes: what a paint stroke may select, and the record that makes it undoable."""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from labtools.errors import InvalidImageError, ShapeMismatchError

MAX_LABEL = 255  # scribbles are uint8; 0 = not labelled


@dataclass(frozen=True)
class Stroke:
    """One change: the flat indices it touched, their previous values, the new label."""

    indices: np.ndarray   # unique flat indices whose value changed (uint32 when they fit)
    previous: np.ndarray  # uint8, their values before the stroke
    label: int


def check_label(label) -> int:
    """The label as an int in 0..MAX_LABEL, or a labtools error (nothing painted)."""
    if isinstance(label, (bool, np.bool_)):
        raise InvalidImageError(f"label must be an integer 0..{MAX_LABEL}, got {label!r}")
    try:
        value = operator.index(label)
    except TypeError:
        raise InvalidImageError(f"label must be an integer 0..{MAX_LABEL} (0 erases), "
                                f"got {label!r}. Nothing was painted.") from None
    if not 0 <= value <= MAX_LABEL:
        raise InvalidImageError(f"label must lie in 0..{MAX_LABEL} (0 erases), got {value}. "
                                "Nothing was painted.")
    return value



def flat_indices(index, shape: tuple, index_dtype) -> np.ndarray:
    """Unique flat indices of the voxels a stroke selects, or a labtools error (nothing painted)."""
    ndim = len(shape)
    if isinstance(index, list):
        index = np.asarray(index)
    if isinstance(index, np.ndarray):
        if index.dtype == bool:
            if index.shape != shape:
                raise ShapeMismatchError(f"stroke mask has shape {index.shape}, the image "
                                         f"{shape}. Nothing was painted.")
            return np.flatnonzero(index).astype(index_dtype)
        if index.ndim == 2 and index.shape[1] == ndim:
            return _ravel(tuple(index.T), shape, index_dtype)
        raise InvalidImageError(
            f"a stroke given as one array must be a boolean mask of shape {shape} or points "
            f"of shape (n, {ndim}); got {index.dtype} array of shape {index.shape}")
    if not isinstance(index, tuple) or len(index) != ndim:
        raise InvalidImageError(
            f"stroke index must be a boolean mask, (n, {ndim}) points, or a tuple of {ndim} "
            f"coordinate arrays/slices (one per axis); got {type(index).__name__}"
            + (f" of length {len(index)}" if isinstance(index, tuple) else ""))
    if any(isinstance(item, slice) for item in index):
        return _basic_indices(index, shape, index_dtype)
    return _ravel(index, shape, index_dtype)

def _ravel(coords, shape: tuple, index_dtype) -> np.ndarray:
    arrays = []
    for axis, (c, n) in enumerate(zip(coords, shape)):
        c = np.asarray(c)
        if c.dtype.kind == "f" and np.array_equal(c, np.round(c)):
            c = c.astype(np.int64)
        if c.dtype.kind not in "iu":
            raise InvalidImageError(f"stroke coordinates must be integers, axis {axis} has "
                                    f"{c.dtype}; round them first. Nothing was painted.")
        if c.size and (c.min() < 0 or c.max() >= n):
            raise InvalidImageError(
                f"stroke outside the image: axis {axis} has coordinates {c.min()}..{c.max()}, "
                f"the image has {n} voxels along it (0..{n - 1}). Nothing was painted.")
        arrays.append(c)
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError:
        raise InvalidImageError("stroke coordinate arrays have different lengths: "
                                f"{[a.shape for a in arrays]}. Nothing was painted.") from None
    flat = np.ravel_multi_index(arrays, shape).ravel()
    return np.unique(flat).astype(index_dtype)

def _basic_indices(index, shape: tuple, index_dtype) -> np.ndarray:
    for axis, (item, n) in enumerate(zip(index, shape)):
        if isinstance(item, slice):
            continue
        value = np.asarray(item)
        if value.dtype.kind not in "iu" or (value.size and (value.min() < 0 or value.max() >= n)):
            raise InvalidImageError(
                f"stroke outside the image or not integer: axis {axis} index {item!r}, "
                f"the image has {n} voxels along it (0..{n - 1}). Nothing was painted.")
    marker = np.zeros(shape, bool)
    try:
        marker[index] = True
    except (IndexError, TypeError, ValueError) as err:
        raise InvalidImageError(f"stroke index {index!r} is not valid: {err}") from None
    return np.flatnonzero(marker).astype(index_dtype)
