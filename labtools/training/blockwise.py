"""U-Net segmentation of volumes bigger than memory: sliding windows over a lazy array, block by block.

Each block is segmented with :func:`labtools.training.predict.predict` on the
block plus a halo of half a patch per side, and only the block is kept: every
voxel then sees at least the context a window centred on it would. The
intensity statistics that training's normalisation takes from the whole image
are computed on the whole (lazy) volume first, so blocks are normalised alike.

The windows of a block sit elsewhere than those of the whole-image pass, so
the Gaussian blending of overlapping windows differs and voxels where the
network hesitates can change class (a weak network: a few per cent, at the
same Dice; ``tests/test_blockwise.py`` bounds it). A volume that fits in one
block gives exactly the whole-image result.
"""

from __future__ import annotations

import numpy as np

from labtools.errors import ParameterError
from labtools.features.blockwise import map_blocks_with_halo
from labtools.io import Image
from labtools.training.normalization import Normalization
from labtools.training.predict import predict
from labtools.training.resample import needs_resampling

__all__ = ["segment_blockwise", "whole_volume_normalization"]


def segment_blockwise(model, image: Image, *, patch_size, batch_size: int = 4,
                      normalization: Normalization | None = None, target_spacing=None, chunks=None):
    """Classes of every voxel of a (lazy) Image, as a lazy Dask array computed block by block.

    Parameters
    ----------
    model : torch.nn.Module
        A trained network of as many spatial dimensions as the image.
    image : Image
        NumPy or Dask array (e.g. ``labtools.io.load("ct.ome.zarr")``).
    patch_size, batch_size, normalization, target_spacing
        As for :func:`labtools.training.predict.predict`
        (``**inference_options(config)``). An image that would need
        resampling to `target_spacing` is refused: resample it first.
    chunks : int or sequence of int, optional
        Block edge (default: four patches per axis).

    Returns
    -------
    dask.array.Array
        uint8, the image's spatial shape.

    Examples
    --------
    >>> from labtools.models import make_model
    >>> net = make_model("tiny_unet", 3, 1, 2, channels=(4, 8)).eval()
    >>> volume = Image(np.random.default_rng(0).random((24, 20, 16)).astype(np.float32))
    >>> lazy = segment_blockwise(net, volume, patch_size=(8, 8, 8))
    >>> bool(np.array_equal(lazy.compute(), predict(net, volume, patch_size=(8, 8, 8))))
    True
    """
    patch_size = tuple(int(p) for p in patch_size)
    if image.ndim != len(patch_size):
        raise ParameterError(f"blockwise prediction needs a {image.ndim}D network for a {image.ndim}D image; "
                             f"this one has {len(patch_size)}D patches")
    if target_spacing is not None and needs_resampling(image.spacing, target_spacing):
        raise ParameterError(f"the image's voxel size {image.spacing} differs from the network's "
                             f"{tuple(target_spacing)}: resample the volume first (blockwise prediction "
                             "does not resample)")
    fixed = whole_volume_normalization(image, normalization or Normalization())
    chunks = chunks if chunks is not None else tuple(4 * p for p in patch_size)
    halo = [p // 2 for p in patch_size]

    def region(crop, inner):
        labels = predict(model, crop, patch_size=patch_size, batch_size=batch_size, normalization=fixed)
        return labels[inner][None]

    return map_blocks_with_halo(region, image.array, channel_axis=image.channel_axis, halo=halo,
                                align=np.ones(len(halo), int), chunks=chunks, out_channels=1,
                                dtype=np.uint8)[0]


def whole_volume_normalization(image: Image, normalization: Normalization) -> Normalization:
    """The normalisation with the statistics it would take from `image` fixed in advance.

    "zscore" and "zscore_body" compute a mean and std per image; here they are
    computed once over the whole (possibly lazy) volume and returned as a
    fixed ("ct"-style) normalisation that any block can apply alike. "ct"
    is already fixed.

    Examples
    --------
    >>> image = Image(np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> fixed = whole_volume_normalization(image, Normalization("zscore"))
    >>> np.allclose(fixed(image.array[None]), Normalization("zscore")(image.array[None]))
    True
    """
    import dask.array as da

    if normalization.scheme == "ct":
        return normalization
    array = da.asarray(image.array).astype(np.float32)
    channels = array if image.channel_axis == 0 else array[None]
    flat = channels.reshape(channels.shape[0], -1)
    if normalization.scheme == "zscore_body":
        body = (channels != 0).any(axis=0).reshape(-1)
        count = body.sum()
        mean = da.where(body, flat, 0).sum(axis=1) / count
        spread = da.sqrt(da.where(body, (flat - mean[:, None]) ** 2, 0).sum(axis=1) / count)
        count, mean, spread = da.compute(count, mean, spread)
        if 0 < count < flat.shape[1]:
            return _Fixed("zscore_body", mean, spread)
    mean, spread = da.compute(flat.mean(axis=1), flat.std(axis=1))
    return _Fixed("zscore", mean, spread)


class _Fixed(Normalization):
    """A z-score with given per-channel statistics; "zscore_body" keeps the background at 0."""

    def __init__(self, kind: str, mean, std):
        infinite = [(-np.inf, np.inf)] * len(mean)
        super().__init__("ct", clip=infinite, mean=[float(m) for m in mean], std=[float(s) for s in std])
        object.__setattr__(self, "kind", kind)

    def __call__(self, image) -> np.ndarray:
        image = np.asarray(image, dtype=np.float32)
        scaled = super().__call__(image).astype(np.float32)
        if self.kind == "zscore_body":
            return np.where((image != 0).any(axis=0), scaled, np.float32(0))
        return scaled
