"""Training dock in a real viewer (Xvfb): live curves, stop, scribbles, apply, bad inputs, screenshots.

Networks are tiny (tiny_unet with 4-8 channels, small patches, a few steps), so
each run takes seconds on two CPU cores; the numbers checked are what such a
run reliably reaches, not what a real run reaches.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import pytest
from qtpy.QtCore import QTimer

from labtools.metrics import dice
from napari_plugin.training_dock import PREDICTION_LAYER, TrainingDock

pytestmark = pytest.mark.gui

# Under build/ (ignored): tests never modify tracked files; copy to docs/screenshots by hand.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
TRAINING_TIMEOUT_MS = 120_000


def _dock(viewer, out: Path, *, epochs=3, steps=6, patch="48,48", docked=False) -> TrainingDock:
    dock = TrainingDock(viewer)
    if docked:
        viewer.window.add_dock_widget(dock, name="Training", area="right")
    dock.model_name.setCurrentText("tiny_unet")
    dock.channels.setText("8,16")
    dock.epochs.setValue(epochs)
    dock.steps.setValue(steps)
    dock.batch_size.setValue(8)
    dock.patch_size.setText(patch)
    dock.lr.setValue(1e-2)
    dock.out.setText(str(out))
    return dock


def _train(qtbot, dock) -> None:
    dock.train_button.click()
    assert not dock.train_button.isEnabled()  # busy while the worker runs
    qtbot.waitUntil(dock.train_button.isEnabled, timeout=TRAINING_TIMEOUT_MS)


def _apply(qtbot, dock, viewer):
    dock.apply_button.click()
    qtbot.waitUntil(lambda: PREDICTION_LAYER in viewer.layers and dock.apply_button.isEnabled(),
                    timeout=TRAINING_TIMEOUT_MS)
    return viewer.layers[PREDICTION_LAYER]


def _errors_after(start: int) -> list[str]:
    from napari.utils.notifications import NotificationSeverity, notification_manager

    return [str(n.message) for n in notification_manager.records[start:]
            if n.severity == NotificationSeverity.ERROR]


def _error_count() -> int:
    from napari.utils.notifications import notification_manager

    return len(notification_manager.records)


def _save_png(image: np.ndarray, name: str) -> Path:
    from imageio.v3 import imwrite

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    imwrite(path, image)
    return path


def _grab(widget) -> np.ndarray:
    """The widget as an (H, W, 4) uint8 RGBA array."""
    from qtpy.QtGui import QImage

    qimage = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGBA8888)
    height, width = qimage.height(), qimage.width()
    buffer = qimage.constBits()
    buffer.setsize(qimage.sizeInBytes())
    return np.frombuffer(buffer, np.uint8).reshape(height, qimage.bytesPerLine() // 4, 4)[:, :width].copy()


def test_training_on_the_phantom_draws_every_epoch_and_applies(make_napari_viewer, qtbot, tmp_path,
                                                               monkeypatch):
    viewer = make_napari_viewer(show=True)
    viewer.open_sample("labtools", "phantom")
    dock = _dock(viewer, tmp_path / "run", epochs=5, docked=True)
    assert dock.image_choice.currentText() == "phantom"
    assert dock.labels_choice.currentText() == "phantom labels"
    assert dock.n_classes.value() == 5  # phantom labels 0..4
    assert dock.device.text().startswith("Device: cpu")  # this machine has no GPU
    assert not dock.apply_button.isEnabled()  # nothing trained yet

    _train(qtbot, dock)

    assert [r["epoch"] for r in dock.history] == [1, 2, 3, 4, 5]
    for key in ("train_loss", "val_loss", "val_dice"):
        assert dock.plot.points(key)[0] == [1, 2, 3, 4, 5], key  # one point per epoch and curve
    with open(tmp_path / "run" / "history.csv") as file:
        assert len(list(csv.DictReader(file))) == 5
    assert (tmp_path / "run" / "best.pt").is_file() and (tmp_path / "run" / "curves.png").is_file()
    assert dock.status.text().startswith("Finished after 5 epochs")
    # The plan was shown when training started: the dock's entries as overrides, the rest planned.
    shown = dock.plan_text.toPlainText()
    assert "model           tiny_unet" in shown and "given" in shown
    assert "normalization   zscore" in shown and "augment" in shown
    assert (tmp_path / "run" / "plan.json").is_file()

    shot = _grab(dock)
    _save_png(shot, "training-dock.png")
    plot_pixels = _grab(dock.plot)[..., :3].astype(int)
    # Coloured curve pixels on the black plot: the three pens are far from grey.
    assert (np.ptp(plot_pixels, axis=-1) > 60).sum() > 200

    layer = _apply(qtbot, dock, viewer)
    image, truth = viewer.layers["phantom"], viewer.layers["phantom labels"].data
    assert layer._type_string == "labels"
    assert layer.data.shape == truth.shape
    np.testing.assert_array_equal(layer.scale, image.scale)
    np.testing.assert_array_equal(layer.translate, image.translate)
    np.testing.assert_array_equal(layer.metadata["affine"], image.metadata["affine"])
    assert dice(layer.data > 0, truth > 0) > 0.7  # brain against background, after 30 steps
    assert set(np.unique(layer.data)) <= set(range(5))
    # Training again into the same folder: refused in the dock's words, the curves stay.
    errors = []
    monkeypatch.setattr("napari_plugin.training_dock.show_error", errors.append)
    dock.start_training()
    assert "already holds a training run; choose another output folder" in errors[-1]
    assert dock.plot.points("train_loss")[0] == [1, 2, 3, 4, 5]
    viewer.layers["phantom labels"].visible = False  # the prediction over the image, alone
    viewer.layers.selection.active = layer
    canvas = viewer.screenshot(canvas_only=False, flash=False)
    _save_png(canvas, "training-prediction.png")
    assert canvas[..., :3].std() > 5


def test_stop_ends_within_one_epoch_and_the_ui_keeps_answering(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    viewer.open_sample("labtools", "phantom")
    dock = _dock(viewer, tmp_path / "long", epochs=1000, steps=4, patch="32,32")
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)

    dock.train_button.click()
    qtbot.waitUntil(lambda: len(dock.history) >= 2, timeout=TRAINING_TIMEOUT_MS)
    measured_from = len(ticks)
    qtbot.waitUntil(lambda: len(dock.history) >= 4, timeout=TRAINING_TIMEOUT_MS)
    gaps = np.diff(ticks[measured_from:])
    at_stop = len(dock.history)
    dock.stop_button.click()
    qtbot.waitUntil(dock.train_button.isEnabled, timeout=TRAINING_TIMEOUT_MS)
    timer.stop()

    assert at_stop <= len(dock.history) <= at_stop + 1  # the epoch in progress ends, no more
    with open(tmp_path / "long" / "history.csv") as file:
        assert len(list(csv.DictReader(file))) == len(dock.history)  # every shown epoch is saved
    assert (tmp_path / "long" / "last.pt").is_file()
    assert dock.status.text().startswith(f"Finished after {len(dock.history)} epochs")
    # The Qt event loop answered a 10 ms timer throughout two epochs of training.
    assert len(gaps) > 10 and gaps.max() < 0.2, f"longest event-loop stall {gaps.max():.3f} s"


def _strokes(truth: np.ndarray, slices, per_class: int = 12, seed: int = 0) -> np.ndarray:
    """Scribbles (class k -> k + 1) of small 3x3 dabs on a few slices of axis 0."""
    rng = np.random.default_rng(seed)
    scribbles = np.zeros(truth.shape, np.uint8)
    for index in slices:
        for k in np.unique(truth[index]):
            rows, cols = np.nonzero(truth[index] == k)
            for pick in rng.choice(len(rows), min(per_class, len(rows)), replace=False):
                r, c = rows[pick], cols[pick]
                dab = truth[index, r - 1:r + 2, c - 1:c + 2] == k
                scribbles[index, r - 1:r + 2, c - 1:c + 2][dab] = k + 1
    return scribbles


def test_scribbles_train_from_a_few_strokes(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    viewer.open_sample("labtools", "phantom")
    truth = viewer.layers["phantom labels"].data
    scribbles = _strokes(truth, slices=range(30, 70, 4))  # ten slices along axis 0
    viewer.add_labels(scribbles, name="scribbles", scale=viewer.layers["phantom"].scale)
    dock = _dock(viewer, tmp_path / "scribbles", epochs=4, steps=8)
    dock.labels_choice.setCurrentText("scribbles")
    dock.scribbles.setChecked(True)
    assert dock.n_classes.value() == 5  # scribble classes 1..5 -> five network outputs
    assert (scribbles > 0).mean() < 0.01  # a few strokes, not a segmentation

    _train(qtbot, dock)

    assert [r["epoch"] for r in dock.history] == [1, 2, 3, 4]
    assert (dock.run_info["train"], dock.run_info["val"]) == (8, 2)  # every 5th stroked slice validates
    layer = _apply(qtbot, dock, viewer)
    assert layer.data.min() >= 1  # classes come back as scribble classes 1..5
    assert dice(layer.data > 1, truth > 0) > 0.5  # brain (scribble classes 2..5) against background


def test_bad_inputs_show_labtools_messages_without_crashing(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    viewer.open_sample("labtools", "phantom")
    labels_layer = viewer.layers.pop(1)
    dock = _dock(viewer, tmp_path / "bad", epochs=1, steps=1)

    start = _error_count()  # no Labels layer at all
    dock.train_button.click()
    assert any("choose an Image layer and a Labels layer" in m for m in _errors_after(start))
    assert dock.train_button.isEnabled() and not dock.history

    viewer.layers.append(labels_layer)  # label values 0..4, but only 3 classes asked for
    dock.n_classes.setValue(3)
    start = _error_count()
    _train(qtbot, dock)
    assert any("label values run from 0 to" in m and "but the model has 3 output channels" in m
               for m in _errors_after(start)), _errors_after(start)
    assert dock.status.text().startswith("Training failed: ")

    viewer.add_labels(np.zeros((96, 96, 70), np.uint8), name="other grid")  # shape mismatch
    dock.labels_choice.setCurrentText("other grid")
    dock.out.setText(str(tmp_path / "bad-shape"))
    start = _error_count()
    _train(qtbot, dock)
    assert any("differ in shape" in m for m in _errors_after(start)), _errors_after(start)

    dock.patch_size.setText("48,x")  # a form entry that is not numbers
    start = _error_count()
    dock.train_button.click()
    assert any("patch size: write whole numbers" in m for m in _errors_after(start))
    assert dock.train_button.isEnabled()


def test_training_from_a_folder(make_napari_viewer, qtbot, tmp_path):
    from labtools import datasets, io

    for sub in ("images", "labels"):
        (tmp_path / "data" / sub).mkdir(parents=True)
    for seed in range(2):
        image, labels = datasets.phantom((32, 32, 16), n_lesions=1, seed=seed)
        io.save(image, tmp_path / "data" / "images" / f"case{seed}.nii.gz")
        io.save(image.with_array(labels.astype(np.uint8)), tmp_path / "data" / "labels" / f"case{seed}.nii.gz")
    viewer = make_napari_viewer()
    dock = _dock(viewer, tmp_path / "folder-run", epochs=2, steps=2, patch="32,32")
    dock.source.setCurrentText("a folder (images/, labels/)")
    assert dock.folder.isEnabled() and not dock.labels_choice.isEnabled()
    dock.folder.setText(str(tmp_path / "data"))
    dock.lr.setValue(0)  # shown as "plan": the plan's learning rate
    assert dock.lr.text() == "plan"

    _train(qtbot, dock)
    from labtools.training import load_plan, plan
    from labtools.training.sources import load_source

    saved = load_plan(tmp_path / "folder-run")
    expected = plan(load_source(str(tmp_path / "data"), 2), dims=2, device="cpu")
    assert saved.lr == expected.lr and saved.reasons["lr"] == expected.reasons["lr"]
    assert saved.batch_size == 8 and saved.reasons["batch_size"] == "given"

    assert [r["epoch"] for r in dock.history] == [1, 2]
    assert dock.run_info["classes"] == 5 and dock.run_info["val"] > 0  # one case validates
    assert (tmp_path / "folder-run" / "best.pt").is_file()
