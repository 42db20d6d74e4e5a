"""Coarse-to-fine prediction: predict a coarse grid, refine only where the answer is not settled.

Most voxels of a head volume lie in wide uniform regions (air, the inside of
the ventricles or of the white matter), where a classifier's answer changes
slowly. :func:`coarse_to_fine` predicts every ``step``-th voxel per axis
(1/8 of the voxels in 3D), interpolates those probabilities linearly to the
full grid, and predicts again, voxel by voxel, only where the interpolation
cannot be trusted. A voxel is *settled* when the 2^d coarse voxels enclosing
it all give the same most likely class, each with a margin p1 − p2 above
``margin``; settled voxels keep the interpolated probabilities. This is the
usual multi-resolution shortcut for dense classifiers (e.g. the coarse-to-fine
evaluation of Fleuret & Geman, IJCV 2001); its accuracy cost is measured in
docs/pixel_classification.md.

Why it is exact where it matters: the coarse voxels themselves and every
unsettled voxel are predicted by the classifier, and ``margin=1`` settles
nothing, which gives the full prediction bit for bit.
"""

from __future__ import annotations

import numpy as np

from labtools.errors import InvalidImageError, ParameterError

__all__ = ["coarse_to_fine"]


def coarse_to_fine(predict, shape, *, margin: float = 0.5, step: int = 2):
    """Class probabilities of every voxel of `shape`, predicting only the unsettled ones at full resolution.

    Parameters
    ----------
    predict : callable
        ``predict(indices)`` -> float32 ``(n_classes, len(indices))``: the
        probabilities of the voxels at the given sorted flat (C-order) indices.
    shape : tuple of int
        Spatial shape of the grid (any number of axes, any sizes).
    margin : float
        A voxel is settled when each of the 2^d coarse voxels around it gives
        the same most likely class with p1 − p2 above `margin`. In [0, 1]:
        1 settles nothing (the exact prediction), 0 settles every voxel whose
        coarse neighbours agree.
    step : int
        Spacing of the coarse grid in voxels along each axis (its last voxel
        is always on the grid, so every voxel has coarse neighbours around it).

    Returns
    -------
    proba : numpy.ndarray
        float32 ``(n_classes, *shape)``.
    refined : numpy.ndarray
        bool `shape`: the voxels predicted at full resolution besides the
        coarse grid (everything else was interpolated or is on the grid).

    Examples
    --------
    A "classifier" of two classes split at x = 10 on a 1D grid of 21 voxels:
    only voxel 9, between coarse voxels 8 and 10 of different classes, is
    predicted again.

    >>> def predict(indices):
    ...     inside = (indices < 10).astype(np.float32)
    ...     return np.stack([inside, 1 - inside])
    >>> proba, refined = coarse_to_fine(predict, (21,), margin=0.5)
    >>> np.flatnonzero(refined).tolist()
    [9]
    >>> bool(np.array_equal(proba, predict(np.arange(21))))
    True
    """
    shape = tuple(int(n) for n in shape)
    if not 0 <= margin <= 1:
        raise ParameterError(f"margin must be in [0, 1] (1 settles nothing), got {margin!r}")
    if int(step) != step or step < 2:
        raise ParameterError(f"step must be an integer of at least 2 voxels, got {step!r}")
    if not shape or min(shape) < 1:
        raise InvalidImageError(f"shape must have at least one axis and no empty axis, got {shape}")
    nodes = [_nodes(n, int(step)) for n in shape]
    axes = [_enclosing(n, grid) for n, grid in zip(shape, nodes)]
    grid_indices = np.ravel_multi_index(np.ix_(*nodes), shape).ravel()
    coarse = predict(grid_indices).reshape((-1, *(len(grid) for grid in nodes)))

    proba = coarse
    for axis, (lower, upper, weight) in enumerate(axes):
        proba = _interpolate(proba, axis + 1, lower, upper, weight)

    settled = _settled_cells(coarse, margin)[np.ix_(*(lower for lower, _, _ in axes))]
    on_grid = np.zeros(shape, dtype=bool)
    on_grid[np.ix_(*nodes)] = True
    refined = ~settled & ~on_grid
    indices = np.flatnonzero(refined)
    if len(indices):
        flat = proba.reshape(len(proba), -1)
        flat[:, indices] = predict(indices)
    return proba, refined


def _nodes(n: int, step: int) -> np.ndarray:
    """Coarse positions along an axis of `n` voxels: every `step`-th, plus the last voxel."""
    nodes = np.arange(0, n, step)
    return nodes if nodes[-1] == n - 1 else np.append(nodes, n - 1)


def _enclosing(n: int, nodes: np.ndarray):
    """For each voxel: the coarse positions before and after it (indices into `nodes`) and its weight.

    The weight is 0 on a coarse voxel and 1 on the last one, so interpolation
    returns coarse values unchanged there.
    """
    positions = np.arange(n)
    lower = np.clip(np.searchsorted(nodes, positions, side="right") - 1, 0, max(len(nodes) - 2, 0))
    upper = np.minimum(lower + 1, len(nodes) - 1)
    gap = nodes[upper] - nodes[lower]
    weight = np.where(gap > 0, (positions - nodes[lower]) / np.maximum(gap, 1), 0.0)
    return lower, upper, weight.astype(np.float32)


def _interpolate(values, axis, lower, upper, weight):
    """Linear interpolation along one axis, as (1 − w)·a + w·b (exact at w = 0 and w = 1)."""
    shape = [1] * values.ndim
    shape[axis] = -1
    weight = weight.reshape(shape)
    result = np.take(values, lower, axis=axis) * (1 - weight)
    result += np.take(values, upper, axis=axis) * weight
    return result


def _settled_cells(coarse, margin):
    """Whether each cell of the coarse grid has corners of one class, each with p1 − p2 above `margin`."""
    ranked = np.sort(coarse, axis=0)
    gap = ranked[-1] - ranked[-2] if len(coarse) > 1 else np.ones(coarse.shape[1:], coarse.dtype)
    label = np.argmax(coarse, axis=0).astype(np.int32)
    for axis in range(label.ndim):
        m = label.shape[axis]
        first = np.arange(max(m - 1, 1))
        second = np.minimum(first + 1, m - 1)
        a, b = np.take(label, first, axis=axis), np.take(label, second, axis=axis)
        label = np.where(a == b, a, -1)  # -1: the corners disagree
        gap = np.minimum(np.take(gap, first, axis=axis), np.take(gap, second, axis=axis))
    return (label >= 0) & (gap > margin)
