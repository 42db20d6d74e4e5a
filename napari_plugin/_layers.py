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
        as_labels = looks_like_labels(image)
    kwargs = {
        "name": name,
        "scale": tuple(image.spacing),
        "translate": tuple(float(t) for t in image.affine[: image.ndim, 3]),
        "metadata": {"affine": image.affine.copy(), "spacing": tuple(image.spacing),
                     "path": str(image.path) if image.path else None},
    }
    if as_labels:
        return image.array.astype(np.int32, copy=False), kwargs, "labels"
    if image.channel_axis == 0:
        kwargs["channel_axis"] = 0
    return image.array, kwargs, "image"


def layer_to_image(data, meta: dict) -> Image:
    """An Image on the grid recorded in a layer's metadata (or its scale)."""
    metadata = meta.get("metadata") or {}
    affine = metadata.get("affine")
    if affine is None:
        return Image(np.asarray(data), spacing=meta.get("scale"))
    return Image(np.asarray(data), affine=affine)
