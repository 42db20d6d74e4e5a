"""Training dock: train a labtools network from napari layers (or a folder), watch it learn, apply it.

A thin face over :mod:`labtools.training`: the dock gathers options and copies
the chosen layers on the GUI thread, then :func:`napari_plugin._training_jobs.train`
runs :func:`labtools.training.fit_iter` in a napari thread worker and hands back
one record per epoch, which the GUI thread draws (:class:`CurvesPlot`). How one
image is split into training and validation parts is
:func:`labtools.training.split.split_one_image`. User guide: ``docs/napari-training.md``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from napari.layers import Image, Labels
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error
from qtpy.QtGui import QFontDatabase
from qtpy.QtCore import QEvent
from qtpy.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout,
                            QLabel, QLineEdit, QPlainTextEdit, QPushButton, QSpinBox, QWidget)

from labtools.models import MODEL_NAMES
from labtools.training.devices import describe_device, select_device

from napari_plugin._layer_choice import refill_layer_choice
from napari_plugin._layers import layer_to_image
from napari_plugin._scroll import scrolling_layout
from napari_plugin._training_jobs import TrainingJob, apply, train
from napari_plugin._training_plot import CurvesPlot

__all__ = ["TrainingDock", "PREDICTION_LAYER"]

# Not "prediction": the labeling dock's pixel-classifier output may be open beside it.
PREDICTION_LAYER = "network prediction"
FROM_LAYERS, FROM_FOLDER = "image + labels layers", "a folder (images/, labels/)"
PLAN = "plan"  # what a field shows when it keeps the plan's choice
DIMS = {"2D (slices along the viewed axis)": 2, "3D": 3}


class TrainingDock(QWidget):
    """Train a segmentation network on the current image and labels, with live curves.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer whose layers the dock trains on (npe2 widget contract).
    """

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.history: list[dict] = []       # the records of the current (or last) run
        self.run_info: dict = {}             # device, pair counts and notes of that run
        self.run_folder: Path | None = None  # where the last run wrote its checkpoints
        self._train_worker = None
        self._apply_worker = None
        self._applied_with = (-1, 0)         # (slice axis, class offset) of the last run's data
        self._failed = False
        self._build()
        self.viewer.layers.events.inserted.connect(self._refresh_layers)
        self.viewer.layers.events.removed.connect(self._refresh_layers)
        self._refresh_layers()
        self._update_enabled()
        window = getattr(getattr(napari_viewer, "window", None), "_qt_window", None)
        if window is not None:
            window.installEventFilter(self)

    # --- closing -------------------------------------------------------------------------------
    def shutdown(self, timeout: float = 300.0) -> None:
        """Stop a running training after its epoch (which is saved) and wait; drop an application.

        Called when the dock or the viewer closes, so no worker reports into deleted widgets.
        """
        import time

        for worker, stop in ((self._train_worker, True), (self._apply_worker, False)):
            if worker is None:
                continue
            for signal in ("yielded", "returned", "errored", "finished"):
                try:
                    getattr(worker, signal).disconnect()
                except (AttributeError, TypeError, RuntimeError):
                    pass
            if stop:
                worker.send("stop")
            deadline = time.monotonic() + timeout
            while worker.is_running and time.monotonic() < deadline:
                time.sleep(0.02)
        self._train_worker = self._apply_worker = None

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.shutdown()
        super().closeEvent(event)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Close:  # the viewer's window closes
            self.shutdown()
        return False

    # --- the form ------------------------------------------------------------------------------
    def _build(self) -> None:
        self.source = QComboBox()
        self.source.addItems([FROM_LAYERS, FROM_FOLDER])
        self.image_choice = QComboBox()
        self.labels_choice = QComboBox()
        self.scribbles = QCheckBox("labels are scribbles (0 = unlabelled)")
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("folder with images/ and labels/")
        browse = QPushButton("…")
        browse.setMaximumWidth(30)
        browse.clicked.connect(lambda: self._browse(self.folder))
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder)
        folder_row.addWidget(browse)

        # Every training choice left at "plan" comes from labtools.training.plan (nnU-Net's rules,
        # shown in the Plan box when training starts); a value typed here overrides that choice only.
        self.model_name = QComboBox()
        self.model_name.addItems([PLAN, *MODEL_NAMES])
        self.channels = QLineEdit()
        self.channels.setPlaceholderText(PLAN)
        self.dims = QComboBox()
        self.dims.addItems(DIMS)
        self.n_classes = QSpinBox()
        self.n_classes.setRange(2, 255)
        self.n_classes.setToolTip("network outputs; set from the labels layer, change it if a class is missing")
        self.epochs = _spin(0, 10_000, 0, special=PLAN)
        self.steps = _spin(0, 100_000, 0, special=PLAN)
        self.batch_size = _spin(0, 1024, 0, special=PLAN)
        self.max_time = _spin(0, 7 * 24 * 3600, 0, special="no limit")
        self.max_time.setSuffix(" s")
        self.max_time.setToolTip("a time budget: the learning-rate schedule is fitted to it")
        self.patch_size = QLineEdit()
        self.patch_size.setPlaceholderText(PLAN)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.0, 1.0)
        self.lr.setSingleStep(1e-4)
        self.lr.setSpecialValueText(PLAN)
        self.lr.setValue(0.0)
        self.plan_text = QPlainTextEdit()
        self.plan_text.setReadOnly(True)
        self.plan_text.setPlaceholderText("The plan (each choice and why) appears when training starts.")
        self.plan_text.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        self.plan_text.setMaximumHeight(120)
        self.out = QLineEdit()
        self.out.setPlaceholderText(f"new folder in {runs_root()}")
        self.device = QLabel(f"Device: {describe_device(select_device('auto'))}")

        form = QFormLayout()
        form.addRow("Train from", self.source)
        form.addRow("Image", self.image_choice)
        form.addRow("Labels", self.labels_choice)
        form.addRow("", self.scribbles)
        form.addRow("Folder", folder_row)
        form.addRow("Model", self.model_name)
        form.addRow("Channels", self.channels)
        form.addRow("Network", self.dims)
        form.addRow("Classes", self.n_classes)
        form.addRow("Epochs", self.epochs)
        form.addRow("Steps per epoch", self.steps)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Patch size", self.patch_size)
        form.addRow("Learning rate", self.lr)
        form.addRow("Time budget", self.max_time)
        form.addRow("Output folder", self.out)

        self.train_button = QPushButton("Train")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("stop after the epoch in progress (it is saved)")
        self.apply_button = QPushButton("Apply to current image")
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.stop_button)
        self.plot = CurvesPlot()
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)

        layout = scrolling_layout(self)
        layout.addLayout(form)
        layout.addWidget(self.device)
        layout.addWidget(QLabel("Plan"))
        layout.addWidget(self.plan_text)
        layout.addLayout(buttons)
        layout.addWidget(self.plot)
        layout.addWidget(self.status)
        layout.addWidget(self.apply_button)
        layout.addStretch(1)

        self.source.currentIndexChanged.connect(self._update_enabled)
        self.labels_choice.currentIndexChanged.connect(self._guess_classes)
        self.scribbles.toggled.connect(self._guess_classes)
        self.train_button.clicked.connect(self.start_training)
        self.stop_button.clicked.connect(self.stop_training)
        self.apply_button.clicked.connect(self.apply_to_image)

    def _browse(self, line: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Training folder", line.text())
        if folder:
            line.setText(folder)

    def _refresh_layers(self, event=None) -> None:
        """Offer the viewer's Image and Labels layers, keeping the current choices."""
        refill_layer_choice(self.image_choice, self.viewer, Image)
        refill_layer_choice(self.labels_choice, self.viewer, Labels)
        self._guess_classes()

    def _guess_classes(self, *_) -> None:
        """Classes = largest label + 1 (dense labels) or the largest scribble class."""
        layer = self._layer(self.labels_choice, Labels)
        if layer is None:
            return
        top = int(np.max(layer.data)) if np.asarray(layer.data).size else 0
        self.n_classes.setValue(max(top if self.scribbles.isChecked() else top + 1, 2))

    def _update_enabled(self, *_) -> None:
        busy = self._train_worker is not None
        from_layers = self.source.currentText() == FROM_LAYERS
        for widget in (self.image_choice, self.labels_choice, self.scribbles, self.n_classes):
            widget.setEnabled(from_layers and not busy)
        self.folder.setEnabled(not from_layers and not busy)
        self.train_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.apply_button.setEnabled(not busy and self._apply_worker is None
                                     and self.run_folder is not None and self._checkpoint() is not None)

    def _layer(self, combo: QComboBox, kind):
        name = combo.currentText()
        if name in self.viewer.layers and isinstance(self.viewer.layers[name], kind):
            return self.viewer.layers[name]
        return None

    # --- training ------------------------------------------------------------------------------
    def start_training(self) -> None:
        """Copy the inputs, then train in a worker; the plot and status follow each epoch."""
        try:
            job = self._job()
        except ValueError as err:  # a form entry (patch size, channels) or a missing layer
            show_error(str(err))
            return
        self.history, self.run_info, self._failed = [], {}, False
        self.plot.clear()
        self.run_folder = Path(job.options["out"])
        self._applied_with = (job.axis, 1 if job.scribbles else 0)
        self.status.setText("Preparing the data …")
        self._train_worker = create_worker(train, job)
        self._train_worker.yielded.connect(self._on_event)
        self._train_worker.finished.connect(self._on_training_finished)
        self._update_enabled()
        self._train_worker.start()

    def stop_training(self) -> None:
        """Ask training to end after the epoch in progress (that epoch is saved)."""
        if self._train_worker is not None:
            self._train_worker.send("stop")
            self.stop_button.setEnabled(False)
            self.status.setText(self.status.text() + " — stopping after this epoch …")

    def _job(self) -> TrainingJob:
        given = self.out.text().strip()
        if given and (Path(given) / "last.pt").exists():  # fit would refuse it; say it in dock terms
            raise ValueError(f"{given} already holds a training run; choose another output folder, "
                             "or leave the field empty for a new one")
        options = {"out": self.out.text().strip() or tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"),
                                                                      dir=runs_root())}
        if self.max_time.value():
            options["max_time"] = float(self.max_time.value())
        # 0 (shown as "plan") and empty fields leave the plan's choice.
        given = {"epochs": self.epochs.value(), "steps_per_epoch": self.steps.value(),
                 "batch_size": self.batch_size.value(), "lr": self.lr.value(),
                 "patch_size": _ints(self.patch_size.text(), "patch size"),
                 "channels": _ints(self.channels.text(), "channels"), "model": self.model_name.currentText()}
        overrides = {name: value for name, value in given.items() if value and value != PLAN}
        common = {"dims": DIMS[self.dims.currentText()], "options": options, "overrides": overrides}
        if self.source.currentText() == FROM_FOLDER:
            if not self.folder.text().strip():
                raise ValueError("choose a folder with images/ and labels/ to train from")
            return TrainingJob(folder=self.folder.text().strip(), **common)
        image_layer = self._layer(self.image_choice, Image)
        labels_layer = self._layer(self.labels_choice, Labels)
        if image_layer is None or labels_layer is None:
            raise ValueError("choose an Image layer and a Labels layer to train from "
                             "(or train from a folder)")
        image = self._image_of(image_layer)
        # Copies: the annotator may keep painting while the network trains on a snapshot.
        labels = np.array(labels_layer.data, copy=True)
        return TrainingJob(image=image, labels=labels, scribbles=self.scribbles.isChecked(),
                           axis=self._viewed_axis(image_layer), n_classes=self.n_classes.value(), **common)

    def _image_of(self, layer):
        return layer_to_image(np.array(layer.data, copy=True),
                              {"metadata": layer.metadata, "scale": layer.scale, "translate": layer.translate})

    def _viewed_axis(self, layer) -> int:
        """The layer axis napari slices along (the dims slider's axis), for 2D training."""
        world_axis = self.viewer.dims.order[0]
        axis = world_axis - (self.viewer.dims.ndim - layer.ndim)
        return axis if 0 <= axis < layer.ndim else layer.ndim - 1

    def _on_event(self, event) -> None:
        kind, payload = event
        if kind == "started":
            self.run_info = payload
            self.plan_text.setPlainText(payload["plan"])
            notes = "; ".join(payload["notes"])
            self.status.setText(f"Training on {payload['device']}: {payload['train']} training and "
                                f"{payload['val']} validation pairs, {payload['classes']} classes ({notes}).")
        elif kind == "epoch":
            self.history.append(payload)
            self.plot.add(payload)
            text = (f"Epoch {payload['epoch']}/{self.run_info.get('epochs', '?')}: "
                    f"training loss {payload['train_loss']:.4f}")
            if "val_dice" in payload:
                text += f", validation loss {payload['val_loss']:.4f}, Dice {payload['val_dice']:.4f}"
            self.status.setText(text + f" ({payload['time']:.0f} s)")
        elif kind == "failed":
            self._failed = True
            show_error(payload)
            self.status.setText(f"Training failed: {payload}")
        elif kind == "ended" and not self._failed:
            self.status.setText(f"Finished after {payload['epochs']} epochs; checkpoints, history.csv "
                                f"and curves.png in {payload['out']}")

    def _on_training_finished(self) -> None:
        self._train_worker = None
        self._update_enabled()

    # --- applying the model --------------------------------------------------------------------
    def _checkpoint(self) -> Path | None:
        for name in ("best.pt", "last.pt"):
            if self.run_folder is not None and (self.run_folder / name).is_file():
                return self.run_folder / name
        return None

    def apply_to_image(self) -> None:
        """Segment the chosen image with the last run's best checkpoint, in a worker."""
        layer = self._layer(self.image_choice, Image)
        checkpoint = self._checkpoint()
        if layer is None or checkpoint is None:
            show_error("train a network first, and choose the Image layer to apply it to")
            return
        axis, offset = self._applied_with
        self.status.setText(f"Segmenting {layer.name} with {checkpoint} …")
        self._apply_worker = create_worker(apply, checkpoint, self._image_of(layer), axis=axis, offset=offset)
        self._apply_worker.returned.connect(lambda result: self._show_prediction(layer, result))
        self._apply_worker.finished.connect(self._on_apply_finished)
        self._update_enabled()
        self._apply_worker.start()

    def _show_prediction(self, image_layer, result) -> None:
        kind, payload = result
        if kind == "failed":
            show_error(payload)
            self.status.setText(f"Applying failed: {payload}")
            return
        settings = {"scale": image_layer.scale, "translate": image_layer.translate,
                    "metadata": {**image_layer.metadata, "source": str(self._checkpoint())}}
        if PREDICTION_LAYER in self.viewer.layers and isinstance(self.viewer.layers[PREDICTION_LAYER], Labels):
            layer = self.viewer.layers[PREDICTION_LAYER]
            layer.data = payload
            for key, value in settings.items():
                setattr(layer, key, value)
        else:
            self.viewer.add_labels(payload, name=PREDICTION_LAYER, opacity=0.5, **settings)
        self.status.setText(f"Segmented {image_layer.name}: layer '{PREDICTION_LAYER}'.")

    def _on_apply_finished(self) -> None:
        self._apply_worker = None
        self._update_enabled()


def runs_root() -> Path:
    """Where runs go when no output folder is given: ``<temp>/labtools-runs``."""
    root = Path(tempfile.gettempdir()) / "labtools-runs"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _spin(low: int, high: int, value: int, special: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSpecialValueText(special)  # shown instead of the minimum (0 = "plan")
    box.setValue(value)
    return box


def _ints(text: str, what: str) -> tuple[int, ...] | None:
    """``"64, 64"`` -> (64, 64); empty -> None (labtools' default)."""
    if not text.strip():
        return None
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise ValueError(f"{what}: write whole numbers separated by commas, e.g. 64,64") from None
