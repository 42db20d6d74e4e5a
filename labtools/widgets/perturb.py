"""Controlled mistakes: shift, grow or shrink a mask and add a false-positive blob.

:class:`~labtools.widgets.MetricExplorer` applies these to a reference mask
to show how each metric reacts to each kind of error (a boundary that is a
voxel off, a segmentation that is too fat, a stray blob far away). numpy and
scipy only, so the perturbations are tested without a GUI.

Examples
--------
>>> import numpy as np
>>> mask = np.zeros((9, 9), bool); mask[3:6, 3:6] = True
>>> int(perturb(mask, grow=1).sum())          # 3x3 square dilated by a cross (radius-1 disk)
21
>>> bool((perturb(mask, shift=(2, 0))[5:8, 3:6]).all())
True
"""

from __future__ import annotations

import operator

import numpy as np
from scipy import ndimage

from labtools.errors import InvalidImageError

__all__ = ["perturb", "ball"]


def ball(radius: int, ndim: int) -> np.ndarray:
    """A boolean ball (disk in 2D) of voxels within `radius` of the centre, Euclidean.

    The same set as ``skimage.morphology.ball(radius)`` / ``disk(radius)``:
    offsets with ``sum(offset**2) <= radius**2``.

    Examples
    --------
    >>> ball(1, 2).astype(int)
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 1, 0]])
    """
    radius, ndim = operator.index(radius), operator.index(ndim)
    if radius < 0:
        raise InvalidImageError(f"a ball's radius must be >= 0 voxels, got {radius}")
    grid = np.ogrid[tuple(slice(-radius, radius + 1) for _ in range(ndim))]
    return sum(axis ** 2 for axis in grid) <= radius ** 2


def perturb(mask, *, shift=None, grow: int = 0, blob=None) -> np.ndarray:
    """A copy of `mask`, shifted, then grown or shrunk, then with a blob added.

    Parameters
    ----------
    mask : array_like
        2D or 3D binary mask (bool, or 0/1 integers).
    shift : sequence of int, optional
        Voxels to move the mask along each axis (positive = towards higher
        indices). What leaves the grid is lost; what enters is background
        (no wrap-around, unlike ``numpy.roll``).
    grow : int
        Positive: dilate by a ball of this radius in voxels; negative: erode
        by a ball of radius ``-grow`` (everything outside the grid counts as
        background, so a mask touching the border shrinks from there too).
    blob : tuple, optional
        ``(centre, radius)``: set a ball of `radius` voxels around the voxel
        `centre` (one int per axis) to True, e.g. a false-positive lesion.
        The part outside the grid is dropped.

    Returns
    -------
    numpy.ndarray
        bool array of the mask's shape.

    Raises
    ------
    InvalidImageError
        For a mask that is not 2D/3D binary, or a shift or blob centre that
        does not have one integer per axis.

    Examples
    --------
    >>> mask = np.zeros((5, 5), bool); mask[2, 2] = True
    >>> perturb(mask, shift=(0, 1), blob=((0, 0), 1)).astype(int)
    array([[1, 1, 0, 0, 0],
           [1, 0, 0, 0, 0],
           [0, 0, 0, 1, 0],
           [0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0]])
    """
    out = _binary(mask)
    if shift is not None:
        out = _shifted(out, _per_axis(shift, out.ndim, "shift"))
    grow = operator.index(grow)
    if grow > 0:
        out = ndimage.binary_dilation(out, structure=ball(grow, out.ndim))
    elif grow < 0:
        out = ndimage.binary_erosion(out, structure=ball(-grow, out.ndim))
    if blob is not None:
        centre, radius = blob
        out = out | _ball_at(out.shape, _per_axis(centre, out.ndim, "blob centre"), operator.index(radius))
    return out


def _binary(mask) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim not in (2, 3):
        raise InvalidImageError(f"perturb needs a 2D or 3D mask, got shape {array.shape}")
    if array.dtype != bool:
        if array.size and not np.isin(array, (0, 1)).all():
            raise InvalidImageError("the mask must be binary (bool or 0/1); for a label map "
                                    "pass one class, e.g. labels == 2")
        array = array.astype(bool)
    return array.copy()


def _per_axis(values, ndim: int, what: str) -> tuple[int, ...]:
    try:
        values = tuple(operator.index(v) for v in values)
    except TypeError:
        raise InvalidImageError(f"{what} must be integers, one per axis, got {values!r}") from None
    if len(values) != ndim:
        raise InvalidImageError(f"{what} needs {ndim} values (one per axis), got {len(values)}")
    return values


def _shifted(mask: np.ndarray, shift: tuple[int, ...]) -> np.ndarray:
    out = np.zeros_like(mask)
    source, target = [], []
    for k, n in zip(shift, mask.shape):
        if abs(k) >= n:
            return out  # moved entirely off the grid
        source.append(slice(max(0, -k), n - max(0, k)))
        target.append(slice(max(0, k), n - max(0, -k)))
    out[tuple(target)] = mask[tuple(source)]
    return out


def _ball_at(shape, centre, radius: int) -> np.ndarray:
    if radius < 0:
        raise InvalidImageError(f"the blob's radius must be >= 0 voxels, got {radius}")
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum((axis - c) ** 2 for axis, c in zip(grid, centre)) <= radius ** 2
