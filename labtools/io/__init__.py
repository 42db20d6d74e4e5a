"""Reading and writing images: NIfTI, PNG, TIFF and ``.npy`` behind one API.

``load(path)`` returns an :class:`Image` (array, spacing in mm, 4x4 affine,
path); ``save(obj, path)`` writes an Image or a bare array. Voxel order is the
file's, multi-channel data is channels first, and every failure is a
:class:`~labtools.errors.LabtoolsError` that names the file.

Examples
--------
>>> import numpy as np, tempfile, os
>>> from labtools import io
>>> labels = np.zeros((8, 8, 4), dtype=np.uint8); labels[2:5, 2:5, 1:3] = 1
>>> path = os.path.join(tempfile.mkdtemp(), "seg.nii.gz")
>>> _ = io.save(labels, path, spacing=(0.8, 0.8, 2.5))
>>> img = io.load(path)
>>> img.spacing, img.array.dtype, int(img.array.sum())
((0.800000011920929, 0.800000011920929, 2.5), dtype('uint8'), 18)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labtools.errors import (
    AffineMismatchError,
    FileFormatError,
    InvalidImageError,
    MissingFileError,
    ShapeMismatchError,
)
from labtools.io.atomic import atomic_replace
from labtools.io.image import Image, affine_from_spacing, spacing_from_affine
from labtools.io.nifti import read_nifti, write_nifti
from labtools.io.omezarr import ZARR_SUFFIXES, read_zarr, write_zarr
from labtools.io.raster import read_npy, read_png, read_tiff, write_npy, write_png, write_tiff

__all__ = [
    "Image",
    "load",
    "save",
    "check_pair",
    "check_finite",
    "file_format",
    "looks_like_labels",
    "affine_from_spacing",
    "spacing_from_affine",
    "SUPPORTED_SUFFIXES",
    "ZARR_SUFFIXES",
    "read_zarr",
    "write_zarr",
]

_FORMATS = {
    ".nii.gz": (read_nifti, write_nifti),
    ".nii": (read_nifti, write_nifti),
    ".png": (read_png, write_png),
    ".tif": (read_tiff, write_tiff),
    ".tiff": (read_tiff, write_tiff),
    ".npy": (read_npy, write_npy),
    # Folders, read lazily (a Dask array) and written chunk by chunk; ".ome.zarr" before ".zarr".
    ".ome.zarr": (read_zarr, write_zarr),
    ".zarr": (read_zarr, write_zarr),
}
SUPPORTED_SUFFIXES = tuple(_FORMATS)


def file_format(path) -> str:
    """The format suffix of `path` (``".nii.gz"``, ``".png"``, ...), case-insensitive.

    Raises
    ------
    FileFormatError
        When the suffix is not one labtools reads.

    Examples
    --------
    >>> file_format("sub-01_T1w.NII.GZ")
    '.nii.gz'
    """
    name = Path(path).name.lower()
    for suffix in _FORMATS:  # ".nii.gz" is tried before ".nii"
        if name.endswith(suffix):
            return suffix
    raise FileFormatError(
        f"{path}: unsupported file type {''.join(Path(path).suffixes) or '(no extension)'}; "
        f"labtools reads {', '.join(SUPPORTED_SUFFIXES)}. Convert other formats "
        "(DICOM, NRRD, MHA) to NIfTI first, e.g. with dcm2niix or SimpleITK."
    )


def load(path, *, allow_nonfinite: bool = False) -> Image:
    """Load an image file into an :class:`Image`.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.nii``, ``.nii.gz``, ``.png``, ``.tif``/``.tiff`` or ``.npy`` file,
        or an ``.ome.zarr`` / ``.zarr`` folder (opened lazily: the Image holds
        a Dask array, see :mod:`labtools.io.omezarr`).
    allow_nonfinite : bool
        Accept NaN and infinite voxel values. By default they raise, because
        features, losses and metrics silently turn them into NaN everywhere.

    Returns
    -------
    Image
        Array in the file's voxel order (4D NIfTI: channels first), spacing
        from the header zooms, affine as nibabel reports it.

    Raises
    ------
    MissingFileError, FileFormatError, CorruptFileError, InvalidImageError

    Examples
    --------
    >>> import os
    >>> from nibabel.testing import data_path
    >>> img = load(os.path.join(data_path, "anatomical.nii"))
    >>> img.shape, img.spacing
    ((33, 41, 25), (2.0, 2.0, 2.0))
    """
    path = Path(path)
    if path.is_dir() and not path.name.lower().endswith(ZARR_SUFFIXES):
        raise MissingFileError(f"{path}: is a folder, not an image file")
    suffix = file_format(path)
    if not path.exists():
        raise MissingFileError(f"{path}: no such file (working directory: {Path.cwd()})")
    reader, _ = _FORMATS[suffix]
    image = reader(path)
    if not allow_nonfinite and not image.is_lazy:  # lazy arrays are checked block by block where used
        check_finite(image.array, name=str(path))
    return image


def save(obj, path, *, spacing=None, affine=None) -> Path:
    """Save an :class:`Image` or an array; the format follows the file name.

    Integer arrays stay integers. For NIfTI, PNG and TIFF, 64-bit and boolean
    labels are narrowed to the smallest portable integer type that holds them
    and float16 is widened to float32; ``.npy`` keeps the dtype. The file is written
    to a temporary name and renamed, so a crash never leaves half a file in
    place of a good one.

    Parameters
    ----------
    obj : Image or numpy.ndarray
        What to write.
    path : str or pathlib.Path
        Destination; its suffix picks the format.
    spacing, affine : optional
        Geometry for a bare array, or to override an Image's.

    Returns
    -------
    pathlib.Path
        The written path.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> out = save(np.eye(4, dtype=np.uint8), os.path.join(tempfile.mkdtemp(), "eye.png"))
    >>> load(out).array.sum()
    np.uint64(4)
    """
    path = Path(path)
    suffix = file_format(path)
    if isinstance(obj, Image):
        image = obj
        if spacing is not None or affine is not None:
            image = Image(obj.array, spacing=spacing, affine=affine, channel_axis=obj.channel_axis)
    else:
        image = Image(obj, spacing=spacing, affine=affine)
    if not path.parent.exists():
        raise MissingFileError(f"{path}: the folder {path.parent} does not exist")
    _, writer = _FORMATS[suffix]
    if suffix in ZARR_SUFFIXES:  # a folder, written chunk by chunk and swapped in by write_zarr itself
        return writer(image, path)
    if image.is_lazy and suffix not in (".nii", ".nii.gz"):  # NIfTI is written slab by slab
        image = Image(image.array.compute(), spacing=image.spacing, affine=image.affine,
                      channel_axis=image.channel_axis, meta=image.meta)
    with atomic_replace(path, suffix=suffix) as temporary:
        writer(image, temporary, shown=path)
    return path


_LABEL_NAME_ENDINGS = ("_seg", "_label", "_labels", "_mask", "_dseg")
_MAX_LABEL_VALUES = 64


def looks_like_labels(image: Image) -> bool:
    """Whether `image` holds a label map rather than intensities.

    True when the file name ends in ``_seg``, ``_label(s)``, ``_mask`` or
    ``_dseg`` (before the extension), or when the array is integer-typed with
    at most 64 distinct values. A multi-channel image (4D NIfTI, RGB) is never
    a label map, whatever its name. Viewers use this to open a file as labels.

    Examples
    --------
    >>> import numpy as np
    >>> looks_like_labels(Image(np.array([[0, 1], [2, 1]], dtype=np.uint8)))
    True
    >>> looks_like_labels(Image(np.linspace(0, 1, 4).reshape(2, 2)))
    False
    """
    if image.channel_axis is not None:
        return False
    if image.path is not None:
        stem = image.path.name.lower()
        for suffix in SUPPORTED_SUFFIXES:
            stem = stem.removesuffix(suffix)
        if stem.endswith(_LABEL_NAME_ENDINGS):
            return True
    array = image.array
    if array.dtype.kind not in "iub":
        return False
    if image.is_lazy:  # judge by one block in the middle: reading the whole volume is what lazy avoids
        middle = tuple(n // 2 for n in array.numblocks)
        array = array.blocks[middle].compute()
    return len(np.unique(array)) <= _MAX_LABEL_VALUES


def check_finite(array: np.ndarray, name: str = "array") -> None:
    """Raise :class:`InvalidImageError` if a float array holds NaN or infinity.

    Examples
    --------
    >>> import numpy as np
    >>> check_finite(np.array([0.0, np.nan]), name="t1.nii.gz")
    Traceback (most recent call last):
    ...
    labtools.errors.InvalidImageError: t1.nii.gz: 1 of 2 voxels are NaN or infinite (first at index (1,)). Replace them (numpy.nan_to_num) or pass allow_nonfinite=True.
    """
    if array.dtype.kind not in "fc":
        return
    finite = np.isfinite(array)
    if finite.all():
        return
    bad = np.argwhere(~finite)
    raise InvalidImageError(
        f"{name}: {len(bad)} of {array.size} voxels are NaN or infinite "
        f"(first at index {tuple(int(i) for i in bad[0])}). Replace them "
        "(numpy.nan_to_num) or pass allow_nonfinite=True."
    )


def check_pair(image: Image, labels, *, atol: float = 1e-3, roles=("image", "labels")) -> None:
    """Check that `labels` fits `image`: same spatial shape, same affine, integer values.

    Parameters
    ----------
    image : Image
        The intensity image.
    labels : Image or numpy.ndarray
        Its label map. A bare array is checked for shape and values only.
    atol : float
        Largest difference (mm) allowed between affine entries; NIfTI stores
        affines in float32, so exact equality is too strict.
    roles : tuple of str
        What to call the two in messages (e.g. ``("reference", "prediction")``).

    Raises
    ------
    ShapeMismatchError, AffineMismatchError, InvalidImageError

    Examples
    --------
    >>> import numpy as np
    >>> img = Image(np.zeros((4, 4, 4)))
    >>> check_pair(img, np.zeros((4, 4, 4), dtype=np.uint8))  # fine: returns None
    >>> check_pair(img, np.zeros((4, 4, 5), dtype=np.uint8))
    Traceback (most recent call last):
    ...
    labtools.errors.ShapeMismatchError: image and labels differ in shape: image (4, 4, 4), labels (4, 4, 5). Resample the labels onto the image grid.
    """
    label_array = labels.array if isinstance(labels, Image) else np.asarray(labels)
    names = _names(image, labels, roles)
    first, second = roles
    if tuple(label_array.shape) != tuple(image.spatial_shape):
        raise ShapeMismatchError(
            f"{names} differ in shape: {first} {tuple(image.spatial_shape)}, {second} "
            f"{tuple(label_array.shape)}. Resample the {second} onto the {first} grid."
        )
    if isinstance(labels, Image) and not np.allclose(image.affine, labels.affine, atol=atol):
        worst = float(np.abs(image.affine - labels.affine).max())
        raise AffineMismatchError(
            f"{names} have different affines (largest difference {worst:.4g} mm):\n"
            f"{first}:\n{np.round(image.affine, 4)}\n{second}:\n{np.round(labels.affine, 4)}\n"
            "They are not on the same grid; resample one onto the other."
        )
    if label_array.dtype.kind == "f":
        check_finite(label_array, name=names.split(" and ")[-1])
        if not np.array_equal(label_array, np.round(label_array)):
            raise InvalidImageError(
                f"{names}: the labels hold non-integer values; a label map must "
                "hold class numbers (0 = background)."
            )


def _names(image: Image, labels, roles=("image", "labels")) -> str:
    label_path = labels.path if isinstance(labels, Image) else None
    if image.path and label_path and image.path.name == label_path.name:
        return f"{roles[0]} {image.path} and {roles[1]} {label_path}"  # same name: say which is which
    image_name = image.path.name if image.path else roles[0]
    return f"{image_name} and {label_path.name if label_path else roles[1]}"
