"""Conversions between labtools Images and napari layer-data tuples."""

from __future__ import annotations

import numpy as np

from labtools.io import Image, looks_like_labels


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
    if as_labels:
        array = image.array
        if array.dtype.kind not in "iu":  # float label files (e.g. *_seg saved as float)
            array = array.astype(np.int32)
        return array, kwargs, "labels"
    if image.channel_axis == 0:
        kwargs["channel_axis"] = 0
    return image.array, kwargs, "image"


def layer_to_image(data, meta: dict) -> Image:
    """An Image on the grid recorded in a layer's metadata, else its scale and translate."""
    data = np.asarray(data)
    affine = (meta.get("metadata") or {}).get("affine")
    if affine is None:
        ndim = data.ndim
        scale = np.asarray(meta.get("scale", np.ones(ndim)), dtype=float)[-ndim:]
        translate = np.asarray(meta.get("translate", np.zeros(ndim)), dtype=float)[-ndim:]
        affine = np.eye(4)
        affine[np.arange(ndim), np.arange(ndim)] = scale
        affine[:ndim, 3] = translate
    return Image(data, affine=affine)
