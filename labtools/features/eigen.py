"""Eigenvalues of fields of symmetric 2x2 and 3x3 matrices, in closed form.

``numpy.linalg.eigvalsh`` on a (voxels, 3, 3) array is general and slow;
the structure tensor and the Hessian only need the eigenvalues of symmetric
matrices, which have a closed form (Smith 1961).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["eigenvalues_symmetric"]

_EIGEN_CHUNK = 1 << 20  # voxels per slab: bounds the temporaries of a whole 1 mm brain


def eigenvalues_symmetric(entries: dict, ndim: int, region=None, dtype=np.float64) -> list[np.ndarray]:
    """Eigenvalues, largest first, of a field of symmetric 2x2 or 3x3 matrices, in closed form.

    Parameters
    ----------
    entries : dict
        ``{(i, j): array}`` for i <= j: the upper triangle, each an array over the image.
    ndim : {2, 3}
        Matrix size.
    region : tuple of slice, optional
        Only compute inside this region of the arrays.
    dtype : numpy dtype
        Precision of the computation: float64 (default) is exact to float32
        output precision; float32 is about twice as fast, with errors up to
        about 1e-4 of the largest eigenvalue's magnitude.

    Returns
    -------
    list of numpy.ndarray
        `ndim` arrays (float32), largest eigenvalue first.

    Examples
    --------
    >>> import numpy as np
    >>> m = {(0, 0): np.array([2.0]), (0, 1): np.array([1.0]), (1, 1): np.array([2.0])}
    >>> [float(v[0]) for v in eigenvalues_symmetric(m, 2)]
    [3.0, 1.0]
    """
    region = region or tuple(slice(None) for _ in next(iter(entries.values())).shape)
    sample = next(iter(entries.values()))[region]
    out = [np.empty(sample.shape, dtype=np.float32) for _ in range(ndim)]
    step = max(1, _EIGEN_CHUNK // max(1, int(np.prod(sample.shape[1:]))))
    for start in range(0, sample.shape[0], step):
        sub = tuple([_shift(region[0], start, step)] + list(region[1:]))
        values = _eigen_closed_form({k: np.asarray(v[sub], dtype=dtype) for k, v in entries.items()}, ndim)
        for target, value in zip(out, values):
            target[start:start + step] = value
    return out


def _shift(s: slice, start: int, step: int) -> slice:
    """The part [start, start + step) of slice `s` (which has step 1)."""
    begin = (s.start or 0) + start
    end = begin + step if s.stop is None else min(begin + step, s.stop)
    return slice(begin, end)


def _eigen_closed_form(a: dict, ndim: int) -> list[np.ndarray]:
    """Eigenvalues, largest first, from upper-triangle entries (computed in their dtype)."""
    if ndim == 2:
        mean = (a[0, 0] + a[1, 1]) / 2
        radius = np.sqrt(((a[0, 0] - a[1, 1]) / 2) ** 2 + a[0, 1] ** 2)
        return [mean + radius, mean - radius]
    # Trigonometric solution for symmetric 3x3 matrices (Smith 1961).
    off = a[0, 1] ** 2 + a[0, 2] ** 2 + a[1, 2] ** 2
    q = (a[0, 0] + a[1, 1] + a[2, 2]) / 3
    b00, b11, b22 = a[0, 0] - q, a[1, 1] - q, a[2, 2] - q
    p = np.sqrt((b00 ** 2 + b11 ** 2 + b22 ** 2 + 2 * off) / 6)
    # p ~ 0: all three eigenvalues equal q; any r will do, but p**3 must not underflow to 0.
    safe = np.where(p > np.finfo(p.dtype).tiny ** (1 / 3), p, 1.0)
    det = (b00 * (b11 * b22 - a[1, 2] ** 2) - a[0, 1] * (a[0, 1] * b22 - a[1, 2] * a[0, 2])
           + a[0, 2] * (a[0, 1] * a[1, 2] - b11 * a[0, 2]))
    with np.errstate(over="ignore"):  # float32, p tiny next to det's rounding: r is +-inf, clipped
        r = np.clip(det / (2 * safe ** 3), -1.0, 1.0)
    phi = np.arccos(r) / 3
    largest = q + 2 * p * np.cos(phi)
    smallest = q + 2 * p * np.cos(phi + 2 * math.pi / 3)
    return [largest, 3 * q - largest - smallest, smallest]
