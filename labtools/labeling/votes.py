"""The forest's votes on the slice on screen, kept tree by tree so a refit costs only its new trees.

After a stroke that only adds voxels, the session replaces the oldest 15 % of the trees
(:meth:`~labtools.pixel_classifier.PixelClassifier.refit_oldest_trees`). Predicting the slice
again from scratch walks all trees; :class:`SliceVotes` keeps each tree's leaves for the
slice, subtracts the votes of the trees that left and adds those of the new ones: the
probabilities of :func:`~labtools.pixel_classifier.forest.forest_proba` (leaf frequencies summed
in float32; exactly, when the leaves are pure, as fully grown trees' are) for about a seventh
of the walks.

Examples
--------
>>> import numpy as np
>>> from labtools.pixel_classifier import PixelClassifier
>>> image = np.random.default_rng(0).random((16, 16)).astype(np.float32)
>>> scribbles = np.zeros((16, 16), np.uint8); scribbles[:, :3] = 1; scribbles[:, -3:] = 2
>>> clf = PixelClassifier(sigmas=(1.0,), n_estimators=8, prediction="exact").fit(image, scribbles)
>>> features = clf.transform(image)
>>> votes = SliceVotes()
>>> bool(np.allclose(votes.proba(clf, features, key="all"), clf.predict_proba(image, features=features)))
True
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from labtools.pixel_classifier.forest import leaf_frequencies

__all__ = ["SliceVotes"]


class SliceVotes:
    """Per-tree leaves and summed votes of the last region predicted (one region at a time)."""

    def __init__(self) -> None:
        self._key = None
        self._rows = None
        self._trees: dict[int, tuple] = {}  # id(tree) -> (tree, leaves); the tree is kept so ids stay unique
        self._total = None

    def proba(self, classifier, features: np.ndarray, key) -> np.ndarray:
        """Class probabilities ``(n_classes, *region_shape)`` of `features`, reusing what `key` left.

        `key` names the region and its features (the same key must mean the same features).
        """
        forest = classifier.forest_
        signature = (key, tuple(classifier.classes_), tuple(classifier.selected_features_))
        if signature != self._key:
            flat = features.reshape(features.shape[0], -1)
            self._rows = np.ascontiguousarray(flat[classifier.selected_features_].T, dtype=np.float32)
            self._trees, self._key = {}, signature
            self._total = np.zeros((self._rows.shape[0], len(classifier.classes_)), np.float32)
        current = {id(tree): tree for tree in forest.estimators_}
        for tree_id in [t for t in self._trees if t not in current]:
            tree, leaves = self._trees.pop(tree_id)
            self._total -= np.take(leaf_frequencies(tree.tree_), leaves, axis=0)
        new = [tree for tree_id, tree in current.items() if tree_id not in self._trees]
        with ThreadPoolExecutor(max_workers=2) as pool:  # tree walks release the GIL
            walked = list(pool.map(lambda tree: tree.tree_.apply(self._rows).astype(np.int32), new))
        for tree, leaves in zip(new, walked):
            self._total += np.take(leaf_frequencies(tree.tree_), leaves, axis=0)
            self._trees[id(tree)] = (tree, leaves)
        proba = (self._total / len(current)).T
        return proba.reshape((len(classifier.classes_), *features.shape[1:]))

    def clear(self) -> None:
        """Forget the region (another classifier or other features)."""
        self.__init__()
