"""ilastik's pixel-feature bank: smoothing, edges and texture at several scales.

For each scale σ (in voxels, or in mm when ``spacing`` is given):

============  =================================================  ==========
name          filter                                             channels
============  =================================================  ==========
gaussian      Gaussian smoothing G(σ)                            1
log           Laplacian of Gaussian  Σ ∂²G/∂x_i²                 1
gradient      gradient magnitude of Gaussian  |∇G(σ)|            1
dog           difference of Gaussians  G(σ) − G(0.66σ)           1
structure     eigenvalues of the structure tensor                ndim
              G(0.5σ) * (∇G(σ) ∇G(σ)ᵀ), largest first
hessian       eigenvalues of the Hessian of Gaussian, largest    ndim
              first
============  =================================================  ==========

As in ilastik, scales below 0.5 (the default 0.3) only smooth: the default
seven scales give 61 channels for one 3D channel and 49 in 2D. Kernels are
truncated at 3.5σ. Derivatives are per mm when ``spacing`` is given, so
features mean the same thing on anisotropic voxels.

Why it is fast: at each scale the Gaussian derivatives up to order two are
built from shared separable 1D passes (19 passes in 3D instead of ~40 for
separate scipy calls), eigenvalues are computed in closed form (not
``numpy.linalg.eigvalsh``), scales run in parallel threads (scipy releases
the GIL), and ``roi=`` computes only a region plus the halo its kernels need.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations_with_replacement

import numpy as np
from scipy import ndimage as ndi

from labtools.errors import InvalidImageError

__all__ = ["feature_stack", "feature_names", "region_slices", "FEATURES", "DEFAULT_SIGMAS", "TRUNCATE",
           "FEATURE_PRESETS", "eigenvalues_symmetric"]

FEATURES = ("gaussian", "log", "gradient", "dog", "structure", "hessian")
DEFAULT_SIGMAS = (0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0)
# Named (sigmas, features) choices that the napari dock and the notebook offer. "ilastik" is the
# default; the smaller ones trade accuracy for a faster first update (the feature bank of the
# whole image is computed once, on the first fit).
FEATURE_PRESETS: dict[str, tuple[tuple[float, ...], tuple[str, ...]]] = {
    "ilastik (7 scales, all filters)": (DEFAULT_SIGMAS, FEATURES),
    "fast (3 scales, all filters)": ((1.0, 3.5, 10.0), FEATURES),
    "intensity and edges": ((0.7, 1.6, 3.5, 5.0), ("gaussian", "gradient", "dog")),
}
TRUNCATE = 3.5
DOG_RATIO = 0.66
STRUCTURE_OUTER = 0.5
_SMOOTHING_ONLY_BELOW = 0.5  # ilastik offers sigma 0.3 for smoothing only


def _channels(feature: str, ndim: int) -> int:
    return ndim if feature in ("structure", "hessian") else 1


def _active(sigmas, features) -> list[tuple[float, str]]:
    """(sigma, feature) pairs in output order: by sigma, then feature."""
    return [(s, f) for s in sigmas for f in features if f == "gaussian" or s >= _SMOOTHING_ONLY_BELOW]


def feature_names(ndim: int, *, sigmas=DEFAULT_SIGMAS, features=FEATURES, n_channels: int = 1) -> list[str]:
    """Names of the channels :func:`feature_stack` returns, in order.

    Examples
    --------
    >>> len(feature_names(3)), len(feature_names(2))
    (61, 49)
    >>> feature_names(2, sigmas=(1.0,), features=("gaussian", "hessian"))
    ['gaussian(1)', 'hessian(1)[0]', 'hessian(1)[1]']
    """
    names = []
    for channel in range(n_channels):
        prefix = f"c{channel}:" if n_channels > 1 else ""
        for sigma, feature in _active(sigmas, features):
            count = _channels(feature, ndim)
            label = f"{prefix}{feature}({sigma:g})"
            names += [label] if count == 1 else [f"{label}[{i}]" for i in range(count)]
    return names


def feature_stack(image, *, sigmas=DEFAULT_SIGMAS, features=FEATURES, spacing=None, roi=None,
                  channel_axis=None, dtype=np.float32, n_threads: int | None = None,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Compute the multi-scale feature bank of an image (or of a region of it).

    Parameters
    ----------
    image : array_like or labtools.io.Image
        2D or 3D intensities; several channels first when ``channel_axis=0``
        (an Image brings its own ``channel_axis``).
    sigmas : sequence of float
        Scales, in voxels, or in mm when `spacing` is given.
    features : sequence of str
        Any of ``FEATURES``.
    spacing : sequence of float, optional
        Voxel size in mm; makes sigmas and derivatives physical.
    roi : tuple of slice, optional
        Region (one slice per spatial axis) to compute; only it plus the halo
        its kernels need is filtered. The result has the region's shape and
        equals the same region of the full computation.
    channel_axis : {None, 0}
        0 when the first axis of a bare array holds channels.
    dtype : numpy dtype
        Output type (float32 by default).
    n_threads : int, optional
        Threads for the scales (default: all cores).
    out : numpy.ndarray, optional
        Array of shape ``(n_features, *region_shape)`` to write into (any
        memory layout, e.g. a channels-last buffer seen through ``moveaxis``).

    Returns
    -------
    numpy.ndarray
        ``(n_features, *region_shape)``; channel names from :func:`feature_names`.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((32, 32, 16)).astype(np.float32)
    >>> feature_stack(image).shape
    (61, 32, 32, 16)
    >>> feature_stack(image, sigmas=(1.0,), features=("hessian",), roi=np.s_[:, :, 8:9]).shape
    (3, 32, 32, 1)
    """
    array, channel_axis = _as_array(image, channel_axis)
    channels = array if channel_axis == 0 else array[None]
    ndim = channels.ndim - 1
    if ndim not in (2, 3):
        hint = " For channels first, pass channel_axis=0." if channel_axis is None and array.ndim == 4 else ""
        raise InvalidImageError(f"feature_stack needs a 2D or 3D image, got spatial shape {channels.shape[1:]}.{hint}")
    unknown = set(features) - set(FEATURES)
    if unknown:
        raise InvalidImageError(f"unknown features {sorted(unknown)}; choose from {FEATURES}")
    if not sigmas or min(sigmas) <= 0:
        raise InvalidImageError(f"sigmas must be positive scales, got {tuple(sigmas)}")
    if not np.isfinite(channels).all():
        raise InvalidImageError("the image holds NaN or infinite values; replace them (numpy.nan_to_num) first")
    spacing = np.ones(ndim) if spacing is None else np.asarray(spacing, dtype=float)
    if spacing.shape != (ndim,) or np.any(spacing <= 0):
        raise InvalidImageError(f"spacing must be {ndim} positive voxel sizes, got {tuple(np.ravel(spacing))}")
    region = region_slices(roi, channels.shape[1:])
    crop, inner = _crop_with_halo(region, channels.shape[1:], max(sigmas) / spacing, features)
    jobs = _active(sigmas, features)
    per_channel = sum(_channels(f, ndim) for _, f in jobs)
    out_shape = tuple(s.stop - s.start for s in region)
    expected = (per_channel * len(channels), *out_shape)
    if out is None:
        out = np.empty(expected, dtype=dtype)
    elif out.shape != expected:
        raise InvalidImageError(f"out has shape {out.shape}, the features need {expected}")

    def run(task):
        channel_index, sigma = task
        data = np.ascontiguousarray(channels[channel_index][crop], dtype=np.float32)
        offset = channel_index * per_channel
        _scale_features(data, sigma, features, spacing, inner, out, offset + _first_channel(jobs, sigma, ndim))

    tasks = [(c, s) for c in range(len(channels)) for s in sigmas]
    workers = min(len(tasks), n_threads or os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, tasks))
    return out


def _first_channel(jobs, sigma, ndim) -> int:
    """Index of the first output channel of scale `sigma` (within one input channel)."""
    index = 0
    for s, feature in jobs:
        if s == sigma:
            return index
        index += _channels(feature, ndim)
    raise AssertionError(sigma)


def _as_array(image, channel_axis):
    from labtools.io.image import Image

    if isinstance(image, Image):
        return image.array, image.channel_axis
    return np.asarray(image), channel_axis


def region_slices(roi, shape) -> tuple[slice, ...]:
    """`roi` checked and normalised to one ``slice(start, stop)`` per axis (None: everything).

    Examples
    --------
    >>> region_slices(np.s_[:, 2:5], (4, 6))
    (slice(0, 4, None), slice(2, 5, None))
    """
    if roi is None:
        return tuple(slice(0, n) for n in shape)
    roi = roi if isinstance(roi, tuple) else (roi,)
    if len(roi) != len(shape) or not all(isinstance(s, slice) for s in roi):
        raise InvalidImageError(f"roi must be one slice per spatial axis ({len(shape)}), e.g. "
                                f"numpy.s_[:, :, 40:41]; got {roi}")
    region = tuple(slice(*s.indices(n)[:2]) for s, n in zip(roi, shape))
    if any(s.stop <= s.start for s in region):
        raise InvalidImageError(f"roi {roi} is empty for an image of shape {shape}")
    return region


def _radius(sigma: float) -> int:
    """Half-width of scipy's kernel for `sigma` (scipy: int(truncate * sigma + 0.5))."""
    return int(TRUNCATE * sigma + 0.5)


def _crop_with_halo(region, shape, sigma_voxels, features):
    """The crop to filter (region + halo, within the image) and the region inside that crop."""
    crop, inner = [], []
    for s, n, sigma in zip(region, shape, sigma_voxels):
        halo = _radius(sigma) + (_radius(STRUCTURE_OUTER * sigma) if "structure" in features else 0)
        start, stop = max(s.start - halo, 0), min(s.stop + halo, n)
        crop.append(slice(start, stop))
        inner.append(slice(s.start - start, s.stop - start))
    return tuple(crop), tuple(inner)


def _orders_needed(features, ndim, sigma) -> set[tuple[int, ...]]:
    """Which Gaussian derivatives (order per axis) the requested features need at this scale."""
    zero = (0,) * ndim
    needed = {zero} if "gaussian" in features or "dog" in features else set()
    if sigma < _SMOOTHING_ONLY_BELOW:
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


def _gaussian_derivatives(data, sigma_voxels, orders) -> dict[tuple[int, ...], np.ndarray]:
    """Gaussian derivatives for each order tuple, sharing the 1D passes of common prefixes.

    Axis by axis, as scipy's gaussian_filter does, so the values are the same.
    """
    level = {(): data}
    for axis, sigma in enumerate(sigma_voxels):
        wanted = {o[: axis + 1] for o in orders}
        level = {prefix: ndi.gaussian_filter1d(level[prefix[:-1]], sigma, axis=axis, order=prefix[-1],
                                               truncate=TRUNCATE, output=np.float32)
                 for prefix in sorted(wanted)}
    return level


def _scale_features(data, sigma, features, spacing, inner, out, first) -> None:
    """Write the features of one scale into out[first:...] (region `inner` of the crop)."""
    ndim = data.ndim
    sigma_voxels = sigma / spacing
    derivs = _gaussian_derivatives(data, sigma_voxels, _orders_needed(features, ndim, sigma))

    def d(*axes):  # derivative along `axes`, per mm
        order = tuple(axes.count(a) for a in range(ndim))
        return derivs[order] / np.prod([spacing[a] for a in axes]) if axes else derivs[order]

    index = first
    for feature in features:
        if feature != "gaussian" and sigma < _SMOOTHING_ONLY_BELOW:
            continue
        if feature == "gaussian":
            values = [d()]
        elif feature == "log":
            values = [sum(d(a, a) for a in range(ndim))]
        elif feature == "gradient":
            values = [np.sqrt(sum(d(a) ** 2 for a in range(ndim)))]
        elif feature == "dog":
            narrow = ndi.gaussian_filter(data, DOG_RATIO * sigma_voxels, truncate=TRUNCATE, output=np.float32)
            values = [d() - narrow]
        elif feature == "structure":
            outer = STRUCTURE_OUTER * sigma_voxels
            tensor = {(i, j): ndi.gaussian_filter(d(i) * d(j), outer, truncate=TRUNCATE, output=np.float32)
                      for i, j in combinations_with_replacement(range(ndim), 2)}
            values = eigenvalues_symmetric(tensor, ndim, region=inner)
        else:  # hessian
            values = eigenvalues_symmetric(
                {(i, j): d(i, j) for i, j in combinations_with_replacement(range(ndim), 2)}, ndim, region=inner)
        for value in values:
            out[index] = value if value.shape == out.shape[1:] else value[inner]
            index += 1


def eigenvalues_symmetric(entries: dict, ndim: int, region=None) -> list[np.ndarray]:
    """Eigenvalues, largest first, of a field of symmetric 2x2 or 3x3 matrices, in closed form.

    Parameters
    ----------
    entries : dict
        ``{(i, j): array}`` for i <= j: the upper triangle, each an array over the image.
    ndim : {2, 3}
        Matrix size.
    region : tuple of slice, optional
        Only compute inside this region of the arrays.

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
    # Work in slabs of ~1M voxels: the float64 temporaries of a whole 1 mm brain would need GBs.
    step = max(1, _EIGEN_CHUNK // max(1, int(np.prod(sample.shape[1:]))))
    for start in range(0, sample.shape[0], step):
        sub = tuple([_shift(region[0], start, step)] + list(region[1:]))
        values = _eigen_closed_form({k: np.asarray(v[sub], dtype=np.float64) for k, v in entries.items()}, ndim)
        for target, value in zip(out, values):
            target[start:start + step] = value
    return out


_EIGEN_CHUNK = 1 << 20


def _shift(s: slice, start: int, step: int) -> slice:
    """The part [start, start + step) of slice `s` (which has step 1)."""
    begin = (s.start or 0) + start
    end = begin + step if s.stop is None else min(begin + step, s.stop)
    return slice(begin, end)


def _eigen_closed_form(a: dict, ndim: int) -> list[np.ndarray]:
    """Eigenvalues, largest first, from float64 upper-triangle entries."""
    if ndim == 2:
        mean = (a[0, 0] + a[1, 1]) / 2
        radius = np.sqrt(((a[0, 0] - a[1, 1]) / 2) ** 2 + a[0, 1] ** 2)
        return [mean + radius, mean - radius]
    # Trigonometric solution for symmetric 3x3 matrices (Smith 1961), stable in float64.
    off = a[0, 1] ** 2 + a[0, 2] ** 2 + a[1, 2] ** 2
    q = (a[0, 0] + a[1, 1] + a[2, 2]) / 3
    b00, b11, b22 = a[0, 0] - q, a[1, 1] - q, a[2, 2] - q
    p = np.sqrt((b00 ** 2 + b11 ** 2 + b22 ** 2 + 2 * off) / 6)
    safe = np.where(p > 0, p, 1.0)
    det = (b00 * (b11 * b22 - a[1, 2] ** 2) - a[0, 1] * (a[0, 1] * b22 - a[1, 2] * a[0, 2])
           + a[0, 2] * (a[0, 1] * a[1, 2] - b11 * a[0, 2]))
    r = np.clip(det / (2 * safe ** 3), -1.0, 1.0)
    phi = np.arccos(r) / 3
    largest = q + 2 * p * np.cos(phi)
    smallest = q + 2 * p * np.cos(phi + 2 * math.pi / 3)
    return [largest, 3 * q - largest - smallest, smallest]
