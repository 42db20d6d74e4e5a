"""The pixel classifier: a random forest on ilastik's feature bank, a plain scikit-learn estimator."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from labtools.coarse_to_fine import coarse_to_fine
from labtools.errors import InvalidImageError, ParameterError, ShapeMismatchError
from labtools.features import (
    DEFAULT_SIGMAS,
    FEATURES,
    METHODS,
    SIGMA_UNITS,
    check_features,
    feature_names,
    feature_stack,
)
from labtools.pixel_classifier.forest import balanced_sample, forest_proba, uncertainty_from_proba

__all__ = ["PixelClassifier"]

_PREDICTIONS = ("exact", "coarse_to_fine")
_COARSE_MIN_SIZE = 4  # regions thinner than this along an axis (a slice refresh) are predicted exactly


class PixelClassifier(ClassifierMixin, BaseEstimator):
    """Random forest on ilastik's feature bank, trained from scribbles.

    Parameters
    ----------
    sigmas : sequence of float
        Feature scales (ilastik's seven by default).
    features : sequence of str or dict
        Filters of :data:`labtools.features.FEATURES` to use at every scale, or a grid
        ``{filter: scales}`` (ilastik's feature dialog; :mod:`labtools.features.grid`).
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
        the best ones (ilastik's feature selection). None (default): all.
    prediction : {"exact", "coarse_to_fine"}
        How a region at least 4 voxels thick along every axis is predicted:
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
        classes (:func:`~labtools.pixel_classifier.balanced_sample`).
    refit_fraction : float
        Share of the trees, the oldest, that :meth:`refit_oldest_trees`
        retrains after strokes that only added scribbles (what a live
        labeling session does, :mod:`labtools.labeling`).
    n_jobs : int
        Cores for the forest (-1: all).
    random_state : int
        Seed of the sampling and the forest.
    in_plane : sequence of float
        Scales computed in 2D, slice by slice along the last axis (ilastik's "2D" features, for
        images whose slices are far apart). Ignored for 2D images.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Class values seen in the scribbles.
    n_features_in_ : int
        Number of feature channels of the bank.
    feature_names_ : list of str
        Their names.
    selected_features_ : numpy.ndarray
        Indices of the channels the forest uses (all, without selection).
    forest_ : sklearn.ensemble.RandomForestClassifier
        The fitted forest.

    Notes
    -----
    The estimator holds no image data: :meth:`transform` computes a feature
    bank and every method that takes an image also takes ``features=`` to
    reuse one. A live labeling session keeps the bank of the image being
    labelled in its own cache (:class:`labtools.labeling.FeatureCache`).

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
    >>> PixelClassifier(n_estimators=20)
    PixelClassifier(n_estimators=20)
    """

    def __init__(self, *, sigmas=DEFAULT_SIGMAS, features=FEATURES, sigma_unit: str = "voxel",
                 n_estimators: int = 100, max_depth: int | None = None, method: str = "pyramid",
                 n_features_to_select: int | None = None, prediction: str = "coarse_to_fine",
                 settle_margin: float = 0.5, max_samples: int = 50_000,
                 refit_fraction: float = 0.15, n_jobs: int = -1, random_state: int = 0, in_plane=()):
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
        self.in_plane = in_plane

    # --- features ------------------------------------------------------------------------
    def transform(self, image, roi=None, dtype=np.float32) -> np.ndarray:
        """The feature bank this classifier uses, ``(n_channels, *roi_shape)``.

        Parameters
        ----------
        image : Image or numpy.ndarray
            2D or 3D (an Image may hold channels first).
        roi : tuple of slice, optional
            Region to compute (plus only the halo its filters need).
        dtype : numpy dtype
            float32, or float16 for a cache of half the size.

        Examples
        --------
        >>> PixelClassifier(sigmas=(1.0,), features=("gaussian",)).transform(np.zeros((8, 8))).shape
        (1, 8, 8)
        """
        self._check_params()
        array, channel_axis = _array_and_channels(image)
        if self.sigma_unit == "mm" and getattr(image, "spacing", None) is None:
            raise ParameterError("sigma_unit='mm' needs a labtools.io.Image (with its spacing), not a "
                                 "bare array")
        spacing = image.spacing if self.sigma_unit == "mm" else None
        return feature_stack(array, sigmas=self.sigmas, features=self.features, spacing=spacing,
                             channel_axis=channel_axis, method=self.method, roi=roi, dtype=dtype,
                             in_plane=self.in_plane)

    def channel_names(self, ndim: int, n_channels: int = 1) -> list[str]:
        """Names of the feature channels for a `ndim`-D image of `n_channels` channels."""
        return feature_names(ndim, sigmas=self.sigmas, features=self.features, n_channels=n_channels,
                             in_plane=self.in_plane)

    # --- learning ------------------------------------------------------------------------
    def fit(self, image, scribbles, *, features=None) -> "PixelClassifier":
        """Learn from the labelled voxels of `scribbles` (0 = unlabelled, classes >= 1).

        Parameters
        ----------
        image : Image or numpy.ndarray
            The image.
        scribbles : numpy.ndarray
            Integer classes of the image's spatial shape.
        features : numpy.ndarray, optional
            The image's bank from :meth:`transform`, to reuse it.

        Returns
        -------
        PixelClassifier
            ``self``.
        """
        spatial = _spatial_shape(image)
        scribbles = np.asarray(scribbles)
        if scribbles.shape != spatial:
            raise ShapeMismatchError(f"scribbles have shape {scribbles.shape}, the image "
                                     f"{spatial}; paint on the image's grid.")
        if scribbles.dtype.kind not in "iub":
            raise InvalidImageError(f"scribbles must be integer class numbers, got dtype {scribbles.dtype}")
        labelled = np.flatnonzero(scribbles.ravel() > 0)
        values = scribbles.ravel()[labelled]
        self._check_classes(values)
        features = self.transform(image) if features is None else features
        chosen = labelled[balanced_sample(values, self.max_samples, self.random_state)]
        rows = features.reshape(features.shape[0], -1)[:, chosen].T
        return self.fit_samples(rows, scribbles.ravel()[chosen], ndim=len(spatial))

    def fit_samples(self, X, y, *, ndim: int) -> "PixelClassifier":
        """Train every tree on feature rows `X` ``(n, n_channels)`` of labelled voxels of classes `y`.

        What :meth:`fit` does once it has gathered the rows; a labeling
        session that keeps the rows of its scribbles calls it directly.

        Examples
        --------
        >>> clf = PixelClassifier(sigmas=(1.0,), features=("gaussian",), n_estimators=3)
        >>> clf.fit_samples(np.array([[0.0], [1.0]]), np.array([1, 2]), ndim=2).classes_.tolist()
        [1, 2]
        """
        self._check_params()
        X, y = np.asarray(X, dtype=np.float32), np.asarray(y)
        self._check_classes(y)
        self.selected_features_ = self._select(X, y)
        self.forest_ = self._forest(self.n_estimators, self.random_state).fit(X[:, self.selected_features_], y)
        self.classes_ = self.forest_.classes_
        self.n_features_in_ = X.shape[1]
        per_channel = len(self.channel_names(ndim))
        self.feature_names_ = self.channel_names(ndim, n_channels=max(1, X.shape[1] // per_channel))
        return self

    def refit_oldest_trees(self, X, y) -> "PixelClassifier":
        """Retrain the oldest ``refit_fraction`` of the trees on `X`, `y` (the classes must not change).

        After strokes that only add scribbles, replacing a few trees trained
        on all current scribbles costs about a seventh of a full fit and
        follows the strokes as well (docs/pixel_classification.md). The
        channels chosen at the last full fit are kept.
        """
        self._check_fitted()
        y = np.asarray(y)
        if not np.array_equal(np.unique(y), self.classes_):
            raise ParameterError(f"refit_oldest_trees needs the classes of the last fit {self.classes_.tolist()}, "
                                 f"got {np.unique(y).tolist()}; call fit_samples for other classes")
        count = max(1, round(self.refit_fraction * self.n_estimators))
        self._refits = getattr(self, "_refits", 0) + 1
        X = np.asarray(X, dtype=np.float32)[:, self.selected_features_]
        fresh = self._forest(count, self.random_state + self._refits).fit(X, y)
        self.forest_.estimators_ = self.forest_.estimators_[count:] + fresh.estimators_
        return self

    def _select(self, X, y) -> np.ndarray:
        """Indices of the channels to train on: all, or the most important ones of a first forest."""
        k = self.n_features_to_select
        if k is None or k >= X.shape[1]:
            return np.arange(X.shape[1])
        ranking = self._forest(self.n_estimators, self.random_state).fit(X, y).feature_importances_
        return np.sort(np.argsort(ranking, kind="stable")[::-1][:k])

    def _forest(self, n_estimators: int, seed: int):
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=n_estimators, max_depth=self.max_depth,
                                      n_jobs=self.n_jobs, random_state=seed)

    # --- prediction ----------------------------------------------------------------------
    def predict_proba(self, image, roi=None, *, features=None) -> np.ndarray:
        """Class probabilities, ``(n_classes, *roi_shape)`` float32 (order of ``classes_``).

        `features`, when given, is the bank of the roi (from :meth:`transform`).
        """
        self._check_fitted()
        features = self.transform(image, roi=roi) if features is None else features
        flat = features.reshape(features.shape[0], -1)
        if flat.shape[0] != self.n_features_in_:
            raise ShapeMismatchError(
                f"this classifier was trained on {self.n_features_in_} feature channels, the image gives "
                f"{flat.shape[0]}: it has another number of dimensions (2D vs 3D) or of channels than "
                "the images it was trained on, or other feature settings.")
        shape = features.shape[1:]
        if self.prediction == "coarse_to_fine" and min(shape) >= _COARSE_MIN_SIZE:
            proba, _ = coarse_to_fine(lambda columns: self._proba(flat, columns), shape,
                                      margin=self.settle_margin)
            return proba
        return self._proba(flat).reshape((len(self.classes_), *shape))

    def _proba(self, flat, columns=None) -> np.ndarray:
        return forest_proba(self.forest_, flat, self.selected_features_, columns, n_jobs=self.n_jobs)

    def predict(self, image, roi=None, *, features=None) -> np.ndarray:
        """The most probable class of each voxel (values of ``classes_``), roi shape."""
        proba = self.predict_proba(image, roi, features=features)
        return self.classes_[np.argmax(proba, axis=0)].astype(np.uint8 if self.classes_.max() < 256 else np.int32)

    def predict_blockwise(self, image, *, chunks=None):
        """:meth:`predict` block by block: a lazy Dask array, for volumes whose features do not fit in memory.

        Each block is predicted from its own features plus the halo the
        filters need (:mod:`labtools.features.blockwise`); nothing is
        computed until the result is (``.compute()``, ``labtools.io.save``,
        ``dask.array.to_zarr``), and then only a few blocks are in memory at a
        time. With ``prediction="exact"`` the result equals ``predict(image)``
        voxel for voxel; "coarse_to_fine" settles each block on its own grid,
        so a few voxels near block borders may differ.

        Parameters
        ----------
        image : Image, numpy.ndarray or dask.array.Array
            A lazy Image (e.g. ``labtools.io.load("ct.ome.zarr")``) is read
            block by block.
        chunks : int or sequence of int, optional
            Block edge in voxels (rounded up to the pyramid grid); default
            :data:`labtools.features.blockwise.DEFAULT_BLOCK`.

        Returns
        -------
        dask.array.Array
            Spatial shape of the image, the dtype of :meth:`predict`.

        Examples
        --------
        >>> from labtools.datasets import phantom
        >>> image, labels = phantom((48, 48, 24), n_lesions=0, seed=0)
        >>> scribbles = np.zeros_like(labels); scribbles[::6, ::6, ::6] = labels[::6, ::6, ::6] + 1
        >>> clf = PixelClassifier(n_estimators=10, prediction="exact").fit(image, scribbles)
        >>> lazy = clf.predict_blockwise(image, chunks=32)
        >>> bool(np.array_equal(lazy.compute(), clf.predict(image)))
        True
        """
        from labtools.features.bank import bank_context
        from labtools.features.blockwise import map_blocks_with_halo
        from labtools.io.image import Image

        self._check_fitted()
        self._check_params()
        array, channel_axis = _array_and_channels(image)
        spatial = _spatial_shape(image)
        if self.sigma_unit == "mm" and not isinstance(image, Image):
            raise ParameterError("sigma_unit='mm' needs a labtools.io.Image (with its spacing), not a bare array")
        spacing = np.asarray(image.spacing if isinstance(image, Image) else np.ones(len(spatial)), dtype=float)
        halo, align = bank_context(self.sigmas, self.features, spacing if self.sigma_unit == "mm"
                                   else np.ones(len(spatial)), self.method)
        dtype = np.uint8 if self.classes_.max() < 256 else np.int32

        def region(crop, inner):
            block = Image(crop, spacing=spacing, channel_axis=0)
            return self.predict(block, roi=inner)[None]

        lazy = map_blocks_with_halo(region, array, channel_axis=channel_axis, halo=halo, align=align,
                                    chunks=chunks, out_channels=1, dtype=dtype)
        return lazy[0]

    def uncertainty(self, image, roi=None, kind: str = "margin", *, features=None) -> np.ndarray:
        """Per-voxel uncertainty in [0, 1]: ``"margin"`` 1 - (p1 - p2), or normalised ``"entropy"``."""
        return uncertainty_from_proba(self.predict_proba(image, roi, features=features), kind)

    def score(self, image, labels, *, features=None) -> float:
        """Share of the labelled voxels (``labels > 0``) predicted as their class."""
        labels = np.asarray(labels)
        mask = labels > 0
        return float(np.mean(self.predict(image, features=features)[mask] == labels[mask]))

    def suggest(self, image, n: int = 3, axis: int = -1, stride: int = 4, *, features=None) -> list[int]:
        """Slices along `axis` where labelling next helps most (highest mean uncertainty).

        Uncertainty is estimated on every `stride`-th voxel of the slice plane,
        which is `stride`² times cheaper than predicting everything.
        """
        self._check_fitted()
        shape = _spatial_shape(image)
        axis = axis % len(shape)
        features = self.transform(image) if features is None else features
        sample = [slice(None, None, stride)] * len(shape)
        scores = []
        for index in range(shape[axis]):
            sample[axis] = index
            flat = features[(slice(None), *sample)].reshape(features.shape[0], -1)
            scores.append(float(uncertainty_from_proba(self._proba(flat), "margin").mean()))
        return [int(i) for i in np.argsort(scores)[::-1][:n]]

    # --- persistence (labtools.pixel_classifier.files) ------------------------------------
    def save(self, path) -> None:
        """Write the fitted classifier to `path` (a ``.skops`` file that loads without running code).

        See :func:`labtools.pixel_classifier.files.save_classifier`.
        """
        from labtools.pixel_classifier.files import save_classifier

        save_classifier(self, path)

    @classmethod
    def load(cls, path, *, trust: bool = False) -> "PixelClassifier":
        """Read a classifier written by :meth:`save`.

        Files of labtools 0.1 (``.joblib`` pickles) are read only with
        ``trust=True``: unpickling runs whatever code the file holds. See
        :func:`labtools.pixel_classifier.files.load_classifier`.
        """
        from labtools.pixel_classifier.files import load_classifier

        return load_classifier(path, trust=trust)

    # --- helpers -------------------------------------------------------------------------
    def _check_params(self) -> None:
        """Parameter errors are ParameterError (a bad setting), not an invalid image."""
        if self.sigma_unit not in SIGMA_UNITS:
            raise ParameterError(f"sigma_unit must be one of {SIGMA_UNITS}, got {self.sigma_unit!r}")
        if self.method not in METHODS:
            raise ParameterError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.prediction not in _PREDICTIONS:
            raise ParameterError(f"prediction must be one of {_PREDICTIONS}, got {self.prediction!r}")
        if not self.sigmas or min(self.sigmas) <= 0:
            raise ParameterError(f"sigmas must be positive scales, got {tuple(self.sigmas)}")
        check_features(self.sigmas, self.features)  # names, or a grid {filter: scales}
        k = self.n_features_to_select
        if k is not None and (not isinstance(k, (int, np.integer)) or k < 1):
            raise ParameterError(f"n_features_to_select must be a positive number of channels or None, got {k!r}")

    @staticmethod
    def _check_classes(values) -> None:
        classes = np.unique(values)
        if len(classes) < 2:
            found = "no scribbles" if len(classes) == 0 else f"only class {classes[0]}"
            raise InvalidImageError(f"fit needs scribbles of at least 2 classes, found {found}; "
                                    "paint some voxels of each class you want to separate.")

    def _check_fitted(self) -> None:
        if not hasattr(self, "forest_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this PixelClassifier is not fitted yet; call fit(image, scribbles) first")


def _array_and_channels(image):
    from labtools.io.image import Image, is_lazy_array

    if isinstance(image, Image):
        return image.array, image.channel_axis
    return (image if is_lazy_array(image) else np.asarray(image)), None


def _spatial_shape(image) -> tuple:
    from labtools.io.image import Image

    return tuple(image.spatial_shape) if isinstance(image, Image) else np.shape(image)
