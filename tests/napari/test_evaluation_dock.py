"""Evaluation dock: the table holds exactly labtools.metrics.evaluate's numbers, in mm and ml."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from napari.utils.notifications import NotificationSeverity, notification_manager
from qtpy.QtCore import Qt

from labtools import datasets
from labtools.metrics import evaluate
from napari_plugin.evaluation_dock import COLUMNS, EvaluationDock

pytestmark = pytest.mark.gui

# Under build/ (ignored): tests never modify tracked files; copy to docs/screenshots by hand.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
SPACING = (0.8, 0.8, 2.5)


@pytest.fixture(scope="module")
def phantom_pair():
    """Phantom tissue labels as reference; a prediction that is shifted, misses and adds voxels."""
    _, ref = datasets.phantom((48, 48, 24), n_lesions=3, seed=0, spacing=SPACING)
    pred = np.roll(ref, 1, axis=0)
    pred[pred == 2] = 0  # class 2 missed entirely: Dice 0, distances +inf
    pred[2:5, 2:5, 2:4] = 4  # a false-positive blob far from the class-4 lesions
    return pred, ref


def _errors_since(start: int) -> list[str]:
    return [n.message for n in notification_manager.records[start:]
            if n.severity == NotificationSeverity.ERROR]


def _dock_with(viewer, pred, ref, width=None):
    viewer.add_labels(ref, name="reference", scale=SPACING)
    viewer.add_labels(pred, name="prediction", scale=SPACING)
    dock = EvaluationDock(viewer)
    dock_widget = viewer.window.add_dock_widget(dock, name="Evaluation")
    if width:
        viewer.window._qt_window.resizeDocks([dock_widget], [width], Qt.Orientation.Horizontal)
    return dock


def _compute(dock, qtbot):
    """Click Compute and wait for the worker (the button is disabled while it runs)."""
    qtbot.mouseClick(dock.compute_button, Qt.MouseButton.LeftButton)
    assert dock.worker is not None
    qtbot.waitUntil(lambda: dock.compute_button.isEnabled(), timeout=30_000)


def test_table_equals_evaluate_with_layer_scale(make_napari_viewer, qtbot, phantom_pair, tmp_path):
    pred, ref = phantom_pair
    viewer = make_napari_viewer()
    dock = _dock_with(viewer, pred, ref)
    assert (dock.pred_combo.currentText(), dock.ref_combo.currentText()) == ("prediction", "reference")
    assert dock.spacing_edit.text() == "0.8, 0.8, 2.5"
    _compute(dock, qtbot)

    expected = evaluate(pred, ref, spacing=tuple(viewer.layers["reference"].scale),
                        labels=[1, 2, 3, 4], tolerance=1.0)
    assert list(dock.results) == [1, 2, 3, 4]  # every non-zero value present in either layer
    assert dock.table.rowCount() == 4
    for row, label in enumerate(expected):
        assert dock.table.verticalHeaderItem(row).text() == f"label {label}"
        for column, (_, key, _) in enumerate(COLUMNS):
            shown = dock.table.item(row, column).data(Qt.ItemDataRole.UserRole)
            want = float(expected[label][key])
            assert shown == want or (math.isnan(shown) and math.isnan(want)), (label, key)
    # Anisotropic spacing matters: with 1 mm voxels the volumes would be 1.6 x smaller.
    assert dock.results[1]["volume_ref_ml"] == pytest.approx((ref == 1).sum() * 0.8 * 0.8 * 2.5 / 1000)
    # Empty-mask cases in words, per docs/metrics.md.
    hd95_column = [key for _, key, _ in COLUMNS].index("hd95")
    assert dock.table.item(1, hd95_column).text() == "inf (one mask empty)"
    assert dock.table.item(3, [k for _, k, _ in COLUMNS].index("lesions_fp")).text() == "1"

    # CSV export round-trips every metric at full precision.
    out = dock.export_csv(tmp_path / "metrics.csv")
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["label"]) for r in rows] == [1, 2, 3, 4]
    assert rows[0]["reference"] == "reference" and rows[0]["prediction"] == "prediction"
    for row in rows:
        for key, want in expected[int(row["label"])].items():
            got = float(row[key])
            assert got == float(want) or (math.isnan(got) and math.isnan(float(want))), key


def test_edited_spacing_labels_and_tolerance_are_used(make_napari_viewer, qtbot, phantom_pair):
    pred, ref = phantom_pair
    viewer = make_napari_viewer()
    dock = _dock_with(viewer, pred, ref)
    dock.spacing_edit.setText("1, 1, 1")
    dock.labels_edit.setText("3, 2")
    dock.tolerance_spin.setValue(2.0)
    _compute(dock, qtbot)
    expected = evaluate(pred, ref, spacing=(1.0, 1.0, 1.0), labels=[3, 2], tolerance=2.0)
    assert list(dock.results) == [3, 2]
    assert dock.results[3]["nsd"] == expected[3]["nsd"]
    assert dock.results[3]["hd95"] == expected[3]["hd95"]


def test_combos_follow_layers(make_napari_viewer, qtbot, phantom_pair):
    pred, ref = phantom_pair
    viewer = make_napari_viewer()
    dock = EvaluationDock(viewer)
    assert dock.pred_combo.count() == 0
    viewer.add_image(ref.astype(float), name="intensities")  # not a Labels layer: not offered
    viewer.add_labels(ref, name="reference", scale=SPACING)
    viewer.add_labels(pred, name="model", scale=(1.0, 1.0, 3.0))
    assert [dock.pred_combo.itemText(i) for i in range(dock.pred_combo.count())] == ["reference", "model"]
    dock.ref_combo.setCurrentText("model")
    assert dock.spacing_edit.text() == "1, 1, 3"
    viewer.layers.remove("model")
    assert dock.pred_combo.count() == 1
    assert dock.ref_combo.currentText() == "reference"
    assert dock.spacing_edit.text() == "0.8, 0.8, 2.5"


def test_shape_mismatch_shows_labtools_message(make_napari_viewer, qtbot, phantom_pair):
    pred, ref = phantom_pair
    viewer = make_napari_viewer()
    dock = _dock_with(viewer, pred[:, :, :-2], ref)
    start = len(notification_manager.records)
    _compute(dock, qtbot)
    try:
        evaluate(pred[:, :, :-2], ref, spacing=SPACING, labels=[1])
    except Exception as err:  # the message labtools gives for this mistake
        message = str(err)
    assert _errors_since(start) == [message]
    assert "differ in shape" in message
    assert dock.table.rowCount() == 0 and not dock.export_button.isEnabled()
    # The dock still works afterwards.
    viewer.layers["prediction"].data = pred
    dock.labels_edit.setText("1")
    _compute(dock, qtbot)
    assert list(dock.results) == [1]


def test_bad_typed_input_is_a_notification(make_napari_viewer, qtbot, phantom_pair):
    pred, ref = phantom_pair
    viewer = make_napari_viewer()
    dock = _dock_with(viewer, pred, ref)
    start = len(notification_manager.records)
    dock.spacing_edit.setText("0.8, x")
    dock.compute()
    assert _errors_since(start) == ["spacing must be numbers in mm separated by commas, got '0.8, x'"]
    dock.spacing_edit.setText("0.8, 0.8")  # numbers, but 2 for a 3D volume: labtools says so
    _compute(dock, qtbot)
    assert "spacing must be 3 positive voxel sizes" in _errors_since(start)[-1]


def test_dock_screenshot(make_napari_viewer, qtbot, phantom_pair):
    pred, ref = phantom_pair
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1270, 800)
    # A wide dock shows the ten columns side by side (docs/napari.md suggests dragging it wider).
    dock = _dock_with(viewer, pred, ref, width=860)
    viewer.dims.current_step = (24, 24, 12)
    _compute(dock, qtbot)
    qtbot.wait(50)  # let the table lay out before grabbing it
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    image = dock.grab().toImage()
    assert image.save(str(SCREENSHOTS / "evaluation-dock.png"))
    shot = viewer.screenshot(str(SCREENSHOTS / "evaluation-viewer.png"), canvas_only=False, flash=False)
    # Non-trivial: the dock shows text on a background (many distinct colours), the
    # window shows the labels overlay (colour pixels, not only grey).
    pixels = np.array([image.pixel(x, y) for x in range(0, image.width(), 3)
                       for y in range(0, image.height(), 3)])
    assert image.width() > 200 and image.height() > 200
    assert len(np.unique(pixels)) > 20
    rgb = shot[..., :3].astype(float)
    assert (np.ptp(rgb, axis=-1) > 40).mean() > 0.01
