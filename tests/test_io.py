"""labtools.io against nibabel on real files, round trips, and corrupt input."""

from __future__ import annotations

import gzip
import warnings

import nibabel as nib
import numpy as np
import pytest

from labtools import io
from labtools.errors import (
    AffineMismatchError,
    CorruptFileError,
    FileFormatError,
    InvalidImageError,
    LabtoolsError,
    MissingFileError,
    ShapeMismatchError,
)


# --- real files: geometry and values equal nibabel's -------------------------------------

def test_real_file_matches_nibabel(real_nifti):
    reference = nib.load(str(real_nifti))
    image = io.load(real_nifti)
    zooms = reference.header.get_zooms()
    assert image.spacing == tuple(float(z) for z in zooms[:3])
    np.testing.assert_array_equal(image.affine, reference.affine)
    expected = np.asanyarray(reference.dataobj)
    if expected.ndim == 4:  # documented choice: channels first
        assert image.channel_axis == 0
        expected = np.moveaxis(expected, 3, 0)
    assert image.array.dtype == expected.dtype
    np.testing.assert_array_equal(image.array, expected)
    assert image.path == real_nifti


def test_real_file_round_trip_is_bit_exact(real_nifti, tmp_path):
    image = io.load(real_nifti)
    out = io.save(image, tmp_path / ("copy" + ("".join(real_nifti.suffixes))))
    again = io.load(out)
    assert again.array.dtype == image.array.dtype
    assert again.array.tobytes() == image.array.tobytes()
    assert again.affine.tobytes() == image.affine.tobytes()
    assert again.spacing == image.spacing
    assert again.channel_axis == image.channel_axis
    # Other tools see the same thing: nibabel reads our file as it read the original.
    np.testing.assert_array_equal(nib.load(str(out)).affine, nib.load(str(real_nifti)).affine)


def test_4d_file_is_channels_first():
    from tests.conftest import REAL_FILES

    image = io.load(REAL_FILES["example4d.nii.gz"]())
    assert image.shape == (2, 128, 96, 24)
    assert image.spatial_shape == (128, 96, 24) and image.n_channels == 2 and image.ndim == 3


def test_new_4d_image_round_trip(tmp_path):
    array = np.arange(3 * 5 * 6 * 4, dtype=np.float32).reshape(3, 5, 6, 4)
    path = io.save(io.Image(array, spacing=(1.5, 1.5, 3.0), channel_axis=0), tmp_path / "multi.nii.gz")
    on_disk = nib.load(str(path))
    assert on_disk.shape == (5, 6, 4, 3)  # NIfTI keeps channels in its 4th axis
    np.testing.assert_array_equal(np.asanyarray(on_disk.dataobj)[..., 1], array[1])
    again = io.load(path)
    np.testing.assert_array_equal(again.array, array)
    assert again.spacing == (1.5, 1.5, 3.0)


# --- new arrays: dtypes, labels, geometry ------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.uint16, np.float32, np.float64])
def test_array_round_trip_keeps_dtype(dtype, tmp_path):
    array = (np.arange(60).reshape(5, 4, 3) % 7).astype(dtype)
    # Rotated, with float32-representable entries: NIfTI stores the sform in float32.
    affine = np.array([[0.0, -0.75, 0.0, 90.0], [0.75, 0.0, 0.0, -126.0],
                       [0.0, 0.0, 2.5, -72.0], [0.0, 0.0, 0.0, 1.0]])
    path = io.save(array, tmp_path / "a.nii.gz", affine=affine)
    image = io.load(path)
    assert image.array.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(image.array, array)
    np.testing.assert_array_equal(image.affine, affine)
    assert image.spacing == (0.75, 0.75, 2.5)


def test_affine_precision_is_float32(tmp_path):
    affine = np.diag([0.8, 0.8, 2.5, 1.0])  # 0.8 has no exact float32 form
    image = io.load(io.save(np.zeros((3, 3, 3), np.uint8), tmp_path / "p.nii", affine=affine))
    np.testing.assert_allclose(image.affine, affine, rtol=np.finfo(np.float32).eps, atol=0)
    np.testing.assert_array_equal(image.affine, affine.astype(np.float32))


@pytest.mark.parametrize("dtype, expected", [(np.int64, np.uint8), (bool, np.uint8)])
def test_labels_are_saved_as_portable_integers(dtype, expected, tmp_path):
    labels = np.zeros((6, 6, 6), dtype=dtype)
    labels[1:3, 2:4, 3:5] = 1
    image = io.load(io.save(labels, tmp_path / "seg.nii.gz"))
    assert image.array.dtype == expected
    np.testing.assert_array_equal(image.array, labels.astype(expected))


def test_large_int64_labels_keep_their_values(tmp_path):
    labels = np.array([[0, 70000], [-5, 3]], dtype=np.int64)[..., None].repeat(2, axis=2)
    image = io.load(io.save(labels, tmp_path / "big.nii"))
    assert image.array.dtype == np.int32
    np.testing.assert_array_equal(image.array, labels)


def test_spacing_only_gives_diagonal_affine(tmp_path):
    image = io.load(io.save(np.zeros((4, 4, 4), np.float32), tmp_path / "s.nii", spacing=(0.5, 0.7, 3.0)))
    assert image.spacing == pytest.approx((0.5, 0.7, 3.0))
    np.testing.assert_allclose(image.affine, np.diag([0.5, 0.7, 3.0, 1.0]), rtol=1e-7)
    assert image.orientation == "RAS"


def test_png_round_trip(tmp_path):
    labels = np.zeros((20, 30), dtype=np.uint8)
    labels[5:10, 3:25] = 2
    image = io.load(io.save(labels, tmp_path / "mask.png"))
    assert image.shape == (20, 30) and image.spacing == (1.0, 1.0)
    np.testing.assert_array_equal(image.array, labels)


def test_rgb_png_is_channels_first(tmp_path):
    from PIL import Image as PILImage

    rgb = np.random.default_rng(1).integers(0, 255, size=(8, 9, 3), dtype=np.uint8)
    PILImage.fromarray(rgb).save(tmp_path / "rgb.png")
    image = io.load(tmp_path / "rgb.png")
    assert image.shape == (3, 8, 9) and image.channel_axis == 0
    np.testing.assert_array_equal(image.array, np.moveaxis(rgb, -1, 0))


def test_png_refuses_float_with_advice(tmp_path):
    with pytest.raises(InvalidImageError, match=r"\.tif"):
        io.save(np.zeros((4, 4), np.float32), tmp_path / "f.png")
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


@pytest.mark.parametrize("shape, spacing", [((7, 9), (0.5, 0.25)), ((3, 7, 9), (2.0, 0.5, 0.25))])
def test_tiff_round_trip_keeps_spacing(shape, spacing, tmp_path):
    array = np.random.default_rng(2).random(shape).astype(np.float32)
    image = io.load(io.save(array, tmp_path / "x.tif", spacing=spacing))
    np.testing.assert_array_equal(image.array, array)
    assert image.spacing == spacing


def test_npy_round_trip_and_geometry_warning(tmp_path, small_volume):
    with pytest.warns(UserWarning, match="spacing"):
        io.save(small_volume, tmp_path / "v.npy", spacing=(1.0, 1.0, 2.0))
    np.testing.assert_array_equal(io.load(tmp_path / "v.npy").array, small_volume)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        io.save(small_volume, tmp_path / "w.npy")  # unit spacing: nothing is lost, no warning


# --- bad input: our own errors, naming the file --------------------------------------------

def _gz_volume(tmp_path, name="vol.nii.gz"):
    rng = np.random.default_rng(3)
    return io.save(rng.normal(size=(40, 40, 30)).astype(np.float32), tmp_path / name)


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="nope.nii.gz") as info:
        io.load(tmp_path / "nope.nii.gz")
    assert isinstance(info.value, FileNotFoundError)


def test_folder_is_not_a_file(tmp_path):
    (tmp_path / "dir.nii").mkdir()
    with pytest.raises(MissingFileError, match="folder"):
        io.load(tmp_path / "dir.nii")


@pytest.mark.parametrize("name", ["scan.mha", "scan.nii.bak", "scan"])
def test_wrong_extension(name, tmp_path):
    (tmp_path / name).write_bytes(b"x")
    with pytest.raises(FileFormatError, match=r"\.nii\.gz"):
        io.load(tmp_path / name)


def test_truncated_gzip_raises_our_error(tmp_path):
    path = _gz_volume(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="vol.nii.gz.*truncated"):
        io.load(path)


def test_corrupt_gzip_stream_raises_our_error(tmp_path):
    path = _gz_volume(tmp_path)
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0xFF  # flip bits in the middle of the deflate stream
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match="vol.nii.gz"):
        io.load(path)


def test_truncated_uncompressed_nifti(tmp_path):
    path = io.save(np.ones((20, 20, 20), np.float32), tmp_path / "t.nii")
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CorruptFileError, match="t.nii"):
        io.load(path)


def test_uncompressed_file_named_gz(tmp_path):
    plain = io.save(np.ones((4, 4, 4), np.float32), tmp_path / "p.nii")
    fake = tmp_path / "p.nii.gz"
    fake.write_bytes(plain.read_bytes())
    with pytest.raises(CorruptFileError, match="not gzip"):
        io.load(fake)


def test_not_a_nifti_at_all(tmp_path):
    path = tmp_path / "notes.nii.gz"
    path.write_bytes(gzip.compress(b"these are my notes, not an image" * 20))
    with pytest.raises(CorruptFileError, match="notes.nii.gz"):
        io.load(path)


@pytest.mark.parametrize("name", ["bad.png", "bad.tif", "bad.npy"])
def test_corrupt_raster_files(name, tmp_path):
    (tmp_path / name).write_bytes(b"\x89PNG garbage" * 3)
    with pytest.raises(CorruptFileError, match=name):
        io.load(tmp_path / name)


def test_pickled_npy_is_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CorruptFileError, match="obj.npy"):
        io.load(tmp_path / "obj.npy")


def test_nonfinite_values_refused_unless_allowed(tmp_path, small_volume):
    small_volume[3, 4, 5] = np.nan
    path = io.save(small_volume, tmp_path / "nan.nii.gz")
    with pytest.raises(InvalidImageError, match=r"nan.nii.gz: 1 of 960 .*\(3, 4, 5\)"):
        io.load(path)
    image = io.load(path, allow_nonfinite=True)
    assert np.isnan(image.array[3, 4, 5])


def test_errors_are_labtools_errors():
    for cls in (MissingFileError, FileFormatError, CorruptFileError, InvalidImageError):
        assert issubclass(cls, LabtoolsError)


# --- check_pair --------------------------------------------------------------------------

def test_check_pair_accepts_matching_files(tmp_path, small_volume):
    image = io.load(io.save(small_volume, tmp_path / "img.nii.gz", spacing=(1, 1, 2)))
    labels = io.load(io.save((small_volume > 0).astype(np.uint8), tmp_path / "seg.nii.gz",
                             affine=image.affine))
    assert io.check_pair(image, labels) is None


def test_check_pair_shape_mismatch_names_both(tmp_path, small_volume):
    image = io.load(io.save(small_volume, tmp_path / "img.nii.gz"))
    labels = io.load(io.save(np.zeros((12, 10, 9), np.uint8), tmp_path / "seg.nii.gz"))
    with pytest.raises(ShapeMismatchError, match=r"img.nii.gz and seg.nii.gz.*\(12, 10, 8\).*\(12, 10, 9\)"):
        io.check_pair(image, labels)


def test_check_pair_affine_mismatch(tmp_path, small_volume):
    image = io.load(io.save(small_volume, tmp_path / "img.nii.gz", spacing=(1, 1, 2)))
    shifted = image.affine.copy()
    shifted[0, 3] += 5.0
    labels = io.load(io.save(np.zeros(small_volume.shape, np.uint8), tmp_path / "seg.nii.gz", affine=shifted))
    with pytest.raises(AffineMismatchError, match="5 mm"):
        io.check_pair(image, labels)


def test_check_pair_refuses_fractional_labels(small_volume):
    with pytest.raises(InvalidImageError, match="non-integer"):
        io.check_pair(io.Image(small_volume), small_volume)


# --- Image container -----------------------------------------------------------------------

def test_image_validates_its_geometry():
    with pytest.raises(InvalidImageError, match="2 or 3 spatial axes"):
        io.Image(np.zeros(5))
    with pytest.raises(InvalidImageError, match="spacing"):
        io.Image(np.zeros((3, 3)), spacing=(1.0, 0.0))
    with pytest.raises(InvalidImageError, match="spacing"):
        io.Image(np.zeros((3, 3, 3)), spacing=(1.0, 1.0))


def test_spacing_follows_a_rotated_affine():
    theta = np.deg2rad(30)
    rotation = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([0.8, 0.8, 2.5])
    assert io.Image(np.zeros((4, 4, 4)), affine=affine).spacing == pytest.approx((0.8, 0.8, 2.5))


def test_looks_like_labels(tmp_path, small_volume):
    assert io.looks_like_labels(io.Image(np.zeros((4, 4), np.uint8)))
    assert not io.looks_like_labels(io.Image(small_volume))
    assert not io.looks_like_labels(io.Image(np.arange(100 * 100, dtype=np.int16).reshape(100, 100)))
    named = io.load(io.save(small_volume, tmp_path / "case_seg.nii.gz"))  # float, but named as labels
    assert io.looks_like_labels(named)
    # Several channels (a 4D file of per-class maps) are not one label map, whatever the name.
    channels = np.zeros((3, 4, 4, 4), np.uint8)
    stack = io.load(io.save(io.Image(channels, channel_axis=0), tmp_path / "classes_seg.nii.gz"))
    assert stack.channel_axis == 0 and not io.looks_like_labels(stack)


# --- what users see of the atomic write ----------------------------------------------------

def test_saved_files_get_normal_permissions(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = io.save(np.zeros((3, 3, 3), np.uint8), tmp_path / "perm.nii.gz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["perm.nii.gz"]  # no temp file left


def test_messages_name_the_users_path_not_the_temp_file(tmp_path):
    with pytest.raises(InvalidImageError) as info:
        io.save(np.zeros((4, 4), np.float32), tmp_path / "mask.png")
    assert str(info.value).startswith(f"{tmp_path / 'mask.png'}:")
    with pytest.warns(UserWarning, match=r"^mask.npy: "):
        io.save(np.zeros((4, 4), np.uint8), tmp_path / "mask.npy", spacing=(2.0, 2.0))


def test_tiff_warns_that_origin_and_rotation_are_dropped(tmp_path):
    affine = np.diag([0.5, 0.5, 2.0, 1.0])
    affine[:3, 3] = (10.0, -4.0, 3.0)
    with pytest.warns(UserWarning, match="origin and rotation"):
        io.save(np.zeros((3, 4, 5), np.float32), tmp_path / "o.tif", affine=affine)
    assert io.load(tmp_path / "o.tif").spacing == (0.5, 0.5, 2.0)


def test_rgb_tiff_from_another_program_is_channels_first(tmp_path):
    import tifffile

    rgb = np.random.default_rng(4).integers(0, 255, size=(6, 7, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "photo.tif", rgb, photometric="rgb")
    image = io.load(tmp_path / "photo.tif")
    assert image.channel_axis == 0 and image.shape == (3, 6, 7)
    np.testing.assert_array_equal(image.array, np.moveaxis(rgb, -1, 0))
