"""The labeling session: the one owner of scribbles, classes, undo, autosave, features and prediction.

A user paints strokes (:meth:`LabelingSession.add_stroke`); the session
records each one (undo/redo, the autosave log), tells its training samples
which voxels changed, and on :meth:`~LabelingSession.update` refits the
classifier from those samples (a few trees when strokes only added voxels)
and predicts the region on screen from its feature cache. Views (the napari
dock, the notebook widget) pass strokes in and draw what comes back; a view
that paints in place (napari) shares :attr:`~LabelingSession.scribbles_buffer`
and passes the values it overwrote, so no volume is copied per stroke.

Scribbles are uint8: 0 = not labelled, classes 1..255. Predictions and
exports are label maps in the class table's values (background 0 by default,
:mod:`labtools.labeling.classes`).

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

import os
import threading
from pathlib import Path

import numpy as np

from labtools import io
from labtools.errors import InvalidImageError, MissingFileError, ParameterError
from labtools.labeling.autosave import ON_BAD_AUTOSAVE, Autosave
from labtools.labeling.classes import ClassTable, label_file_for
from labtools.labeling.feature_cache import FeatureCache
from labtools.labeling.files import same_file, scribbles_path_for
from labtools.labeling.regions import normalize_roi
from labtools.labeling.samples import TrainingSamples
from labtools.labeling.strokes import MAX_LABEL, Stroke, check_label, flat_indices
from labtools.labeling.votes import SliceVotes

__all__ = ["LabelingSession"]


class LabelingSession:
    """Image, scribbles, classes, classifier and latest prediction of one labeling session.

    Parameters
    ----------
    image : Image or numpy.ndarray
        The image to label (2D or 3D, optionally with channels first: the
        channels are used together as features). NaN or infinite values raise
        :class:`~labtools.errors.InvalidImageError`.
    classifier : PixelClassifier or path, optional
        The classifier to refit on the scribbles; a path loads a saved one
        (``.skops``). Default: ``PixelClassifier()``. A fitted classifier is
        used as it is until the scribbles first change.
    scribbles : Image or numpy.ndarray, optional
        Initial scribbles, integers 0..255 of the image's spatial shape.
    autosave_path : str or pathlib.Path, optional
        NIfTI snapshot (``.nii.gz`` or ``.nii``); every change is appended to a
        log next to it (``<stem>.strokes``), so a crash loses at most the
        stroke being written, and the snapshot is rewritten now and then and
        on :meth:`close`. Existing files are restored, never replaced unread.
        None: no autosave.
    on_bad_autosave : {"raise", "backup"}
        An unusable autosave file: raise an error that names it (default) or
        rename it to ``<name>.bak`` and start empty.
    classes : ClassTable or sequence of str, optional
        Names (and exported values) of the classes; default: class 1 is the
        background (exported as 0), class k exports as k-1. Classes painted
        beyond the table are added to it.
    compact_every : int
        Logged changes after which the snapshot is rewritten.

    Attributes
    ----------
    image : Image
    classifier : PixelClassifier
    classes : ClassTable
    autosave_path : pathlib.Path or None
    restored_from, backup_path : pathlib.Path or None
        Where scribbles were restored from; where an unusable file was moved.
    prediction, uncertainty : numpy.ndarray or None
        Result of the last :meth:`update` (label values; float32 in [0, 1],
        1 = most uncertain), of the shape of `prediction_roi`.
    segmentation : numpy.ndarray or None
        The whole-image label map of the last :meth:`predict_volume`.

    Examples
    --------
    A 2D phantom, a few strokes per class, and a prediction of the whole slice:

    >>> import numpy as np
    >>> from labtools import datasets, metrics
    >>> from labtools.pixel_classifier import PixelClassifier
    >>> image, truth = datasets.phantom((48, 48), n_lesions=0, seed=0)   # 0 = background
    >>> session = LabelingSession(image, classifier=PixelClassifier(n_estimators=20, n_jobs=1),
    ...                           classes=["background", "CSF", "grey matter", "white matter"])
    >>> for value in (0, 1, 2, 3):
    ...     rows, cols = np.nonzero(truth == value)
    ...     _ = session.add_stroke((rows[::15], cols[::15]), value + 1)   # scribble classes 1..4
    >>> prediction, uncertainty = session.update()
    >>> prediction.shape, prediction.dtype, uncertainty.dtype
    ((48, 48), dtype('uint8'), dtype('float32'))
    >>> bool(metrics.dice(prediction == 3, truth == 3) > 0.8)      # the phantom's own values
    True
    """

    def __init__(self, image, *, classifier=None, scribbles=None, autosave_path=None,
                 on_bad_autosave: str = "raise", classes=None, compact_every: int = 500) -> None:
        if on_bad_autosave not in ON_BAD_AUTOSAVE:
            raise ParameterError(f"on_bad_autosave must be one of {ON_BAD_AUTOSAVE}, got {on_bad_autosave!r}")
        self.image = image if isinstance(image, io.Image) else io.Image(image)
        if not self.image.is_lazy:  # a lazy image is checked region by region as it is read
            io.check_finite(self.image.array, name=self._image_name())
        self._shape = tuple(self.image.spatial_shape)
        self._index_dtype = np.uint32 if int(np.prod(self._shape)) < 2**32 else np.int64
        self.classifier = _as_classifier(classifier)
        self.classes = _as_class_table(classes)
        self._lock = threading.RLock()        # scribbles, history, results
        self._fit_lock = threading.Lock()     # one fit/predict at a time (GUIs run them in workers)
        self._closing = threading.Event()
        self._undo: list[Stroke] = []
        self._redo: list[Stroke] = []
        self._listeners: list = []
        self._version = 0
        self._fitted_version = 0 if _is_fitted(self.classifier) else None
        self.prediction = self.uncertainty = self.prediction_roi = None
        self.segmentation = self.volume_uncertainty = None
        self._segmentation_version = None

        initial = None if scribbles is None else self._checked_scribbles(scribbles, "scribbles")
        self._autosave = None
        self.autosave_path = self.restored_from = self.backup_path = None
        if autosave_path is not None:
            self._autosave = Autosave(autosave_path, self.image, self._checked_scribbles, compact_every)
            self.autosave_path = self._autosave.path
            restored = self._autosave.restore(on_bad_autosave)
            self.restored_from, self.backup_path = self._autosave.restored_from, self._autosave.backup_path
            if restored is not None and initial is not None and not np.array_equal(restored, initial):
                raise InvalidImageError(
                    f"{self.autosave_path} already holds other scribbles ({np.count_nonzero(restored)} "
                    f"labelled voxels); they are not replaced. Open the session without "
                    "scribbles= to continue from them, or pass another autosave_path.")
            initial = restored if restored is not None else initial
        self._scribbles = np.zeros(self._shape, np.uint8) if initial is None else initial
        self._samples = TrainingSamples(self._scribbles)
        for value in self._samples.classes():
            self.classes = self.classes.with_class(int(value))
        self._features = FeatureCache(self.image, self.classifier)
        self._votes = SliceVotes()

    @classmethod
    def open(cls, image_path, *, autosave_path=None, classifier=None, on_bad_autosave: str = "raise",
             classes=None) -> "LabelingSession":
        """Open an image file and restore its scribbles, if any.

        Parameters
        ----------
        image_path : str or pathlib.Path
            Any image :func:`labtools.io.load` reads.
        autosave_path : str or pathlib.Path, optional
            Default: ``<image stem>_scribbles.nii.gz`` next to the image
            (:func:`scribbles_path_for`).
        classifier, on_bad_autosave, classes
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
        >>> LabelingSession.open(path).class_counts()    # restored (the log, even before close())
        {2: 2}
        """
        image = io.load(image_path)
        if autosave_path is None:
            autosave_path = scribbles_path_for(image_path)
        return cls(image, classifier=classifier, autosave_path=autosave_path,
                   on_bad_autosave=on_bad_autosave, classes=classes)

    # ------------------------------------------------------------------ state
    @property
    def scribbles(self) -> np.ndarray:
        """The scribbles (uint8, 0 = not labelled), read-only: change them with :meth:`add_stroke`."""
        view = self._scribbles.view()
        view.flags.writeable = False
        return view

    @property
    def scribbles_buffer(self) -> np.ndarray:
        """The scribble array itself, for a view that paints in place (napari's Labels layer).

        Whatever is painted into it must be reported at once with
        ``add_stroke(index, label, previous=old_values)``; the session then
        records, autosaves and learns from it as from any stroke.
        """
        return self._scribbles

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
        """Number of labelled voxels per scribble class, for classes that have any.

        Examples
        --------
        >>> s = LabelingSession(np.zeros((4, 4)))
        >>> _ = s.add_stroke(np.s_[0, :], 3)
        >>> s.class_counts()
        {3: 4}
        """
        return self._samples.counts()

    def on_change(self, callback):
        """Call ``callback(kind)`` after every change; returns a function that disconnects it.

        `kind` is ``"stroke"``, ``"undo"``, ``"redo"``, ``"update"`` (a new
        :attr:`prediction`), ``"volume"`` (a new :attr:`segmentation`),
        ``"classifier"`` or ``"classes"``. Callbacks run in the thread that
        made the change, after the autosave; :attr:`last_stroke` is the
        stroke a ``"stroke"``, ``"undo"`` or ``"redo"`` applied.

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

    def rename_class(self, scribble: int, name: str) -> None:
        """Call class `scribble` `name` (legends, exports' label files)."""
        self.classes = self.classes.with_class(check_label(scribble)).renamed(scribble, str(name))
        self._notify("classes")

    # ---------------------------------------------------------------- strokes
    def add_stroke(self, index, label: int, *, previous=None) -> int:
        """Paint `label` at the voxels `index` selects; label 0 erases.

        Parameters
        ----------
        index
            The voxels: a boolean mask of the image's spatial shape; a tuple
            of one integer coordinate array (or int) per axis, as
            ``numpy.nonzero`` returns; an integer array of points ``(n,
            ndim)``; or a tuple of slices and ints (``np.s_[3, 10:20]``).
        label : int
            0..255.
        previous : numpy.ndarray, optional
            For a view that already painted `label` into
            :attr:`scribbles_buffer`: the values those voxels held before, in
            the order of `index` (a tuple of coordinate arrays or points).

        Returns
        -------
        int
            The number of voxels whose value changed. A stroke that changes
            nothing is not recorded (nothing to undo, redo kept, no autosave).

        Raises
        ------
        InvalidImageError, ShapeMismatchError, ParameterError
            For a bad index or label; nothing has changed then.

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
            if previous is None:
                indices = flat_indices(index, self._shape, self._index_dtype)
                before = self._scribbles.reshape(-1)[indices]
            else:
                indices, before = _painted(index, previous, self._shape, self._index_dtype)
            changed = before != label
            if not changed.all():
                indices, before = indices[changed], before[changed]
            if indices.size == 0:
                return 0
            stroke = Stroke(indices, before, label)
            self._apply(stroke, undo=False)
            self._undo.append(stroke)
            self._redo.clear()
            self.classes = self.classes.with_class(label) if label else self.classes
        self._record_and_notify("stroke", stroke, label)
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
        self._record_and_notify("undo", stroke, stroke.previous)
        return True

    def redo(self) -> bool:
        """Redo the last undone stroke; False when there is none (or a new stroke cleared it)."""
        with self._lock:
            if not self._redo:
                return False
            stroke = self._redo.pop()
            self._apply(stroke, undo=False)
            self._undo.append(stroke)
        self._record_and_notify("redo", stroke, stroke.label)
        return True

    def import_scribbles(self, labels, *, names=None) -> int:
        """Add an existing label map as scribbles (one undoable stroke), keeping its values.

        Voxels of value 0 stay unlabelled; value ``v`` becomes the class that
        exports as ``v`` (added to :attr:`classes` if needed).

        Examples
        --------
        >>> s = LabelingSession(np.zeros((4, 4)))
        >>> labels = np.zeros((4, 4), np.uint8); labels[0] = 5; labels[3] = 7
        >>> s.import_scribbles(labels)
        8
        >>> sorted(s.classes.values)[-2:]
        [5, 7]
        """
        io.check_pair(self.image, labels)
        array = labels.array if isinstance(labels, io.Image) else np.asarray(labels)
        values = [int(v) for v in np.unique(array[array > 0])]
        table = self.classes
        for value in values:
            table = table.with_value(value, (names or {}).get(value))
        self.classes = table
        changed = 0
        for value in values:
            changed += self.add_stroke(array == value, table.to_scribbles(np.array(value)).item())
        return changed

    def import_segmentation(self, labels, *, names=None) -> np.ndarray:
        """Start from an existing segmentation (another tool's, an earlier export), keeping its values.

        It becomes :attr:`segmentation` (what :meth:`export` and :meth:`object_table` use) until
        the scribbles change; its values join :attr:`classes`. Nothing is painted: correct it by
        painting strokes, and the next prediction replaces it.

        Examples
        --------
        >>> s = LabelingSession(np.zeros((4, 4), np.float32))
        >>> seg = np.zeros((4, 4), np.uint16); seg[1:3, 1:3] = 300
        >>> s.import_segmentation(seg).max(), sorted(s.classes.values)
        (np.uint16(300), [0, 1, 300])
        """
        io.check_pair(self.image, labels)
        array = np.asarray(labels.array if isinstance(labels, io.Image) else labels)
        if array.dtype.kind not in "iu" or (array.size and array.min() < 0):
            raise InvalidImageError(f"a segmentation holds non-negative integer labels, got {array.dtype}"
                                    + (f" with values down to {array.min()}" if array.dtype.kind in "iu" else ""))
        table = self.classes
        for value in np.unique(array).tolist():
            table = table.with_value(int(value), (names or {}).get(int(value)))
        with self._lock:
            self.classes = table
            self.segmentation = array.astype(np.uint8 if array.max(initial=0) < 256 else np.uint16)
            self._segmentation_version = self._version
            self.volume_uncertainty = None
        self._notify("volume")
        return self.segmentation

    def _apply(self, stroke: Stroke, *, undo: bool) -> None:
        flat = self._scribbles.reshape(-1)
        if undo:
            flat[stroke.indices] = stroke.previous
            self._samples.change(stroke.indices, np.full(stroke.indices.shape, stroke.label, np.uint8),
                                 stroke.previous)
        else:
            flat[stroke.indices] = stroke.label
            self._samples.change(stroke.indices, stroke.previous, stroke.label)
        self.last_stroke = stroke
        self._version += 1

    def _record_and_notify(self, kind: str, stroke: Stroke, values) -> None:
        try:
            if self._autosave is not None:
                with self._lock:
                    self._autosave.record(self._scribbles, stroke.indices, values)
        finally:
            self._notify(kind)

    def _notify(self, kind: str) -> None:
        for callback in list(self._listeners):
            callback(kind)

    # ------------------------------------------------------------- prediction
    def update(self, roi=None):
        """Refit the classifier if the scribbles changed, then predict `roi`.

        Parameters
        ----------
        roi : tuple of slice or int, optional
            The region to predict, one entry per spatial axis, e.g.
            ``np.s_[:, :, 40]`` for the slice on screen (an int keeps the axis,
            of length 1). Default: the whole image.

        Returns
        -------
        prediction : numpy.ndarray
            Label values (:attr:`classes`), the roi's shape (also :attr:`prediction`).
        uncertainty : numpy.ndarray
            float32 in [0, 1], the margin between the two likeliest classes.

        Raises
        ------
        InvalidImageError
            When fewer than two classes are painted and the classifier is not
            fitted yet, or for a bad roi.
        """
        roi = normalize_roi(roi, self._shape)
        with self._fit_lock:
            # The region first: strokes painted on it take their feature rows from it.
            features = self._features.region(roi)
            classifier = self._fit_if_needed()
            thin = min(s.stop - s.start for s in roi) < 4  # a slice: predicted exactly, tree by tree
            if thin or classifier.prediction == "exact":
                key = (tuple((s.start, s.stop) for s in roi), self._features)
                probabilities = self._votes.proba(classifier, features, key)
            else:
                probabilities = classifier.predict_proba(self.image, features=features)
        prediction, uncertainty = self._labels_and_margin(probabilities, classifier)
        with self._lock:
            self.prediction, self.uncertainty, self.prediction_roi = prediction, uncertainty, roi
        self._notify("update")
        return prediction, uncertainty

    def predict_volume(self, *, progress: bool = True, callback=None, slab: int | None = None):
        """Predict the whole image, one slab along the first axis at a time.

        Parameters
        ----------
        progress : bool
            Show a tqdm progress bar.
        callback : callable, optional
            ``callback(done, total)`` after each slab (block, for a lazy image); returning False cancels.
        slab : int, optional
            Slab thickness along the first axis; default about 1/20 of it. (Slabs along the
            first axis are contiguous in the feature bank: no copy before the trees are walked.)

        Returns
        -------
        numpy.ndarray or None
            Label values of the image's spatial shape (also :attr:`segmentation`),
            or None when cancelled (or the session is closing).
        """
        from tqdm.auto import tqdm

        n = self._shape[0]
        slab = max(1, -(-n // 20)) if slab is None else operator_index(slab, "slab")
        if slab < 1:
            raise ParameterError(f"slab must be at least 1 voxel, got {slab}")
        with self._fit_lock:
            classifier = self._fit_if_needed()
            version = self._fitted_version
            features = self._features.whole() if self._features.holds_whole else None
            segmentation = np.zeros(self._shape, self.classes.to_values(np.zeros(1, np.uint8)).dtype)
            uncertainty = np.zeros(self._shape, np.float32)
            # A lazy image goes block by block (features of each block and its halo only, as
            # PixelClassifier.predict_blockwise); else slabs of the whole bank.
            parts = (self._blocks() if features is None else
                     [(slice(start, min(start + slab, n)), *(slice(0, m) for m in self._shape[1:]))
                      for start in range(0, n, slab)])
            # Progress in slices of the first axis, or in blocks.
            total = n if features is not None else len(parts)
            with tqdm(total=total, desc="predict", unit="slice" if features is not None else "block",
                      disable=not progress) as bar:
                for index, part in enumerate(parts, start=1):
                    if self._closing.is_set():
                        return None
                    # Features in the cache's type, as the whole bank holds them: the same classes.
                    part_features = (classifier.transform(self.image, roi=part, dtype=self._features.dtype)
                                     if features is None else features[:, part[0]])
                    proba = classifier.predict_proba(self.image, features=part_features)
                    segmentation[part], uncertainty[part] = self._labels_and_margin(proba, classifier)
                    done = part[0].stop if features is not None else index
                    bar.update(done - bar.n)
                    if callback is not None and callback(done, total) is False:
                        return None
        with self._lock:
            self.segmentation, self._segmentation_version = segmentation, version
            self.volume_uncertainty = uncertainty
        self._notify("volume")
        return segmentation

    def _blocks(self) -> list[tuple[slice, ...]]:
        """The blocks a lazy image is predicted in (those of :func:`~labtools.features.blockwise.block_chunks`)."""
        from labtools.features.blockwise import block_chunks

        edges = [np.cumsum((0,) + sizes) for sizes in block_chunks(self._shape)]
        return [tuple(slice(int(e[i]), int(e[i + 1])) for e, i in zip(edges, index))
                for index in np.ndindex(*(len(e) - 1 for e in edges))]

    def export(self, path, *, progress: bool = False) -> Path:
        """Write the whole segmentation (label values) to `path`, with the class table next to it.

        Reuses :attr:`segmentation` when it is up to date with the scribbles,
        else predicts the whole image first. Also writes the classes' names
        and colours as ``<stem>_labels.txt`` (ITK-SNAP label descriptions;
        3D Slicer imports them too). Both files are written atomically.

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
        segmentation = self._fresh_segmentation(progress)
        written = io.save(self.image.with_array(segmentation), path)
        self.classes.write(label_file_for(path))
        return written

    def object_table(self, values=None, *, progress: bool = False) -> list[dict]:
        """Connected objects of the whole segmentation, one row each (ilastik's object workflow).

        Parameters
        ----------
        values : int or sequence of int, optional
            Label values whose objects are listed; default every class but 0.

        Returns
        -------
        list of dict
            Rows of :func:`labtools.labeling.objects.object_table`: voxels, volume in ml,
            bounding box, centre (voxels, mm), mean intensity, mean and max uncertainty.

        Examples
        --------
        >>> from labtools.pixel_classifier import PixelClassifier
        >>> image = np.zeros((12, 12), np.float32); image[2:5, 2:5] = image[8:11, 7:10] = 1
        >>> s = LabelingSession(image, classifier=PixelClassifier(sigmas=(0.7,), n_estimators=5))
        >>> _ = s.add_stroke(image == 0, 1); _ = s.add_stroke(image == 1, 2)
        >>> [(row["object"], row["voxels"]) for row in s.object_table()]
        [(1, 9), (2, 9)]
        """
        from labtools.labeling.objects import object_table

        segmentation = self._fresh_segmentation(progress)
        values = ([v for v in self.classes.values if v != 0] if values is None
                  else [int(v) for v in np.atleast_1d(values)])
        names = self.classes.names()
        image = self.image.array if self.image.channel_axis is None else self.image.array[0]
        rows = []
        for value in values:
            rows += object_table(segmentation, value, image=image, uncertainty=self.volume_uncertainty,
                                 spacing=self.image.spacing, affine=self.image.affine,
                                 name=names.get(value, f"class {value}"))
        return rows

    def export_objects(self, path, values=None, *, progress: bool = False) -> Path:
        """Write :meth:`object_table` as CSV to `path` (atomically)."""
        from labtools.labeling.objects import write_object_table

        return write_object_table(self.object_table(values, progress=progress), path)

    def _fresh_segmentation(self, progress: bool):
        # The scribbles it was made for (predicted or imported) are still the current ones.
        fresh = self.segmentation is not None and self._segmentation_version == self._version
        segmentation = self.segmentation if fresh else self.predict_volume(progress=progress)
        if segmentation is None:
            raise InvalidImageError("the prediction was cancelled (the session is closing); nothing exported")
        return segmentation

    def set_classifier(self, classifier) -> None:
        """Go on with another classifier (new features, or one loaded from a file).

        Scribbles, undo history and autosave stay as they are. A fitted
        classifier is used as is until the scribbles change; an unfitted one
        is fitted on the current scribbles at the next update. The feature
        cache is kept when the feature settings are the same.

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
            self._samples.only_added = False
            if not self._features.matches(classifier):
                self._features.close()
                self._features = FeatureCache(self.image, classifier)
                self._samples.forget_rows()
            else:
                self._features.classifier = classifier
            self.prediction = self.uncertainty = self.prediction_roi = None
            self.segmentation = self._segmentation_version = None
            self._votes.clear()
        self._notify("classifier")

    @property
    def features(self) -> FeatureCache:
        """The feature bank of the image for the classifier's settings (:class:`FeatureCache`)."""
        return self._features

    def prepare_features(self) -> None:
        """Start building the whole feature bank in the background (GUIs call it when labeling starts)."""
        self._features.start_background()

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
            version, classifier = self._version, self.classifier
            refit_some = (self._samples.only_added and _is_fitted(classifier)
                          and np.array_equal(classifier.classes_, self._samples.classes())
                          and classifier.refit_fraction < 1)
            indices, y, pending = self._samples.draw(classifier.max_samples, classifier.random_state)
        # Outside the lock: strokes may go on meanwhile (they bump the version: the next update refits).
        X = self._samples.rows(indices, pending, self._features)
        if refit_some:
            classifier.refit_oldest_trees(X, y)
        else:
            classifier.fit_samples(X, y, ndim=len(self._shape))
        with self._lock:
            self._fitted_version = version
            if version == self._version:
                self._samples.fitted()
        return classifier

    def _labels_and_margin(self, probabilities, classifier):
        from labtools.pixel_classifier import uncertainty_from_proba

        scribble_classes = np.asarray(classifier.classes_)[np.argmax(probabilities, axis=0)]
        return self.classes.to_values(scribble_classes), uncertainty_from_proba(probabilities, "margin")

    # --------------------------------------------------------------- saving
    def save_scribbles(self, path=None) -> Path:
        """Write the scribbles (with the image's affine) to `path`, default the autosave snapshot.

        Writing the snapshot refuses to replace a version that another program
        wrote since this session last read or wrote it.
        """
        if path is None:
            if self._autosave is None:
                raise MissingFileError("this session has no autosave_path; pass a path to save to")
            with self._lock:
                self._autosave.compact(self._scribbles)
            return self.autosave_path
        with self._lock:
            if self._autosave is not None:
                return self._autosave.write(self._scribbles, Path(path))
            return io.save(self.image.with_array(self._scribbles.copy()), path)

    def close(self) -> None:
        """Stop background work, wait for a running fit or prediction, save the snapshot, close the log.

        Safe to call twice; the session should not be used afterwards.
        """
        self._closing.set()
        self._features.close()
        with self._fit_lock, self._lock:
            if self._autosave is not None:
                self._autosave.close(self._scribbles)

    def __enter__(self) -> "LabelingSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------- validation
    def _checked_scribbles(self, scribbles, name: str) -> np.ndarray:
        io.check_pair(self.image, scribbles)  # shape, affine (for an Image), integer values
        array = scribbles.array if isinstance(scribbles, io.Image) else np.asarray(scribbles)
        if array.dtype == bool:
            return array.astype(np.uint8)
        if array.dtype.kind not in "iuf":
            raise InvalidImageError(f"{name}: scribbles must be integers 0..{MAX_LABEL}, got dtype {array.dtype}")
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
    from labtools.pixel_classifier import PixelClassifier

    if classifier is None:
        return PixelClassifier()
    if isinstance(classifier, (str, os.PathLike)):
        return PixelClassifier.load(classifier)
    return classifier


def _as_class_table(classes) -> ClassTable:
    if classes is None:
        return ClassTable.default(2)
    if isinstance(classes, ClassTable):
        return classes
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise ParameterError(f"classes must be a ClassTable or a list of names, got {classes!r}")
    return ClassTable.default(list(classes))


def _is_fitted(classifier) -> bool:
    return classifier is not None and hasattr(classifier, "classes_")


def _painted(index, previous, shape, index_dtype):
    """Flat indices and old values of voxels a view painted in place (duplicates: the first old value)."""
    if isinstance(index, np.ndarray) and index.ndim == 2:
        index = tuple(index.T)
    if not isinstance(index, tuple) or len(index) != len(shape):
        raise InvalidImageError("with previous=, the stroke index must be coordinate arrays (one per axis) "
                                "or (n, ndim) points, in the order of the previous values")
    coords = [np.asarray(c, np.int64).ravel() for c in index]
    previous = np.asarray(previous, np.uint8).ravel()
    if any(c.shape != previous.shape for c in coords):
        raise InvalidImageError(f"previous has {previous.size} values for {coords[0].size} voxels")
    for axis, (c, n) in enumerate(zip(coords, shape)):
        if c.size and (c.min() < 0 or c.max() >= n):
            raise InvalidImageError(f"stroke outside the image along axis {axis} (0..{n - 1}). Nothing was painted.")
    flat = np.ravel_multi_index(coords, shape)
    flat, first = np.unique(flat, return_index=True)
    return flat.astype(index_dtype), previous[first]


def operator_index(value, name: str) -> int:
    import operator

    try:
        return operator.index(value)
    except TypeError:
        raise ParameterError(f"{name} must be an integer, got {value!r}") from None
