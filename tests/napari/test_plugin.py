"""napari face: the npe2 reader, writer and sample data in a real viewer (Xvfb in CI)."""

from __future__ import annotations

import numpy as np
import pytest

from labtools import io

pytestmark = pytest.mark.gui


def _rotated_affine(spacing=(0.8, 0.8, 2.5), degrees=20.0, origin=(-90.0, 12.0, -30.0)):
    theta = np.deg2rad(degrees)
    rotation = np.array([[np.cos(theta), -np.sin(theta), 0.0],
                         [np.sin(theta), np.cos(theta), 0.0],
                         [0.0, 0.0, 1.0]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(spacing)
    affine[:3, 3] = origin
    return affine


def test_reader_gives_scale_translate_and_keeps_affine(make_napari_viewer, tmp_path):
    rng = np.random.default_rng(0)
    affine = _rotated_affine()
    path = io.save(rng.random((20, 16, 8)).astype(np.float32), tmp_path / "t2.nii.gz", affine=affine)
    stored = io.load(path).affine  # NIfTI keeps float32 precision
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="labtools")
    assert layer._type_string == "image"
    np.testing.assert_allclose(layer.scale, (0.8, 0.8, 2.5), rtol=1e-6)
    np.testing.assert_allclose(layer.translate, (-90.0, 12.0, -30.0))
    np.testing.assert_array_equal(layer.metadata["affine"], stored)


def test_label_file_opens_as_labels_and_writer_round_trips(make_napari_viewer, tmp_path):
    labels = np.zeros((12, 10, 6), dtype=np.uint8)
    labels[3:6, 2:8, 1:4] = 2
    affine = _rotated_affine(spacing=(1.0, 1.0, 3.0))
    path = io.save(labels, tmp_path / "case.nii.gz", affine=affine)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="labtools")
    assert layer._type_string == "labels"
    layer.data[0, 0, 0] = 5  # an annotator's edit
    out = tmp_path / "edited_seg.nii.gz"
    written = layer.save(str(out), plugin="labtools")
    assert written == [str(out)]
    again = io.load(out)
    expected = labels.copy()
    expected[0, 0, 0] = 5
    assert again.array.dtype == np.uint8  # the file's label type survives the round trip
    np.testing.assert_array_equal(again.array, expected)
    np.testing.assert_array_equal(again.affine, io.load(path).affine)


def test_new_labels_layer_saves_its_scale_and_translate(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    data = np.zeros((6, 5, 4), dtype=np.uint8)
    data[1:3, 1:3, 1:3] = 1
    layer = viewer.add_labels(data, scale=(0.5, 0.5, 2.0), translate=(10.0, -20.0, 4.0))
    layer.save(str(tmp_path / "drawn_seg.nii.gz"), plugin="labtools")
    saved = io.load(tmp_path / "drawn_seg.nii.gz")
    np.testing.assert_array_equal(saved.array, data)
    np.testing.assert_allclose(saved.affine[:3, :3], np.diag([0.5, 0.5, 2.0]))
    np.testing.assert_allclose(saved.affine[:3, 3], (10.0, -20.0, 4.0))


def test_sample_data_and_screenshot(make_napari_viewer):
    viewer = make_napari_viewer(show=True)  # a shown canvas, or the screenshot is black
    viewer.open_sample("labtools", "phantom")
    assert [layer.name for layer in viewer.layers] == ["phantom", "phantom labels"]
    assert viewer.layers["phantom"].scale.tolist() == [2.0, 2.0, 2.0]
    shot = viewer.screenshot(canvas_only=True, flash=False)
    rgb = shot[..., :3].astype(float)
    assert rgb.std() > 5  # the phantom and its label overlay are drawn
    # Label colours (not grey) are present: some pixels have R, G, B far apart.
    assert (np.ptp(rgb, axis=-1) > 40).mean() > 0.01
