"""Resampling to the plan's spacing: training sees one voxel size, prediction goes back to the image's.

Images are interpolated linearly, labels by nearest neighbour; predicted
logits go back to the input grid linearly before the argmax. Spacings within
10 % of the target are left alone (resampling would only blur).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["needs_resampling", "resample_array", "resampled_shape", "full_target", "resample_data"]

TOLERANCE = 0.1


def needs_resampling(spacing, target) -> bool:
    """Whether `spacing` differs from `target` by more than 10 % on some axis.

    Examples
    --------
    >>> needs_resampling((1.0, 1.0, 3.0), (1.0, 1.0, 1.0)), needs_resampling((1.05, 1.0), (1.0, 1.0))
    (True, False)
    """
    if spacing is None or target is None:
        return False
    return any(abs(s / t - 1) > TOLERANCE for s, t in zip(spacing, target))


def resampled_shape(shape, spacing, target) -> tuple[int, ...]:
    """The grid size that covers the same extent at the `target` spacing.

    Examples
    --------
    >>> resampled_shape((10, 20, 8), (1.0, 1.0, 3.0), (1.0, 1.0, 1.5))
    (10, 20, 16)
    """
    return tuple(max(1, int(round(n * s / t))) for n, s, t in zip(shape, spacing, target))


def resample_array(array, size, *, labels: bool = False) -> np.ndarray:
    """A channels-first image (C, *spatial), or a label map (*spatial), resized to `size`.

    Examples
    --------
    >>> resample_array(np.arange(4.0).reshape(1, 2, 2), (4, 4)).shape
    (1, 4, 4)
    >>> resample_array(np.array([[0, 1], [2, 3]]), (4, 4), labels=True)[::2, ::2].tolist()
    [[0, 1], [2, 3]]
    """
    tensor = torch.as_tensor(np.asarray(array))
    if labels:
        out = F.interpolate(tensor[None, None].float(), size=tuple(size), mode="nearest-exact")[0, 0]
        return out.round().to(tensor.dtype).numpy()
    mode = "bilinear" if len(size) == 2 else "trilinear"
    out = F.interpolate(tensor[None].float(), size=tuple(size), mode=mode, align_corners=False)[0]
    return out.numpy()


def full_target(spacing, target, axis: int = -1) -> tuple[float, ...]:
    """`target` for every axis of an image of `spacing`: a 2D target on a 3D image keeps the
    image's own spacing along the slice `axis`.

    Examples
    --------
    >>> full_target((1.0, 1.0, 5.0), (0.5, 0.5))
    (0.5, 0.5, 5.0)
    """
    spacing, target = tuple(float(s) for s in spacing), tuple(float(t) for t in target)
    if len(target) == len(spacing):
        return target
    axis = axis % len(spacing)
    return (*target[:axis], spacing[axis], *target[axis:])


def resample_data(data, target):
    """Training data with every pair of known spacing resampled to `target`; returns
    ``(data, note)``, where the note says how many pairs changed (None when none did)."""
    from dataclasses import replace

    from labtools.io import Image

    changed = 0

    def one(pair, spacing):
        nonlocal changed
        image, labels = pair
        if spacing is None and isinstance(image, Image):
            spacing = image.spacing
        labels = np.asarray(labels)
        if spacing is None:
            return pair
        goal = full_target(spacing[-labels.ndim:], target)
        if not needs_resampling(spacing[-labels.ndim:], goal):
            return pair
        changed += 1
        size = resampled_shape(labels.shape, spacing[-labels.ndim:], goal)
        array = image.array if isinstance(image, Image) else np.asarray(image)
        channels = isinstance(image, Image) and image.channel_axis is not None
        array = resample_array(array if channels else array[None], size)
        return (array if channels else array[0]), resample_array(labels, size, labels=True)

    spacings = data.spacings or [None] * len(data.train)
    train = [one(pair, spacing) for pair, spacing in zip(data.train, spacings)]
    val = [one(pair, None) for pair in data.val]
    note = (f"{changed} pairs resampled to the plan's spacing {tuple(target)} mm" if changed else None)
    spacings = [tuple(target)] * len(train) if changed else data.spacings
    return replace(data, train=train, val=val, spacings=spacings), note
