"""Conversions between labtools Images and napari layer-data tuples."""

from __future__ import annotations

import numpy as np

from labtools.io import Image, looks_like_labels
from labtools.io.image import is_lazy_array

from napari_plugin._orientation import axis_labels


def image_to_layer(image: Image, name: str, *, as_labels: bool | None = None) -> tuple:
    """A napari ``(data, kwargs, layer_type)`` tuple for `image`.

    World coordinates follow the affine as far as napari's scale/translate
    can: scale = spacing, translate = affine origin. The full affine (which
    may hold a rotation) is kept in ``metadata["affine"]`` so a writer can
    save labels back on the exact grid.
    """
    if as_labels is None:
        as_labels = looks_like_labels(image)  # never for multi-channel images
    kwargs = {
        "name": name,
        "scale": tuple(image.spacing),
        "translate": tuple(float(t) for t in image.affine[: image.ndim, 3]),
        "metadata": {"affine": image.affine.copy(), "spacing": tuple(image.spacing),
                     "path": str(image.path) if image.path else None},
    }
    if image.ndim == 3:  # which way each index runs, on the viewer's sliders
        kwargs["axis_labels"] = axis_labels(image.affine)
    if as_labels:
        array = image.array
        if array.dtype.kind not in "iu":  # float label files (e.g. *_seg saved as float)
            array = array.astype(np.int32)
        return array, kwargs, "labels"
    if image.channel_axis == 0 and is_time_series(image):
        # One layer with a time slider (axis 0), not one blended layer per volume.
        kwargs["scale"] = (time_step(image), *kwargs["scale"])
        kwargs["translate"] = (0.0, *kwargs["translate"])
        kwargs["metadata"]["time_axis"] = 0
        kwargs["axis_labels"] = ("t", *axis_labels(image.affine))
        return image.array, kwargs, "image"
    if image.channel_axis == 0:
        kwargs["channel_axis"] = 0
    return image.array, kwargs, "image"


#: Volumes along the 4th axis above which an unlabelled 4D file is taken for a time series:
#: multi-modal stacks (BraTS: T1, T1c, T2, FLAIR) have up to 4 channels.
MAX_CHANNELS = 4
_TIME_UNITS = ("sec", "msec", "usec")


def is_time_series(image: Image) -> bool:
    """Whether a 4D image's first axis is time: its header says so, or it has more than 4 volumes.

    Examples
    --------
    >>> is_time_series(Image(np.zeros((40, 4, 4, 4), np.float32), channel_axis=0))
    True
    >>> is_time_series(Image(np.zeros((3, 4, 4, 4), np.float32), channel_axis=0))
    False
    """
    if image.channel_axis is None:
        return False
    header = (image.meta or {}).get("nifti_header")
    if header is not None:
        unit = header.get_xyzt_units()[1]
        zooms = header.get_zooms()
        if unit in _TIME_UNITS and len(zooms) > 3 and zooms[3] > 0:
            return True
    return image.array.shape[0] > MAX_CHANNELS


def time_step(image: Image) -> float:
    """Seconds between volumes from the NIfTI header (1 when it does not say)."""
    header = (image.meta or {}).get("nifti_header")
    if header is None or len(header.get_zooms()) < 4 or header.get_zooms()[3] <= 0:
        return 1.0
    scale = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}.get(header.get_xyzt_units()[1], 1.0)
    return float(header.get_zooms()[3]) * scale


def layer_to_image(data, meta: dict) -> Image:
    """An Image on the grid recorded in a layer's metadata, else its scale and translate."""
    data = data if is_lazy_array(data) else np.asarray(data)  # a Dask layer (Zarr) stays lazy
    affine = (meta.get("metadata") or {}).get("affine")
    if affine is None:
        ndim = data.ndim
        scale = np.asarray(meta.get("scale", np.ones(ndim)), dtype=float)[-ndim:]
        translate = np.asarray(meta.get("translate", np.zeros(ndim)), dtype=float)[-ndim:]
        affine = np.eye(4)
        affine[np.arange(ndim), np.arange(ndim)] = scale
        affine[:ndim, 3] = translate
    return Image(data, affine=affine)
