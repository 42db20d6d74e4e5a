"""2D/3D raster formats: PNG (Pillow), TIFF (tifffile) and ``.npy`` (numpy).

Spacing survives a TIFF round trip (stored in tifffile's JSON description);
PNG and ``.npy`` keep only the array, so saving an image with a non-unit
spacing to them warns that the geometry is dropped.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from labtools.errors import CorruptFileError, FileFormatError, InvalidImageError
from labtools.io.image import Image
from labtools.io.nifti import portable_dtype

__all__ = ["read_png", "write_png", "read_tiff", "write_tiff", "read_npy", "write_npy"]


def _warn_geometry_dropped(image: Image, path: Path) -> None:
    if any(s != 1.0 for s in image.spacing) or not np.allclose(image.affine[:3, 3], 0):
        warnings.warn(
            f"{path.name}: {path.suffix} files store no voxel size or position; spacing "
            f"{image.spacing} is dropped. Save as .nii.gz to keep the geometry.",
            UserWarning, stacklevel=4,
        )


def read_png(path: Path) -> Image:
    """Read a PNG; colour images come back channels first, (3 or 4, rows, cols)."""
    from PIL import Image as PILImage, UnidentifiedImageError

    try:
        with PILImage.open(path) as pil:
            pil.load()
            array = np.asarray(pil)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise CorruptFileError(f"{path}: cannot be read as PNG ({err})") from err
    if array.ndim == 3:
        return Image(np.moveaxis(array, -1, 0), path=path, channel_axis=0)
    return Image(array, path=path)


def write_png(image: Image, path: Path) -> None:
    """Write a 2D image (uint8 or uint16 values) to PNG."""
    from PIL import Image as PILImage

    if image.ndim != 2:
        raise InvalidImageError(f"{path}: PNG holds 2D images, this one is {image.ndim}D; "
                                "save it as .nii.gz or .tif instead.")
    array = image.array
    if image.channel_axis == 0:
        array = np.moveaxis(array, 0, -1)
    dtype = portable_dtype(array)
    if dtype.kind not in "u" or dtype.itemsize > 2:
        raise InvalidImageError(
            f"{path}: PNG stores unsigned 8- or 16-bit integers, got {array.dtype} "
            f"(range {array.min()}..{array.max()}); save as .tif or .npy to keep the values, "
            "or rescale to 0..255 and cast to uint8 first."
        )
    _warn_geometry_dropped(image, path)
    PILImage.fromarray(array.astype(dtype, copy=False)).save(path, format="PNG")


def read_tiff(path: Path) -> Image:
    """Read a 2D or 3D TIFF; spacing is restored when labtools wrote it."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            array = tif.asarray()
            meta = tif.shaped_metadata[0] if tif.shaped_metadata else {}
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as err:
        raise CorruptFileError(f"{path}: cannot be read as TIFF ({err})") from err
    channel_axis = 0 if meta.get("channel_axis") == 0 else None
    return Image(array, spacing=meta.get("spacing"), path=path, channel_axis=channel_axis)


def write_tiff(image: Image, path: Path) -> None:
    """Write an image to TIFF with its spacing in the description."""
    import tifffile

    array = image.array.astype(portable_dtype(image.array), copy=False)
    # minisblack: every axis is data; labtools records channels itself in the metadata.
    tifffile.imwrite(path, array, photometric="minisblack",
                     metadata={"spacing": list(image.spacing), "channel_axis": image.channel_axis})


def read_npy(path: Path) -> Image:
    """Read a ``.npy`` array (no pickles): 2D or 3D, spacing 1 mm."""
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as err:
        raise CorruptFileError(f"{path}: not a plain numpy array file ({err})") from err
    except (OSError, EOFError) as err:
        raise CorruptFileError(f"{path}: truncated or not a .npy file ({err})") from err
    return Image(array, path=path)


def write_npy(image: Image, path: Path) -> None:
    """Write the array alone to ``.npy``."""
    _warn_geometry_dropped(image, path)
    if image.channel_axis == 0:
        raise FileFormatError(f"{path}: .npy cannot record that the first axis holds channels; "
                              "save multi-channel images as .nii.gz or .tif.")
    with open(path, "wb") as handle:
        np.save(handle, image.array, allow_pickle=False)
