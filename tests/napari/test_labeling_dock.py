"""The labeling dock in a real viewer (Xvfb): scripted labeling, responsiveness, autosave, undo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from app_model.types import KeyCode, KeyMod
from napari.utils.key_bindings import KeyBinding
from napari.utils.notifications import notification_manager
from qtpy.QtCore import QElapsedTimer, QTimer
from scipy import ndimage as ndi

from labtools import io, metrics
from labtools.labeling import scribbles_path_for
from napari_plugin._labeling_layers import strokes_from_paint
from napari_plugin.labeling_dock import LabelingDock

pytestmark = pytest.mark.gui

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHILD = Path(__file__).with_name("_labeling_kill_child.py")


def paint_drag(layer, points, label: int) -> None:
    """Paint like one mouse drag: one history item, hence one napari paint event."""
    with layer.block_history():
        for point in points:
            layer.paint(point, label, refresh=False)
    layer.refresh()


def wait_idle(qtbot, dock, timeout=60_000) -> None:
    qtbot.waitUntil(lambda: not dock.jobs.busy, timeout=timeout)


def errors_since(start: int) -> list[str]:
    return [str(n.message) for n in notification_manager.records[start:]
            if n.severity.name == "ERROR"]


def mni152_dock(viewer):
    """MNI152 sample, axial planes on screen (z sliced), a dock started on the T1."""
    viewer.open_sample("labtools", "mni152")
    viewer.dims.order = (2, 0, 1)
    dock = LabelingDock(viewer)
    viewer.window.add_dock_widget(dock, name="Pixel classification")
    assert dock.start(viewer.layers["MNI152 T1"]) is not None
    return dock, np.asarray(viewer.layers["MNI152 T1"].data), np.asarray(viewer.layers["MNI152 tissues"].data)


def paint_tissues(dock, tissues, planes, per_class=12, seed=0) -> None:
    """One brush drag per class and plane, on voxels well inside that tissue (brush fits)."""
    rng = np.random.default_rng(seed)
    layer = dock.scribbles_layer
    layer.brush_size = 2
    for z in planes:
        for label in (1, 2, 3, 4):
            inside = ndi.binary_erosion(tissues[:, :, z] == label, iterations=2)
            points = np.argwhere(inside)
            chosen = points[rng.choice(len(points), min(per_class, len(points)), replace=False)]
            paint_drag(layer, [(x, y, z) for x, y in chosen], label)


def test_scripted_labeling_reaches_dice_and_saves_screenshots(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)  # a shown canvas, or the screenshot is black
    dock, image, tissues = mni152_dock(viewer)
    middle = image.shape[2] // 2
    viewer.dims.set_current_step(2, middle)
    planes = (middle - 15, middle, middle + 15)
    paint_tissues(dock, tissues, planes)

    # The layer and the session agree, one undo step per drag.
    np.testing.assert_array_equal(dock.scribbles_layer.data, dock.session.scribbles)
    assert set(dock.session.class_counts()) == {1, 2, 3, 4}
    wait_idle(qtbot, dock)  # live update: refit + the plane on screen
    on_screen = dock.prediction_layer.data[:, :, middle]
    assert metrics.dice(on_screen == 3, tissues[:, :, middle] == 3) > 0.8
    assert not dock.prediction_layer.data[:, :, middle + 1].any()  # only the plane on screen
    assert dock.uncertainty_layer.data[:, :, middle].max() > 0
    viewer.dims.set_current_step(2, middle + 1)  # scrolling predicts the new plane too
    wait_idle(qtbot, dock)
    assert dock.prediction_layer.data[:, :, middle + 1].any()

    dock.predict_volume()  # cancelled after its first slab: the layer keeps the planes it had
    qtbot.waitUntil(lambda: dock.progress.value() > 0, timeout=30_000)
    assert dock.cancel_button.isEnabled()
    dock.cancel_button.click()
    wait_idle(qtbot, dock)
    assert "cancelled" in dock.status.text()
    assert not dock.prediction_layer.data[:, :, 0].any()
    dock.predict_volume()
    wait_idle(qtbot, dock)
    assert dock.progress.value() == dock.progress.maximum() == image.shape[2]
    prediction = np.asarray(dock.prediction_layer.data)
    for label in (3, 4):  # grey and white matter
        assert metrics.dice(prediction == label, tissues == label) > 0.8, label

    viewer.layers["MNI152 tissues"].visible = False
    shot = viewer.screenshot(canvas_only=False, flash=False)
    rgb = shot[..., :3].astype(float)
    assert rgb.std() > 20
    assert (np.ptp(rgb, axis=-1) > 40).mean() > 0.02  # prediction colours, not only grey
    from imageio.v3 import imwrite

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    imwrite(SCREENSHOTS / "labeling-overlay.png", shot)
    grab = dock.grab()
    assert grab.width() > 100 and grab.height() > 200
    assert grab.save(str(SCREENSHOTS / "labeling-dock.png"))


def test_event_loop_answers_while_live_update_runs(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    dock, _, tissues = mni152_dock(viewer)
    middle = tissues.shape[2] // 2
    viewer.dims.set_current_step(2, middle)
    dock.live_check.setChecked(False)
    paint_tissues(dock, tissues, (middle,), per_class=6)
    gaps, clock = [], QElapsedTimer()
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: (gaps.append(clock.restart())))
    clock.start()
    timer.start()
    # The first update is the longest: the feature bank of the whole volume, the fit, the plane.
    dock.live_check.setChecked(True)
    dock.request_update()
    assert dock.jobs.running == "update"
    wait_idle(qtbot, dock)
    # Then strokes while refits run: painting and autosaving happen in the GUI thread.
    paint_tissues(dock, tissues, (middle + 5,), per_class=6, seed=1)
    wait_idle(qtbot, dock)
    timer.stop()
    assert len(gaps) > 50
    assert max(gaps) < 200, sorted(gaps)[-5:]
    assert dock.prediction_layer.data[:, :, middle].any()


def test_kill_9_mid_labeling_restores_scribbles_on_reopen(make_napari_viewer, qtbot, tmp_path):
    rng = np.random.default_rng(0)
    image = ndi.gaussian_filter(rng.random((40, 36, 12)), 2).astype(np.float32)
    path = io.save(image, tmp_path / "case_t1.nii.gz", spacing=(0.8, 0.8, 2.5))
    reference = tmp_path / "painted.npy"
    child = subprocess.Popen([sys.executable, str(CHILD), str(path), str(reference)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "READY" not in line and time.monotonic() < deadline and child.poll() is None:
            line = child.stdout.readline()
        assert "READY" in line, child.stderr.read() if child.poll() is not None else "no READY in 60 s"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    painted = np.load(reference)
    assert set(np.unique(painted)) == {0, 1, 2, 3}

    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="labtools")
    dock = LabelingDock(viewer)
    dock.live_check.setChecked(False)
    session = dock.start(layer)
    assert session.restored_from == scribbles_path_for(path)
    np.testing.assert_array_equal(dock.scribbles_layer.data, painted)
    np.testing.assert_array_equal(session.scribbles, painted)
    np.testing.assert_allclose(dock.scribbles_layer.scale, (0.8, 0.8, 2.5))

    # Go on labeling: the most uncertain plane along the sliced axis (0) is put on screen.
    assert viewer.dims.not_displayed == (0,)
    dock.go_to_most_uncertain_slice()
    wait_idle(qtbot, dock)
    expected = session.classifier.suggest(session.image, n=1, axis=0)[0]
    assert viewer.dims.current_step[0] == expected
    assert f"Slice {expected}" in dock.status.text()


def test_undo_redo_keep_layer_and_session_in_step(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    image = np.linspace(0, 1, 48 * 48, dtype=np.float32).reshape(48, 48)
    layer = viewer.add_image(image, name="ramp")
    dock = LabelingDock(viewer)
    dock.live_check.setChecked(False)
    dock.start(layer)
    scribbles = dock.scribbles_layer
    scribbles.brush_size = 3
    paint_drag(scribbles, [(5, 5), (6, 6)], 1)
    after_first = np.array(scribbles.data)
    paint_drag(scribbles, [(40, 40), (41, 42)], 2)
    after_second = np.array(scribbles.data)
    assert dock.undo_button.isEnabled() and not dock.redo_button.isEnabled()

    dock.undo_button.click()
    np.testing.assert_array_equal(scribbles.data, after_first)
    np.testing.assert_array_equal(dock.session.scribbles, after_first)
    assert dock.redo_button.isEnabled()
    dock.redo_button.click()
    np.testing.assert_array_equal(scribbles.data, after_second)
    np.testing.assert_array_equal(dock.session.scribbles, after_second)
    dock.undo_button.click()
    undo_key = scribbles.keymap[KeyBinding.from_int(KeyMod.CtrlCmd | KeyCode.KeyZ)]
    undo_key(scribbles)  # Ctrl+Z on the scribbles layer goes through the session too
    assert not scribbles.data.any() and not dock.session.scribbles.any()
    assert not dock.undo_button.isEnabled()

    # Exact voxels through data_setitem (several labels in one event): one stroke per label.
    dock.redo()
    scribbles.data_setitem((np.array([10, 11, 30]), np.array([10, 10, 30])), np.array([3, 3, 4]))
    np.testing.assert_array_equal(scribbles.data, dock.session.scribbles)
    assert dock.session.class_counts()[3] == 2 and dock.session.class_counts()[4] == 1

    # Update now, then a classifier round trip and an export on the image's grid.
    dock.request_update(force=True)
    wait_idle(qtbot, dock)
    assert dock.prediction_layer.data.any()
    dock.save_classifier(tmp_path / "clf.joblib")
    wait_idle(qtbot, dock)
    dock.load_classifier(tmp_path / "clf.joblib")
    wait_idle(qtbot, dock)
    np.testing.assert_array_equal(dock.session.scribbles, scribbles.data)
    dock.export_segmentation(tmp_path / "ramp_seg.nii.gz")
    wait_idle(qtbot, dock)
    exported = io.load(tmp_path / "ramp_seg.nii.gz").array
    assert exported.shape == image.shape and set(np.unique(exported)) <= {1, 2, 3, 4}


def test_bad_input_shows_a_notification(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    dock = LabelingDock(viewer)
    start = len(notification_manager.records)
    assert dock.start() is None  # no image layer at all
    assert "No image layer" in errors_since(start)[-1]

    rgb = viewer.add_image(np.zeros((32, 32, 3), np.uint8), rgb=True, name="photo")
    assert dock.start(rgb) is None
    assert "RGB" in errors_since(start)[-1]
    four_d = viewer.add_image(np.zeros((2, 4, 8, 8), np.float32), name="timeseries")
    assert dock.start(four_d) is None
    assert "2D or 3D" in errors_since(start)[-1]
    assert dock.session is None and len(viewer.layers) == 2

    # Features the user typed wrong: the message, and the session keeps its classifier.
    gray = viewer.add_image(np.random.default_rng(0).random((24, 24)).astype(np.float32), name="gray")
    dock.live_check.setChecked(False)
    dock.start(gray)
    dock.features.preset.setCurrentText("custom")  # same settings, editable: a new classifier
    session = dock.session
    dock.features.sigmas.setText("1, -2")
    dock.features.sigmas.editingFinished.emit()
    assert "positive" in errors_since(start)[-1]
    assert dock.session is session


def test_paint_atoms_become_one_stroke_per_label():
    shape = (4, 5)
    indices = (np.array([0, 1, 1]), np.array([2, 2, 3]))
    strokes = strokes_from_paint([(indices, np.zeros(3), np.array([7, 7, 2]))], shape)
    assert [(label, list(zip(*coords))) for coords, label in strokes] == [
        (2, [(1, 3)]), (7, [(0, 2), (1, 2)])]
