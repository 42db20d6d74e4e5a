"""Regions of an image a session predicts: user-friendly roi specs to tuples of slices."""

from __future__ import annotations

import operator

from labtools.errors import InvalidImageError

__all__ = ["normalize_roi"]


def normalize_roi(roi, shape: tuple) -> tuple[slice, ...]:
    """One ``slice(start, stop)`` per axis for `roi` (None: everything; an int i: ``i:i+1``).

    Examples
    --------
    >>> normalize_roi((3,), (8, 4))
    (slice(3, 4, None), slice(0, 4, None))
    >>> normalize_roi(None, (2, 2))
    (slice(0, 2, None), slice(0, 2, None))
    """
    if roi is None:
        return tuple(slice(0, n) for n in shape)
    roi = roi if isinstance(roi, tuple) else (roi,)
    if len(roi) > len(shape):
        raise InvalidImageError(f"roi {roi} has {len(roi)} entries, the image has {len(shape)} axes")
    out = []
    for axis, n in enumerate(shape):
        item = roi[axis] if axis < len(roi) else slice(None)
        if isinstance(item, slice):
            start, stop, step = item.indices(n)
            if step != 1:
                raise InvalidImageError(f"roi {roi}: slices must have step 1")
        else:
            try:
                start = operator.index(item)
            except TypeError:
                raise InvalidImageError(f"roi {roi}: entries must be slices or ints") from None
            if not 0 <= start < n:
                raise InvalidImageError(f"roi {roi}: index {start} outside axis {axis} (0..{n - 1})")
            stop = start + 1
        if stop <= start:
            raise InvalidImageError(f"roi {roi}: empty along axis {axis}")
        out.append(slice(start, stop))
    return tuple(out)
