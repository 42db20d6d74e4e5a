"""Interactive pixel classification (ilastik-style): scribbles -> random forest -> segmentation.

A :class:`PixelClassifier` learns, from a few labelled voxels ("scribbles",
0 = unlabelled, classes 1..K), a random forest on the multi-scale feature bank
of :mod:`labtools.features`, and predicts every voxel with its probability and
uncertainty. It follows scikit-learn's estimator conventions: parameters in
``__init__``, ``fit`` returns ``self``, learned attributes end in ``_``, and
``sklearn.base.clone`` and pickle work.

Why refits are fast: the feature bank of the image being labelled is computed
once and kept (float16, one scale at a time, so the float32 channels of a full
volume never exist at once). A refit after a new stroke only gathers the
labelled voxels' features from that cache, and a slice refresh only predicts
that slice.

Three options make a whole-volume segmentation faster, at a measured cost
(docs/pixel_classification.md): ``method="pyramid"`` computes the large
scales of the bank on coarse grids; ``n_features_to_select=k`` keeps the
k channels the forest found most useful and retrains on those alone, so each
voxel's row of features is short and the trees are walked faster; and
``prediction="coarse_to_fine"`` (the default) predicts a whole volume on
every 2nd voxel first and predicts at full resolution only where that coarse
answer is not settled (:mod:`labtools.coarse_to_fine`).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from labtools.coarse_to_fine import coarse_to_fine
from labtools.errors import CorruptFileError, InvalidImageError, ShapeMismatchError
from labtools.features import DEFAULT_SIGMAS, FEATURES, feature_names, feature_stack, region_slices

__all__ = ["PixelClassifier", "uncertainty_from_proba"]

_FORMAT = "labtools-pixel-classifier"
_FORMAT_VERSION = 3  # 2: method, n_features_to_select and the selected channels; 3: prediction, settle_margin
_PREDICTIONS = ("exact", "coarse_to_fine")
_COARSE_MIN_SIZE = 4  # regions thinner than this along an axis (a slice refresh) are predicted exactly
_PREDICT_BLOCK = 32_768  # voxels per block when predicting: its rows (8 MB for 61 channels) stay in cache


class PixelClassifier:
    """Random forest on ilastik's feature bank, trained from scribbles.

    Parameters
    ----------
    sigmas : sequence of float
        Feature scales (ilastik's seven by default).
    features : sequence of str
        Filters of :data:`labtools.features.FEATURES` to use.
    sigma_unit : {"voxel", "mm"}
        "mm" scales the filters by the image's spacing (needs a
        :class:`labtools.io.Image`).
    n_estimators : int
        Trees in the forest.
    max_depth : int, optional
        Depth limit of each tree (None: grow until pure).
    method : {"pyramid", "exact"}
        How the feature bank is computed (:func:`labtools.features.feature_stack`).
        "pyramid" (default) computes scales of 2 voxels and more on subsampled
        grids: about half the time on a whole volume, with a measured cost in
        Dice of about 0.001 (docs/pixel_classification.md). "exact": ilastik's
        bank, equal to scipy's filters.
    n_features_to_select : int, optional
        Keep only this many feature channels: a first forest on all channels
        ranks them (mean decrease in impurity), and the forest is retrained on
        the best ones (ilastik's feature selection). Predicting a volume then
        takes about 40 % less time with 24 of 61 channels, at a small cost in
        accuracy (docs/pixel_classification.md). None (default): all channels. The choice is redone at
        every full retraining; refits after added strokes keep it.
    prediction : {"exact", "coarse_to_fine"}
        How ``predict_proba``, ``predict`` and ``uncertainty`` treat a region
        at least 4 voxels thick along every axis (the whole image, a slab):
        "coarse_to_fine" predicts every 2nd voxel per axis, interpolates, and
        predicts at full resolution only the voxels that are not settled
        (:func:`labtools.coarse_to_fine.coarse_to_fine`). Thinner regions (a
        slice refresh) are always predicted exactly.
    settle_margin : float
        With "coarse_to_fine": a voxel keeps the interpolated probabilities
        when its 2^d enclosing coarse voxels agree on the class, each with
        p1 - p2 above this; 1 settles nothing (exact).
    max_samples : int
        At most this many labelled voxels train the forest, balanced over the
        classes, so a heavily scribbled class does not drown the others and
        refits stay fast.
    refit_fraction : float
        When a refit only adds scribbles to the previous ones (same image,
        same classes, no voxel erased or relabelled), only this fraction of
        the trees, the oldest, is retrained on all current scribbles: a live
        update after a stroke costs about a seventh of a full fit by default. Any
        other change retrains every tree; 1.0 always does.
    n_jobs : int
        Cores for the forest (-1: all).
    random_state : int
        Seed of the sampling and the forest.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Class values seen in the scribbles.
    n_features_in_ : int
        Number of feature channels of the bank.
    selected_features_ : numpy.ndarray
        Indices of the channels the forest uses (all, without selection).
    forest_ : sklearn.ensemble.RandomForestClassifier
        The fitted forest.

    Examples
    --------
    >>> from labtools.datasets import phantom
    >>> image, labels = phantom((64, 64), n_lesions=0, seed=0)
    >>> scribbles = np.zeros_like(labels)
    >>> scribbles[::7, ::7] = labels[::7, ::7] + 1     # a sparse grid of clicks, classes 1..4
    >>> clf = PixelClassifier(n_estimators=20).fit(image, scribbles)
    >>> segmentation = clf.predict(image)
    >>> float(np.mean(segmentation == labels + 1)) > 0.9
    True
    """

    def __init__(self, *, sigmas=DEFAULT_SIGMAS, features=FEATURES, sigma_unit: str = "voxel",
                 n_estimators: int = 100, max_depth: int | None = None, method: str = "pyramid",
                 n_features_to_select: int | None = None, prediction: str = "coarse_to_fine",
                 settle_margin: float = 0.5, max_samples: int = 50_000,
                 refit_fraction: float = 0.15, n_jobs: int = -1, random_state: int = 0):
        self.sigmas = sigmas
        self.features = features
        self.sigma_unit = sigma_unit
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.method = method
        self.n_features_to_select = n_features_to_select
        self.prediction = prediction
        self.settle_margin = settle_margin
        self.max_samples = max_samples
        self.refit_fraction = refit_fraction
        self.n_jobs = n_jobs
        self.random_state = random_state

    # --- scikit-learn plumbing -----------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict:
        """Parameters of this estimator (scikit-learn protocol)."""
        return {name: getattr(self, name) for name in (
            "sigmas", "features", "sigma_unit", "n_estimators", "max_depth", "method",
            "n_features_to_select", "prediction", "settle_margin", "max_samples", "refit_fraction", "n_jobs",
            "random_state")}

    def set_params(self, **params) -> "PixelClassifier":
        """Set parameters (scikit-learn protocol); invalidates cached features."""
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise InvalidImageError(f"PixelClassifier has no parameter {name!r}; valid: {sorted(valid)}")
            setattr(self, name, value)
        self.__dict__.pop("_cache", None)
        self.__dict__.pop("_history", None)
        return self

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_cache", None)  # features of one image: large, and rebuilt on demand
        state.pop("_history", None)  # the next fit after unpickling retrains every tree
        return state

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.get_params().items() if v != PixelClassifier().get_params()[k]}
        return f"PixelClassifier({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # --- learning ------------------------------------------------------------------------
    def fit(self, image, scribbles) -> "PixelClassifier":
        """Learn from the labelled voxels of `scribbles` (0 = unlabelled, classes >= 1).

        Calling ``fit`` again on the same image after more strokes reuses the
        cached features, which is what makes live updates fast.

        Returns
        -------
        PixelClassifier
            ``self``.
        """
        array, _ = self._check_image(image)  # NaN is refused once, when the features are built
        scribbles = np.asarray(scribbles)
        if scribbles.shape != self._spatial_shape(image, array):
            raise ShapeMismatchError(f"scribbles have shape {scribbles.shape}, the image "
                                     f"{self._spatial_shape(image, array)}; paint on the image's grid.")
        if scribbles.dtype.kind not in "iub":
            raise InvalidImageError(f"scribbles must be integer class numbers, got dtype {scribbles.dtype}")
        labelled = np.flatnonzero(scribbles.ravel() > 0)
        classes = np.unique(scribbles.ravel()[labelled])
        if len(classes) < 2:
            found = "no scribbles" if len(classes) == 0 else f"only class {classes[0]}"
            raise InvalidImageError(f"fit needs scribbles of at least 2 classes, found {found}; "
                                    "paint some voxels of each class you want to separate.")
        values = scribbles.ravel()[labelled]
        features = self._features(image)
        history = (self.__dict__.get("_cache", (None,))[0], labelled, values)
        if self._same_as_last_fit(history):
            return self  # e.g. undo then redo: a refit would only reshuffle trees
        chosen = self._balanced_sample(labelled, values, classes)
        X = features.reshape(features.shape[0], -1)[:, chosen].T.astype(np.float32)
        y = scribbles.ravel()[chosen]
        if self._only_added(scribbles, classes, history[0]):
            # Replace the oldest trees only: each new tree still sees all current scribbles (and the
            # channels chosen at the last full training, which the kept trees use).
            count = max(1, round(self.refit_fraction * self.n_estimators))
            self._refits = self.__dict__.get("_refits", 0) + 1
            fresh = self._forest(count, self.random_state + self._refits).fit(X[:, self.selected_features_], y)
            self.forest_.estimators_ = self.forest_.estimators_[count:] + fresh.estimators_
        else:
            self.selected_features_ = self._select(X, y)
            self.forest_ = self._forest(self.n_estimators, self.random_state).fit(X[:, self.selected_features_], y)
        self._history = history
        self.classes_ = self.forest_.classes_
        self.n_features_in_ = X.shape[1]
        per_channel = len(feature_names(scribbles.ndim, sigmas=self.sigmas, features=self.features))
        self.feature_names_ = feature_names(scribbles.ndim, sigmas=self.sigmas, features=self.features,
                                            n_channels=features.shape[0] // per_channel)
        return self

    def _select(self, X, y) -> np.ndarray:
        """Indices of the channels to train on: all, or the most important ones of a first forest."""
        k = self.n_features_to_select
        if k is None or k >= X.shape[1]:
            return np.arange(X.shape[1])
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise InvalidImageError(f"n_features_to_select must be a positive number of channels or None, got {k!r}")
        ranking = self._forest(self.n_estimators, self.random_state).fit(X, y).feature_importances_
        return np.sort(np.argsort(ranking, kind="stable")[::-1][:k])

    def _forest(self, n_estimators: int, seed: int):
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=n_estimators, max_depth=self.max_depth,
                                      n_jobs=self.n_jobs, random_state=seed)

    def _same_as_last_fit(self, history) -> bool:
        last = self.__dict__.get("_history")
        return (last is not None and hasattr(self, "forest_") and last[0] == history[0]
                and np.array_equal(last[1], history[1]) and np.array_equal(last[2], history[2]))

    def _only_added(self, scribbles, classes, cache_key) -> bool:
        """Whether the scribbles only grew since the last fit on the same image and classes."""
        history = self.__dict__.get("_history")
        if (self.refit_fraction >= 1 or history is None or not hasattr(self, "forest_")
                or history[0] != cache_key or not np.array_equal(self.classes_, classes)):
            return False
        _, labelled, values = history
        return bool(np.array_equal(scribbles.ravel()[labelled], values))

    def _balanced_sample(self, labelled, values, classes) -> np.ndarray:
        rng = np.random.default_rng(self.random_state)
        per_class = max(1, self.max_samples // len(classes))
        chosen = []
        for value in classes:
            members = labelled[values == value]
            if len(members) > per_class:
                members = np.sort(rng.choice(members, per_class, replace=False))
            chosen.append(members)
        return np.concatenate(chosen)

    # --- prediction ----------------------------------------------------------------------
    def predict_proba(self, image, roi=None) -> np.ndarray:
        """Class probabilities, ``(n_classes, *roi_shape)`` float32 (order of ``classes_``)."""
        self._check_fitted()
        features = self._features(image, roi=roi)
        flat = features.reshape(features.shape[0], -1)
        if flat.shape[0] != self.n_features_in_:
            raise ShapeMismatchError(
                f"this classifier was trained on {self.n_features_in_} feature channels, the image gives "
                f"{flat.shape[0]}: it has another number of dimensions (2D vs 3D) or of channels than "
                "the images it was trained on, or other feature settings.")
        shape = features.shape[1:]
        if self.prediction not in _PREDICTIONS:
            raise InvalidImageError(f"prediction must be one of {_PREDICTIONS}, got {self.prediction!r}")
        if self.prediction == "coarse_to_fine" and min(shape) >= _COARSE_MIN_SIZE:
            proba, _ = coarse_to_fine(lambda indices: self._proba(flat, indices), shape, margin=self.settle_margin)
            return proba
        return self._proba(flat).reshape((len(self.classes_), *shape))

    def _proba(self, flat: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities ``(n_classes, n_voxels)`` of feature columns ``(n_channels, n_voxels)``.

        With `columns` (sorted indices), only those columns are predicted.

        The mean over the trees of the class frequencies of the leaf each voxel
        falls in, as scikit-learn's ``predict_proba``, computed for blocks of
        voxels in threads: a block's rows (selected channels, float32,
        contiguous) are walked down every tree while they sit in the CPU
        cache (blocks of 262,144 rows of 61 channels do not, and the walk
        costs twice as much), and the leaves' frequencies are summed in
        float32 in place.
        """
        from joblib import effective_n_jobs

        trees = [(tree.tree_, _leaf_frequencies(tree.tree_)) for tree in self.forest_.estimators_]
        size = flat.shape[1] if columns is None else len(columns)
        proba = np.empty((len(self.classes_), size), dtype=np.float32)

        def block(start):
            stop = min(start + _PREDICT_BLOCK, size)
            if columns is None:
                part = flat[self.selected_features_, start:stop]
            else:
                part = flat[np.ix_(self.selected_features_, columns[start:stop])]
            rows = np.ascontiguousarray(part.T, dtype=np.float32)
            total = np.zeros((stop - start, len(self.classes_)), dtype=np.float32)
            for tree, frequencies in trees:
                # np.take, not frequencies[leaves]: the same gather, ten times faster in numpy 2.
                total += np.take(frequencies, tree.apply(rows), axis=0)
            proba[:, start:stop] = total.T / len(trees)

        starts = range(0, size, _PREDICT_BLOCK)
        workers = max(1, min(len(starts), effective_n_jobs(self.n_jobs)))
        with ThreadPoolExecutor(max_workers=workers) as pool:  # tree walks and numpy release the GIL
            list(pool.map(block, starts))
        return proba

    def predict(self, image, roi=None) -> np.ndarray:
        """The most probable class of each voxel (values of ``classes_``), roi shape."""
        proba = self.predict_proba(image, roi)
        return self.classes_[np.argmax(proba, axis=0)].astype(np.uint8 if self.classes_.max() < 256 else np.int32)

    def uncertainty(self, image, roi=None, kind: str = "margin") -> np.ndarray:
        """Per-voxel uncertainty in [0, 1]: ``"margin"`` 1 - (p1 - p2), or normalised ``"entropy"``."""
        proba = self.predict_proba(image, roi)
        return uncertainty_from_proba(proba, kind)

    def suggest(self, image, n: int = 3, axis: int = -1, stride: int = 4) -> list[int]:
        """Slices along `axis` where labelling next helps most (highest mean uncertainty).

        Uncertainty is estimated on every `stride`-th voxel of the slice plane,
        which is `stride`² times cheaper than predicting everything.
        """
        self._check_fitted()
        array, _ = self._check_image(image)
        shape = self._spatial_shape(image, array)
        axis = axis % len(shape)
        scores = []
        features = self._features(image)
        sample = [slice(None, None, stride)] * len(shape)
        for index in range(shape[axis]):
            sample[axis] = index
            flat = features[(slice(None), *sample)].reshape(features.shape[0], -1)
            proba = self._proba(flat)
            scores.append(float(uncertainty_from_proba(proba, "margin").mean()))
        return [int(i) for i in np.argsort(scores)[::-1][:n]]

    def cache_features(self, image) -> None:
        """Compute and keep `image`'s feature bank now, so later refits and roi predictions reuse it.

        ``fit`` does this on its own; call it for an image you will only
        predict slices of (a session opened with a saved classifier), best off
        the GUI thread. Only one image is cached at a time.
        """
        self._features(image)

    # --- persistence ---------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the fitted classifier (parameters, feature settings, forest) to `path`.

        The file is a pickle (joblib): load only files you trust.
        """
        import joblib
        import sklearn

        self._check_fitted()
        payload = {"format": _FORMAT, "version": _FORMAT_VERSION, "sklearn": sklearn.__version__,
                   "params": self.get_params(), "forest": self.forest_, "classes": self.classes_,
                   "n_features": self.n_features_in_, "feature_names": self.feature_names_,
                   "selected": self.selected_features_}
        joblib.dump(payload, path, compress=3)

    @classmethod
    def load(cls, path) -> "PixelClassifier":
        """Read a classifier written by :meth:`save`; refuses other files with a clear message."""
        import joblib

        path = Path(path)
        if not path.is_file():
            from labtools.errors import MissingFileError

            raise MissingFileError(f"{path}: no such classifier file")
        try:
            payload = joblib.load(path)
        except Exception as err:  # unpickling fails in many ways; all mean "not our file"
            raise CorruptFileError(f"{path}: not a labtools classifier file ({type(err).__name__}: {err})") from err
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise CorruptFileError(f"{path}: not a labtools classifier file (written by something else)")
        if payload["version"] > _FORMAT_VERSION:
            raise CorruptFileError(f"{path}: written by a newer labtools (format {payload['version']}); "
                                   "upgrade labtools to read it")
        # Format 1 predates the options: its forests use every channel of the exact bank. Formats 1
        # and 2 have no prediction settings: they get this version's defaults.
        params = {"method": "exact", "n_features_to_select": None, **payload["params"]}
        clf = cls(**params)
        clf.forest_, clf.classes_ = payload["forest"], payload["classes"]
        clf.n_features_in_, clf.feature_names_ = payload["n_features"], payload["feature_names"]
        clf.selected_features_ = payload.get("selected", np.arange(payload["n_features"]))
        return clf

    # --- helpers -------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "forest_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this PixelClassifier is not fitted yet; call fit(image, scribbles) first")

    def _check_image(self, image):
        """The image's array and channel axis (feature_stack refuses NaN when it builds the features)."""
        from labtools.io.image import Image

        array = image.array if isinstance(image, Image) else np.asarray(image)
        channel_axis = image.channel_axis if isinstance(image, Image) else None
        if self.sigma_unit not in ("voxel", "mm"):
            raise InvalidImageError(f"sigma_unit must be 'voxel' or 'mm', got {self.sigma_unit!r}")
        if self.sigma_unit == "mm" and not isinstance(image, Image):
            raise InvalidImageError("sigma_unit='mm' needs a labtools.io.Image (with its spacing), not a bare array")
        return array, channel_axis

    @staticmethod
    def _spatial_shape(image, array) -> tuple:
        from labtools.io.image import Image

        return image.spatial_shape if isinstance(image, Image) else array.shape

    def _features(self, image, roi=None) -> np.ndarray:
        """The image's features (whole, cached; or an uncached region when no cache exists)."""
        from labtools.io.image import Image

        array = image.array if isinstance(image, Image) else np.asarray(image)
        key = (_fingerprint(array), self.sigmas, self.features, self.sigma_unit, self.method)
        cache = self.__dict__.get("_cache")
        if cache is not None and cache[0] == key:
            features = cache[1]
            return features if roi is None else features[(slice(None), *region_slices(roi, features.shape[1:]))]
        array, channel_axis = self._check_image(image)
        spacing = image.spacing if self.sigma_unit == "mm" else None
        options = dict(sigmas=self.sigmas, features=self.features, spacing=spacing, channel_axis=channel_axis,
                       method=self.method)
        if roi is not None:  # a one-off region of another image: compute just that
            return feature_stack(array, roi=roi, **options)
        # float16 halves the cache (1 GB for a 1 mm brain); one scale is computed at a time.
        features = feature_stack(array, dtype=np.float16, **options)
        self._cache = (key, features)
        return features


def _leaf_frequencies(tree) -> np.ndarray:
    """Class frequencies at every node of a fitted scikit-learn ``Tree``: float32 rows summing to 1."""
    counts = tree.value[:, 0, :]
    totals = counts.sum(axis=1, keepdims=True)
    return (counts / np.where(totals > 0, totals, 1)).astype(np.float32)


def _fingerprint(array: np.ndarray) -> tuple:
    """Cheap identity of an image: shape, dtype and a hash of a strided sample of its values."""
    flat = array.reshape(-1, order="A")  # a view for C- and Fortran-ordered arrays alike
    sample = np.ascontiguousarray(flat[:: max(1, array.size // 65_536)])
    return array.shape, str(array.dtype), hashlib.blake2b(sample.tobytes(), digest_size=16).hexdigest()


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
        top = np.sort(proba, axis=0)
        second = top[-2] if len(top) > 1 else np.zeros_like(top[-1])
        return (1.0 - (top[-1] - second)).astype(np.float32)
    if kind == "entropy":
        p = np.clip(proba, 1e-12, 1.0)
        return (-(p * np.log(p)).sum(axis=0) / np.log(len(proba))).astype(np.float32)
    raise InvalidImageError(f"kind must be 'margin' or 'entropy', got {kind!r}")
