"""Training data: check image/label pairs once, before training, and turn them into tensors.

Labels are class indices 0..K-1 (K = the network's output channels). Sparse
annotations (scribbles, partly labelled volumes) mark unlabelled voxels with
``UNLABELLED`` (-1): they add nothing to the loss. :func:`labels_from_scribbles`
converts labtools' scribble convention (0 = not labelled, classes 1..K).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from labtools.errors import InvalidImageError, ShapeMismatchError, TrainingError
from labtools.io import Image
from labtools.training.normalization import Normalization, normalize_intensity

__all__ = ["UNLABELLED", "Case", "prepare_cases", "labels_from_scribbles", "normalize_intensity",
           "as_channels_first"]

UNLABELLED = -1


@dataclass
class Case:
    """One training or validation volume: normalised image (C, *spatial) and labels (*spatial)."""

    image: torch.Tensor
    labels: torch.Tensor
    name: str

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.labels.shape)

    @property
    def sparse(self) -> bool:
        return bool((self.labels == UNLABELLED).any())

    def to(self, device) -> "Case":
        """The same case with its tensors on `device`."""
        return Case(self.image.to(device), self.labels.to(device), self.name)


def labels_from_scribbles(scribbles) -> np.ndarray:
    """Scribbles (0 = not labelled, classes 1..K) -> training labels (UNLABELLED, classes 0..K-1).

    Examples
    --------
    >>> labels_from_scribbles(np.array([0, 1, 2, 0])).tolist()
    [-1, 0, 1, -1]
    """
    scribbles = np.asarray(scribbles)
    if not np.issubdtype(scribbles.dtype, np.integer) or (scribbles.size and scribbles.min() < 0):
        raise InvalidImageError("scribbles must be non-negative integers (0 = not labelled)")
    return scribbles.astype(np.int16) - 1


def as_channels_first(image, spatial_dims: int) -> np.ndarray:
    """Image array with a leading channel axis: (C, *spatial) for an Image or an array."""
    if isinstance(image, Image):
        array = image.array if image.channel_axis is not None else image.array[None]
    else:
        array = np.asarray(image)
        array = array[None] if array.ndim == spatial_dims else array
    if array.ndim != spatial_dims + 1:
        raise InvalidImageError(
            f"expected a {spatial_dims}D image (or channels first: C x {spatial_dims}D), got shape "
            f"{array.shape}; for a {array.ndim}D image use a {array.ndim}D model (spatial_dims)")
    return array


def prepare_cases(pairs, *, n_classes: int, in_channels: int, spatial_dims: int,
                  what: str = "training", normalization: Normalization | None = None,
                  extra_dims: int = 0) -> list[Case]:
    """Check (image, labels) pairs and return normalised tensors, or raise before any training.

    Parameters
    ----------
    pairs : sequence of (image, labels)
        Images as :class:`~labtools.io.Image` or arrays ((*spatial) or
        (C, *spatial)); labels as integer arrays of the spatial shape, with
        values in [0, n_classes) or ``UNLABELLED``.
    n_classes, in_channels, spatial_dims : int
        What the network expects.
    what : str
        Name of the set in error messages ("training", "validation").
    normalization : Normalization, optional
        Default: each image z-scored on its own.
    extra_dims : {0, 1}
        1 accepts volumes of one more dimension than the network's (a 2D
        network validated on whole 3D volumes, slice by slice); such a volume
        is normalised slice by slice along its last axis.

    Examples
    --------
    >>> cases = prepare_cases([(np.ones((8, 8)), np.zeros((8, 8), int))], n_classes=2,
    ...                       in_channels=1, spatial_dims=2)
    >>> cases[0].image.shape, cases[0].labels.dtype
    (torch.Size([1, 8, 8]), torch.int16)
    """
    pairs = list(pairs) if pairs is not None else []
    if not pairs:
        raise TrainingError(f"the {what} set is empty: give at least one (image, labels) pair")
    normalize = normalization or Normalization()
    cases = []
    for index, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TrainingError(f"{what} item {index} must be an (image, labels) pair, "
                                f"got {type(pair).__name__}")
        name = f"{what} case {index}"
        labels = np.asarray(pair[1])
        dims = spatial_dims + extra_dims if labels.ndim == spatial_dims + extra_dims else spatial_dims
        image = as_channels_first(pair[0], dims)
        _check_pair(image, labels, name, n_classes, in_channels)
        if dims > spatial_dims:
            # A volume for a 2D network: normalised slice by slice, as the network saw its
            # training slices and as `segment` will see them (the volume's statistics differ).
            normalized = np.stack([normalize(image[..., k]) for k in range(image.shape[-1])], axis=-1)
        else:
            normalized = normalize(image)
        cases.append(Case(torch.from_numpy(normalized),
                          torch.from_numpy(labels.astype(np.int16)), name))
    return cases


def _check_pair(image: np.ndarray, labels: np.ndarray, name: str, n_classes: int,
                in_channels: int) -> None:
    if image.shape[0] != in_channels:
        raise InvalidImageError(f"{name}: the image has {image.shape[0]} channels but the model takes "
                                f"{in_channels}")
    if labels.shape != image.shape[1:]:
        raise ShapeMismatchError(f"{name}: labels of shape {labels.shape} do not match the image's "
                                 f"{image.shape[1:]}; resample the labels onto the image grid")
    if not np.issubdtype(labels.dtype, np.integer) and not np.array_equal(labels, np.round(labels)):
        raise InvalidImageError(f"{name}: labels must be whole class numbers, got {labels.dtype} "
                                "with fractions (a probability map? use argmax)")
    if not np.isfinite(image).all():
        raise InvalidImageError(f"{name}: the image holds NaN or infinite values; replace them "
                                "(e.g. numpy.nan_to_num) before training")
    labelled = labels[labels != UNLABELLED]
    if labelled.size == 0:
        raise TrainingError(f"{name}: every voxel is unlabelled ({UNLABELLED}); label some voxels")
    low, high = int(labelled.min()), int(labelled.max())
    if low < 0 or high >= n_classes:
        raise InvalidImageError(
            f"{name}: label values run from {low} to {high}, but the model has {n_classes} output "
            f"channels (classes 0..{n_classes - 1}); give the model {high + 1} output channels or "
            f"remap the labels (unlabelled voxels: {UNLABELLED})")
