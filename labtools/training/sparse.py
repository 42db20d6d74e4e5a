"""Sparse-label training from an interactive labelling session's scribbles."""

from __future__ import annotations

import numpy as np

from labtools.training.data import UNLABELLED, labels_from_scribbles

__all__ = ["training_pair_from_session", "labels_on_slices"]


def labels_on_slices(labels, per_axis) -> np.ndarray:
    """Keep the labels of a few evenly spaced slices per axis; every other voxel is ``UNLABELLED``.

    The 3D U-Net experiment (Çiçek et al. 2016): an annotator labels ``per_axis[k]``
    whole slices along axis k, and the network learns the volume from them.
    Slice positions divide each axis into ``per_axis[k] + 1`` equal parts.

    Examples
    --------
    >>> labels = np.arange(4 * 5 * 6).reshape(4, 5, 6) % 3
    >>> sparse = labels_on_slices(labels, (1, 0, 2))     # the slice x = 2, and z = 2 and 4
    >>> int((sparse >= 0).sum()), bool((sparse[2] == labels[2]).all()), bool((sparse[:, :, 3] < 0).any())
    (60, True, True)
    """
    labels = np.asarray(labels)
    if len(per_axis) != labels.ndim:
        raise ValueError(f"per_axis needs one count per axis ({labels.ndim}), got {tuple(per_axis)}")
    sparse = np.full(labels.shape, UNLABELLED, np.int16)
    for axis, count in enumerate(per_axis):
        for position in np.linspace(0, labels.shape[axis], int(count) + 2)[1:-1].round().astype(int):
            index = [slice(None)] * labels.ndim
            index[axis] = position
            sparse[tuple(index)] = labels[tuple(index)]
    return sparse


def training_pair_from_session(session):
    """(image, labels) for :func:`~labtools.training.fit` from a :class:`~labtools.labeling.LabelingSession`.

    Scribbled voxels become classes 0..K-1 (scribble class k -> k-1) and every
    other voxel is ``UNLABELLED``, so the network learns from the strokes
    alone, as the 3D U-Net paper trains from a few annotated slices. Give the
    network as many output channels as there are scribble classes.

    Examples
    --------
    >>> import numpy as np
    >>> from labtools.labeling import LabelingSession
    >>> session = LabelingSession(np.zeros((8, 8), np.float32))
    >>> _ = session.add_stroke(([1, 2], [1, 1]), 1); _ = session.add_stroke(([6], [6]), 2)
    >>> image, labels = training_pair_from_session(session)
    >>> int((labels >= 0).sum()), sorted(set(labels.ravel().tolist()))
    (3, [-1, 0, 1])
    """
    return session.image, labels_from_scribbles(session.scribbles)
