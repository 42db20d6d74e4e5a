"""Label colours shared by every face of labtools: notebooks, napari, viz montages and files.

Examples
--------
>>> label_colors(3).tolist()
[[0, 0, 0], [228, 26, 28], [77, 175, 74]]
"""

from __future__ import annotations

import colorsys
import operator

import numpy as np

from labtools.errors import ParameterError

__all__ = ["label_colors"]

_FIXED = np.array([
    (0, 0, 0),        # 0 background (transparent in overlays)
    (228, 26, 28),    # 1 red
    (77, 175, 74),    # 2 green
    (55, 126, 184),   # 3 blue
    (255, 217, 47),   # 4 yellow
    (152, 78, 163),   # 5 purple
    (255, 127, 0),    # 6 orange
    (0, 190, 200),    # 7 cyan
    (247, 129, 191),  # 8 pink
    (166, 86, 40),    # 9 brown
], dtype=np.uint8)
_GOLDEN = 0.618033988749895  # hue step that keeps generated colours apart for any count


def label_colors(n: int) -> np.ndarray:
    """The colours of labels ``0..n-1``: row ``k`` is the RGB colour of label ``k``.

    Label 1 is red, 2 green, 3 blue, 4 yellow, then purple, orange, cyan,
    pink, brown; labels from 10 on get generated hues. Row 0 (background)
    is black and overlays leave it transparent. The same labels always get
    the same colours, in every widget.

    Parameters
    ----------
    n : int
        Number of labels, background included (``max label + 1``).

    Returns
    -------
    numpy.ndarray
        uint8 array of shape (n, 3).

    Examples
    --------
    >>> label_colors(5).tolist()
    [[0, 0, 0], [228, 26, 28], [77, 175, 74], [55, 126, 184], [255, 217, 47]]
    """
    n = operator.index(n)
    if n < 0:
        raise ParameterError(f"label_colors needs a count >= 0, got {n}")
    colors = np.zeros((n, 3), np.uint8)
    fixed = min(n, len(_FIXED))
    colors[:fixed] = _FIXED[:fixed]
    for label in range(len(_FIXED), n):
        hue = (label * _GOLDEN) % 1.0
        colors[label] = np.round(np.array(colorsys.hsv_to_rgb(hue, 0.75, 0.95)) * 255)
    return colors
