"""The labeling dock: paint scribbles, watch the pixel classifier's prediction follow them.

A thin Qt face of :class:`labtools.labeling.LabelingSession`: the session
owns the scribbles, the undo history, the autosave file and the classifier;
the dock shows them as layers and turns clicks into session calls.

- a "scribbles" Labels layer on the image's grid: every brush drag becomes one
  ``session.add_stroke`` (one undo step, autosaved at once);
- after each stroke (live update) the classifier is refitted and the plane
  on screen predicted in a worker thread, into a "prediction" Labels layer
  and an "uncertainty" Image layer (full-size layers; only the plane is
  written);
- undo/redo (buttons, and Ctrl+Z / Ctrl+Shift+Z on the scribbles layer) go
  through the session, and the layer is redrawn from it;
- "most uncertain slice", "predict volume" (progress bar, Cancel), save/load
  classifier and export run in the same worker queue (:mod:`._labeling_jobs`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from app_model.types import KeyCode, KeyMod
from napari.layers import Image
from napari.utils.notifications import notification_manager, show_error, show_info
from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from labtools.errors import LabtoolsError
from labtools.labeling import LabelingSession
from labtools.pixel_classifier import PixelClassifier

from napari_plugin._labeling_features import FeatureSettings
from napari_plugin._labeling_jobs import JobQueue
from napari_plugin._labeling_layers import grid_kwargs, open_session, strokes_from_paint, visible_roi
from napari_plugin._layer_choice import refill_layer_choice

__all__ = ["LabelingDock"]

_NIFTI_FILTER = "NIfTI (*.nii.gz *.nii)"
_CLASSIFIER_FILTER = "labtools classifier (*.joblib)"


class LabelingDock(QWidget):
    """Pixel classification from scribbles (npe2 widget ``labtools.labeling_dock``).

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer the dock works in.

    Attributes
    ----------
    session : LabelingSession or None
        The running session (None before :meth:`start`).
    scribbles_layer, prediction_layer, uncertainty_layer : napari layers or None
        The layers the session is shown in.
    jobs : JobQueue
        The background work (refits, predictions, files); ``jobs.busy`` tells
        whether any runs or waits.
    """

    # Emitted from the worker thread; Qt queues it to the GUI thread.
    _volume_progress = Signal(int, int)
    # Session changes may come from any thread; the slot always runs in the GUI thread.
    _session_changed = Signal(str)

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session: LabelingSession | None = None
        self.image_layer = self.scribbles_layer = None
        self.prediction_layer = self.uncertainty_layer = None
        self.jobs = JobQueue(self._show_error, parent=self)
        self._disconnect_session = None
        self._cancel_volume = False
        self._build()
        self._refresh_image_choices()
        self.viewer.layers.events.inserted.connect(self._refresh_image_choices)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.viewer.dims.events.current_step.connect(self._on_dims_step)
        self._volume_progress.connect(self._on_volume_progress)
        self._session_changed.connect(self._on_session_changed)
        self.jobs.idle.connect(self._update_buttons)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.image_combo = QComboBox()
        self.start_button = QPushButton("Start labeling")
        self.features = FeatureSettings()
        self.live_check = QCheckBox("live update")
        self.live_check.setChecked(True)
        self.live_check.setToolTip("Refit and predict the slice on screen after every stroke")
        self.update_button = QPushButton("Update now")
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self.suggest_button = QPushButton("Go to most uncertain slice")
        self.volume_button = QPushButton("Predict volume")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.save_button = QPushButton("Save classifier…")
        self.load_button = QPushButton("Load classifier…")
        self.export_button = QPushButton("Export segmentation…")
        self.status = QLabel("Pick an image and press Start labeling.")
        self.status.setWordWrap(True)

        image_row = QHBoxLayout()
        image_row.addWidget(self.image_combo, 1)
        image_row.addWidget(self.start_button)
        classifier_box = QGroupBox("Classifier")
        classifier_layout = QVBoxLayout(classifier_box)
        classifier_layout.addWidget(self.features)
        live_row = QHBoxLayout()
        live_row.addWidget(self.live_check)
        live_row.addWidget(self.update_button)
        classifier_layout.addLayout(live_row)
        edit_row = QHBoxLayout()
        edit_row.addWidget(self.undo_button)
        edit_row.addWidget(self.redo_button)
        volume_row = QHBoxLayout()
        volume_row.addWidget(self.volume_button)
        volume_row.addWidget(self.progress, 1)
        volume_row.addWidget(self.cancel_button)
        files = QGridLayout()
        files.addWidget(self.save_button, 0, 0)
        files.addWidget(self.load_button, 0, 1)
        files.addWidget(self.export_button, 1, 0, 1, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(image_row)
        layout.addWidget(classifier_box)
        layout.addLayout(edit_row)
        layout.addWidget(self.suggest_button)
        layout.addLayout(volume_row)
        layout.addLayout(files)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.start_button.clicked.connect(lambda: self.start())
        self.features.changed.connect(self._on_features_changed)
        self.update_button.clicked.connect(lambda: self.request_update(force=True))
        self.undo_button.clicked.connect(self.undo)
        self.redo_button.clicked.connect(self.redo)
        self.suggest_button.clicked.connect(self.go_to_most_uncertain_slice)
        self.volume_button.clicked.connect(self.predict_volume)
        self.cancel_button.clicked.connect(self.cancel_volume)
        self.save_button.clicked.connect(self._ask_save_classifier)
        self.load_button.clicked.connect(self._ask_load_classifier)
        self.export_button.clicked.connect(self._ask_export)
        self._update_buttons()

    def _refresh_image_choices(self, event=None) -> None:
        refill_layer_choice(self.image_combo, self.viewer, Image)
        self._update_buttons()

    def _update_buttons(self) -> None:
        started = self.session is not None
        self.start_button.setEnabled(self.image_combo.count() > 0)
        for button in (self.update_button, self.suggest_button, self.volume_button,
                       self.save_button, self.load_button, self.export_button):
            button.setEnabled(started)
        self.undo_button.setEnabled(started and self.session.can_undo)
        self.redo_button.setEnabled(started and self.session.can_redo)
        self.cancel_button.setEnabled(self.jobs.running == "volume")

    # ----------------------------------------------------------------- session
    def start(self, layer=None) -> LabelingSession | None:
        """Start labeling `layer` (default: the image picked in the combo box).

        Opens the session (from the layer's file when it has one, so earlier
        scribbles are restored and new ones autosaved next to it) and adds the
        scribbles, prediction and uncertainty layers on the image's grid.
        Problems are shown as a napari notification; returns None then.
        """
        if layer is None:
            name = self.image_combo.currentText()
            if not name or name not in self.viewer.layers:
                show_error("No image layer to label: open an image first (File > Open, or a "
                           "labtools sample).")
                return None
            layer = self.viewer.layers[name]
        try:
            sigmas, features = self.features.values()
            session = open_session(layer, PixelClassifier(sigmas=sigmas, features=features))
        except LabtoolsError as err:
            show_error(str(err))
            return None
        self.stop()
        self.image_layer = layer
        self._attach(session)
        grid = grid_kwargs(layer)
        self.prediction_layer = self.viewer.add_labels(
            np.zeros(session.scribbles.shape, np.uint8), name=f"{layer.name} prediction",
            opacity=0.45, **grid)
        self.uncertainty_layer = self.viewer.add_image(
            np.zeros(session.scribbles.shape, np.float32), name=f"{layer.name} uncertainty",
            colormap="magma", contrast_limits=(0.0, 1.0), blending="additive", visible=False, **grid)
        self.scribbles_layer = self.viewer.add_labels(
            np.array(session.scribbles), name=f"{layer.name} scribbles", **grid)
        self.scribbles_layer.events.paint.connect(self._on_paint)
        # The layer's own history would undo behind the session's back: route the keys to it.
        self.scribbles_layer.bind_key(KeyMod.CtrlCmd | KeyCode.KeyZ, lambda _layer: self.undo(),
                                      overwrite=True)
        self.scribbles_layer.bind_key(KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ,
                                      lambda _layer: self.redo(), overwrite=True)
        self.scribbles_layer.mode = "paint"
        self.scribbles_layer.brush_size = 5
        self.viewer.layers.selection.active = self.scribbles_layer
        if session.restored_from is not None:
            show_info(f"Scribbles restored from {session.restored_from}")
        self._show_status()
        self.request_update()
        return session

    def stop(self) -> None:
        """End the session: forget waiting work and detach from the layers (they stay)."""
        self.jobs.discard()
        self._cancel_volume = True
        if self.scribbles_layer is not None:
            self.scribbles_layer.events.paint.disconnect(self._on_paint)
        if self._disconnect_session is not None:
            self._disconnect_session()
        self.session = self.image_layer = self.scribbles_layer = None
        self.prediction_layer = self.uncertainty_layer = None
        self._disconnect_session = None
        self._update_buttons()

    def _attach(self, session: LabelingSession) -> None:
        if self._disconnect_session is not None:
            self._disconnect_session()
        self.session = session
        self._disconnect_session = session.on_change(self._session_changed.emit)
        self._update_buttons()

    def _replace_classifier(self, classifier) -> None:
        """Go on with another classifier; scribbles, undo history and autosave carry over.

        Runs as a job: the session waits for a fit in progress, the GUI does not.
        """
        session = self.session
        self.jobs.discard()

        def after(_):
            self._show_status()
            self.request_update()

        self.jobs.submit("classifier", lambda: session.set_classifier(classifier), after)

    # ----------------------------------------------------------------- strokes
    def _on_paint(self, event) -> None:
        """One napari paint event (a brush drag, a fill) → session strokes (autosaved)."""
        try:
            for index, label in strokes_from_paint(event.value, self.scribbles_layer.data.shape):
                self.session.add_stroke(index, label)
        except LabtoolsError as err:
            show_error(str(err))
            # napari writes the layer after this event: redraw from the session once it has.
            self._session_changed.emit("resync")

    def _on_session_changed(self, kind: str) -> None:
        if kind in ("undo", "redo", "resync") and self.scribbles_layer is not None:
            np.copyto(self.scribbles_layer.data, self.session.scribbles)
            self.scribbles_layer.refresh()
        if kind in ("stroke", "undo", "redo"):
            self._show_status()
            self.request_update()
        self._update_buttons()

    def undo(self) -> bool:
        """Undo the last stroke (session and scribbles layer); False when there is none."""
        return self.session is not None and self.session.undo()

    def redo(self) -> bool:
        """Redo the last undone stroke; False when there is none."""
        return self.session is not None and self.session.redo()

    # --------------------------------------------------------------- prediction
    def request_update(self, force: bool = False) -> None:
        """Refit and predict the plane on screen in the background (when live update is on).

        Requests that arrive while a refit runs are merged into one, for the
        newest scribbles and plane.
        """
        session = self.session
        if session is None or not (force or self.live_check.isChecked()):
            return
        if session.needs_fit and len(session.class_counts()) < 2:
            if force:
                show_info("Paint at least two classes (e.g. the structure and its background) "
                          "before the classifier can predict.")
            return
        roi = visible_roi(self.image_layer, self.viewer.dims)

        def work():
            prediction, uncertainty = session.update(roi)
            return session, session.prediction_roi, prediction, uncertainty

        self.jobs.submit("update", work, self._show_prediction)

    def _show_prediction(self, result) -> None:
        session, roi, prediction, uncertainty = result
        if session is not self.session:  # a result of a session that was replaced meanwhile
            return
        self.prediction_layer.data[roi] = prediction
        self.uncertainty_layer.data[roi] = uncertainty
        self.prediction_layer.refresh()
        self.uncertainty_layer.refresh()
        self._show_status()

    def _on_dims_step(self, event=None) -> None:
        # A new plane on screen: predict it too, once the classifier has been fitted.
        if self.session is not None and self.session.classifier is not None:
            self.request_update()

    def go_to_most_uncertain_slice(self) -> None:
        """Move the viewer to the plane where the classifier is least sure (``PixelClassifier.suggest``)."""
        session = self.session
        if session is None:
            return
        roi = visible_roi(self.image_layer, self.viewer.dims)
        axes = [axis for axis, item in enumerate(roi) if not isinstance(item, slice)]
        if not axes:
            show_info("Every axis is on screen (2D image or 3D view): there is no other slice to go to.")
            return
        axis = axes[0]

        def work():
            session.update(roi)  # fits first when the scribbles changed
            return session.classifier.suggest(session.image, n=1, axis=axis)[0]

        self.jobs.submit("suggest", work, lambda index: self._go_to_slice(axis, index))

    def _go_to_slice(self, axis: int, index: int) -> None:
        layer = self.image_layer
        if layer is None:
            return
        offset = self.viewer.dims.ndim - layer.ndim
        data_point = np.asarray(layer.world_to_data(self.viewer.dims.point[offset:]), dtype=float)
        data_point[axis] = index
        world = layer.data_to_world(data_point)
        self.viewer.dims.set_point(axis + offset, float(world[axis]))
        self.status.setText(f"Slice {index} along axis {axis} is the most uncertain: paint there.")

    def predict_volume(self) -> None:
        """Predict the whole image in the background (progress bar; Cancel stops it)."""
        session = self.session
        if session is None:
            return
        self._cancel_volume = False
        self.progress.setValue(0)

        def report(done: int, total: int) -> bool:
            self._volume_progress.emit(done, total)
            return not self._cancel_volume

        def work():
            return session, session.predict_volume(progress=False, callback=report)

        self.jobs.submit("volume", work, self._show_volume)
        self._update_buttons()

    def cancel_volume(self) -> None:
        """Stop a running whole-volume prediction after its current slab."""
        self._cancel_volume = True
        self.jobs.discard("volume")

    def _on_volume_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(done)
        self.cancel_button.setEnabled(True)

    def _show_volume(self, result) -> None:
        session, segmentation = result
        self.cancel_button.setEnabled(False)
        if segmentation is None:
            self.status.setText("Volume prediction cancelled.")
            self.progress.setValue(0)
            return
        if session is self.session:
            self.prediction_layer.data[...] = segmentation
            self.prediction_layer.refresh()
            self.status.setText("Whole volume predicted.")

    # ------------------------------------------------------------------- files
    def save_classifier(self, path) -> None:
        """Save the fitted classifier to `path` (in the background)."""
        session = self.session
        if session is None:
            return

        def work():
            if session.needs_fit or session.classifier is None:
                session.update(visible_roi(self.image_layer, self.viewer.dims))
            session.classifier.save(path)
            return Path(path)

        self.jobs.submit("save", work, lambda saved: self.status.setText(f"Classifier saved to {saved}"))

    def load_classifier(self, path) -> None:
        """Go on with a classifier saved earlier (its feature settings are shown)."""
        if self.session is None:
            return
        try:
            classifier = PixelClassifier.load(path)
        except LabtoolsError as err:
            show_error(str(err))
            return
        self.features.set_values(classifier.sigmas, classifier.features)
        self._replace_classifier(classifier)

    def export_segmentation(self, path) -> None:
        """Write the whole segmentation to `path` with the image's affine (in the background)."""
        session = self.session
        if session is None:
            return
        self.jobs.submit("export", lambda: session.export(path),
                         lambda written: self.status.setText(f"Segmentation written to {written}"))

    def _ask_save_classifier(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save classifier", "classifier.joblib", _CLASSIFIER_FILTER)
        if path:
            self.save_classifier(path)

    def _ask_load_classifier(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load classifier", "", _CLASSIFIER_FILTER)
        if path:
            self.load_classifier(path)

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export segmentation", "segmentation.nii.gz",
                                              _NIFTI_FILTER)
        if path:
            self.export_segmentation(path)

    # ------------------------------------------------------------------ events
    def _on_features_changed(self) -> None:
        if self.session is None:
            return
        try:
            sigmas, features = self.features.values()
        except LabtoolsError as err:
            show_error(str(err))
            return
        self._replace_classifier(PixelClassifier(sigmas=sigmas, features=features))

    def _on_layer_removed(self, event) -> None:
        # Without its image or its scribbles the session has nothing to show; a removed
        # prediction or uncertainty layer is only no longer drawn, so labeling goes on.
        if event.value is self.image_layer or event.value is self.scribbles_layer:
            self.stop()
        self._refresh_image_choices()

    def _show_status(self) -> None:
        session = self.session
        if session is None:
            return
        counts = session.class_counts()
        if len(counts) < 2:
            hint = "Paint at least two classes (label 1, 2, ...) to train the classifier."
        else:
            hint = ", ".join(f"class {label}: {n} voxels" for label, n in counts.items())
        where = f" Autosave: {session.autosave_path.name}." if session.autosave_path else ""
        self.status.setText(hint + where)

    def _show_error(self, err: BaseException) -> None:
        if isinstance(err, LabtoolsError):
            show_error(str(err))
        else:  # a bug, not a user error: napari's notification keeps the traceback
            notification_manager.receive_error(type(err), err, err.__traceback__)
