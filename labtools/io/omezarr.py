"""OME-Zarr (zarr v3, OME-NGFF 0.5) and plain Zarr: chunked images read lazily, written chunk by chunk.

A volume too big for memory stays a Dask array: :func:`read_zarr` opens the
store and reads nothing but metadata; slicing or computing the array reads
only the chunks involved. :func:`write_zarr` writes an Image (NumPy or Dask)
chunk by chunk through ome-zarr's writer, with the voxel size as the
OME ``scale`` transform that napari, Fiji/BigDataViewer and neuroglancer read.

OME-NGFF 0.5 has no rotation, so the full voxel-to-world affine (and the
origin) is kept in the group's ``labtools`` attributes and read back from
there; a store written by another tool gets ``diag(scale)`` plus its
``translation``. Axes keep the array's order (labtools never reorients):
spatial axes are named x, y(, z) in array order, a leading channel axis "c".

Examples
--------
>>> import numpy as np, tempfile, os
>>> from labtools.io import Image
>>> image = Image(np.arange(60, dtype=np.int16).reshape(3, 4, 5), spacing=(0.5, 0.5, 2.0))
>>> path = os.path.join(tempfile.mkdtemp(), "volume.ome.zarr")
>>> _ = write_zarr(image, path, chunks=(2, 2, 2))
>>> back = read_zarr(path)
>>> back.spacing, back.is_lazy, int(back.array.sum().compute())
((0.5, 0.5, 2.0), True, 1770)
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from labtools.errors import CorruptFileError, InvalidImageError
from labtools.io.image import Image, spacing_from_affine

__all__ = ["read_zarr", "write_zarr", "ZARR_SUFFIXES", "default_chunks"]

ZARR_SUFFIXES = (".ome.zarr", ".zarr")
_ATTRIBUTE = "labtools"  # where the full affine lives (OME-NGFF 0.5 cannot hold a rotation)


def default_chunks(spatial_shape) -> tuple[int, ...]:
    """Chunk shape for writing: 128³ blocks in 3D, 1024² tiles in 2D, never larger than the image.

    Examples
    --------
    >>> default_chunks((512, 512, 800))
    (128, 128, 128)
    >>> default_chunks((300, 40))
    (300, 40)
    """
    edge = 128 if len(spatial_shape) == 3 else 1024
    return tuple(min(edge, int(n)) for n in spatial_shape)


def read_zarr(path) -> Image:
    """Open an OME-Zarr or plain Zarr image lazily: an Image holding a Dask array.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.ome.zarr`` / ``.zarr`` folder: an OME-Zarr group (its first,
        full-resolution level is read) or a bare Zarr array.

    Returns
    -------
    Image
        ``array`` is a ``dask.array.Array`` chunked as stored; spacing and
        affine from the labtools attributes or the OME scale and translation.

    Raises
    ------
    CorruptFileError
        When the folder is not a Zarr store or holds no image array.
    """
    import dask.array as da
    import zarr

    path = Path(path)
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as err:  # zarr raises several types for a folder that is not a store
        raise CorruptFileError(f"{path}: not a readable Zarr store ({type(err).__name__}: {err})") from None
    attributes = dict(node.attrs)
    if isinstance(node, zarr.Array):
        array, axes, transforms = node, None, []
    else:
        multiscales = attributes.get("ome", attributes).get("multiscales")
        if not multiscales:
            raise CorruptFileError(f"{path}: a Zarr group without OME multiscales metadata; "
                                   "open the array inside it (e.g. {path}/0) instead")
        first = multiscales[0]
        level = first["datasets"][0]
        try:
            array = node[level["path"]]
        except KeyError:
            raise CorruptFileError(f"{path}: the OME metadata names level {level['path']!r}, "
                                   "which is missing") from None
        axes = first.get("axes")
        transforms = list(first.get("coordinateTransformations", [])) + list(level.get("coordinateTransformations", []))
    channel_axis = _channel_axis(axes, array.ndim, path)
    nspatial = array.ndim - (channel_axis is not None)
    stored = attributes.get(_ATTRIBUTE, {})
    if "affine" in stored:
        affine = np.array(stored["affine"], dtype=float)
        spacing = spacing_from_affine(affine, nspatial)
    else:
        spacing, origin = _scale_and_translation(transforms, array.ndim, nspatial)
        affine = np.eye(4)
        affine[np.arange(nspatial), np.arange(nspatial)] = spacing
        affine[:nspatial, 3] = origin
    lazy = da.from_zarr(array)
    return Image(lazy, spacing=spacing, affine=affine, path=path, channel_axis=channel_axis,
                 meta={"zarr_chunks": tuple(array.chunks)})


def write_zarr(image: Image, path, *, chunks=None) -> Path:
    """Write an Image as OME-Zarr 0.5 (zarr v3), chunk by chunk; a Dask array is never loaded whole.

    The store is written next to `path` under a temporary name and moved into
    place when complete, so an interrupted write leaves the old store intact.

    Parameters
    ----------
    image : Image
        Its array may be NumPy or Dask.
    path : str or pathlib.Path
        Target folder, ending in ``.ome.zarr`` or ``.zarr``.
    chunks : tuple of int, optional
        Chunk shape of the spatial axes (default :func:`default_chunks`).

    Returns
    -------
    pathlib.Path
    """
    import dask.array as da
    import zarr
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_image

    path = Path(path)
    chunks = tuple(chunks) if chunks is not None else default_chunks(image.spatial_shape)
    if len(chunks) != image.ndim or min(chunks) < 1:
        raise InvalidImageError(f"chunks must be {image.ndim} positive sizes, got {chunks}")
    names = ["x", "y", "z"][: image.ndim]
    axes = (["c"] if image.channel_axis == 0 else []) + names
    full_chunks = ((image.n_channels,) if image.channel_axis == 0 else ()) + chunks
    array = image.array if image.is_lazy else da.from_array(np.asarray(image.array), chunks=full_chunks)
    scale = dict(zip(names, image.spacing))
    if image.channel_axis == 0:
        scale["c"] = 1.0
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        group = zarr.open_group(str(temporary), mode="w", zarr_format=3)
        with warnings.catch_warnings():  # ome-zarr warns about its own deprecated internals
            warnings.simplefilter("ignore")
            write_image(array, group, scale_factors=[], axes=axes, scale=scale, fmt=FormatV05(),
                        storage_options={"chunks": full_chunks})
        group.attrs[_ATTRIBUTE] = {"affine": np.asarray(image.affine, dtype=float).tolist()}
        _move_into_place(temporary, path)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)
    return path


def _move_into_place(new: Path, target: Path) -> None:
    """Replace `target` (a folder, maybe absent) by `new`; the old one is removed only after the swap."""
    if not target.exists():
        new.rename(target)
        return
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    target.rename(old)
    new.rename(target)
    shutil.rmtree(old)


def _channel_axis(axes, ndim: int, path: Path):
    if axes is None:  # a bare array: 2D or 3D spatial, a 4th axis first means channels
        return 0 if ndim == 4 else None
    kinds = [axis.get("type") if isinstance(axis, dict) else None for axis in axes]
    leading = [k for k in kinds if k in ("channel", "time")]
    if len(leading) > 1 or (leading and kinds[0] not in ("channel", "time")):
        raise InvalidImageError(f"{path}: axes {[a.get('name') for a in axes]}: labtools reads images with at "
                                "most one channel or time axis, first")
    return 0 if leading else None


def _scale_and_translation(transforms, ndim: int, nspatial: int):
    scale, origin = np.ones(ndim), np.zeros(ndim)
    for transform in transforms:
        if transform.get("type") == "scale":
            scale = scale * np.asarray(transform["scale"], dtype=float)
        elif transform.get("type") == "translation":
            origin = origin + np.asarray(transform["translation"], dtype=float)
    return tuple(float(s) for s in scale[-nspatial:]), origin[-nspatial:]
