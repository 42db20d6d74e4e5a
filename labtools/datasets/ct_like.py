"""A generated CT-like volume of any size, computed block by block (never whole in memory).

For testing and benchmarking work on volumes bigger than memory (docs/scale.md):
a body (soft tissue, ~40 HU) in air (−1000 HU) with two lungs (−850 HU), a
spine (bone, ~700 HU) and a contrast-enhanced liver (~110 HU), plus noise. Every voxel is a
function of its coordinates and the seed, so any block can be computed on
its own and the classes are known exactly.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ct_like", "CT_LIKE_CLASSES"]

#: Class value -> name of the label map :func:`ct_like` returns.
CT_LIKE_CLASSES = {0: "air", 1: "soft tissue", 2: "lung", 3: "bone", 4: "liver"}
_HU = np.array([-1000.0, 40.0, -850.0, 700.0, 110.0], np.float32)
_NOISE_HU = 25.0


def ct_like(shape=(512, 512, 800), *, spacing=(0.8, 0.8, 1.0), chunks=(128, 128, 128), seed: int = 0):
    """Intensities (int16, HU) and classes (uint8) of a CT-like volume, as lazy Dask arrays.

    Parameters
    ----------
    shape : tuple of 3 int
        Voxels along x (left-right), y (front-back) and z (feet-head).
    spacing : tuple of 3 float
        Voxel size in mm (recorded in the returned Image).
    chunks : tuple of 3 int
        Dask block shape.
    seed : int
        Noise seed (each block draws from its own generator, derived from it).

    Returns
    -------
    image : labtools.io.Image
        Holding the lazy int16 array.
    classes : dask.array.Array
        uint8 class of each voxel (:data:`CT_LIKE_CLASSES`).

    Examples
    --------
    >>> image, classes = ct_like((64, 64, 48), chunks=(32, 32, 32))
    >>> image.is_lazy, image.array.dtype, image.spacing
    (True, dtype('int16'), (0.8, 0.8, 1.0))
    >>> sorted(np.unique(classes.compute()).tolist())
    [0, 1, 2, 3, 4]
    """
    import dask.array as da

    from labtools.io import Image

    shape = tuple(int(n) for n in shape)
    template = da.zeros(shape, chunks=chunks, dtype=np.uint8)
    classes = template.map_blocks(_classes_block, shape=shape, dtype=np.uint8)
    intensities = classes.map_blocks(_intensities_block, seed=seed, dtype=np.int16)
    return Image(intensities, spacing=spacing), classes


def _classes_block(block, shape, block_info=None):
    location = block_info[None]["array-location"]
    x, y, z = np.meshgrid(*[(np.arange(start, stop, dtype=np.float32) + 0.5) / n
                            for (start, stop), n in zip(location, shape)], indexing="ij", sparse=True)
    classes = np.zeros(block.shape, np.uint8)
    body = ((x - 0.5) / 0.42) ** 2 + ((y - 0.5) / 0.32) ** 2 <= 1
    classes[np.broadcast_to(body, classes.shape)] = 1
    for side in (0.32, 0.68):  # lungs in the upper half
        lung = ((x - side) / 0.13) ** 2 + ((y - 0.47) / 0.2) ** 2 + ((z - 0.72) / 0.22) ** 2 <= 1
        classes[lung] = 2
    liver = ((x - 0.38) / 0.15) ** 2 + ((y - 0.5) / 0.17) ** 2 + ((z - 0.42) / 0.12) ** 2 <= 1
    classes[liver] = 4
    spine = ((x - 0.5) / 0.04) ** 2 + ((y - 0.72) / 0.045) ** 2 <= 1
    classes[np.broadcast_to(spine, classes.shape) & (z > 0.05)] = 3
    return classes


def _intensities_block(classes, seed, block_info=None):
    index = block_info[None]["chunk-location"]
    rng = np.random.default_rng([seed, *index])
    noise = rng.normal(0, _NOISE_HU, classes.shape).astype(np.float32)
    return np.clip(_HU[classes] + noise, -1024, 3071).astype(np.int16)
