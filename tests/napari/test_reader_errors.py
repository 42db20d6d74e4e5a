"""Reader hardening: bad NIfTI files give labtools' message as a napari notification, no crash."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from napari.utils.notifications import NotificationSeverity, notification_manager

import napari_plugin
from labtools import io
from labtools.errors import LabtoolsError

pytestmark = pytest.mark.gui


def _good(tmp_path, name="good.nii.gz", array=None):
    array = np.arange(6 * 5 * 4, dtype=np.float32).reshape(6, 5, 4) if array is None else array
    return io.save(array, tmp_path / name, spacing=(0.8, 0.8, 2.5))


def _corrupt(tmp_path):
    """A well-formed gzip stream holding a damaged header (sizeof_hdr and magic overwritten)."""
    raw = bytearray(gzip.decompress(_good(tmp_path, "source.nii.gz").read_bytes()))
    raw[0:4] = b"\xff\xff\xff\xff"
    raw[344:348] = b"XXXX"
    path = tmp_path / "corrupt.nii.gz"
    path.write_bytes(gzip.compress(bytes(raw)))
    return path


def _truncated(tmp_path):
    data = _good(tmp_path, "whole.nii.gz", np.random.default_rng(0).random((40, 40, 20))).read_bytes()
    path = tmp_path / "truncated.nii.gz"
    path.write_bytes(data[: len(data) // 2])
    return path


def _five_d(tmp_path):
    import nibabel as nib

    path = tmp_path / "five_d.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((6, 5, 4, 2, 3), np.float32), np.eye(4)), path)
    return path


def _wrong_extension(tmp_path):
    """An uncompressed NIfTI named .nii.gz (a common renaming mistake)."""
    plain = _good(tmp_path, "plain.nii")
    path = tmp_path / "renamed.nii.gz"
    path.write_bytes(plain.read_bytes())
    return path


BAD_FILES = {"corrupt": _corrupt, "truncated": _truncated, "5D": _five_d,
             "wrong extension": _wrong_extension}


def _labtools_message(path) -> str:
    with pytest.raises(LabtoolsError) as info:
        io.load(path, allow_nonfinite=True)
    return str(info.value)


def _notifications_since(start: int, severity=NotificationSeverity.ERROR) -> list[str]:
    return [n.message for n in notification_manager.records[start:] if n.severity == severity]


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_file_is_a_notification_with_labtools_message(make_napari_viewer, tmp_path, kind):
    path = BAD_FILES[kind](tmp_path)
    expected = _labtools_message(path)
    viewer = make_napari_viewer()
    start = len(notification_manager.records)
    assert viewer.open(str(path), plugin="labtools") == []  # no exception escapes, no layer
    assert _notifications_since(start) == [expected]
    assert str(path) in expected
    # The viewer still works: a good file opens next.
    (layer,) = viewer.open(str(_good(tmp_path)), plugin="labtools")
    assert [lyr.name for lyr in viewer.layers] == ["good"]
    np.testing.assert_allclose(layer.scale, (0.8, 0.8, 2.5), rtol=1e-6)


@pytest.fixture
def unsaved_settings(make_napari_viewer):
    """napari's settings, with saving to the user's settings file off and restored afterwards."""
    from napari.settings import get_settings

    settings = get_settings()
    before = dict(settings.plugins.extension2reader)
    settings._save_on_change = False
    yield settings
    settings.plugins.extension2reader = before
    settings._save_on_change = True


def test_file_menu_path_uses_preference_and_shows_no_dialog(make_napari_viewer, unsaved_settings,
                                                            tmp_path, monkeypatch):
    """File > Open (QtViewer._qt_open, plugin=None) with labtools as the preferred reader."""
    import napari._qt.qt_viewer as qt_viewer
    from napari.errors import MultipleReaderError

    viewer = make_napari_viewer()
    unsaved_settings.plugins.extension2reader = {"*.tif": "napari"}
    good = _good(tmp_path)
    # napari's built-in reader claims *.nii.gz too: without a preference napari must ask.
    with pytest.raises(MultipleReaderError):
        viewer.open(str(good), plugin=None)

    assert napari_plugin.prefer_labtools_reader() == {
        "*.tif": "napari", "*.nii": "labtools", "*.nii.gz": "labtools"}
    (layer,) = viewer.open(str(good), plugin=None)
    assert layer.source.reader_plugin == "labtools"

    def no_dialog(*args, **kwargs):
        raise AssertionError("napari's reader-choice dialog was opened")

    monkeypatch.setattr(qt_viewer, "handle_gui_reading", no_dialog)
    bad = _truncated(tmp_path)
    start = len(notification_manager.records)
    viewer.window._qt_viewer._qt_open([str(bad)], stack=False)
    assert _notifications_since(start) == [_labtools_message(bad)]
    assert len(viewer.layers) == 1


def test_four_d_file_opens_as_channel_layers(make_napari_viewer, tmp_path):
    """labtools.io reads the 4th NIfTI axis as channels, so napari gets one layer per channel."""
    import nibabel as nib

    data = np.random.default_rng(1).random((6, 5, 4, 3)).astype(np.float32)
    affine = np.diag([0.8, 0.8, 2.5, 1.0])
    affine[:3, 3] = (5.0, -3.0, 1.0)
    path = tmp_path / "bold_seg.nii.gz"  # a label-like name must not make 4D data a Labels layer
    nib.save(nib.Nifti1Image(data, affine), path)
    viewer = make_napari_viewer()
    start = len(notification_manager.records)
    layers = viewer.open(str(path), plugin="labtools")
    assert [lyr._type_string for lyr in layers] == ["image"] * 3
    for channel, layer in enumerate(layers):
        np.testing.assert_array_equal(layer.data, data[..., channel])
        np.testing.assert_allclose(layer.scale, (0.8, 0.8, 2.5), rtol=1e-6)
        np.testing.assert_allclose(layer.translate, (5.0, -3.0, 1.0))
    assert _notifications_since(start, NotificationSeverity.INFO) == [
        "bold_seg.nii.gz: 3 volumes along the 4th axis, opened as 3 channel layers"]
    assert _notifications_since(start) == []


def test_float_file_with_mask_name_opens_as_labels(make_napari_viewer, tmp_path):
    mask = np.zeros((8, 8, 4), dtype=np.float32)
    mask[2:5, 2:6, 1:3] = 1.0
    path = _good(tmp_path, "lesion_mask.nii.gz", mask)
    same_values_plain_name = _good(tmp_path, "lesion.nii.gz", mask)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="labtools")
    assert layer._type_string == "labels"
    assert layer.data.dtype.kind == "i"
    np.testing.assert_array_equal(layer.data, mask.astype(int))
    (plain,) = viewer.open(str(same_values_plain_name), plugin="labtools")
    assert plain._type_string == "image"  # float without a label name: intensities
