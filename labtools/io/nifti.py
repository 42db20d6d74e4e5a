"""NIfTI-1/2 reading and writing through nibabel, with labtools errors.

Why eager reading: nibabel decodes gzip lazily, so a truncated ``.nii.gz``
loads "fine" and fails later with a bare ``EOFError`` or ``zlib.error`` deep in
user code. We read the data inside :func:`read_nifti` and turn every decoding
failure into a :class:`~labtools.errors.CorruptFileError` naming the file.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from labtools.errors import CorruptFileError, InvalidImageError
from labtools.io.image import Image, is_lazy_array

__all__ = ["read_nifti", "write_nifti", "portable_dtype"]

# nibabel refuses int64 without an explicit dtype because many tools cannot read it.
_PORTABLE_INTS = (np.uint8, np.int16, np.int32)


def portable_dtype(array: np.ndarray) -> np.dtype:
    """The on-disk dtype for `array`: its own, except 64-bit and boolean integers.

    Booleans become uint8; int64/uint64 become the narrowest of uint8, int16,
    int32 that holds every value (labels stay integers, values unchanged).

    Examples
    --------
    >>> import numpy as np
    >>> portable_dtype(np.array([0, 1, 4], dtype=np.int64))
    dtype('uint8')
    >>> portable_dtype(np.array([-1, 300]))
    dtype('int16')
    >>> portable_dtype(np.zeros(3, dtype=np.float32))
    dtype('float32')
    """
    dtype = array.dtype
    if dtype == bool:
        return np.dtype(np.uint8)
    if dtype.kind in "iu" and dtype.itemsize == 8:
        lo, hi = (int(array.min()), int(array.max())) if array.size else (0, 0)
        for candidate in _PORTABLE_INTS:
            info = np.iinfo(candidate)
            if info.min <= lo and hi <= info.max:
                return np.dtype(candidate)
        return dtype
    if dtype == np.float16:
        return np.dtype(np.float32)
    return dtype


def read_nifti(path: Path) -> Image:
    """Read a ``.nii``/``.nii.gz`` file; 4D data comes back channels first."""
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError

    try:
        img = nib.load(str(path))
        array = np.asanyarray(img.dataobj)
    except (ImageFileError, zlib.error, EOFError, OSError, struct.error, ValueError) as err:
        raise CorruptFileError(_explain_nifti_failure(path, err)) from err
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise CorruptFileError(f"{path}: not a NIfTI file (nibabel read it as {type(img).__name__})")

    header = img.header
    spatial = min(array.ndim, 3)
    if array.ndim < 2:
        raise InvalidImageError(f"{path}: holds a {array.ndim}D array; labtools needs 2D or 3D images")
    channel_axis = None
    if array.ndim == 4:
        # Channels (modalities, time points) are the 4th NIfTI axis; labtools keeps them first.
        array = np.moveaxis(array, 3, 0)
        channel_axis = 0
    elif array.ndim > 4:
        raise InvalidImageError(
            f"{path}: holds a {array.ndim}D array of shape {array.shape}; labtools reads up to 4D "
            "(3 spatial axes + channels). Split the extra axes with nibabel first."
        )
    spacing = tuple(float(z) for z in header.get_zooms()[:spatial])
    return Image(array, spacing=spacing, affine=img.affine, path=Path(path),
                 channel_axis=channel_axis, meta={"nifti_header": header})


def _explain_nifti_failure(path: Path, err: Exception) -> str:
    text = " ".join(f"{type(err).__name__}: {err}".split())  # nibabel's messages span lines
    name = str(path)
    if isinstance(err, (EOFError, zlib.error)) or "Compressed file ended" in text:
        return (f"{name}: the file is truncated or its gzip stream is corrupt ({text}). "
                "Copy or download it again.")
    if "Not a gzipped file" in text or "not a gzip file" in text.lower():
        return (f"{name}: ends in .gz but is not gzip-compressed ({text}). "
                "Rename it to .nii if it is an uncompressed NIfTI file.")
    if "buffer" in text.lower() or "truncated" in text.lower() or "size" in text.lower():
        return f"{name}: the file is shorter than its header says ({text}); it is truncated."
    size = path.stat().st_size if Path(path).exists() else 0
    if size < 348:  # a NIfTI-1 header alone is 348 bytes
        return f"{name}: only {size} bytes, too short for a NIfTI header (348 bytes); the file is truncated."
    return f"{name}: cannot be read as NIfTI ({text}). Is it really a NIfTI file, and complete?"


def write_nifti(image: Image, path: Path, *, shown: Path | None = None) -> None:
    """Write `image` to ``.nii``/``.nii.gz``, keeping dtype and affine.

    When the image came from a NIfTI file and its affine is unchanged, the
    original header is reused, so qform/sform codes and units survive and a
    load→save→load round trip is bit-exact. `shown` is the name used in
    messages when `path` is a temporary file.
    """
    import nibabel as nib

    array = image.array
    if image.channel_axis == 0:
        array = np.moveaxis(array, 0, -1)
    dtype = portable_dtype(array)
    header = image.meta.get("nifti_header")
    if header is not None and np.array_equal(header.get_best_affine(), image.affine):
        header = header.copy()
    else:
        header = None
    if is_lazy_array(array):
        _write_by_slabs(image, array, dtype, header, path, shown)
        return
    img = nib.Nifti1Image(array.astype(dtype, copy=False), image.affine, header=header, dtype=dtype)
    if header is None:
        img.header.set_xyzt_units("mm")
        img.header.set_zooms(_zooms(image, array.ndim))
        img.set_qform(image.affine, code=1)
        img.set_sform(image.affine, code=1)
    try:
        nib.save(img, str(path))
    except OSError as err:
        raise CorruptFileError(f"{shown or path}: cannot write ({err})") from err


def _write_by_slabs(image: Image, array, dtype, header, path: Path, shown) -> None:
    """Write a lazy (Dask) array slab by slab along its last axis: never the whole array in memory.

    NIfTI stores voxels in Fortran order, so the last axis varies slowest and each slab along it
    is one run of consecutive bytes: header, padding to the data offset, then the slabs in order,
    through gzip for ``.nii.gz``. Same header as :func:`write_nifti` would write.
    """
    import gzip

    import nibabel as nib

    template = nib.Nifti1Image(np.zeros((1,) * array.ndim, dtype), image.affine, header=header, dtype=dtype)
    if header is None:
        template.header.set_xyzt_units("mm")
        template.set_qform(image.affine, code=1)
        template.set_sform(image.affine, code=1)
    out_header = template.header
    out_header.set_data_shape(array.shape)
    out_header.set_zooms(_zooms(image, array.ndim) if header is None else header.get_zooms()[:array.ndim])
    out_header.set_data_offset(max(out_header.get_data_offset(), 352))
    slab = max(1, array.chunksize[-1])
    opener = gzip.open if str(path).endswith(".gz") or str(shown or "").endswith(".gz") else open
    try:
        with opener(path, "wb") as handle:
            out_header.write_to(handle)
            handle.write(b"\0" * (out_header.get_data_offset() - handle.tell()))
            for start in range(0, array.shape[-1], slab):
                part = np.asarray(array[..., start:start + slab]).astype(dtype, copy=False)
                handle.write(part.tobytes(order="F"))
    except OSError as err:
        raise CorruptFileError(f"{shown or path}: cannot write ({err})") from err


def _zooms(image: Image, ndim: int) -> tuple[float, ...]:
    zooms = list(image.spacing) + [1.0] * (ndim - image.ndim)
    return tuple(zooms[:ndim])
