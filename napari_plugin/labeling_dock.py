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
from napari.layers import Image, Labels
from napari.utils.notifications import notification_manager, show_error, show_info
from qtpy.QtCore import QEvent, Qt, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from labtools.errors import LabtoolsError
from labtools.labeling import LabelingSession, label_file_for
from labtools.pixel_classifier import PixelClassifier

from napari_plugin._labeling_features import FeatureSettings
from napari_plugin._scroll import scrolling_layout
from napari_plugin._labeling_jobs import JobQueue
from napari_plugin._labeling_layers import grid_kwargs, open_session, strokes_from_paint, time_index, visible_roi
from napari_plugin._layer_choice import refill_layer_choice
from napari_plugin._layers import layer_to_image
from napari_plugin._orientation import radiological_view

__all__ = ["LabelingDock"]

_NIFTI_FILTER = "NIfTI (*.nii.gz *.nii)"
_CLASSIFIER_FILTER = "labtools classifier (*.skops)"


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
        self._colored_classes = 0
        self._build()
        self._refresh_image_choices()
        self.viewer.layers.events.inserted.connect(self._refresh_image_choices)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.viewer.dims.events.current_step.connect(self._on_dims_step)
        self._volume_progress.connect(self._on_volume_progress)
        self._session_changed.connect(self._on_session_changed)
        self.jobs.idle.connect(self._update_buttons)
        window = getattr(getattr(napari_viewer, "window", None), "_qt_window", None)
        if window is not None:
            window.installEventFilter(self)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.image_combo = QComboBox()
        self.start_button = QPushButton("Start labeling")
        self.features = FeatureSettings()
        self.radiological_check = QCheckBox("radiological axial view")
        self.radiological_check.setChecked(True)
        self.radiological_check.setToolTip("When labeling starts: slice along inferior-superior, anterior up, "
                                           "the patient's right on the left (from the image's affine)")
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
        self.objects_button = QPushButton("Export objects (CSV)…")
        self.objects_button.setToolTip("Connected components of each class: volume in ml, bounding box, "
                                       "mean intensity and uncertainty (ilastik's object table)")
        self.class_name = QLineEdit()
        self.class_name.setPlaceholderText("name of the label being painted")
        self.class_name.setToolTip("Names the class of the selected label; used in legends, status and "
                                   "the label file written next to exports")
        self.class_label = QLabel("label 1")
        self.import_combo = QComboBox()
        self.import_combo.setToolTip("A Labels layer on the image's grid (e.g. another tool's annotation): "
                                     "0 = unlabelled, its values are kept in predictions and exports")
        self.import_button = QPushButton("Import as scribbles")
        self.import_segmentation_button = QPushButton("as segmentation")
        self.import_segmentation_button.setToolTip("Start from this label map (values kept): it is shown as "
                                                   "the prediction and exported until you paint")
        self.status = QLabel("Pick an image and press Start labeling.")
        self.status.setWordWrap(True)
        # What the last action said (a suggested slice, a saved file, an error in full): it stays
        # until the next action, while `status` follows the scribbles.
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)

        image_row = QHBoxLayout()
        image_row.addWidget(self.image_combo, 1)
        image_row.addWidget(self.start_button)
        view_row = QHBoxLayout()
        view_row.addWidget(self.radiological_check)
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
        files.addWidget(self.objects_button, 2, 0, 1, 2)
        import_row = QHBoxLayout()
        import_row.addWidget(self.import_combo, 1)
        import_row.addWidget(self.import_button)
        import_row.addWidget(self.import_segmentation_button)
        class_row = QHBoxLayout()
        class_row.addWidget(self.class_label)
        class_row.addWidget(self.class_name, 1)

        layout = scrolling_layout(self)
        layout.addLayout(image_row)
        layout.addLayout(view_row)
        layout.addWidget(classifier_box)
        layout.addLayout(class_row)
        layout.addLayout(import_row)
        layout.addLayout(edit_row)
        layout.addWidget(self.suggest_button)
        layout.addLayout(volume_row)
        layout.addLayout(files)
        layout.addWidget(self.status)
        layout.addWidget(self.message)
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
        self.objects_button.clicked.connect(self._ask_export_objects)
        self.import_button.clicked.connect(lambda: self.import_scribbles())
        self.import_segmentation_button.clicked.connect(lambda: self.import_segmentation())
        self.class_name.editingFinished.connect(self._on_class_named)
        self._update_buttons()

    def _refresh_image_choices(self, event=None) -> None:
        refill_layer_choice(self.image_combo, self.viewer, Image)
        refill_layer_choice(self.import_combo, self.viewer, Labels)
        for own in (self.scribbles_layer, self.prediction_layer):  # not the session's own layers
            if own is not None and self.import_combo.findText(own.name) >= 0:
                self.import_combo.removeItem(self.import_combo.findText(own.name))
        self._update_buttons()

    def _update_buttons(self) -> None:
        started = self.session is not None
        self.start_button.setEnabled(self.image_combo.count() > 0)
        for button in (self.update_button, self.suggest_button, self.volume_button,
                       self.save_button, self.load_button, self.export_button, self.objects_button,
                       self.class_name):
            button.setEnabled(started)
        self.import_button.setEnabled(started and self.import_combo.count() > 0)
        self.import_segmentation_button.setEnabled(started and self.import_combo.count() > 0)
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
            session, no_autosave = open_session(layer, PixelClassifier(**self.features.values()),
                                                time_index(layer, self.viewer.dims))
        except LabtoolsError as err:
            self._show_error(err)
            return None
        self.stop()
        self.image_layer = layer
        if self.radiological_check.isChecked():
            radiological_view(self.viewer, layer)
        self._attach(session)
        grid = grid_kwargs(layer)
        self.prediction_layer = self.viewer.add_labels(
            np.zeros(session.scribbles.shape, session.classes.to_values(np.zeros(1, np.uint8)).dtype),
            name=f"{layer.name} prediction", opacity=0.45, **grid)
        self.uncertainty_layer = self.viewer.add_image(
            np.zeros(session.scribbles.shape, np.float32), name=f"{layer.name} uncertainty",
            colormap="magma", contrast_limits=(0.0, 1.0), blending="additive", visible=False, **grid)
        # The layer shows the session's own array: napari paints into it and the dock reports each
        # paint event as a stroke with the values it overwrote (one owner, no copy per stroke).
        self.scribbles_layer = self.viewer.add_labels(
            session.scribbles_buffer, name=f"{layer.name} scribbles", **grid)
        self._color_layers()
        self.scribbles_layer.events.paint.connect(self._on_paint)
        self.scribbles_layer.events.selected_label.connect(self._show_class_name)
        # The layer's own history would undo behind the session's back: route the keys to it.
        self.scribbles_layer.bind_key(KeyMod.CtrlCmd | KeyCode.KeyZ, lambda _layer: self.undo(),
                                      overwrite=True)
        self.scribbles_layer.bind_key(KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ,
                                      lambda _layer: self.redo(), overwrite=True)
        self.scribbles_layer.mode = "paint"
        self.scribbles_layer.brush_size = 5
        self.viewer.layers.selection.active = self.scribbles_layer
        if session.restored_from is not None:
            self._say(f"Scribbles restored from {session.restored_from}")
        elif no_autosave is not None:
            self._say(no_autosave)
            show_info(no_autosave)
        session.prepare_features()  # the whole feature bank in the background; strokes do not wait
        self.scribbles_layer.selected_label = 1
        self._show_class_name()
        self._refresh_image_choices()
        self._show_status()
        self.request_update()
        return session

    def stop(self) -> None:
        """End the session: cancel and wait for its work, save its scribbles, detach from the layers.

        The layers stay. Safe to call when no session runs.
        """
        self.jobs.discard()
        self._cancel_volume = True
        session = self.session
        if self.scribbles_layer is not None:
            self.scribbles_layer.events.paint.disconnect(self._on_paint)
            self.scribbles_layer.events.selected_label.disconnect(self._show_class_name)
        if self._disconnect_session is not None:
            self._disconnect_session()
        if session is not None:
            try:
                session.close()  # waits for a running fit or prediction (which then stops early)
            except LabtoolsError as err:
                self._show_error(err)
        self.jobs.shutdown()
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
        """One napari paint event (a brush drag, a fill) → session strokes (logged at once).

        napari has already painted into the session's array; each stroke passes the values it
        overwrote, so the session records exactly that change. A stroke the session refuses
        (a label above 255) is painted back.
        """
        strokes = strokes_from_paint(event.value, self.scribbles_layer.data.shape)
        for number, (index, label, previous) in enumerate(strokes):
            try:
                self.session.add_stroke(index, label, previous=previous)
            except LabtoolsError as err:
                for bad_index, _, bad_previous in strokes[number:]:
                    self.session.scribbles_buffer[bad_index] = bad_previous
                self.scribbles_layer.refresh()
                self._show_error(err)
                return

    def _on_session_changed(self, kind: str) -> None:
        if kind in ("undo", "redo") and self.scribbles_layer is not None:
            self.scribbles_layer.refresh()  # the session changed the array the layer shows
        if kind == "classes" or (kind == "stroke" and len(self.session.classes) != self._colored_classes):
            self._color_layers()  # a renamed class, or a label painted for the first time
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
        roi = visible_roi(self.scribbles_layer, self.viewer.dims)

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
        roi = visible_roi(self.scribbles_layer, self.viewer.dims)
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
        layer = self.scribbles_layer  # spatial, on the image's grid (a time series has one more axis)
        if layer is None:
            return
        offset = self.viewer.dims.ndim - layer.ndim
        data_point = np.asarray(layer.world_to_data(self.viewer.dims.point[offset:]), dtype=float)
        data_point[axis] = index
        world = layer.data_to_world(data_point)
        self.viewer.dims.set_point(axis + offset, float(world[axis]))
        self._say(f"Slice {index} along axis {axis} is the most uncertain: paint there.")

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
            self._say("Volume prediction cancelled.")
            self.progress.setValue(0)
            return
        if session is self.session:
            self.prediction_layer.data[...] = segmentation
            self.prediction_layer.refresh()
            self._say("Whole volume predicted.")

    # ------------------------------------------------------------------- files
    def save_classifier(self, path) -> None:
        """Save the fitted classifier to `path` (in the background)."""
        session = self.session
        if session is None:
            return

        def work():
            if session.needs_fit or session.classifier is None:
                session.update(visible_roi(self.scribbles_layer, self.viewer.dims))
            session.classifier.save(path)
            return Path(path)

        self.jobs.submit("save", work, lambda saved: self._say(f"Classifier saved to {saved}"))

    def load_classifier(self, path) -> None:
        """Go on with a classifier saved earlier (its feature settings are shown)."""
        if self.session is None:
            return
        try:
            classifier = PixelClassifier.load(path)
        except LabtoolsError as err:
            show_error(str(err))
            return
        self.features.set_values(classifier.sigmas, classifier.features, classifier.sigma_unit,
                                 getattr(classifier, "in_plane", ()))
        self._replace_classifier(classifier)

    def export_segmentation(self, path) -> None:
        """Write the whole segmentation to `path` with the image's affine (in the background)."""
        session = self.session
        if session is None:
            return
        self.jobs.submit("export", lambda: session.export(path),
                         lambda written: self._say(f"Segmentation written to {written} (class names in "
                                                   f"{label_file_for(written).name})"))

    def _ask_save_classifier(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save classifier", "classifier.skops", _CLASSIFIER_FILTER)
        if path:
            self.save_classifier(path)

    def _ask_load_classifier(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load classifier", "", _CLASSIFIER_FILTER)
        if path:
            self.load_classifier(path)

    def _picked_labels(self, layer):
        """The picked (or given) Labels layer as an Image on its file's grid, or its bare array."""
        if layer is None:
            name = self.import_combo.currentText()
            layer = self.viewer.layers[name] if name in self.viewer.layers else None
        if layer is None:
            return None, None
        meta = {"metadata": layer.metadata, "scale": layer.scale, "translate": layer.translate}
        # A layer read from a file brings its affine (checked against the image's); one made in
        # napari only its shape.
        labels = (layer_to_image(np.asarray(layer.data), meta) if (layer.metadata or {}).get("affine") is not None
                  else np.asarray(layer.data))
        return layer, labels

    def import_segmentation(self, layer=None) -> bool:
        """Start from a Labels layer (default: the one picked) as the segmentation, keeping its values."""
        if self.session is None:
            return False
        layer, labels = self._picked_labels(layer)
        if layer is None:
            return False
        try:
            segmentation = self.session.import_segmentation(labels)
        except LabtoolsError as err:
            self._show_error(err)
            return False
        self.prediction_layer.data = segmentation.copy()
        self._color_layers()
        self._say(f"{layer.name} is the segmentation now (values kept); paint to correct it.")
        return True

    def import_scribbles(self, layer=None) -> int:
        """Add a Labels layer (default: the one picked) as scribbles, keeping its values; one undo step."""
        if self.session is None:
            return 0
        layer, labels = self._picked_labels(layer)
        if layer is None:
            return 0
        try:
            changed = self.session.import_scribbles(labels)
        except LabtoolsError as err:
            self._show_error(err)
            return 0
        self.scribbles_layer.refresh()
        self._color_layers()
        self._say(f"{changed} voxels of {layer.name} imported as scribbles (values kept: "
                  f"{', '.join(str(v) for v in self.session.classes.values)}).")
        return changed

    def export_objects(self, path) -> None:
        """Write the connected objects of every class as CSV to `path` (in the background)."""
        session = self.session
        if session is None:
            return
        self.jobs.submit("objects", lambda: session.export_objects(path),
                         lambda written: self._say(f"Objects written to {written}"))

    def _ask_export_objects(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export objects", "objects.csv", "CSV (*.csv)")
        if path:
            self.export_objects(path)

    def _show_class_name(self, event=None) -> None:
        if self.session is None or self.scribbles_layer is None:
            return
        label = int(self.scribbles_layer.selected_label)
        self.class_label.setText(f"label {label}")
        self.class_name.setText("" if label == 0 else self.session.classes.by_scribble(label).name)

    def _on_class_named(self) -> None:
        if self.session is None or self.scribbles_layer is None:
            return
        label, name = int(self.scribbles_layer.selected_label), self.class_name.text().strip()
        if label and name and name != self.session.classes.by_scribble(label).name:
            self.session.rename_class(label, name)
            self._show_status()

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
            settings = self.features.values()
        except LabtoolsError as err:
            show_error(str(err))
            return
        self._replace_classifier(PixelClassifier(**settings))

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
        names = {c.scribble: c.name for c in session.classes}
        if len(counts) < 2:
            hint = ("Paint at least two classes to train the classifier: label 1 is "
                    f"{names.get(1, 'background')!r}, label 2 {names.get(2, 'class 1')!r}.")
        else:
            hint = ", ".join(f"{label} {names.get(label, label)}: {n} voxels" for label, n in counts.items())
        where = f" Autosave: {session.autosave_path.name}." if session.autosave_path else ""
        self.status.setText(hint + where)

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #e05050;" if error else "")
        self.message.setText(text)

    def _show_error(self, err: BaseException) -> None:
        if isinstance(err, LabtoolsError):
            self._say(str(err), error=True)  # the whole reason; napari's toast may cut it
            show_error(str(err))
        else:  # a bug, not a user error: napari's notification keeps the traceback
            notification_manager.receive_error(type(err), err, err.__traceback__)

    def _color_layers(self) -> None:
        """Colour strokes and prediction from the session's class table (0 stays transparent)."""
        from napari.utils.colormaps import DirectLabelColormap

        session = self.session
        if session is None or self.scribbles_layer is None:
            return
        self._colored_classes = len(session.classes)
        hidden = session.classes.hidden_values()
        for layer, colors, transparent in ((self.scribbles_layer, session.classes.scribble_colors(), {0}),
                                           (self.prediction_layer, session.classes.value_colors(), hidden)):
            # 0 (not labelled / background) and the background class's value stay transparent.
            table = {value: np.array([*rgb, 0 if value in transparent else 255]) / 255
                     for value, rgb in colors.items() if value != 0}
            layer.colormap = DirectLabelColormap(color_dict={None: (0.5, 0.5, 0.5, 1.0), 0: (0, 0, 0, 0),
                                                             **table})

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.stop()
        super().closeEvent(event)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        # The viewer's window closes (the close button, viewer.close()): finish before napari
        # tears the layers and this widget down, so no worker calls into a deleted object.
        if event.type() == QEvent.Close:
            self.stop()
        return False
