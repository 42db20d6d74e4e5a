"""Feature banks and per-voxel predictions block by block, for volumes bigger than memory.

A whole-body CT (512×512×800) has a 61-channel feature bank of ~25 GB; no
laptop holds it. Here the volume is cut into blocks (Dask chunks) and each
block is computed from the block plus the halo its filters need
(``dask.array.map_overlap`` with ``boundary="none"``: at the image border
the filters see exactly what they see on the whole image). Block origins
and halos are multiples of the pyramid's subsampling factors, so the
coarse grids of ``method="pyramid"`` sit on the same voxels as for the
whole image. The result equals the whole-volume computation of
:func:`~labtools.features.feature_stack` (tested on odd shapes and
anisotropic spacing), and peak memory is a few blocks, not the volume.

Examples
--------
>>> import numpy as np
>>> image = np.random.default_rng(0).random((70, 50, 20)).astype(np.float32)
>>> lazy = blockwise_features(image, sigmas=(1.0, 3.5), features=("gaussian", "hessian"), chunks=24)
>>> lazy.chunks  # blocks no thinner than the halo: the last ones absorb the remainder
((8,), (24, 24, 22), (24, 26), (20,))
>>> from labtools.features import feature_stack
>>> whole = feature_stack(image, sigmas=(1.0, 3.5), features=("gaussian", "hessian"))
>>> bool(np.array_equal(lazy.compute(), whole))
True
"""

from __future__ import annotations

import math

import numpy as np

from labtools.errors import ParameterError
from labtools.features.bank import DEFAULT_SIGMAS, bank_context, feature_names, feature_stack
from labtools.features.filters import FEATURES

__all__ = ["blockwise_features", "map_blocks_with_halo", "block_chunks", "DEFAULT_BLOCK"]

#: Default block edge in voxels (3D); a 61-channel float32 bank of one 96³ block is 210 MB.
DEFAULT_BLOCK = 96


def block_chunks(spatial_shape, block=None, align=None, least=None) -> tuple[tuple[int, ...], ...]:
    """Dask chunks of a volume: blocks of `block` voxels per axis, rounded up to a multiple of `align`.

    No block is smaller than `least` (Dask's overlap needs blocks at least as
    deep as the halo): a short last block joins the one before it.

    Examples
    --------
    >>> block_chunks((100, 50), block=32, align=(8, 8))
    ((32, 32, 32, 4), (32, 18))
    >>> block_chunks((100, 50), block=30, align=(8, 8), least=(8, 20))
    ((32, 32, 36), (50,))
    """
    ndim = len(spatial_shape)
    block = np.broadcast_to(DEFAULT_BLOCK if block is None else block, (ndim,))
    align = np.broadcast_to(1 if align is None else align, (ndim,))
    least = np.broadcast_to(1 if least is None else least, (ndim,))
    if np.any(block < 1):
        raise ParameterError(f"block sizes must be positive, got {tuple(block)}")
    chunks = []
    for n, b, a, m in zip(spatial_shape, block, align, least):
        edge = int(math.ceil(max(b, m) / a) * a)
        sizes = [min(edge, n - start) for start in range(0, n, edge)]
        if len(sizes) > 1 and sizes[-1] < m:
            sizes[-2:] = [sizes[-2] + sizes[-1]]
        chunks.append(tuple(sizes))
    return tuple(chunks)


def map_blocks_with_halo(region_function, array, *, channel_axis=None, halo, align, chunks=None,
                         out_channels: int, dtype):
    """Apply ``region_function(crop, inner)`` block by block; the result is lazy, channels first.

    Parameters
    ----------
    region_function : callable
        ``region_function(crop, inner) -> (out_channels, *inner_shape)``: `crop`
        is a channels-first NumPy block with its halo, `inner` the slices of
        the block proper inside it.
    array : numpy.ndarray or dask.array.Array
        The image (read lazily when Dask).
    channel_axis : {None, 0}
        0 when the first axis holds channels.
    halo, align : sequence of int
        Context per spatial axis, and the grid block origins must sit on
        (see :func:`labtools.features.bank.bank_context`).
    chunks : int, sequence of int or None
        Block edge per axis before rounding to `align` (default ``DEFAULT_BLOCK``).
    out_channels : int
        Channels the function returns.
    dtype : numpy dtype

    Returns
    -------
    dask.array.Array
        ``(out_channels, *spatial_shape)``.
    """
    import dask.array as da

    lazy = da.asarray(array)
    lazy = lazy if channel_axis == 0 else lazy[None]
    spatial = lazy.shape[1:]
    align = np.asarray(align, dtype=int)
    # The halo, rounded up to whole alignment steps, so that each crop starts on the aligned grid.
    steps = [int(math.ceil(h / a) * a) for h, a in zip(halo, align)]
    chunk_grid = block_chunks(spatial, chunks, align, least=steps)
    lazy = lazy.rechunk(((lazy.shape[0],),) + chunk_grid)
    # One block along an axis needs no overlap there (and Dask wants depth <= block).
    depth = {0: 0, **{axis + 1: step if len(sizes) > 1 else 0
                      for axis, (step, sizes) in enumerate(zip(steps, chunk_grid))}}

    def one_block(crop, block_info=None):
        location = block_info[None]["array-location"][1:]
        starts = [max(start - depth[axis + 1], 0) for axis, (start, _) in enumerate(location)]
        inner = tuple(slice(start - origin, stop - origin) for (start, stop), origin in zip(location, starts))
        return region_function(crop, inner)

    return da.map_overlap(one_block, lazy, depth=depth, boundary="none", trim=False, dtype=dtype,
                          chunks=((out_channels,),) + chunk_grid, meta=np.empty((0,) * lazy.ndim, dtype))


def blockwise_features(image, *, sigmas=DEFAULT_SIGMAS, features=FEATURES, spacing=None, channel_axis=None,
                       method: str = "exact", in_plane=(), chunks=None, dtype=np.float32):
    """The feature bank of :func:`~labtools.features.feature_stack`, as a lazy Dask array computed by blocks.

    Parameters
    ----------
    image : array_like, dask.array.Array or labtools.io.Image
        2D or 3D intensities (an Image brings its channel axis; a lazy Image
        is read block by block).
    sigmas, features, spacing, channel_axis, method, in_plane, dtype
        As for :func:`~labtools.features.feature_stack`.
    chunks : int or sequence of int, optional
        Block edge (before rounding to the pyramid's grid); default ``DEFAULT_BLOCK``.

    Returns
    -------
    dask.array.Array
        ``(n_features, *spatial_shape)``, equal to ``feature_stack(image, ...)``.
    """
    from labtools.io.image import Image

    if isinstance(image, Image):
        image, channel_axis = image.array, image.channel_axis
    shape = np.shape(image)
    spatial = shape[1:] if channel_axis == 0 else shape
    n_channels = shape[0] if channel_axis == 0 else 1
    spacing = np.ones(len(spatial)) if spacing is None else np.asarray(spacing, dtype=float)
    halo, align = bank_context(sigmas, features, spacing, method)
    count = len(feature_names(len(spatial), sigmas=sigmas, features=features, n_channels=n_channels,
                              in_plane=in_plane))

    def region(crop, inner):
        return feature_stack(crop, sigmas=sigmas, features=features, spacing=spacing, channel_axis=0,
                             method=method, in_plane=in_plane, roi=inner, dtype=dtype, n_threads=1)

    return map_blocks_with_halo(region, image, channel_axis=channel_axis, halo=halo, align=align,
                                chunks=chunks, out_channels=count, dtype=dtype)
