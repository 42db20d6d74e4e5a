"""Arrays to pictures: windowing, label colours, overlays, slice planes and PNG bytes.

Everything the notebook widgets show is rendered here, with numpy and Pillow
only (no ipywidgets), so that every picture can be unit-tested as an array.
A widget then only puts the PNG bytes into an ``ipywidgets.Image``.

Display orientation (:func:`plane`)
-----------------------------------
Arrays keep the file's voxel order (nibabel's i, j, k). For a 3D volume, the
slice at ``index`` along ``axis`` keeps the two other axes ``a < b``; it is
shown with ``a`` running left to right and ``b`` running bottom to top (row 0
of the picture is the largest ``b``). For a RAS-like volume this gives the
usual views in neurological convention (the patient's left on the left):
axial (axis 2) with anterior up, coronal (axis 1) and sagittal (axis 0) with
superior up. This is what :func:`labtools.viz.plot_planes` draws too. A 2D
array is shown as it is stored, like a photograph: row 0 at the top.

Examples
--------
>>> import numpy as np
>>> image = np.linspace(0, 1, 16).reshape(4, 4)
>>> labels = np.zeros((4, 4), int); labels[1:3, 1:3] = 1
>>> rgb = overlay(window(image), labels, opacity=0.5)
>>> rgb.shape, rgb.dtype
((4, 4, 3), dtype('uint8'))
>>> to_png(rgb, aspect=2.0)[:4]
b'\\x89PNG'
"""

from __future__ import annotations

import io as _bytes_io
import operator

import numpy as np

from labtools.colors import label_colors
from labtools.errors import InvalidImageError, ShapeMismatchError
from labtools.io import check_finite

__all__ = [
    "heatmap",
    "label_colors",
    "overlay",
    "plane",
    "plane_aspect",
    "plane_to_voxels",
    "rgb_hex",
    "to_png",
    "window",
]

# Classes 1..9 get hand-picked, well separated colours (ColorBrewer "Set1"-like, with yellow
# fourth as the course's lecture slides use); class 0 is background and is never drawn.


def window(image, percentiles=(1, 99)) -> np.ndarray:
    """Map intensities to [0, 1] between two percentiles (a display window).

    Parameters
    ----------
    image : array_like
        Any finite intensities (2D, 3D).
    percentiles : tuple of float
        Lower and upper percentile; values below the first become 0, above
        the second 1. ``(0, 100)`` maps min..max.

    Returns
    -------
    numpy.ndarray
        float32 array of the same shape, values in [0, 1]. A constant image
        gives zeros.

    Raises
    ------
    InvalidImageError
        For NaN or infinite values, or percentiles that are not 0 <= low < high <= 100.

    Examples
    --------
    >>> window(np.array([0.0, 5.0, 10.0]), percentiles=(0, 100)).tolist()
    [0.0, 0.5, 1.0]
    """
    array = np.asarray(image, dtype=np.float64)
    check_finite(array, name="image")
    low_p, high_p = (float(p) for p in percentiles)
    if not 0 <= low_p < high_p <= 100:
        raise InvalidImageError(
            f"percentiles must satisfy 0 <= low < high <= 100, got {tuple(percentiles)}")
    if array.size == 0:
        return array.astype(np.float32)
    low, high = np.percentile(array, [low_p, high_p])
    if high <= low:  # a constant image (or a window inside a plateau): nothing to stretch
        return np.zeros(array.shape, np.float32)
    return np.clip((array - low) / (high - low), 0.0, 1.0).astype(np.float32)


def rgb_hex(color) -> str:
    """``(r, g, b)`` as a CSS colour, e.g. for legends.

    Examples
    --------
    >>> rgb_hex(label_colors(2)[1])
    '#e41a1c'
    """
    r, g, b = (int(c) for c in color)
    return f"#{r:02x}{g:02x}{b:02x}"


def overlay(image2d, labels2d=None, *, opacity: float = 0.4, colors=None,
            contour: bool = False) -> np.ndarray:
    """A grey image with coloured labels on top, as an RGB array.

    Parameters
    ----------
    image2d : array_like
        2D grey values in [0, 1] (outside is clipped), e.g. from :func:`window`;
        or a uint8 (H, W, 3) picture to draw on, e.g. another overlay's result.
    labels2d : array_like, optional
        Integer labels of the same shape; 0 stays transparent.
    opacity : float
        Weight of the label colour: ``out = (1 - opacity) * grey + opacity * colour``.
    colors : array_like, optional
        (n, 3) uint8 colours, row k for label k; default :func:`label_colors`.
    contour : bool
        Colour only the outline of each region (pixels with a 4-neighbour of
        another label, the image border counting as background), fully
        opaque, so the image inside stays visible.

    Returns
    -------
    numpy.ndarray
        uint8 array (H, W, 3).

    Raises
    ------
    InvalidImageError, ShapeMismatchError
        For arrays that are not 2D, negative or non-integer labels, labels
        without a colour, or an opacity outside [0, 1].

    Examples
    --------
    >>> grey = np.zeros((2, 2)); labels = np.array([[0, 1], [2, 0]])
    >>> overlay(grey, labels, opacity=1.0)[0].tolist()   # background stays grey (black here)
    [[0, 0, 0], [228, 26, 28]]
    """
    picture = np.asarray(image2d)
    if picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3:
        rgb = picture.astype(np.float64)
    elif picture.ndim == 2:
        grey = picture.astype(np.float64)
        check_finite(grey, name="image2d")
        rgb = np.repeat(np.rint(np.clip(grey, 0.0, 1.0) * 255.0)[..., None], 3, axis=2)
    else:
        raise InvalidImageError(f"overlay needs a 2D image (or a uint8 RGB picture), got "
                                f"{picture.dtype} of shape {picture.shape}; take a slice first, "
                                "e.g. with plane(volume, axis, index)")
    if labels2d is not None:
        labels = _checked_labels(labels2d, rgb.shape[:2])
        rgb = _blend(rgb, labels, _checked_colors(colors, labels), opacity, contour)
    return rgb.astype(np.uint8)


def heatmap(image2d, values2d, *, opacity: float = 0.6, cmap: str = "inferno") -> np.ndarray:
    """A grey image with per-pixel values in [0, 1] drawn on top in a colour map.

    Used for the pixel classifier's uncertainty: each pixel is blended with
    weight ``opacity * value``, so certain pixels (0) show the image.

    Parameters
    ----------
    image2d : array_like
        2D grey values in [0, 1].
    values2d : array_like
        Values in [0, 1] of the same shape (outside is clipped).
    opacity : float
        Blend weight of a pixel with value 1.
    cmap : str
        A matplotlib colour map name.

    Returns
    -------
    numpy.ndarray
        uint8 array (H, W, 3).

    Examples
    --------
    >>> rgb = heatmap(np.zeros((1, 2)), np.array([[0.0, 1.0]]), opacity=1.0)
    >>> rgb[0, 0].tolist(), rgb[0, 1].tolist()   # value 0 leaves the image, 1 is the map's top colour
    ([0, 0, 0], [252, 255, 164])
    """
    from matplotlib import colormaps

    base = overlay(image2d).astype(np.float64)
    values = np.asarray(values2d, dtype=np.float64)
    if values.shape != base.shape[:2]:
        raise ShapeMismatchError(f"values have shape {values.shape}, the image {base.shape[:2]}")
    check_finite(values, name="values2d")
    _check_opacity(opacity)
    values = np.clip(values, 0.0, 1.0)
    colored = np.asarray(colormaps[cmap](values)[..., :3]) * 255.0
    weight = (opacity * values)[..., None]
    return np.rint((1 - weight) * base + weight * colored).astype(np.uint8)


def to_png(rgb, *, aspect: float = 1.0, size: int | None = None) -> bytes:
    """Encode an RGB (or grey) array as PNG, stretched so that pixels have their physical shape.

    Parameters
    ----------
    rgb : array_like
        uint8 (H, W, 3) or (H, W).
    aspect : float
        Physical height / width of one pixel (row spacing / column spacing,
        see :func:`plane_aspect`). The picture is enlarged along one axis
        (never shrunk) by nearest-neighbour, so voxels stay sharp.
    size : int, optional
        Length in screen pixels of the longer side of the result; default:
        the array's own size (after the aspect correction).

    Returns
    -------
    bytes
        The PNG file's content.

    Examples
    --------
    >>> from PIL import Image
    >>> import io
    >>> png = to_png(np.zeros((10, 20, 3), np.uint8), aspect=2.0)   # rows 2 mm, columns 1 mm
    >>> Image.open(io.BytesIO(png)).size   # (width, height)
    (20, 20)
    """
    from PIL import Image as PILImage

    array = np.asarray(rgb)
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise InvalidImageError(f"to_png needs a uint8 (H, W, 3) or (H, W) array, got "
                                f"{array.dtype} of shape {array.shape}; build one with overlay()")
    if not (np.isfinite(aspect) and aspect > 0):
        raise InvalidImageError(f"aspect must be a positive number, got {aspect}")
    height, width = array.shape[:2]
    if aspect >= 1:
        height = height * aspect
    else:
        width = width / aspect
    if size is not None:
        if operator.index(size) < 1:
            raise InvalidImageError(f"size must be a positive number of pixels, got {size}")
        scale = size / max(height, width)
        height, width = height * scale, width * scale
    shape = (max(1, round(width)), max(1, round(height)))
    picture = PILImage.fromarray(np.ascontiguousarray(array))
    if shape != picture.size:
        picture = picture.resize(shape, PILImage.Resampling.NEAREST)
    buffer = _bytes_io.BytesIO()
    picture.save(buffer, format="png", compress_level=1)  # fast: redrawn at every slider move
    return buffer.getvalue()


def plane(volume, axis, index) -> np.ndarray:
    """The 2D picture of one slice, in display orientation (see the module's docstring).

    Parameters
    ----------
    volume : array_like
        A 3D array, or a 2D one (returned as it is; `axis` and `index` are then ignored).
    axis : int
        The voxel axis the slice is perpendicular to (0, 1, 2 or negative).
    index : int
        The slice's position along `axis`.

    Returns
    -------
    numpy.ndarray
        A view: rows = the higher-numbered remaining axis, from its last voxel
        (top) to its first (bottom); columns = the lower-numbered one, first
        voxel on the left.

    Examples
    --------
    >>> volume = np.arange(24).reshape(2, 3, 4)
    >>> plane(volume, 2, 0)          # axial: axis 0 left to right, axis 1 bottom to top
    array([[ 8, 20],
           [ 4, 16],
           [ 0, 12]])
    >>> plane(volume, 2, 0)[-1, 1] == volume[1, 0, 0]
    np.True_
    """
    array = np.asarray(volume)
    if array.ndim == 2:
        return array
    if array.ndim != 3:
        raise InvalidImageError(f"plane needs a 2D or 3D array, got shape {array.shape}")
    axis, index = _checked_axis_index(array.shape, axis, index)
    return np.take(array, index, axis=axis).T[::-1]


def plane_to_voxels(shape, axis, index, rows, cols) -> tuple[np.ndarray, ...]:
    """Voxel coordinates of picture pixels: the inverse of :func:`plane`.

    Parameters
    ----------
    shape : tuple of int
        The volume's shape (2D or 3D).
    axis, index : int
        The slice, as for :func:`plane` (ignored for 2D).
    rows, cols : array_like of int
        Pixel coordinates in the picture.

    Returns
    -------
    tuple of numpy.ndarray
        One coordinate array per voxel axis, ready for ``volume[...]`` or
        :meth:`labtools.labeling.LabelingSession.add_stroke`.

    Examples
    --------
    >>> volume = np.arange(24).reshape(2, 3, 4)
    >>> voxels = plane_to_voxels(volume.shape, 2, 0, [2], [1])
    >>> volume[voxels] == plane(volume, 2, 0)[2, 1]
    array([ True])
    """
    shape = tuple(shape)
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    if len(shape) == 2:
        return rows, cols
    axis, index = _checked_axis_index(shape, axis, index)
    first, second = (a for a in range(3) if a != axis)
    coords = [None, None, None]
    coords[axis] = np.full(rows.shape, index, np.int64)
    coords[first] = cols
    coords[second] = shape[second] - 1 - rows
    return tuple(coords)


def plane_aspect(spacing, axis=None) -> float:
    """Physical height / width of a pixel of :func:`plane`'s picture (for :func:`to_png`).

    Examples
    --------
    >>> plane_aspect((1.0, 1.0, 3.0), axis=1)   # coronal: rows are 3 mm slices
    3.0
    >>> plane_aspect((2.0, 1.0))                # 2D: rows 2 mm, columns 1 mm
    2.0
    """
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) == 2:
        return spacing[0] / spacing[1]
    axis = _checked_axis_index((1, 1, 1), axis, 0)[0]
    first, second = (a for a in range(3) if a != axis)
    return spacing[second] / spacing[first]


# ------------------------------------------------------------------------------ helpers
def _checked_axis_index(shape, axis, index) -> tuple[int, int]:
    try:
        axis, index = operator.index(axis), operator.index(index)
    except TypeError:
        raise InvalidImageError(f"axis and index must be integers, got {axis!r} and {index!r}") from None
    if not -3 <= axis < 3:
        raise InvalidImageError(f"axis must be 0, 1 or 2 for a 3D volume, got {axis}")
    axis %= 3
    if not 0 <= index < shape[axis]:
        raise InvalidImageError(f"slice {index} is outside axis {axis}, which has "
                                f"{shape[axis]} slices (0..{shape[axis] - 1})")
    return axis, index


def _checked_labels(labels2d, shape) -> np.ndarray:
    labels = np.asarray(labels2d)
    if labels.shape != shape:
        raise ShapeMismatchError(f"labels have shape {labels.shape}, the image {shape}")
    if labels.dtype == bool:
        return labels.astype(np.int64)
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind != "f" or not np.array_equal(labels, np.round(labels)):
            raise InvalidImageError(f"labels must be integers, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise InvalidImageError(f"labels must be >= 0 (0 = background), found {labels.min()}")
    return labels


def _checked_colors(colors, labels) -> np.ndarray:
    top = int(labels.max()) if labels.size else 0
    if colors is None:
        return label_colors(top + 1)
    colors = np.asarray(colors)
    if colors.ndim != 2 or colors.shape[1] != 3:
        raise InvalidImageError(f"colors must be an (n, 3) array of RGB rows, got shape {colors.shape}")
    if top >= len(colors):
        raise InvalidImageError(f"label {top} has no colour: colors has {len(colors)} rows "
                                "(row k colours label k); pass label_colors(max_label + 1)")
    return colors.astype(np.float64)


def _check_opacity(opacity: float) -> None:
    if not 0.0 <= float(opacity) <= 1.0:
        raise InvalidImageError(f"opacity must lie in [0, 1], got {opacity}")


def _blend(rgb: np.ndarray, labels: np.ndarray, colors: np.ndarray, opacity: float,
           contour: bool) -> np.ndarray:
    """Blend label colours into a float RGB array (0..255), rounding to whole levels."""
    _check_opacity(opacity)
    painted = labels > 0
    if contour:
        padded = np.pad(labels, 1)
        centre = padded[1:-1, 1:-1]
        differs = ((padded[:-2, 1:-1] != centre) | (padded[2:, 1:-1] != centre)
                   | (padded[1:-1, :-2] != centre) | (padded[1:-1, 2:] != centre))
        painted &= differs
        opacity = 1.0
    out = rgb.copy()
    colored = np.asarray(colors, dtype=np.float64)[labels[painted]]
    out[painted] = np.rint((1 - opacity) * rgb[painted] + opacity * colored)
    return out
