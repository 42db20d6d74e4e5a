"""Blockwise features and predictions equal the whole-volume computation (issue 18).

The reference is labtools' own whole-volume path, which tests/test_features.py checks against
scipy.ndimage; here the question is only whether cutting the volume into blocks changes anything.
Odd shapes, anisotropic spacing, blocks smaller than the largest halo, pyramid scales.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from labtools import io
from labtools.datasets import phantom
from labtools.features import feature_stack
from labtools.features.blockwise import blockwise_features, block_chunks
from labtools.io import Image
from labtools.pixel_classifier import PixelClassifier

SPACING = (0.7, 0.9, 2.5)


@pytest.fixture(scope="module")
def volume():
    return np.random.default_rng(3).normal(size=(101, 83, 37)).astype(np.float32)


@pytest.mark.parametrize("method", ["exact", "pyramid"])
def test_features_by_blocks_equal_the_whole_volume(volume, method):
    options = dict(sigmas=(0.7, 1.6, 3.5, 5.0), spacing=SPACING, method=method)
    whole = feature_stack(volume, **options)
    lazy = blockwise_features(da.from_array(volume, chunks=7), chunks=(16, 8, 8), **options)
    assert min(lazy.numblocks[1:]) > 1  # really several blocks along every axis
    np.testing.assert_allclose(lazy.compute(), whole, rtol=1e-6, atol=1e-6)


def test_features_by_blocks_in_2d_with_channels_and_in_plane_scales(volume):
    planes = volume[:, :, :2].transpose(2, 0, 1)  # two channels of a 2D image
    whole = feature_stack(planes, channel_axis=0, sigmas=(1.0, 3.5), method="pyramid")
    lazy = blockwise_features(planes, channel_axis=0, sigmas=(1.0, 3.5), method="pyramid", chunks=16)
    np.testing.assert_allclose(lazy.compute(), whole, rtol=1e-6, atol=1e-6)
    options = dict(sigmas=(1.0, 2.0), in_plane=(1.0,), features=("gaussian", "hessian", "structure"))
    np.testing.assert_allclose(blockwise_features(volume, chunks=12, **options).compute(),
                               feature_stack(volume, **options), rtol=1e-6, atol=1e-6)


def test_blocks_are_never_thinner_than_the_halo():
    assert block_chunks((100,), block=10, align=(4,), least=(30,)) == ((32, 32, 36),)
    assert block_chunks((20,), block=64) == ((20,),)


@pytest.fixture(scope="module")
def trained():
    image, labels = phantom((90, 80, 36), n_lesions=2, seed=4)
    image = Image(image.array, spacing=SPACING)
    scribbles = np.zeros_like(labels)
    scribbles[::5, ::5, ::4] = labels[::5, ::5, ::4] + 1
    return image, scribbles


@pytest.mark.parametrize("method,sigma_unit", [("pyramid", "mm"), ("exact", "voxel")])
def test_prediction_by_blocks_is_identical_in_exact_prediction_mode(trained, method, sigma_unit, tmp_path):
    image, scribbles = trained
    classifier = PixelClassifier(n_estimators=8, method=method, sigma_unit=sigma_unit, prediction="exact",
                                 sigmas=(0.7, 1.6, 3.5)).fit(image, scribbles)
    whole = classifier.predict(image)
    lazy_image = io.load(io.save(image, tmp_path / "image.ome.zarr"))  # read back lazily from Zarr
    assert lazy_image.is_lazy
    blocks = classifier.predict_blockwise(lazy_image, chunks=(16, 16, 8))
    assert min(blocks.numblocks) > 1
    np.testing.assert_array_equal(blocks.compute(), whole)
    written = io.load(io.save(lazy_image.with_array(blocks), tmp_path / "seg.ome.zarr"))
    np.testing.assert_array_equal(written.array.compute(), whole)
    np.testing.assert_allclose(written.affine, image.affine)


def test_coarse_to_fine_by_blocks_agrees_almost_everywhere(trained):
    image, scribbles = trained
    classifier = PixelClassifier(n_estimators=8, sigmas=(0.7, 1.6, 3.5)).fit(image, scribbles)
    agreement = np.mean(classifier.predict_blockwise(image, chunks=16).compute() == classifier.predict(image))
    assert agreement > 0.99


def test_labeling_a_lazy_volume_computes_regions_and_blocks_never_the_whole_bank(tmp_path):
    from labtools.errors import LabtoolsError
    from labtools.labeling import LabelingSession

    image, labels = phantom((72, 64, 40), n_lesions=0, seed=1)
    image = image.with_array(image.array * 1000)  # raw intensities (CT, 12-bit MRI): features in float32
    lazy = io.load(io.save(image, tmp_path / "volume.ome.zarr"))
    sessions = []
    for source in (image, lazy):
        session = LabelingSession(source, classifier=PixelClassifier(
            n_estimators=8, sigmas=(0.7, 1.6, 3.5), prediction="exact"))
        for z in (10, 30):  # strokes on two slices far apart, as an annotator paints
            for value in np.unique(labels):
                mask = np.zeros(labels.shape, bool)
                mask[::3, ::3, z] = labels[::3, ::3, z] == value
                session.add_stroke(mask, int(value) + 1)
        sessions.append(session)
    in_memory, on_disk = sessions
    visible = np.s_[:, :, 20]
    np.testing.assert_array_equal(on_disk.update(visible)[0], in_memory.update(visible)[0])
    assert not on_disk.features.ready and not on_disk.features.holds_whole
    assert on_disk.features.dtype == in_memory.features.dtype == np.float32
    np.testing.assert_array_equal(on_disk.predict_volume(progress=False), in_memory.predict_volume(progress=False))
    assert not on_disk.features.ready
    with pytest.raises(LabtoolsError, match="read lazily"):
        on_disk.features.whole()


@pytest.fixture(scope="module")
def small_network(tmp_path_factory):
    import torch

    from labtools.models import make_model
    from labtools.training import fit, load_model

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("net")
    fit(make_model("tiny_unet", 3, 1, 5, channels=(4, 8)), [phantom((32, 32, 32), seed=1)], out=out,
        epochs=2, steps_per_epoch=4, batch_size=2, patch_size=(16, 16, 16), live=None)
    return load_model(out / "last.pt")


@pytest.mark.parametrize("scheme", ["zscore", "zscore_body"])
def test_whole_volume_normalisation_equals_the_per_image_one(scheme):
    from labtools.training.blockwise import whole_volume_normalization
    from labtools.training.normalization import Normalization

    image, _ = phantom((40, 36, 20), seed=2)
    lazy = Image(da.from_array(image.array, chunks=9), spacing=image.spacing)
    fixed = whole_volume_normalization(lazy, Normalization(scheme))
    np.testing.assert_allclose(fixed(image.array[None]), Normalization(scheme)(image.array[None]), atol=1e-5)


def test_unet_prediction_by_blocks_mostly_matches_and_one_block_is_identical(small_network, tmp_path):
    from labtools.training.blockwise import segment_blockwise
    from labtools.training.predict import inference_options, predict

    model, config = small_network
    image, _ = phantom((64, 56, 40), seed=3)
    options = inference_options(config)
    whole = predict(model, image, **options)
    lazy = io.load(io.save(image, tmp_path / "scan.ome.zarr"))
    blocks = segment_blockwise(model, lazy, chunks=(32, 32, 24), **options)
    assert min(blocks.numblocks) > 1
    # Windows sit elsewhere than on the whole volume: a network this weak flips ~5 % of voxels
    # (docs/scale.md); a volume in one block is identical.
    assert np.mean(blocks.compute() == whole) > 0.9
    single = segment_blockwise(model, lazy, chunks=(64, 56, 40), **options)  # one block: identical
    np.testing.assert_array_equal(single.compute(), whole)
