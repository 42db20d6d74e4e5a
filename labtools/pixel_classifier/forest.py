"""Walking a fitted random forest over many voxels fast, and uncertainty from its probabilities."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from labtools.errors import ParameterError

__all__ = ["forest_proba", "leaf_frequencies", "uncertainty_from_proba", "balanced_sample"]

_PREDICT_BLOCK = 32_768  # voxels per block: its rows (8 MB for 61 channels) stay in the CPU cache


def forest_proba(forest, flat: np.ndarray, channels: np.ndarray, columns: np.ndarray | None = None,
                 n_jobs: int = -1) -> np.ndarray:
    """Class probabilities ``(n_classes, n_voxels)`` of feature columns ``(n_channels, n_voxels)``.

    The mean over the trees of the class frequencies of the leaf each voxel
    falls in, as scikit-learn's ``predict_proba``, computed for blocks of
    voxels in threads: a block's rows (the forest's `channels`, float32,
    contiguous) are walked down every tree while they sit in the CPU cache
    (blocks of 262,144 rows of 61 channels do not, and the walk costs twice
    as much), and the leaves' frequencies are summed in float32 in place.

    Parameters
    ----------
    forest : sklearn.ensemble.RandomForestClassifier
        Fitted on rows of the `channels` of the feature bank.
    flat : numpy.ndarray
        ``(n_channels, n_voxels)`` features (any float type).
    channels : numpy.ndarray
        Indices of the channels the forest was trained on.
    columns : numpy.ndarray, optional
        Sorted voxel indices to predict (default: all).
    n_jobs : int
        Threads (-1: all cores).

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]], np.float32); y = np.array([1, 1, 2, 2])
    >>> forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    >>> p = forest_proba(forest, X.T, np.array([0]))
    >>> bool(np.allclose(p, forest.predict_proba(X).T))
    True
    """
    from joblib import effective_n_jobs

    trees = [(tree.tree_, leaf_frequencies(tree.tree_)) for tree in forest.estimators_]
    n_classes = len(forest.classes_)
    size = flat.shape[1] if columns is None else len(columns)
    proba = np.empty((n_classes, size), dtype=np.float32)

    def block(start):
        stop = min(start + _PREDICT_BLOCK, size)
        part = flat[channels, start:stop] if columns is None else flat[np.ix_(channels, columns[start:stop])]
        rows = np.ascontiguousarray(part.T, dtype=np.float32)
        total = np.zeros((stop - start, n_classes), dtype=np.float32)
        for tree, frequencies in trees:
            # np.take, not frequencies[leaves]: the same gather, ten times faster in numpy 2.
            total += np.take(frequencies, tree.apply(rows), axis=0)
        proba[:, start:stop] = total.T / len(trees)

    starts = range(0, size, _PREDICT_BLOCK)
    workers = max(1, min(len(starts), effective_n_jobs(n_jobs)))
    with ThreadPoolExecutor(max_workers=workers) as pool:  # tree walks and numpy release the GIL
        list(pool.map(block, starts))
    return proba


def leaf_frequencies(tree) -> np.ndarray:
    """Class frequencies at every node of a fitted scikit-learn ``Tree``: float32 rows summing to 1.

    Examples
    --------
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> tree = DecisionTreeClassifier().fit([[0], [1], [2]], [1, 1, 2])
    >>> leaf_frequencies(tree.tree_)[tree.apply([[2]])].tolist()
    [[0.0, 1.0]]
    """
    counts = tree.value[:, 0, :]
    totals = counts.sum(axis=1, keepdims=True)
    return (counts / np.where(totals > 0, totals, 1)).astype(np.float32)


def uncertainty_from_proba(proba: np.ndarray, kind: str = "margin") -> np.ndarray:
    """Per-voxel uncertainty in [0, 1] from class probabilities ``(n_classes, ...)``.

    "margin": 1 - (p1 - p2), the gap between the two most likely classes;
    "entropy": the entropy divided by log(n_classes).

    Examples
    --------
    >>> uncertainty_from_proba(np.array([[0.7], [0.2], [0.1]])).round(3).tolist()
    [0.5]
    """
    if kind == "margin":
        if len(proba) == 1:
            return (1.0 - proba[0]).astype(np.float32)
        # The two largest per voxel: a partial sort (a whole 1 mm volume: 3x faster than np.sort).
        top = np.partition(proba, len(proba) - 2, axis=0)
        return (1.0 - (top[-1] - top[-2])).astype(np.float32)
    if kind == "entropy":
        p = np.clip(proba, 1e-12, 1.0)
        return (-(p * np.log(p)).sum(axis=0) / np.log(len(proba))).astype(np.float32)
    raise ParameterError(f"kind must be 'margin' or 'entropy', got {kind!r}")


def balanced_sample(labels: np.ndarray, max_samples: int, seed: int) -> np.ndarray:
    """Positions of at most `max_samples` entries of `labels`, about as many of each class.

    A heavily scribbled class does not drown the others, and refits stay fast.

    Examples
    --------
    >>> labels = np.array([1] * 90 + [2] * 10)
    >>> chosen = balanced_sample(labels, 20, seed=0)
    >>> np.bincount(labels[chosen]).tolist()
    [0, 10, 10]
    """
    classes = np.unique(labels)
    rng = np.random.default_rng(seed)
    per_class = max(1, max_samples // max(1, len(classes)))
    chosen = []
    for value in classes:
        members = np.flatnonzero(labels == value)
        if len(members) > per_class:
            members = np.sort(rng.choice(members, per_class, replace=False))
        chosen.append(members)
    return np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
