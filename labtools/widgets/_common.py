"""Small pieces the widgets share: input checks, class legends, the PNG image widget."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np

from labtools import io
from labtools.errors import InvalidImageError, ShapeMismatchError
from labtools.widgets.render import label_colors, rgb_hex


def image_and_spacing(image, spacing=None) -> tuple[np.ndarray, tuple[float, ...]]:
    """The single-channel array and voxel size (mm) of an Image or array; `spacing` overrides."""
    if isinstance(image, io.Image):
        if image.channel_axis == 0 and image.n_channels > 1:
            raise InvalidImageError(
                f"the image has {image.n_channels} channels; show one at a time, e.g. "
                "image.with_array(image.array[0])")
        array = image.array[0] if image.channel_axis == 0 else image.array
        spacing = image.spacing if spacing is None else spacing
    else:
        array = np.asarray(image)
    if array.ndim not in (2, 3):
        raise InvalidImageError(f"expected a 2D or 3D image, got shape {array.shape}")
    spacing = (1.0,) * array.ndim if spacing is None else tuple(float(s) for s in spacing)
    if len(spacing) != array.ndim or min(spacing) <= 0:
        raise InvalidImageError(f"spacing must hold {array.ndim} positive voxel sizes in mm, "
                                f"got {spacing}")
    return array, spacing


def label_array(labels, shape) -> np.ndarray:
    """An integer label map of `shape` (from an Image or array), or a labtools error."""
    array = labels.array if isinstance(labels, io.Image) else np.asarray(labels)
    if array.shape != tuple(shape):
        raise ShapeMismatchError(f"labels have shape {array.shape}, the image {tuple(shape)}; "
                                 "they must cover the same voxels")
    if array.dtype == bool:
        return array.astype(np.uint8)
    if array.dtype.kind == "f" and np.array_equal(array, np.round(array)):
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu" or (array.size and array.min() < 0):
        raise InvalidImageError("labels must be integers >= 0 (0 = background), got "
                                f"{array.dtype} values")
    return array


def legend_html(names: dict, colors=None) -> str:
    """A row of colour swatches, one per ``{label: name}`` entry."""
    if not names:
        return ""
    colors = label_colors(max(names) + 1) if colors is None else colors
    items = [
        f'<span style="display:inline-block;margin-right:12px">'
        f'<span style="display:inline-block;width:12px;height:12px;margin-right:4px;'
        f'vertical-align:middle;background:{rgb_hex(colors[label])}"></span>'
        f"{html.escape(str(name))}</span>"
        for label, name in sorted(names.items())
    ]
    return "".join(items)


def png_image(png: bytes) -> widgets.Image:
    """An ipywidgets.Image showing `png` at its own pixel size (no browser smoothing)."""
    image = widgets.Image(value=png, format="png")
    image.layout.object_fit = "contain"
    return image
