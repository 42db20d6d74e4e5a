"""OME-Zarr / Zarr in labtools.io: lazy reads, chunk-wise writes, spacing and affine kept.

Checked against ome-zarr's own reader and writer (the peer library), not only a round trip.
"""

from __future__ import annotations

import json
import warnings

import dask.array as da
import numpy as np
import pytest

from labtools import io
from labtools.errors import CorruptFileError
from labtools.io import Image


def _oblique_affine(spacing=(0.8, 0.9, 2.5), origin=(-90.0, 12.5, 30.0), angle=0.3):
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(spacing)
    affine[:3, 3] = origin
    return affine


def test_round_trip_keeps_values_spacing_and_oblique_affine(tmp_path):
    array = np.random.default_rng(0).integers(-1000, 3000, size=(13, 17, 9)).astype(np.int16)
    image = Image(array, affine=_oblique_affine())
    path = io.save(image, tmp_path / "ct.ome.zarr")
    back = io.load(path)
    assert back.is_lazy and back.array.dtype == np.int16
    np.testing.assert_array_equal(back.array.compute(), array)
    np.testing.assert_allclose(back.affine, image.affine)
    np.testing.assert_allclose(back.spacing, (0.8, 0.9, 2.5))


def test_nifti_to_zarr_and_back_keeps_the_header_geometry(tmp_path):
    from nibabel.testing import data_path

    nifti = io.load(f"{data_path}/anatomical.nii")
    back = io.load(io.save(nifti, tmp_path / "anat.ome.zarr"))
    np.testing.assert_array_equal(back.array.compute(), nifti.array)
    np.testing.assert_allclose(back.affine, nifti.affine)
    again = io.load(io.save(back, tmp_path / "anat.nii.gz"))  # lazy image to NIfTI
    np.testing.assert_array_equal(again.array, nifti.array)
    np.testing.assert_allclose(again.affine, nifti.affine, atol=1e-5)


def test_ome_zarr_reader_sees_our_voxel_size_and_axes(tmp_path):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    image = Image(np.zeros((6, 7, 8), dtype=np.uint8), spacing=(0.5, 0.7, 3.0))
    path = io.save(image, tmp_path / "seg.ome.zarr")
    node = list(Reader(parse_url(str(path)))())[0]
    scale = [t for t in node.metadata["coordinateTransformations"][0] if t["type"] == "scale"][0]["scale"]
    assert scale == [0.5, 0.7, 3.0]
    assert [a["type"] for a in node.metadata["axes"]] == ["space"] * 3
    assert node.data[0].shape == (6, 7, 8)
    assert json.loads((path / "zarr.json").read_text())["attributes"]["ome"]["version"] == "0.5"


def test_reads_a_store_written_by_ome_zarr_with_scale_and_translation(tmp_path):
    import zarr
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_image

    array = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    group = zarr.open_group(str(tmp_path / "other.ome.zarr"), mode="w", zarr_format=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_image(array, group, scale_factors=[], axes="zyx", scale={"z": 2.0, "y": 0.5, "x": 0.25},
                    fmt=FormatV05())
    image = io.load(tmp_path / "other.ome.zarr")
    assert image.spacing == (2.0, 0.5, 0.25)
    np.testing.assert_array_equal(image.array.compute(), array)


def test_channels_first_and_chunks_as_asked(tmp_path):
    array = np.random.default_rng(1).random((2, 10, 12, 5)).astype(np.float32)
    path = io.save(Image(array, spacing=(1.0, 1.0, 2.0), channel_axis=0), tmp_path / "two.ome.zarr")
    back = io.load(path)
    assert back.channel_axis == 0 and back.spatial_shape == (10, 12, 5)
    np.testing.assert_array_equal(back.array.compute(), array)
    single = io.write_zarr(Image(array[0]), tmp_path / "chunked.zarr", chunks=(4, 5, 5))
    assert io.load(single).array.chunks == ((4, 4, 2), (5, 5, 2), (5,))


def test_a_dask_array_is_written_chunk_by_chunk(tmp_path):
    computed = []

    def block(chunk, block_info=None):
        computed.append(chunk.shape)
        return chunk + 1

    lazy = da.zeros((8, 8, 8), chunks=4, dtype=np.uint8).map_blocks(block, dtype=np.uint8)
    io.save(Image(lazy), tmp_path / "out.ome.zarr")
    assert computed and all(shape == (4, 4, 4) for shape in computed if shape != (0, 0, 0))
    assert int(io.load(tmp_path / "out.ome.zarr").array.sum().compute()) == 512


def test_a_failed_write_leaves_the_old_store_intact(tmp_path):
    path = io.save(Image(np.ones((4, 4, 4), dtype=np.uint8)), tmp_path / "keep.ome.zarr")

    def explode(chunk):
        raise RuntimeError("disk full")

    broken = da.zeros((4, 4, 4), chunks=2, dtype=np.uint8).map_blocks(explode, dtype=np.uint8)
    with pytest.raises(RuntimeError, match="disk full"):
        io.save(Image(broken), path)
    assert int(io.load(path).array.sum().compute()) == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.ome.zarr"]


def test_a_folder_that_is_not_a_store_is_a_clear_error(tmp_path):
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(CorruptFileError, match="not a readable Zarr store|multiscales"):
        io.load(tmp_path / "empty.zarr")


@pytest.mark.parametrize("name", ["seg.nii.gz", "seg.nii"])
@pytest.mark.parametrize("channels", [False, True])
def test_a_lazy_image_is_written_to_nifti_slab_by_slab_as_the_eager_path_writes_it(tmp_path, name, channels):
    import nibabel as nib

    rng = np.random.default_rng(2)
    shape = (3, 13, 11, 9) if channels else (13, 11, 9)
    array = rng.integers(0, 5, size=shape).astype(np.uint8)
    eager = Image(array, affine=_oblique_affine(), channel_axis=0 if channels else None)
    chunks = (3, 5, 4, 4) if channels else (5, 4, 4)
    lazy = Image(da.from_array(array, chunks=chunks), affine=eager.affine, channel_axis=eager.channel_axis)
    (tmp_path / "eager").mkdir(), (tmp_path / "lazy").mkdir()
    reference = nib.load(io.save(eager, tmp_path / "eager" / name))
    written = nib.load(io.save(lazy, tmp_path / "lazy" / name))
    np.testing.assert_array_equal(np.asanyarray(written.dataobj), np.asanyarray(reference.dataobj))
    np.testing.assert_allclose(written.affine, reference.affine)
    assert written.header.get_zooms() == reference.header.get_zooms()
    assert written.header.get_data_dtype() == reference.header.get_data_dtype()
    assert (written.header["qform_code"], written.header["sform_code"]) == (1, 1)


def test_labtools_info_reads_a_store_block_by_block_and_says_what_it_says_for_nifti(tmp_path):
    from labtools.commands.info import describe

    rng = np.random.default_rng(4)
    values = rng.normal(size=(12, 10, 8)).astype(np.float32)
    values[0, 0, 0] = np.nan
    labels = rng.integers(0, 3, size=(12, 10, 8)).astype(np.uint8)
    for array, stem in ((values, "t1"), (labels, "t1_seg")):
        image = Image(array, spacing=(0.5, 0.5, 2.0))
        nifti = describe(io.save(image, tmp_path / f"{stem}.nii.gz")).splitlines()[1:]
        zarr = describe(io.write_zarr(image, tmp_path / f"{stem}.ome.zarr", chunks=(5, 5, 5))).splitlines()[1:]
        assert zarr == nifti
    assert any(line.startswith("non-finite   1 voxels") for line in describe(tmp_path / "t1.ome.zarr").splitlines())


def test_evaluate_pairs_zarr_stores_in_folders_like_files(tmp_path):
    from labtools.metrics.batch import evaluate_files, pair_files

    rng = np.random.default_rng(5)
    for kind in ("pred", "ref"):
        for suffix in (".nii.gz", ".ome.zarr"):
            (tmp_path / f"{kind}{suffix[1:4]}").mkdir(exist_ok=True)
    for i in range(2):
        ref = np.zeros((20, 18, 10), np.uint8)
        ref[4:12, 5:13, 2:7] = 1
        pred = np.roll(ref, int(rng.integers(1, 3)), axis=0)
        for suffix in (".nii.gz", ".ome.zarr"):
            io.save(Image(ref, spacing=(1.0, 1.0, 2.0)), tmp_path / f"ref{suffix[1:4]}" / f"case{i}{suffix}")
            io.save(Image(pred, spacing=(1.0, 1.0, 2.0)), tmp_path / f"pred{suffix[1:4]}" / f"case{i}{suffix}")
    rows = {}
    for folder in ("nii", "ome"):
        pairs, unmatched_pred, unmatched_ref = pair_files(tmp_path / f"pred{folder}", tmp_path / f"ref{folder}")
        assert [case for case, _, _ in pairs] == ["case0", "case1"] and not unmatched_pred + unmatched_ref
        rows[folder] = evaluate_files(pairs, scheduler="synchronous", progress=False)
    assert [r["dice"] for r in rows["ome"]] == [r["dice"] for r in rows["nii"]]
    assert [r["hd95"] for r in rows["ome"]] == [r["hd95"] for r in rows["nii"]]
