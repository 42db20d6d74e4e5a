"""Training and validation pairs from one image and its labels (what the napari Training dock uses).

One volume gives no second subject to validate on, so it is split in space,
the simplest split that never scores the network on voxels it trained on:

- a network of the image's dimensionality trains on the first half of the
  first axis and validates on the second half;
- a 2D network on a 3D image trains on the labelled slices along `axis`
  (:func:`labtools.training.sources.slices_2d`); every fifth of them (the 5th,
  10th, ...) validates.

Scribbles (0 = unlabelled, classes 1..K) become training labels with
:func:`labtools.training.labels_from_scribbles`. A validation part without a
single labelled voxel (strokes in one half only, fewer than five scribbled
slices) is dropped: the run trains without validation, and a note says so.
"""

from __future__ import annotations

import numpy as np

from labtools import io
from labtools.training import labels_from_scribbles
from labtools.training.sources import TrainingData, slices_2d

__all__ = ["split_one_image", "VALIDATE_EVERY"]

VALIDATE_EVERY = 5  # in 2D, every fifth labelled slice validates


def split_one_image(image: io.Image, labels: np.ndarray, *, dims: int, axis: int = -1,
                      scribbles: bool = False, n_classes: int | None = None) -> TrainingData:
    """Split one image and its labels into training and validation pairs.

    Parameters
    ----------
    image : labtools.io.Image
        The intensity image (2D or 3D, one channel).
    labels : numpy.ndarray
        Dense class indices 0..K-1, or scribbles (0 = unlabelled) when `scribbles`.
    dims : {2, 3}
        The network's dimensionality.
    axis : int
        The axis a 2D network slices a 3D image along.
    scribbles : bool
        Whether `labels` are scribbles.
    n_classes : int, optional
        Number of classes (network outputs); default: from the labels.

    Returns
    -------
    labtools.training.sources.TrainingData

    Raises
    ------
    labtools.errors.ShapeMismatchError
        When the labels are not on the image's grid.

    Examples
    --------
    >>> image = io.Image(np.random.rand(10, 8, 6))
    >>> labels = np.zeros((10, 8, 6), np.uint8); labels[2:8, 2:6, :] = 1
    >>> data = split_one_image(image, labels, dims=2, axis=-1)
    >>> len(data.train), len(data.val), data.n_classes
    (5, 1, 2)
    >>> data = split_one_image(image, labels, dims=3)
    >>> data.train[0][0].shape, data.val[0][0].shape
    ((5, 8, 6), (5, 8, 6))
    """
    io.check_pair(image, labels)  # a clear message before any slicing
    labels = np.asarray(labels)
    if dims == 2 and image.ndim == 3:
        # Slices are chosen on the raw labels, so a slice with background strokes only still counts.
        pairs = slices_2d(image, labels, axis=axis)
        train = [pair for index, pair in enumerate(pairs) if index % VALIDATE_EVERY != VALIDATE_EVERY - 1]
        val = [pair for index, pair in enumerate(pairs) if index % VALIDATE_EVERY == VALIDATE_EVERY - 1]
        how = (f"{len(train)} slices along axis {axis % image.ndim} train, "
               f"every {VALIDATE_EVERY}th labelled slice validates ({len(val)})")
    else:
        middle = labels.shape[0] // 2
        train = [(image.array[:middle], labels[:middle])]
        val = [(image.array[middle:], labels[middle:])]
        how = "the first half of axis 0 trains, the second half validates"
    if scribbles:
        train = [(picture, labels_from_scribbles(part)) for picture, part in train]
        val = [(picture, labels_from_scribbles(part)) for picture, part in val]
    notes = [how]
    labelled = [(picture, part) for picture, part in val if (np.asarray(part) >= 0).any()]
    if scribbles and len(labelled) < len(val):
        notes.append("validation parts without strokes left out" if labelled
                     else "no strokes in the validation part: training without validation")
        val = labelled
    if n_classes is None:
        top = max((int(np.max(part)) for _, part in train + val), default=0)
        n_classes = max(top + 1, 2)
    classes = {k: str(k + 1 if scribbles else k) for k in range(n_classes)}
    return TrainingData(train, val, classes, description="one image", notes=notes)
