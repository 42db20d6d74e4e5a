"""The feature bank of the image being labelled: what is asked for first, the rest in the background.

A 1 mm brain's bank takes ~9 s on 2 cores; an annotator's first stroke should
not wait for it. :class:`FeatureCache` answers a region (the slice on screen,
the box around a stroke) by computing just that region plus the halo its
filters need (~0.4 s for a 1 mm slice), and builds the whole bank slab by
slab in a background thread; once that is done every request is a view of
it. Values are the same either way (:func:`labtools.features.feature_stack`
computes a region exactly as the same part of the whole image), in the same
type in both (:func:`bank_dtype`: float16, half the memory, when the image's
intensity range keeps every feature within float16's range; float32 for raw
CT or 12-bit MRI values), so a forest trained on a region's rows predicts the
whole bank alike.

The cache belongs to the session, not to the classifier: the estimator stays
a plain scikit-learn object, and a new classifier with the same feature
settings keeps the bank.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np

from labtools.errors import LabtoolsError

__all__ = ["FeatureCache", "feature_settings", "bank_dtype", "FLOAT16_SAFE_RANGE"]

_SLABS = 6          # background slabs along the last axis: ~3 % slower than one go, cancellable
_REGIONS_KEPT = 6   # regions remembered until the whole bank is ready (planes, stroke boxes)

#: Largest intensity range (max - min) whose features all fit in float16 (largest 65504). The
#: structure tensor squares gradients; a gradient at the smallest derivative scale (σ = 0.5) is
#: at most range / (σ √(2π)) ≈ 0.8 range, so its square stays below 65504 up to a range of ~320.
#: 8-bit images and normalised ones qualify; CT in HU or raw 12-bit MRI do not.
FLOAT16_SAFE_RANGE = 300.0


def bank_dtype(image) -> type:
    """float16 for an image whose features cannot overflow it, else float32 (always for a lazy image).

    Examples
    --------
    >>> from labtools import io
    >>> bank_dtype(io.Image(np.array([[0, 255], [3, 7]], np.uint8))).__name__
    'float16'
    >>> bank_dtype(io.Image(np.array([[-1000, 700], [40, 60]], np.int16))).__name__
    'float32'
    """
    if image.is_lazy:  # regions only: small, and the range would need a pass over the volume
        return np.float32
    array = image.array
    return np.float16 if float(array.max()) - float(array.min()) <= FLOAT16_SAFE_RANGE else np.float32


def feature_settings(classifier) -> tuple:
    """The parameters that decide a classifier's feature bank (a new bank when they change)."""
    params = classifier.get_params()
    features = params["features"]
    features = (tuple((name, tuple(scales)) for name, scales in features.items()) if isinstance(features, dict)
                else tuple(features))
    return (tuple(params["sigmas"]), features, params["sigma_unit"], params["method"],
            tuple(params.get("in_plane", ())))


class FeatureCache:
    """Feature bank of `image` for `classifier`'s settings, computed on demand.

    Parameters
    ----------
    image : labtools.io.Image
        The image being labelled.
    classifier : PixelClassifier
        Decides the bank (:meth:`~labtools.pixel_classifier.PixelClassifier.transform`).

    Examples
    --------
    >>> import numpy as np
    >>> from labtools import io
    >>> from labtools.pixel_classifier import PixelClassifier
    >>> image = io.Image(np.random.default_rng(0).random((16, 16, 8)).astype(np.float32))
    >>> cache = FeatureCache(image, PixelClassifier(sigmas=(1.0,), features=("gaussian",)))
    >>> cache.region(np.s_[:, :, 3:4]).shape        # computed on its own, whole bank not built
    (1, 16, 16, 1)
    >>> cache.ready
    False
    >>> cache.whole().shape, cache.ready
    ((1, 16, 16, 8), True)
    """

    def __init__(self, image, classifier) -> None:
        self.image = image
        self.classifier = classifier
        self.settings = feature_settings(classifier)
        self._shape = tuple(image.spatial_shape)
        self.dtype = bank_dtype(image)
        self._whole: np.ndarray | None = None
        self._regions: OrderedDict = OrderedDict()
        self._lock = threading.Lock()          # the region memo and the whole bank
        self._build_lock = threading.Lock()    # one builder of the whole bank at a time
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def holds_whole(self) -> bool:
        """Whether the whole bank may be built: not for a lazy (Zarr, bigger than memory) image,
        whose features are only ever computed region by region, block by block."""
        return not self.image.is_lazy

    @property
    def ready(self) -> bool:
        """Whether the whole bank is built."""
        return self._whole is not None

    def matches(self, classifier) -> bool:
        """Whether `classifier` uses this bank."""
        return feature_settings(classifier) == self.settings

    # ----------------------------------------------------------------- regions
    def region(self, roi) -> np.ndarray:
        """Features of `roi` (a tuple of slices), ``(n_channels, *roi_shape)``."""
        roi = tuple(roi)
        whole = self._whole
        if whole is not None:
            return whole[(slice(None), *roi)]
        key = tuple((s.start, s.stop) for s in roi)
        with self._lock:
            if key in self._regions:
                self._regions.move_to_end(key)
                return self._regions[key]
        features = self.classifier.transform(self.image, roi=roi, dtype=self.dtype)
        with self._lock:
            self._regions[key] = features
            while len(self._regions) > _REGIONS_KEPT:
                self._regions.popitem(last=False)
        return features

    def rows(self, flat_indices: np.ndarray) -> np.ndarray:
        """Feature rows ``(n, n_channels)`` float32 of voxels given by flat indices.

        Without the whole bank, only the box around these voxels is computed
        (a stroke on one slice: that slice's part).
        """
        flat_indices = np.asarray(flat_indices)
        whole = self._whole
        if whole is not None:
            return whole.reshape(whole.shape[0], -1)[:, flat_indices].T.astype(np.float32)
        coords = np.unravel_index(flat_indices, self._shape)
        box = tuple(slice(int(c.min()), int(c.max()) + 1) for c in coords)
        # A region computed already (the slice on screen) usually holds a stroke painted on it.
        held = self._holding(box)
        origin, features = held if held is not None else ([b.start for b in box], self.region(box))
        local = tuple(c - o for c, o in zip(coords, origin))
        return features[(slice(None), *local)].T.astype(np.float32)

    def _holding(self, box):
        """``(origin, features)`` of a remembered region that contains `box`, or None."""
        with self._lock:
            for key, features in reversed(self._regions.items()):
                if all(start <= b.start and b.stop <= stop for (start, stop), b in zip(key, box)):
                    return [start for start, _ in key], features
        return None

    # -------------------------------------------------------------- whole bank
    def whole(self) -> np.ndarray:
        """The whole bank (:attr:`dtype`), built now if the background has not finished."""
        if not self.holds_whole:
            raise LabtoolsError(f"{self.image.path or 'this image'} is read lazily (bigger than memory): its "
                                "whole feature bank is never built; predict it block by block "
                                "(PixelClassifier.predict_blockwise)")
        if self._whole is None:
            self._build()
        if self._whole is None:
            raise LabtoolsError("building the features was cancelled (the session is closing)")
        return self._whole

    def start_background(self) -> None:
        """Build the whole bank in a daemon thread (slab by slab; :meth:`close` stops it)."""
        if self._whole is not None or self._thread is not None or not self.holds_whole:
            return
        self._thread = threading.Thread(target=self._background, name="labtools-features", daemon=True)
        self._thread.start()

    def close(self, timeout: float | None = None) -> None:
        """Stop the background build after its current slab and wait for it."""
        self._cancel.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _background(self) -> None:
        try:
            # Below the strokes, fits and slice predictions the user waits for (Linux: per
            # thread, and the filter threads it starts inherit it). On 2 cores this matters.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):  # not Linux, or not allowed
            pass
        try:
            self._build()
        except Exception:  # noqa: BLE001 - whoever needs the bank next builds it and sees the error
            pass

    def _build(self) -> None:
        with self._build_lock:
            if self._whole is not None:
                return
            first = self.classifier.transform(self.image, roi=self._slab(0), dtype=self.dtype)
            bank = np.empty((first.shape[0], *self._shape), self.dtype)
            bank[(slice(None), *self._slab(0))] = first
            for index in range(1, _SLABS):
                if self._cancel.is_set():
                    return
                roi = self._slab(index)
                if roi[-1].stop > roi[-1].start:
                    bank[(slice(None), *roi)] = self.classifier.transform(self.image, roi=roi, dtype=self.dtype)
            with self._lock:
                self._whole = bank
                self._regions.clear()

    def _slab(self, index: int) -> tuple:
        n = self._shape[-1]
        bounds = np.linspace(0, n, _SLABS + 1).round().astype(int)
        start, stop = int(bounds[index]), int(bounds[index + 1])
        if index == 0:
            stop = max(stop, 1)
        return (*(slice(0, s) for s in self._shape[:-1]), slice(start, stop))
