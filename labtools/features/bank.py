"""feature_stack: the whole bank of one image (or of a region of it), scale by scale in threads."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from labtools.errors import InvalidImageError, ParameterError
from labtools.features.filters import (
    FEATURES,
    STRUCTURE_OUTER,
    Grid,
    active,
    check_features,
    channels,
    radius,
    scale_features,
)
from labtools.features.pyramid import (
    presmooth_and_subsample,
    pyramid_factors,
    pyramid_grid,
    pyramid_halo,
    upsample_linear,
)
from labtools.io.image import is_lazy_array

DEFAULT_SIGMAS = (0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0)
METHODS = ("exact", "pyramid")
# Named (sigmas, features) choices that the napari dock and the notebook offer. "ilastik" is the
# default; the smaller ones trade accuracy for a faster first update (the feature bank of the
# whole image is computed once, on the first fit).
FEATURE_PRESETS: dict[str, tuple[tuple[float, ...], tuple[str, ...]]] = {
    "ilastik (7 scales, all filters)": (DEFAULT_SIGMAS, FEATURES),
    "fast (3 scales, all filters)": ((1.0, 3.5, 10.0), FEATURES),
    "intensity and edges": ((0.7, 1.6, 3.5, 5.0), ("gaussian", "gradient", "dog")),
}


def feature_names(ndim: int, *, sigmas=DEFAULT_SIGMAS, features=FEATURES, n_channels: int = 1,
                  in_plane=()) -> list[str]:
    """Names of the channels :func:`feature_stack` returns, in order.

    Examples
    --------
    >>> len(feature_names(3)), len(feature_names(2))
    (61, 49)
    >>> feature_names(2, sigmas=(1.0,), features=("gaussian", "hessian"))
    ['gaussian(1)', 'hessian(1)[0]', 'hessian(1)[1]']
    >>> feature_names(2, sigmas=(1.0, 3.5), features={"gaussian": (1.0, 3.5), "gradient": (3.5,)})
    ['gaussian(1)', 'gaussian(3.5)', 'gradient(3.5)']
    >>> feature_names(3, sigmas=(1.0,), features=("hessian",), in_plane=(1.0,))
    ['hessian(1,2D)[0]', 'hessian(1,2D)[1]']
    """
    dims = _dims(ndim, in_plane)
    names = []
    for channel in range(n_channels):
        prefix = f"c{channel}:" if n_channels > 1 else ""
        for sigma, feature in active(sigmas, features):
            count = channels(feature, dims(sigma))
            label = f"{prefix}{feature}({sigma:g}{',2D' if dims(sigma) < ndim else ''})"
            names += [label] if count == 1 else [f"{label}[{i}]" for i in range(count)]
    return names


def feature_stack(image, *, sigmas=DEFAULT_SIGMAS, features=FEATURES, spacing=None, roi=None,
                  channel_axis=None, method: str = "exact", dtype=np.float32, n_threads: int | None = None,
                  out: np.ndarray | None = None, in_plane=()) -> np.ndarray:
    """Compute the multi-scale feature bank of an image (or of a region of it).

    Parameters
    ----------
    image : array_like, dask.array.Array or labtools.io.Image
        2D or 3D intensities; several channels first when ``channel_axis=0``
        (an Image brings its own ``channel_axis``). A lazy (Dask) image is
        read only where `roi` and its halo need it.
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
    method : {"exact", "pyramid"}
        "exact" (default) equals a plain scipy.ndimage computation of each
        filter to float32 precision. "pyramid" computes scales of 2 voxels and
        more on presmoothed, subsampled grids and interpolates them back
        (:mod:`labtools.features.pyramid`), and eigenvalues in float32: about
        twice as fast on a 1 mm brain. Scales below 2 voxels keep their
        values (eigenvalues to ~1e-4 of the matrix scale); the coarse ones
        are approximations, measured in docs/pixel_classification.md.
    dtype : numpy dtype
        Output type (float32 by default).
    n_threads : int, optional
        Threads for the scales (default: all cores).
    out : numpy.ndarray, optional
        Array of shape ``(n_features, *region_shape)`` to write into (any
        memory layout, e.g. a channels-last buffer seen through ``moveaxis``).
    in_plane : sequence of float
        Scales computed in 2D, slice by slice along the last axis (ilastik's
        "2D" features, for images whose slices are far apart); their
        structure and Hessian eigenvalues are 2 channels. Ignored for 2D images.

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
    >>> fast = feature_stack(image, method="pyramid")
    >>> bool(np.abs(fast[0] - feature_stack(image, sigmas=(0.3,), features=("gaussian",))[0]).max() < 1e-6)
    True
    """
    array, channel_axis = _as_array(image, channel_axis)
    channels_first = array if channel_axis == 0 else array[None]
    ndim = channels_first.ndim - 1
    if ndim not in (2, 3):
        hint = " For channels first, pass channel_axis=0." if channel_axis is None and array.ndim == 4 else ""
        raise InvalidImageError(f"feature_stack needs a 2D or 3D image, got spatial shape "
                                f"{channels_first.shape[1:]}.{hint}")
    if method not in METHODS:
        raise ParameterError(f"method must be one of {METHODS}, got {method!r}")
    if not sigmas or min(sigmas) <= 0:
        raise ParameterError(f"sigmas must be positive scales, got {tuple(sigmas)}")
    check_features(sigmas, features)
    lazy = is_lazy_array(channels_first)  # a Dask array: only the crops below are read, and checked
    if not lazy:
        _check_finite(channels_first)
    spacing = np.ones(ndim) if spacing is None else np.asarray(spacing, dtype=float)
    if spacing.shape != (ndim,) or np.any(spacing <= 0):
        raise ParameterError(f"spacing must be {ndim} positive voxel sizes, got {tuple(np.ravel(spacing))}")
    region = region_slices(roi, channels_first.shape[1:])
    pyramid = [s for s in sigmas if method == "pyramid" and pyramid_factors(s / spacing).max() > 1]
    # Each scale filters only the halo its own kernels need: a slice's small scales then read a
    # few neighbouring slices, not the ~70 the largest scale needs (a 1 mm brain: 0.5 s, not 2.8 s).
    jobs = active(sigmas, features)
    # The filters of each scale (all of `features`, or the scales a feature grid ticks for each).
    at_scale = {sigma: [f for s, f in jobs if s == sigma] for sigma in sigmas}
    crops = {sigma: _crop_with_halo(region, channels_first.shape[1:], (sigma,), spacing, at_scale[sigma],
                                    [sigma] if sigma in pyramid else [])
             for sigma in sigmas}
    in_plane = tuple(float(s) for s in in_plane) if ndim == 3 else ()
    unknown_planes = [s for s in in_plane if not any(np.isclose(s, t) for t in sigmas)]
    if unknown_planes:
        raise ParameterError(f"in_plane scales {unknown_planes} are not among sigmas {tuple(sigmas)}")
    dims = _dims(ndim, in_plane)
    per_channel = sum(channels(f, dims(s)) for s, f in jobs)
    out_shape = tuple(s.stop - s.start for s in region)
    expected = (per_channel * len(channels_first), *out_shape)
    if out is None:
        out = np.empty(expected, dtype=dtype)
    elif out.shape != expected:
        raise ParameterError(f"out has shape {out.shape}, the features need {expected}")
    eigen_dtype = np.float32 if method == "pyramid" else np.float64

    def run(task):
        channel_index, sigma = task
        first = channel_index * per_channel + _first_channel(jobs, sigma, dims)
        if dims(sigma) < ndim:  # 2D, slice by slice: the same bank on each plane of the region
            count = sum(channels(f, 2) for f in at_scale[sigma])
            for offset, z in enumerate(range(region[2].start, region[2].stop)):
                feature_stack(channels_first[channel_index][..., z], sigmas=(sigma,), features=at_scale[sigma],
                              spacing=spacing[:2], roi=region[:2], method=method, n_threads=1,
                              out=out[first:first + count, ..., offset])
            return
        crop, inner = crops[sigma]
        data = np.ascontiguousarray(channels_first[channel_index][crop], dtype=np.float32)
        if lazy:
            _check_finite(data)
        if sigma in pyramid:
            factors, pre, grid = pyramid_grid(sigma, spacing)
            coarse = presmooth_and_subsample(data, pre, factors)
            emit = _Upsampler(out, first, inner, factors, coarse.shape)
            scale_features(coarse, sigma, at_scale[sigma], grid, emit, eigen_dtype)
        else:
            scale_features(data, sigma, at_scale[sigma], Grid.exact(sigma, spacing), _Writer(out, first, inner),
                           eigen_dtype)

    tasks = [(c, s) for c in range(len(channels_first)) for s in sigmas if at_scale[s]]
    workers = min(len(tasks), n_threads or os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, tasks))
    return out


class _Writer:
    """Writes a scale's channels, in order, into out[first:], keeping only `region` of each."""

    def __init__(self, out, first, region):
        self.out, self.index, self.region = out, first, region

    def __call__(self, value):
        store(self.out[self.index], value if value.shape == self.out.shape[1:] else value[self.region])
        self.index += 1


class _Upsampler(_Writer):
    """Interpolates a coarse grid's channels back to the fine `region` as it writes them."""

    def __init__(self, out, first, fine_region, factors, coarse_shape):
        # Coarse samples that the fine region needs: from the one at or before its start to the
        # one after its end (interpolation weights both).
        coarse = tuple(slice(r.start // f, min((r.stop - 1) // f + 2, n))
                       for r, f, n in zip(fine_region, factors, coarse_shape))
        super().__init__(out, first, coarse)
        self.fine_region, self.factors = fine_region, factors

    def __call__(self, value):
        if value.shape != tuple(s.stop - s.start for s in self.region):
            value = value[self.region]
        store(self.out[self.index], upsample_linear(value, self.factors, self.fine_region,
                                                    origin=[s.start for s in self.region]))
        self.index += 1


_HALF_MIN_NORMAL = 2.0 ** -14  # below it, float16 numbers are subnormal: steps of 2**-24


def store(target: np.ndarray, value: np.ndarray) -> None:
    """``target[...] = value``, fast also when float16 `target` receives values below 2**-14.

    numpy converts float32 to subnormal float16 about 20 times slower than to
    normal float16, and feature channels (structure tensors, Hessians of dark
    regions) are full of such small values. This converts those itself: the
    float16 bit pattern of a subnormal |x| is round(|x| * 2**24) (ties to
    even, as numpy), plus the sign bit; the result is bit for bit numpy's.

    Examples
    --------
    >>> value = np.array([1e-6, -3e-7, 0.5, 7e-5], dtype=np.float32)
    >>> target = np.empty(4, dtype=np.float16)
    >>> store(target, value)
    >>> bool(np.array_equal(target.view(np.uint16), value.astype(np.float16).view(np.uint16)))
    True
    """
    if target.dtype != np.float16:
        target[...] = value
        return
    for start in range(0, len(value), _STORE_SLAB):  # slabs: small temporaries
        part = value[start:start + _STORE_SLAB]
        small = np.abs(part) < _HALF_MIN_NORMAL
        normal = np.where(small, np.float32(0), part).astype(np.float16)
        magnitude = np.rint(np.where(small, np.abs(part), np.float32(0)) * np.float32(2.0 ** 24))
        bits = magnitude.astype(np.uint16) | (np.signbit(part).astype(np.uint16) << 15)
        target[start:start + _STORE_SLAB] = np.where(small, bits, normal.view(np.uint16)).view(np.float16)


_STORE_SLAB = 16


def _first_channel(jobs, sigma, dims) -> int:
    """Index of the first output channel of scale `sigma` (within one input channel)."""
    index = 0
    for s, feature in jobs:
        if s == sigma:
            return index
        index += channels(feature, dims(s))
    raise AssertionError(sigma)


def _dims(ndim: int, in_plane):
    """Dimensions a scale's filters work in: 2 for the in-plane scales of a 3D image."""
    planar = [float(s) for s in in_plane] if ndim == 3 else []
    return lambda sigma: 2 if any(np.isclose(sigma, s) for s in planar) else ndim


def _as_array(image, channel_axis):
    from labtools.io.image import Image

    if isinstance(image, Image):
        return image.array, image.channel_axis
    return (image if is_lazy_array(image) else np.asarray(image)), channel_axis


def _check_finite(array) -> None:
    if not np.isfinite(array).all():
        raise InvalidImageError("the image holds NaN or infinite values; replace them (numpy.nan_to_num) first")


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


def bank_context(sigmas, features, spacing, method: str = "exact") -> tuple[np.ndarray, np.ndarray]:
    """Voxels of context per axis the whole bank needs, and the grid its pyramid scales sit on.

    A region computed from a crop that extends at least ``halo`` voxels past
    it on every side (or to the image border), and that starts on a multiple
    of ``align``, equals the same region of the whole-image computation:
    this is what blockwise processing (:mod:`labtools.features.blockwise`)
    relies on.

    Returns
    -------
    (halo, align) : two int arrays, one value per spatial axis

    Examples
    --------
    >>> halo, align = bank_context((1.0, 3.5), ("gaussian",), np.ones(3), method="pyramid")
    >>> halo.tolist(), align.tolist()
    ([18, 18, 18], [2, 2, 2])
    """
    spacing = np.asarray(spacing, dtype=float)
    halo, align = np.zeros(len(spacing), dtype=int), np.ones(len(spacing), dtype=int)
    for sigma, feature in active(sigmas, features):
        pyramid = [sigma] if method == "pyramid" and pyramid_factors(sigma / spacing).max() > 1 else []
        scale_halo, scale_align = _halo_and_alignment((sigma,), spacing, [feature], pyramid)
        halo, align = np.maximum(halo, scale_halo), np.maximum(align, scale_align)
    return halo, align


def _halo_and_alignment(sigmas, spacing, features, pyramid) -> tuple[np.ndarray, np.ndarray]:
    structure = "structure" in features
    exact = [s for s in sigmas if s not in pyramid]
    halo = np.zeros(len(spacing), dtype=int)
    if exact:
        largest = max(exact) / spacing
        halo = np.array([radius(s) + (radius(STRUCTURE_OUTER * s) if structure else 0) for s in largest])
    align = np.ones(len(spacing), dtype=int)
    for sigma in pyramid:
        halo = np.maximum(halo, pyramid_halo(sigma, spacing, structure))
        align = np.maximum(align, pyramid_factors(sigma / spacing))
    return halo, align


def _crop_with_halo(region, shape, sigmas, spacing, features, pyramid):
    """The crop to filter (region + halo, within the image) and the region inside that crop.

    With pyramid scales, the crop starts on a multiple of their largest
    subsampling factor, so their coarse grids sit on the same voxels whatever
    the region, and a region equals the same part of the whole image.
    """
    halo, align = _halo_and_alignment(sigmas, spacing, features, pyramid)
    crop, inner = [], []
    for s, n, h, a in zip(region, shape, halo, align):
        start, stop = max((s.start - h) // a * a, 0), min(s.stop + h, n)
        crop.append(slice(start, stop))
        inner.append(slice(s.start - start, s.stop - start))
    return tuple(crop), tuple(inner)
