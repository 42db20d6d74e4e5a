"""Sparse-label training from an interactive labelling session's scribbles."""

from __future__ import annotations

from labtools.training.data import labels_from_scribbles

__all__ = ["training_pair_from_session"]


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
