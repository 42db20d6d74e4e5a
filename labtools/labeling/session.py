"""The labeling session: image, scribbles, classifier, undo and autosave, without a GUI.

:class:`LabelingSession` is the state that the napari dock and the notebook
widget share. A user paints strokes (``add_stroke``), the session refits a
:class:`~labtools.pixel_classifier.PixelClassifier` on the scribbles and
predicts the part of the image on screen (``update``), and the whole
segmentation is exported as NIfTI with the image's affine (``export``).

Scribbles are a uint8 array of the image's spatial shape: 0 means "not
labelled", classes are 1..255. After every stroke, undo and redo they are
written to the autosave file (a temporary file renamed over the old one, so a
crash leaves either the previous or the new version, never half a file) and
restored when the image is opened again.

Examples
--------
>>> import numpy as np
>>> from labtools.labeling import LabelingSession
>>> session = LabelingSession(np.zeros((8, 8), np.float32))
>>> mask = np.zeros((8, 8), bool); mask[1:3, 1:4] = True
>>> session.add_stroke(mask, 1)       # voxels that changed
6
>>> session.add_stroke(([5, 6], [2, 2]), 2)
2
>>> session.class_counts()
{1: 6, 2: 2}
>>> session.undo(), session.class_counts()
(True, {1: 6})
>>> session.redo(), session.redo()
(True, False)
"""

from __future__ import annotations

import operator
import os
import threading
import warnings
from pathlib import Path

import numpy as np

from labtools import io
from labtools.errors import (
    CorruptFileError,
    FileFormatError,
    InvalidImageError,
    LabtoolsError,
    MissingFileError,
)
from labtools.labeling.files import (
    AUTOSAVE_SUFFIXES,
    file_stat,
    free_backup_name,
    same_file,
    scribbles_path_for,
)
from labtools.labeling.strokes import MAX_LABEL, Stroke, check_label, flat_indices

__all__ = ["LabelingSession"]

_ON_BAD_AUTOSAVE = ("raise", "backup")


class LabelingSession:
    """Image, scribbles, classifier and latest prediction of one labeling session.

    Parameters
    ----------
    image : Image or numpy.ndarray
        The image to label (2D or 3D, optionally with channels first). NaN or
        infinite values raise :class:`~labtools.errors.InvalidImageError`.
    classifier : PixelClassifier or path, optional
        The classifier to refit on the scribbles; a path loads a saved one.
        Default: ``PixelClassifier()``, created on the first :meth:`update`.
        A classifier that is already fitted is used as it is until the
        scribbles first change.
    scribbles : Image or numpy.ndarray, optional
        Initial scribbles, integers 0..255 of the image's spatial shape.
    autosave_path : str or pathlib.Path, optional
        NIfTI file (``.nii.gz`` or ``.nii``) written after every change. When it
        exists already, it is restored; its content is never replaced without
        being loaded first. None: no autosave.
    on_bad_autosave : {"raise", "backup"}
        What to do when the autosave file exists but cannot be used (corrupt,
        another shape or affine, values outside 0..255). "raise" (default)
        raises an error that names the file and leaves it untouched;
        "backup" renames it to ``<name>.bak`` (``.bak1``, ... if taken), warns,
        and starts from empty scribbles.

    Attributes
    ----------
    image : Image
        The image.
    classifier : PixelClassifier or None
        None until the first :meth:`update` when none was given.
    autosave_path : pathlib.Path or None
        Where the scribbles are saved after every change.
    restored_from : pathlib.Path or None
        The autosave file the scribbles were restored from, if any.
    backup_path : pathlib.Path or None
        Where an unusable autosave file was moved (``on_bad_autosave="backup"``).
    prediction, uncertainty : numpy.ndarray or None
        Result of the last :meth:`update`: uint8 classes and float32 values
        in [0, 1] (1 = most uncertain), both of the shape of `prediction_roi`.
    prediction_roi : tuple of slice or None
        The region those arrays cover.
    segmentation : numpy.ndarray or None
        The whole-image prediction of the last :meth:`predict_volume`.

    Raises
    ------
    InvalidImageError, ShapeMismatchError, AffineMismatchError, CorruptFileError, FileFormatError
        For a bad image, scribbles that do not fit it, or an unusable autosave file.

    Examples
    --------
    A 2D phantom, a few strokes per class, and a prediction of the whole slice:

    >>> import numpy as np
    >>> from labtools import datasets, metrics
    >>> from labtools.pixel_classifier import PixelClassifier
    >>> image, truth = datasets.phantom((48, 48), n_lesions=0, seed=0)
    >>> session = LabelingSession(image, classifier=PixelClassifier(n_estimators=20, n_jobs=1))
    >>> for label in (1, 2, 3):          # CSF, grey matter, white matter
    ...     rows, cols = np.nonzero(truth == label)
    ...     _ = session.add_stroke((rows[::15], cols[::15]), label)
    >>> _ = session.add_stroke((np.arange(4), np.arange(4)), 4)  # background as class 4
    >>> prediction, uncertainty = session.update()
    >>> prediction.shape, prediction.dtype, uncertainty.dtype
    ((48, 48), dtype('uint8'), dtype('float32'))
    >>> bool(metrics.dice(prediction == 3, truth == 3) > 0.8)
    True
    """

    def __init__(self, image, *, classifier=None, scribbles=None, autosave_path=None,
                 on_bad_autosave: str = "raise") -> None:
        if on_bad_autosave not in _ON_BAD_AUTOSAVE:
            raise InvalidImageError(
                f"on_bad_autosave must be one of {_ON_BAD_AUTOSAVE}, got {on_bad_autosave!r}")
        self.image = image if isinstance(image, io.Image) else io.Image(np.asarray(image))
        io.check_finite(self.image.array, name=self._image_name())
        self._shape = tuple(self.image.spatial_shape)
        self._size = int(np.prod(self._shape))
        self._index_dtype = np.uint32 if self._size < 2**32 else np.int64
        self.classifier = _as_classifier(classifier)
        self.autosave_path = None if autosave_path is None else Path(autosave_path)
        self.restored_from: Path | None = None
        self.backup_path: Path | None = None
        self._saved_stat = None  # (inode, mtime_ns, size) of the autosave file we last read or wrote
        self._lock = threading.RLock()        # scribbles, history, results
        self._fit_lock = threading.Lock()     # one fit/predict at a time (GUIs run them in workers)
        self._undo: list[Stroke] = []
        self._redo: list[Stroke] = []
        self._listeners: list = []
        self._version = 0
        # A classifier that arrives fitted is used as is until the scribbles change.
        self._fitted_version = 0 if _is_fitted(self.classifier) else None
        self._fitted_here = False  # whether the classifier has seen this image's features
        self.prediction = self.uncertainty = self.prediction_roi = None
        self.segmentation = None
        self._segmentation_version = None

        initial = None if scribbles is None else self._checked_scribbles(scribbles, "scribbles")
        if self.autosave_path is not None:
            self._check_autosave_path()
            restored = self._restore(on_bad_autosave)
            if restored is not None and initial is not None and not np.array_equal(restored, initial):
                raise InvalidImageError(
                    f"{self.autosave_path} already holds other scribbles ({_count(restored)} "
                    f"labelled voxels); they are not replaced. Open the session without "
                    "scribbles= to continue from them, or pass another autosave_path.")
            initial = restored if restored is not None else initial
        self._scribbles = np.zeros(self._shape, np.uint8) if initial is None else initial
        self._counts = np.bincount(self._scribbles.ravel(), minlength=MAX_LABEL + 1).astype(np.int64)

    @classmethod
    def open(cls, image_path, *, autosave_path=None, classifier=None,
             on_bad_autosave: str = "raise") -> "LabelingSession":
        """Open an image file and restore its scribbles, if any.

        Parameters
        ----------
        image_path : str or pathlib.Path
            Any image :func:`labtools.io.load` reads.
        autosave_path : str or pathlib.Path, optional
            Default: ``<image stem>_scribbles.nii.gz`` next to the image
            (:func:`scribbles_path_for`).
        classifier, on_bad_autosave
            As for :class:`LabelingSession`.

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> from labtools import io
        >>> path = io.save(np.zeros((6, 6), np.float32), os.path.join(tempfile.mkdtemp(), "t1.nii.gz"))
        >>> session = LabelingSession.open(path)
        >>> session.add_stroke((np.array([1, 2]), np.array([3, 3])), 2)
        2
        >>> session.autosave_path.name
        't1_scribbles.nii.gz'
        >>> LabelingSession.open(path).class_counts()    # restored from the autosave file
        {2: 2}
        """
        image = io.load(image_path)
        if autosave_path is None:
            autosave_path = scribbles_path_for(image_path)
        return cls(image, classifier=classifier, autosave_path=autosave_path,
                   on_bad_autosave=on_bad_autosave)

    # ------------------------------------------------------------------ state
    @property
    def scribbles(self) -> np.ndarray:
        """The scribbles (uint8, 0 = not labelled), read-only: change them with :meth:`add_stroke`."""
        view = self._scribbles.view()
        view.flags.writeable = False
        return view

    @property
    def can_undo(self) -> bool:
        """Whether :meth:`undo` has something to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether :meth:`redo` has something to redo."""
        return bool(self._redo)

    @property
    def needs_fit(self) -> bool:
        """Whether the scribbles changed since the classifier was last fitted."""
        return self._fitted_version != self._version

    def class_counts(self) -> dict[int, int]:
        """Number of labelled voxels per class, for classes that have any.

        Examples
        --------
        >>> s = LabelingSession(np.zeros((4, 4)))
        >>> _ = s.add_stroke(np.s_[0, :], 3)
        >>> s.class_counts()
        {3: 4}
        """
        return {int(k): int(self._counts[k]) for k in np.flatnonzero(self._counts[1:]) + 1}

    def on_change(self, callback):
        """Call ``callback(kind)`` after every change; returns a function that disconnects it.

        `kind` is ``"stroke"``, ``"undo"``, ``"redo"``, ``"update"`` (a new
        :attr:`prediction`) or ``"volume"`` (a new :attr:`segmentation`).
        Callbacks run in the thread that made the change, after the autosave.

        Examples
        --------
        >>> s = LabelingSession(np.zeros((4, 4)))
        >>> seen = []
        >>> disconnect = s.on_change(seen.append)
        >>> _ = s.add_stroke(np.s_[1, 1], 1); _ = s.undo()
        >>> disconnect(); _ = s.redo()
        >>> seen
        ['stroke', 'undo']
        """
        self._listeners.append(callback)

        def disconnect() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return disconnect

    # ---------------------------------------------------------------- strokes
    def add_stroke(self, index, label: int) -> int:
        """Paint `label` at the voxels `index` selects; label 0 erases.

        Parameters
        ----------
        index
            The voxels, as one of: a boolean mask of the image's spatial shape;
            a tuple of one integer coordinate array (or int) per axis, as
            ``numpy.nonzero`` returns; an integer array of points, shape
            ``(n, ndim)``; or a tuple of slices and ints (``np.s_[3, 10:20]``).
            Coordinates must lie inside the image (no negative indices).
        label : int
            0..255.

        Returns
        -------
        int
            The number of voxels whose value changed. A stroke that changes
            nothing is not recorded (nothing to undo, redo kept, no autosave).

        Raises
        ------
        InvalidImageError, ShapeMismatchError
            For a bad label or index; nothing has changed then.

        Examples
        --------
        >>> s = LabelingSession(np.zeros((4, 4)))
        >>> s.add_stroke(np.array([[0, 0], [0, 1], [0, 1]]), 2)   # duplicates count once
        2
        >>> s.add_stroke(np.s_[0, :], 2)
        2
        >>> s.add_stroke((np.array([4]), np.array([0])), 1)
        Traceback (most recent call last):
        ...
        labtools.errors.InvalidImageError: stroke outside the image: axis 0 has coordinates 4..4, the image has 4 voxels along it (0..3). Nothing was painted.
        """
        label = check_label(label)
        with self._lock:
            indices = flat_indices(index, self._shape, self._index_dtype)
            flat = self._scribbles.reshape(-1)
            previous = flat[indices]
            changed = previous != label
            if not changed.all():
                indices, previous = indices[changed], previous[changed]
            if indices.size == 0:
                return 0
            stroke = Stroke(indices, previous, label)
            self._apply(stroke, undo=False)
            self._undo.append(stroke)
            self._redo.clear()
            self._changed()
        self._autosave_and_notify("stroke")
        return int(indices.size)

    def undo(self) -> bool:
        """Undo the last stroke exactly; False when there is none.

        Examples
        --------
        >>> s = LabelingSession(np.zeros((4, 4)))
        >>> s.undo()
        False
        """
        with self._lock:
            if not self._undo:
                return False
            stroke = self._undo.pop()
            self._apply(stroke, undo=True)
            self._redo.append(stroke)
            self._changed()
        self._autosave_and_notify("undo")
        return True

    def redo(self) -> bool:
        """Redo the last undone stroke; False when there is none (or a new stroke cleared it)."""
        with self._lock:
            if not self._redo:
                return False
            stroke = self._redo.pop()
            self._apply(stroke, undo=False)
            self._undo.append(stroke)
            self._changed()
        self._autosave_and_notify("redo")
        return True

    def _apply(self, stroke: Stroke, *, undo: bool) -> None:
        flat = self._scribbles.reshape(-1)
        old_counts = np.bincount(stroke.previous, minlength=MAX_LABEL + 1)
        if undo:
            flat[stroke.indices] = stroke.previous
            self._counts += old_counts
            self._counts[stroke.label] -= stroke.indices.size
        else:
            flat[stroke.indices] = stroke.label
            self._counts -= old_counts
            self._counts[stroke.label] += stroke.indices.size

    def _changed(self) -> None:
        self._version += 1

    # ------------------------------------------------------------- prediction
    def update(self, roi=None):
        """Refit the classifier if the scribbles changed, then predict `roi`.

        Parameters
        ----------
        roi : tuple of slice or int, optional
            The region to predict, one entry per spatial axis, e.g.
            ``np.s_[:, :, 40:41]`` for the slice on screen; an int ``i`` means
            ``i:i+1`` (the axis is kept). Missing trailing entries mean the
            whole axis. Default: the whole image.

        Returns
        -------
        prediction : numpy.ndarray
            uint8 classes, the roi's shape (also stored as :attr:`prediction`).
        uncertainty : numpy.ndarray
            float32 in [0, 1], as ``classifier.uncertainty(kind="margin")``
            (also stored as :attr:`uncertainty`).

        Raises
        ------
        InvalidImageError
            When fewer than two classes are painted and the classifier is not
            fitted yet, or for a bad roi.
        """
        roi = self._normalize_roi(roi)
        with self._fit_lock:
            classifier = self._fit_if_needed()
            if hasattr(classifier, "cache_features"):  # the first update pays for all later ones
                classifier.cache_features(self.image)
            probabilities = classifier.predict_proba(self.image, roi=roi)
        prediction, uncertainty = _labels_and_margin(probabilities, classifier)
        with self._lock:
            self.prediction, self.uncertainty, self.prediction_roi = prediction, uncertainty, roi
        self._notify("update")
        return prediction, uncertainty

    def predict_volume(self, *, progress: bool = True, callback=None, slab: int | None = None):
        """Predict the whole image, one slab along the last axis at a time.

        Parameters
        ----------
        progress : bool
            Show a tqdm progress bar.
        callback : callable, optional
            ``callback(done, total)`` after each slab; returning False cancels.
        slab : int, optional
            Slab thickness in voxels along the last axis; default about 1/20
            of it (at least 1). A classifier that was fitted elsewhere and not
            yet refitted in this session predicts in one go instead.

        Returns
        -------
        numpy.ndarray or None
            uint8 classes of the image's spatial shape (also stored as
            :attr:`segmentation`), or None when cancelled.
        """
        n = self._shape[-1]
        slab = max(1, -(-n // 20)) if slab is None else int(slab)
        if slab < 1:
            raise InvalidImageError(f"slab must be at least 1 voxel, got {slab}")
        with self._fit_lock:
            segmentation = self._predict_slabs(slab, progress, callback)
        if segmentation is None:
            return None
        self._notify("volume")
        return segmentation

    def _predict_slabs(self, slab: int, progress: bool, callback):
        from tqdm.auto import tqdm

        classifier = self._fit_if_needed()
        version, n = self._fitted_version, self._shape[-1]
        if not self._fitted_here:
            # A classifier fitted elsewhere has no features of this image yet; slabs would each
            # compute theirs with a halo of up to ~50 voxels, so build them all in one go.
            slab = n
        segmentation = np.zeros(self._shape, np.uint8)
        with tqdm(total=n, desc="predict", unit="slice", disable=not progress) as bar:
            for start in range(0, n, slab):
                roi = (slice(None),) * (len(self._shape) - 1) + (slice(start, min(start + slab, n)),)
                segmentation[roi] = classifier.predict(self.image, roi=None if slab == n else roi)
                bar.update(roi[-1].stop - start)
                if callback is not None and callback(roi[-1].stop, n) is False:
                    return None
        with self._lock:
            self.segmentation, self._segmentation_version = segmentation, version
        return segmentation

    def export(self, path, *, progress: bool = False) -> Path:
        """Write the whole segmentation to `path` with the image's affine.

        Reuses :attr:`segmentation` when it is up to date with the scribbles,
        else predicts the whole image first. The values are the scribble
        classes (0 does not occur: every voxel gets a class). The file is
        written atomically, in the format its suffix names.

        Returns
        -------
        pathlib.Path
            The written file.

        Raises
        ------
        InvalidImageError
            When `path` is the image or the autosave file (they would be lost).
        """
        path = Path(path)
        io.file_format(path)
        for protected, what in ((self.image.path, "the image"), (self.autosave_path, "the autosave file")):
            if protected is not None and same_file(path, protected):
                raise InvalidImageError(f"{path} is {what} of this session; export elsewhere.")
        fresh = (self.segmentation is not None and not self.needs_fit
                 and self._segmentation_version == self._fitted_version)
        segmentation = self.segmentation if fresh else self.predict_volume(progress=progress)
        return io.save(self.image.with_array(segmentation), path)

    def set_classifier(self, classifier) -> None:
        """Go on with another classifier (new features, or one loaded from a file).

        Scribbles, undo history and autosave stay as they are. A fitted
        classifier is used as is until the scribbles change; an unfitted one
        is fitted on the current scribbles at the next update. Results of the
        old classifier are dropped.

        Examples
        --------
        >>> from labtools.pixel_classifier import PixelClassifier
        >>> session = LabelingSession(np.zeros((8, 8), np.float32))
        >>> _ = session.add_stroke(([1], [1]), 1)
        >>> session.set_classifier(PixelClassifier(sigmas=(1.0,)))
        >>> session.needs_fit, session.can_undo
        (True, True)
        """
        classifier = _as_classifier(classifier)
        with self._fit_lock, self._lock:  # never while a fit or a prediction runs
            self.classifier = classifier
            self._fitted_version = self._version if _is_fitted(classifier) else None
            self._fitted_here = False
            self.prediction = self.uncertainty = self.prediction_roi = None
            self.segmentation = self._segmentation_version = None
        self._notify("classifier")

    def _fit_if_needed(self):
        with self._lock:
            if not self.needs_fit:
                return self.classifier
            present = self.class_counts()
            if len(present) < 2:
                have = ("no scribbles yet" if not present else
                        f"only class {next(iter(present))} ({next(iter(present.values()))} voxels)")
                raise InvalidImageError(
                    f"{self._image_name()}: cannot train the classifier: {have}. Paint at least "
                    "two classes (e.g. the structure and its background).")
            scribbles, version = self._scribbles.copy(), self._version
        if self.classifier is None:
            from labtools.pixel_classifier import PixelClassifier

            self.classifier = PixelClassifier()
        self.classifier.fit(self.image, scribbles)  # outside the lock: strokes may go on meanwhile
        with self._lock:
            self._fitted_version, self._fitted_here = version, True
        return self.classifier

    def _normalize_roi(self, roi) -> tuple[slice, ...]:
        if roi is None:
            return tuple(slice(0, n) for n in self._shape)
        roi = roi if isinstance(roi, tuple) else (roi,)
        if len(roi) > len(self._shape):
            raise InvalidImageError(f"roi {roi} has {len(roi)} entries, the image has "
                                    f"{len(self._shape)} axes")
        out = []
        for axis, n in enumerate(self._shape):
            item = roi[axis] if axis < len(roi) else slice(None)
            if isinstance(item, slice):
                start, stop, step = item.indices(n)
                if step != 1:
                    raise InvalidImageError(f"roi {roi}: slices must have step 1")
            else:
                try:
                    start = operator.index(item)
                except TypeError:
                    raise InvalidImageError(f"roi {roi}: entries must be slices or ints") from None
                if not 0 <= start < n:
                    raise InvalidImageError(f"roi {roi}: index {start} outside axis {axis} (0..{n - 1})")
                stop = start + 1
            if stop <= start:
                raise InvalidImageError(f"roi {roi}: empty along axis {axis}")
            out.append(slice(start, stop))
        return tuple(out)

    # --------------------------------------------------------------- autosave
    def save_scribbles(self, path=None) -> Path:
        """Write the scribbles (with the image's affine) to `path`, default the autosave file.

        Writing the autosave file refuses to replace a version that another
        program wrote since this session last read or wrote it.
        """
        target = self.autosave_path if path is None else Path(path)
        if target is None:
            raise MissingFileError("this session has no autosave_path; pass a path to save to")
        with self._lock:
            data = self.image.with_array(self._scribbles.copy())
            guard = self.autosave_path is not None and same_file(target, self.autosave_path)
            if guard:
                self._check_not_changed_elsewhere()
            try:
                io.save(data, target)
            except LabtoolsError:
                raise
            except OSError as err:  # permission denied, disk full: io.save lets these through
                raise CorruptFileError(f"{target}: cannot write the scribbles ({err})") from err
            if guard:
                self._saved_stat = file_stat(target)
        return target

    def _autosave_and_notify(self, kind: str) -> None:
        try:
            if self.autosave_path is not None:
                try:
                    self.save_scribbles()
                except LabtoolsError as err:
                    raise type(err)(f"{err} The change is kept in memory but is NOT saved; fix the "
                                    "problem and call save_scribbles(), or save elsewhere with "
                                    "save_scribbles(path).") from err
        finally:
            self._notify(kind)

    def _notify(self, kind: str) -> None:
        for callback in list(self._listeners):
            callback(kind)

    def _check_autosave_path(self) -> None:
        path = self.autosave_path
        if not path.name.lower().endswith(AUTOSAVE_SUFFIXES):
            raise FileFormatError(f"{path}: autosave files are NIfTI (.nii.gz or .nii), so that "
                                  "they keep the image's geometry")
        if not path.parent.is_dir():
            raise MissingFileError(f"{path}: the folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK):
            raise CorruptFileError(f"{path}: the folder {path.parent} is not writable, so the "
                                   "scribbles could not be autosaved; pass another autosave_path")

    def _restore(self, on_bad_autosave: str) -> np.ndarray | None:
        path = self.autosave_path
        if not path.exists():
            return None
        stat = file_stat(path)
        try:
            saved = io.load(path)
            scribbles = self._checked_scribbles(saved, str(path))
        except LabtoolsError as err:
            if on_bad_autosave == "raise":
                raise type(err)(
                    f"cannot restore the scribbles from {path}: {err} The file was left as it is. "
                    "Move it away (or open with on_bad_autosave='backup' to have it renamed to "
                    f"{free_backup_name(path).name}) to start with empty scribbles.") from err
            self.backup_path = free_backup_name(path)
            os.replace(path, self.backup_path)
            warnings.warn(f"{path} could not be restored ({err}); it was moved to "
                          f"{self.backup_path} and the session starts with empty scribbles.",
                          UserWarning, stacklevel=4)
            return None
        self.restored_from, self._saved_stat = path, stat
        return scribbles

    def _check_not_changed_elsewhere(self) -> None:
        current = file_stat(self.autosave_path)
        if current is not None and current != self._saved_stat:
            raise CorruptFileError(
                f"{self.autosave_path} was written by another program (or another session) "
                "since this session read it; it is not overwritten. Save these scribbles "
                "elsewhere with save_scribbles(path), or reopen the image to continue from the file.")

    # ------------------------------------------------------------- validation
    def _checked_scribbles(self, scribbles, name: str) -> np.ndarray:
        io.check_pair(self.image, scribbles)  # shape, affine (for an Image), integer values
        array = scribbles.array if isinstance(scribbles, io.Image) else np.asarray(scribbles)
        if array.dtype == bool:
            return array.astype(np.uint8)
        if array.dtype.kind not in "iuf":
            raise InvalidImageError(
                f"{name}: scribbles must be integers 0..{MAX_LABEL}, got dtype {array.dtype}")
        if array.size and (array.min() < 0 or array.max() > MAX_LABEL):
            raise InvalidImageError(
                f"{name}: scribble values must lie in 0..{MAX_LABEL} (0 = not labelled), "
                f"found {array.min():g}..{array.max():g}")
        return np.ascontiguousarray(array, dtype=np.uint8).copy()

    def _image_name(self) -> str:
        return self.image.path.name if self.image.path else "image"

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}: {v}" for k, v in self.class_counts().items()) or "none"
        where = f", autosave='{self.autosave_path}'" if self.autosave_path else ""
        return (f"LabelingSession(image={self.image!r}, scribbles={{{counts}}}, "
                f"strokes={len(self._undo)}{where})")


def _as_classifier(classifier):
    if classifier is None or not isinstance(classifier, (str, os.PathLike)):
        return classifier
    from labtools.pixel_classifier import PixelClassifier

    return PixelClassifier.load(classifier)


def _is_fitted(classifier) -> bool:
    return classifier is not None and hasattr(classifier, "classes_")


def _count(scribbles: np.ndarray) -> int:
    return int(np.count_nonzero(scribbles))


def _labels_and_margin(probabilities: np.ndarray, classifier) -> tuple[np.ndarray, np.ndarray]:
    """Class map and margin uncertainty from (K, ...) probabilities, as the classifier defines them."""
    from labtools.pixel_classifier import uncertainty_from_proba

    classes = np.asarray(classifier.classes_)
    labels = classes[np.argmax(probabilities, axis=0)].astype(np.uint8)
    return labels, uncertainty_from_proba(probabilities, "margin")
