"""Describe image files: shape, spacing, orientation, value range, labels."""

from __future__ import annotations

import numpy as np

from labtools.io import load, looks_like_labels
from labtools.io.image import is_lazy_array

NAME = "info"
HELP = "describe image files (shape, spacing, orientation, value range)"


def add_arguments(parser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help=".nii/.nii.gz/.png/.tif/.npy files")


def run(args) -> int:
    import sys

    from labtools.errors import LabtoolsError

    failed = 0
    for index, path in enumerate(args.files):
        if index:
            print()
        try:
            print(describe(path))
        except LabtoolsError as err:  # describe the other files all the same
            print(f"labtools info: error: {err}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0


def describe(path) -> str:
    """A few lines about the image in `path`.

    Examples
    --------
    >>> import os
    >>> from nibabel.testing import data_path
    >>> print(describe(os.path.join(data_path, "anatomical.nii")).splitlines()[2])
    spacing      2 x 2 x 2 mm
    """
    image = load(path, allow_nonfinite=True)
    array = image.array
    lines = [
        f"file         {image.path}",
        f"shape        {' x '.join(map(str, image.spatial_shape))}"
        + (f"  ({image.n_channels} channels, stored first)" if image.channel_axis == 0 else ""),
        f"spacing      {' x '.join(f'{s:g}' for s in image.spacing)} mm",
        f"orientation  {image.orientation}",
        f"dtype        {array.dtype}",
    ]
    count, low, high, mean = _value_statistics(array)
    if count:
        lines.append(f"values       min {low:.6g}, max {high:.6g}, mean {mean:.6g}")
    if count != array.size:
        lines.append(f"non-finite   {array.size - count} voxels (NaN or inf)")
    if looks_like_labels(image):
        values, counts = _unique(array)
        volumes = ", ".join(f"{v:g}: {c * image.voxel_volume_ml:.4g} ml"
                            for v, c in zip(values.tolist(), counts.tolist()))
        lines.append(f"labels       {len(values)} values ({volumes})")
    return "\n".join(lines)


def _value_statistics(array) -> tuple[int, float, float, float]:
    """(finite voxels, min, max, mean) of the finite values; one pass, block by block for a Dask array."""
    import dask
    import dask.array as da

    lazy = is_lazy_array(array)
    xp = da if lazy else np
    valid = xp.isfinite(array) if array.dtype.kind == "f" else xp.ones(array.shape, bool)
    values = array.astype(np.float64)
    parts = (valid.sum(), xp.where(valid, values, np.inf).min(), xp.where(valid, values, -np.inf).max(),
             xp.where(valid, values, 0).sum())
    count, low, high, total = dask.compute(*parts) if lazy else parts
    return int(count), float(low), float(high), float(total) / max(int(count), 1)


def _unique(array):
    import dask.array as da

    if is_lazy_array(array):
        values, counts = da.unique(array, return_counts=True)
        return values.compute(), counts.compute()
    return np.unique(array, return_counts=True)
