"""The filters of one scale: Gaussian derivatives from shared separable passes, and what they make.

:func:`scale_features` computes every requested feature of one scale on one
grid. The exact bank calls it on the image itself; the pyramid method
(:mod:`labtools.features.pyramid`) calls it on a presmoothed, subsampled grid
with the sigmas that remain to be applied there.
"""

from __future__ import annotations

from collections.abc import Mapping

from dataclasses import dataclass
from itertools import combinations_with_replacement

import numpy as np
from scipy import ndimage as ndi

from labtools.features.eigen import eigenvalues_symmetric

FEATURES = ("gaussian", "log", "gradient", "dog", "structure", "hessian")
TRUNCATE = 3.5
DOG_RATIO = 0.66
STRUCTURE_OUTER = 0.5
SMOOTHING_ONLY_BELOW = 0.5  # ilastik offers sigma 0.3 for smoothing only


@dataclass(frozen=True)
class Grid:
    """The sigmas (per axis, in this grid's voxels) that one scale applies on one grid.

    ``inner`` is the Gaussian of the scale, ``narrow`` the DoG's smaller one,
    ``outer`` the structure tensor's averaging window, and ``units`` the size
    of this grid's voxels in the caller's units (mm, or fine voxels), which
    derivatives are divided by. ``mode`` is scipy's boundary mode: the image
    grid reflects about the half voxel past its edge ("reflect"); a coarse
    grid whose first sample sits on the first voxel mirrors about that sample
    ("mirror"), which is the closest it can come to the same boundary.
    """

    inner: np.ndarray
    narrow: np.ndarray
    outer: np.ndarray
    units: np.ndarray
    mode: str = "reflect"

    @classmethod
    def exact(cls, sigma: float, spacing: np.ndarray) -> "Grid":
        sigma_voxels = sigma / spacing
        return cls(sigma_voxels, DOG_RATIO * sigma_voxels, STRUCTURE_OUTER * sigma_voxels, spacing)


def channels(feature: str, ndim: int) -> int:
    """Number of output channels of `feature` for an image of `ndim` dimensions."""
    return ndim if feature in ("structure", "hessian") else 1


def active(sigmas, features) -> list[tuple[float, str]]:
    """(sigma, feature) pairs in output order: by sigma, then feature.

    `features` is a sequence of names (each at every scale) or a grid: a mapping from name to the
    scales it is computed at, as ilastik's feature dialog ticks them (scales of the grid must be
    among `sigmas`).

    Examples
    --------
    >>> active((0.3, 1.0), ("gaussian", "gradient"))
    [(0.3, 'gaussian'), (1.0, 'gaussian'), (1.0, 'gradient')]
    >>> active((0.3, 1.0), {"gradient": (1.0,)})
    [(1.0, 'gradient')]
    """
    if isinstance(features, Mapping):
        return [(s, f) for s in sigmas for f, at in features.items()
                if any(np.isclose(s, t) for t in at) and (f == "gaussian" or s >= SMOOTHING_ONLY_BELOW)]
    return [(s, f) for s in sigmas for f in features if f == "gaussian" or s >= SMOOTHING_ONLY_BELOW]


def check_features(sigmas, features) -> None:
    """ParameterError unless `features` names known filters (and a grid only scales of `sigmas`)."""
    from labtools.errors import ParameterError

    unknown = sorted(set(features) - set(FEATURES))
    if unknown:
        raise ParameterError(f"unknown features {unknown}; choose from {FEATURES}")
    if not len(features):
        raise ParameterError(f"no features chosen; choose from {FEATURES}")
    if isinstance(features, Mapping):
        outside = sorted({float(t) for at in features.values() for t in at
                          if not any(np.isclose(t, s) for s in sigmas)})
        if outside:
            raise ParameterError(f"the feature grid ticks scales {outside} that are not among sigmas {tuple(sigmas)}")
        if not active(sigmas, features):
            raise ParameterError("the feature grid ticks no filter at any scale (below 0.5 voxels only "
                                 "'gaussian' is computed)")


def radius(sigma: float) -> int:
    """Half-width of scipy's kernel for `sigma` (scipy: int(truncate * sigma + 0.5))."""
    return int(TRUNCATE * sigma + 0.5)


def orders_needed(features, ndim, sigma) -> set[tuple[int, ...]]:
    """Which Gaussian derivatives (order per axis) the requested features need at this scale."""
    zero = (0,) * ndim
    needed = {zero} if "gaussian" in features or "dog" in features else set()
    if sigma < SMOOTHING_ONLY_BELOW:
        return needed
    unit = [tuple(int(i == a) for i in range(ndim)) for a in range(ndim)]
    if {"gradient", "structure"} & set(features):
        needed |= set(unit)
    if "log" in features:
        needed |= {tuple(2 * o for o in u) for u in unit}
    if "hessian" in features:
        needed |= {tuple(a + b for a, b in zip(unit[i], unit[j]))
                   for i, j in combinations_with_replacement(range(ndim), 2)}
    return needed


def gaussian_derivatives(data, sigma_voxels, orders, mode="reflect") -> dict[tuple[int, ...], np.ndarray]:
    """Gaussian derivatives for each order tuple, sharing the 1D passes of common prefixes.

    Axis by axis, as scipy's gaussian_filter does, so the values are the same.
    """
    level = {(): data}
    for axis, sigma in enumerate(sigma_voxels):
        wanted = {o[: axis + 1] for o in orders}
        level = {prefix: ndi.gaussian_filter1d(level[prefix[:-1]], sigma, axis=axis, order=prefix[-1],
                                               truncate=TRUNCATE, output=np.float32, mode=mode)
                 for prefix in sorted(wanted)}
    return level


def scale_features(data, sigma, features, grid: Grid, emit, eigen_dtype=np.float64) -> None:
    """Compute the features of scale `sigma` on `data`; hand each channel to ``emit(value)`` in order.

    `sigma` is the nominal scale (it decides the smoothing-only rule); `grid`
    says what to apply on this grid. Eigenvalues are only computed inside
    the region ``emit.region`` (the rest of the grid is halo).
    """
    ndim = data.ndim
    if sigma < SMOOTHING_ONLY_BELOW:
        features = [f for f in features if f == "gaussian"]
    derivs = gaussian_derivatives(data, grid.inner, orders_needed(features, ndim, sigma), grid.mode)

    def d(*axes):  # derivative along `axes`, per unit of `grid.units`
        order = tuple(axes.count(a) for a in range(ndim))
        scale = float(np.prod([grid.units[a] for a in axes]))
        return derivs[order] if scale == 1.0 else derivs[order] / scale  # x / 1.0 == x: skip the copy

    pairs = list(combinations_with_replacement(range(ndim), 2))
    for feature in features:
        if feature == "gaussian":
            values = [d()]
        elif feature == "log":
            values = [sum(d(a, a) for a in range(ndim))]
        elif feature == "gradient":
            values = [np.sqrt(sum(d(a) ** 2 for a in range(ndim)))]
        elif feature == "dog":
            narrow = ndi.gaussian_filter(data, grid.narrow, truncate=TRUNCATE, output=np.float32, mode=grid.mode)
            values = [d() - narrow]
        elif feature == "structure":
            tensor = {(i, j): ndi.gaussian_filter(d(i) * d(j), grid.outer, truncate=TRUNCATE, output=np.float32,
                                                  mode=grid.mode) for i, j in pairs}
            values = eigenvalues_symmetric(tensor, ndim, region=emit.region, dtype=eigen_dtype)
        else:  # hessian
            values = eigenvalues_symmetric({(i, j): d(i, j) for i, j in pairs}, ndim, region=emit.region,
                                           dtype=eigen_dtype)
        for value in values:
            emit(value)
