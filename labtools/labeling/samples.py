"""The labelled voxels and their feature rows, kept up to date stroke by stroke.

A refit needs the labelled voxels of each class and their features. Finding
them by scanning the scribble volume costs O(volume) per stroke (7 M voxels
at 1 mm) and re-diffing it against the last fit finds what the session
already knew; :class:`TrainingSamples` is told every change instead (the
voxels, their old and new classes), keeps one sorted index array per class,
and remembers the feature rows of every voxel it has seen, computed for the
box around each stroke when the whole feature bank is not built yet.

Examples
--------
>>> import numpy as np
>>> samples = TrainingSamples(np.zeros((4, 4), np.uint8))
>>> samples.change(np.array([0, 1, 2]), np.zeros(3, np.uint8), 1)
>>> samples.fitted()                     # a classifier has seen these
>>> samples.change(np.array([8, 9]), np.zeros(2, np.uint8), 2)
>>> samples.counts(), samples.only_added
({1: 3, 2: 2}, True)
>>> samples.change(np.array([2]), np.array([1], np.uint8), 2)   # relabelled: a full refit
>>> samples.counts(), samples.only_added
({1: 2, 2: 3}, False)
"""

from __future__ import annotations

import numpy as np

from labtools.pixel_classifier import balanced_sample

__all__ = ["TrainingSamples"]

_MAX_BOXES = 4  # more separate stroke boxes than this without the whole bank: build the whole bank


class TrainingSamples:
    """Labelled voxels per class, and the feature rows of the voxels seen so far.

    Parameters
    ----------
    scribbles : numpy.ndarray
        The scribbles at the start (scanned once).
    """

    def __init__(self, scribbles: np.ndarray) -> None:
        flat = scribbles.reshape(-1)
        labelled = np.flatnonzero(flat)
        self._members = {int(c): labelled[flat[labelled] == c] for c in np.unique(flat[labelled])}
        self._pending = [labelled] if labelled.size else []  # voxels without feature rows yet
        self._row_index = np.zeros(0, np.int64)
        self._rows: np.ndarray | None = None
        self.only_added = False  # since the last fit (a fresh start needs a full fit)

    # ---------------------------------------------------------------- changes
    def change(self, indices: np.ndarray, previous: np.ndarray, new) -> None:
        """Voxels `indices` went from classes `previous` to `new` (an int, or one value per voxel)."""
        indices = np.asarray(indices, np.int64)
        previous = np.asarray(previous)
        new = np.broadcast_to(np.asarray(new), indices.shape)
        for value in np.unique(previous[previous > 0]):
            members = self._members.get(int(value))
            if members is not None:
                kept = np.setdiff1d(members, indices[previous == value], assume_unique=True)
                self._members[int(value)] = kept
                if not kept.size:
                    del self._members[int(value)]
        added = indices[new > 0]
        for value in np.unique(new[new > 0]):
            chosen = indices[new == value]
            self._members[int(value)] = np.union1d(self._members.get(int(value), chosen[:0]), chosen)
        if added.size:
            self._pending.append(added)
        if np.any(previous > 0) or np.any(new == 0):
            self.only_added = False

    def forget_rows(self) -> None:
        """Drop the feature rows (the feature settings changed): they are recomputed when needed."""
        labelled = [members for members in self._members.values() if members.size]
        self._pending = [np.unique(np.concatenate(labelled))] if labelled else []
        self._row_index, self._rows = np.zeros(0, np.int64), None
        self.only_added = False

    def fitted(self) -> None:
        """The classifier has seen the current samples: later additions may refit a few trees."""
        self.only_added = True

    # ---------------------------------------------------------------- reading
    def counts(self) -> dict[int, int]:
        """Labelled voxels per class."""
        return {value: int(members.size) for value, members in sorted(self._members.items())}

    def classes(self) -> np.ndarray:
        """The classes that have labelled voxels."""
        return np.array(sorted(self._members), dtype=np.int64)

    def draw(self, max_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray, list]:
        """At most `max_samples` labelled voxels, balanced over classes: ``(indices, classes, pending)``.

        Cheap; call it under the session's lock. `pending` (voxels whose
        feature rows are not known yet) goes to :meth:`rows`, which may take
        a while and runs outside the lock, so strokes go on meanwhile.
        """
        indices = np.concatenate([self._members[c] for c in sorted(self._members)])
        labels = np.concatenate([np.full(self._members[c].size, c, np.int64) for c in sorted(self._members)])
        chosen = balanced_sample(labels, max_samples, seed)
        pending, self._pending = self._pending, []
        return indices[chosen], labels[chosen], pending

    def rows(self, indices: np.ndarray, pending: list, features) -> np.ndarray:
        """Feature rows (float32) of `indices`, computing those of `pending` voxels first.

        Parameters
        ----------
        features : FeatureCache
            Where rows of voxels not seen before come from.
        """
        try:
            self._gather(pending, features)
        except BaseException:
            self._pending = pending + self._pending  # not lost: the next fit computes them
            raise
        return self._rows[np.searchsorted(self._row_index, indices)].astype(np.float32)

    def _gather(self, pending: list, features) -> None:
        """Compute and keep the rows of the `pending` voxels (the box around each stroke)."""
        if not pending:
            return
        if len(pending) > _MAX_BOXES and not features.ready and features.holds_whole:
            features.whole()  # many separate boxes would cost more than the whole bank
        new = np.unique(np.concatenate(pending))
        new = new[~_contains(self._row_index, new)]
        if not new.size:
            return
        parts = [part for part in (np.intersect1d(part, new) for part in pending) if part.size]
        rows = np.concatenate([features.rows(part) for part in parts])
        order = np.concatenate(parts)
        # A voxel painted twice in one batch: keep one row for it.
        order, first = np.unique(order, return_index=True)
        rows = rows[first].astype(features.dtype)
        merged = np.concatenate([self._row_index, order])
        sort = np.argsort(merged, kind="stable")
        self._row_index = merged[sort]
        self._rows = rows if self._rows is None else np.concatenate([self._rows, rows])[sort]


def _contains(sorted_array: np.ndarray, values: np.ndarray) -> np.ndarray:
    if not sorted_array.size:
        return np.zeros(values.shape, bool)
    positions = np.clip(np.searchsorted(sorted_array, values), 0, sorted_array.size - 1)
    return sorted_array[positions] == values
