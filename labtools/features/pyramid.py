"""Large scales on coarse grids: presmooth, subsample, filter there, interpolate back.

A feature at scale σ contains no detail finer than σ, so it can be computed
on a grid f times coarser without losing much: smooth the image with σ_pre,
keep every f-th voxel, apply the rest of the Gaussian there (σ² = σ_pre² +
(f σ_coarse)², the semigroup property of Gaussians, Lindeberg 1994, ch. 2),
and interpolate the result back linearly. The factor f is the largest power
of two that leaves at least ``PYRAMID_SIGMA`` coarse voxels of blur, so
σ = 0.3 ... 1.6 stay on the image grid and σ = 3.5, 5, 10 (in voxels) run on
grids 2, 4 and 8 times coarser, with 8, 64 and 512 times fewer voxels. The
values differ from the exact bank by the aliasing the presmoothing lets
through and by the interpolation; ``tests/test_features.py`` bounds both.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from labtools.features.filters import DOG_RATIO, STRUCTURE_OUTER, TRUNCATE, Grid, radius

__all__ = ["PYRAMID_SIGMA", "PRESMOOTH", "pyramid_factors", "upsample_linear"]

PYRAMID_SIGMA = 1.0  # least blur (in coarse voxels) a coarse grid must carry
PRESMOOTH = 0.5      # presmoothing sigma, per unit of the subsampling factor (attenuates what aliases)


def pyramid_factors(sigma_voxels) -> np.ndarray:
    """Subsampling factor per axis for a scale of `sigma_voxels` (per axis, in voxels).

    Examples
    --------
    >>> pyramid_factors([1.6, 3.5, 10.0]).tolist()
    [1, 2, 8]
    """
    return np.array([1 << max(0, math.floor(math.log2(s / PYRAMID_SIGMA))) for s in sigma_voxels])


def pyramid_grid(sigma: float, spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray, Grid]:
    """(factors, presmoothing sigmas in voxels, the Grid left to apply on the coarse grid)."""
    sigma_voxels = sigma / spacing
    factors = pyramid_factors(sigma_voxels)
    pre = np.where(factors > 1, PRESMOOTH * factors, 0.0)
    grid = Grid(inner=np.sqrt(sigma_voxels ** 2 - pre ** 2) / factors,
                narrow=np.sqrt((DOG_RATIO * sigma_voxels) ** 2 - pre ** 2) / factors,
                outer=STRUCTURE_OUTER * sigma_voxels / factors, units=spacing * factors, mode="mirror")
    return factors, pre, grid


def pyramid_halo(sigma: float, spacing: np.ndarray, structure: bool) -> np.ndarray:
    """Voxels of context per axis a region needs for the pyramid scale `sigma` (one spare coarse voxel)."""
    factors, pre, grid = pyramid_grid(sigma, spacing)
    coarse = [radius(s) + (radius(o) if structure else 0) + 1 for s, o in zip(grid.inner, grid.outer)]
    return np.array([radius(p) + f * c for p, f, c in zip(pre, factors, coarse)])


def presmooth_and_subsample(data: np.ndarray, pre, factors) -> np.ndarray:
    """Smooth axis by axis and keep every f-th voxel of each axis right away (later passes are cheaper)."""
    for axis, (sigma, f) in enumerate(zip(pre, factors)):
        if f > 1:
            data = ndi.gaussian_filter1d(data, sigma, axis=axis, truncate=TRUNCATE, output=np.float32)
            data = data[(slice(None),) * axis + (slice(None, None, f),)]
    return np.ascontiguousarray(data)


def upsample_linear(coarse: np.ndarray, factors, region, origin=None, out=None) -> np.ndarray:
    """Linearly interpolate samples taken every ``factors[a]`` voxels back to the voxels of `region`.

    Coarse sample ``k`` of axis ``a`` sits at fine position
    ``(origin[a] + k) * factors[a]``; fine positions past the last sample take
    its value.

    Parameters
    ----------
    coarse : numpy.ndarray
        The coarse samples.
    factors : sequence of int
        Spacing of the samples per axis, in fine voxels.
    region : tuple of slice
        Fine voxels to fill (start and stop given).
    origin : sequence of int, optional
        Index of ``coarse[0, ...]`` on the full coarse grid (default 0).
    out : numpy.ndarray, optional
        Where to write (region shape, any float dtype or layout).

    Returns
    -------
    numpy.ndarray
        The interpolated values, region shape.

    Examples
    --------
    >>> upsample_linear(np.array([0.0, 2.0, 4.0]), [2], (slice(0, 6),)).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 4.0]
    """
    origin = [0] * coarse.ndim if origin is None else origin
    if out is None:
        out = np.empty(tuple(r.stop - r.start for r in region), dtype=np.float32)
    # Slab by slab along the first axis: the temporaries stay small and in cache (whole-volume
    # temporaries made this 5-10x slower, mostly in page faults).
    for start in range(region[0].start, region[0].stop, _SLAB):
        slab = (slice(start, min(start + _SLAB, region[0].stop)),) + tuple(region[1:])
        target = out[start - region[0].start:slab[0].stop - region[0].start]
        target[...] = _upsample_block(coarse, factors, slab, origin)
    return out


_SLAB = 16


def _upsample_block(coarse, factors, region, origin) -> np.ndarray:
    values = coarse
    for a in range(coarse.ndim):
        first = region[a].start // factors[a] - origin[a]
        last = min((region[a].stop - 1) // factors[a] + 2 - origin[a], coarse.shape[a])
        values = values[(slice(None),) * a + (slice(first, last),)]  # the samples this block needs
        f = factors[a]
        fine = np.arange(region[a].start, region[a].stop)
        lower = fine // f - origin[a] - first
        if f == 1:
            values = values[(slice(None),) * a + (slice(lower[0], lower[-1] + 1),)]
            continue
        upper = np.minimum(lower + 1, values.shape[a] - 1)
        shape = [1] * values.ndim
        shape[a] = len(fine)
        weight = ((fine % f) / f).astype(np.float32).reshape(shape)
        low = np.take(values, lower, axis=a)
        step = np.take(values, upper, axis=a)
        step -= low
        step *= weight
        values = low + step
    return values
