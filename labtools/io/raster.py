"""2D/3D raster formats: PNG (Pillow), TIFF (tifffile) and ``.npy`` (numpy).

Spacing survives a TIFF round trip (stored in tifffile's JSON description),
but not the affine's origin or rotation; PNG and ``.npy`` keep only the
array. Saving geometry a format cannot hold warns. Writers take the real
destination as `shown`, for messages, because they write to a temporary file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from labtools.errors import CorruptFileError, FileFormatError, InvalidImageError
from labtools.io.image import Image
from labtools.io.nifti import portable_dtype

__all__ = ["read_png", "write_png", "read_tiff", "write_tiff", "read_npy", "write_npy"]


def _warn_geometry_dropped(image: Image, shown: Path, *, keeps_spacing: bool = False) -> None:
    axis_aligned = np.allclose(image.affine, np.diag(np.diag(image.affine)))
    lost = [] if keeps_spacing or all(s == 1.0 for s in image.spacing) else [f"spacing {image.spacing}"]
    if not axis_aligned:
        lost.append("the affine's origin and rotation")
    if lost:
        warnings.warn(
            f"{shown.name}: {''.join(shown.suffixes[-1:])} files cannot store "
            f"{' and '.join(lost)}; it is dropped. Save as .nii.gz to keep the geometry.",
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


def write_png(image: Image, path: Path, *, shown: Path) -> None:
    """Write a 2D image (uint8 or uint16 values) to PNG."""
    from PIL import Image as PILImage

    if image.ndim != 2:
        raise InvalidImageError(f"{shown}: PNG holds 2D images, this one is {image.ndim}D; "
                                "save it as .nii.gz or .tif instead.")
    array = image.array
    if image.channel_axis == 0:
        array = np.moveaxis(array, 0, -1)
    dtype = portable_dtype(array)
    if dtype.kind not in "u" or dtype.itemsize > 2:
        raise InvalidImageError(
            f"{shown}: PNG stores unsigned 8- or 16-bit integers, got {array.dtype} "
            f"(range {array.min()}..{array.max()}); save as .tif or .npy to keep the values, "
            "or rescale to 0..255 and cast to uint8 first."
        )
    _warn_geometry_dropped(image, shown)
    PILImage.fromarray(array.astype(dtype, copy=False)).save(path, format="PNG")


def read_tiff(path: Path) -> Image:
    """Read a 2D or 3D TIFF; spacing is restored when labtools wrote it.

    An RGB(A) TIFF from another program comes back channels first, like a PNG.
    """
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            array = tif.asarray()
            meta = tif.shaped_metadata[0] if tif.shaped_metadata else {}
            photometric = tif.pages[0].photometric
    except (tifffile.TiffFileError, OSError, ValueError, IndexError) as err:
        raise CorruptFileError(f"{path}: cannot be read as TIFF ({err})") from err
    channel_axis = 0 if meta.get("channel_axis") == 0 else None
    if "channel_axis" not in meta and photometric == tifffile.PHOTOMETRIC.RGB and array.ndim == 3:
        array, channel_axis = np.moveaxis(array, -1, 0), 0
    return Image(array, spacing=meta.get("spacing"), path=path, channel_axis=channel_axis)


def write_tiff(image: Image, path: Path, *, shown: Path) -> None:
    """Write an image to TIFF with its spacing in the description."""
    import tifffile

    _warn_geometry_dropped(image, shown, keeps_spacing=True)
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


def write_npy(image: Image, path: Path, *, shown: Path) -> None:
    """Write the array alone to ``.npy``."""
    if image.channel_axis == 0:
        raise FileFormatError(f"{shown}: .npy cannot record that the first axis holds channels; "
                              "save multi-channel images as .nii.gz or .tif.")
    _warn_geometry_dropped(image, shown)
    with open(path, "wb") as handle:
        np.save(handle, image.array, allow_pickle=False)
