"""labtools.features against a straightforward scipy.ndimage version of each filter."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from benchmarks._naive_features import naive_feature_stack
from labtools.errors import InvalidImageError
from labtools.features import (
    DEFAULT_SIGMAS,
    FEATURES,
    eigenvalues_symmetric,
    feature_names,
    feature_stack,
)
from labtools.io import Image


def smooth_image(shape, seed=0):
    rng = np.random.default_rng(seed)
    return ndi.gaussian_filter(rng.random(shape), 1.5).astype(np.float32) * 4


def assert_float32_close(ours, reference):
    """Equal to float32 precision, channel by channel, relative to each channel's scale."""
    assert ours.shape == reference.shape
    for index, (a, b) in enumerate(zip(ours, reference)):
        scale = max(float(np.abs(b).max()), 1e-3)
        assert np.abs(a - b).max() <= 1e-5 * scale, f"channel {index}"


def test_channel_counts_match_ilastik():
    assert len(feature_names(3)) == 61 and len(feature_names(2)) == 49
    assert feature_stack(smooth_image((12, 12, 10))).shape == (61, 12, 12, 10)
    assert feature_stack(smooth_image((20, 18))).shape == (49, 20, 18)


@pytest.mark.parametrize("shape, spacing", [
    ((36, 30, 20), None),
    ((36, 30, 20), (0.8, 1.0, 2.5)),
    ((48, 40), None),
    ((48, 40), (0.5, 1.5)),
])
def test_values_match_the_scipy_reference(shape, spacing):
    image = smooth_image(shape)
    ours = feature_stack(image, spacing=spacing)
    reference = naive_feature_stack(image, DEFAULT_SIGMAS, spacing)
    assert_float32_close(ours, reference)


@pytest.mark.parametrize("seed", range(4))
def test_single_filters_by_name(seed):
    image = smooth_image((30, 28, 16), seed)
    names = feature_names(3)
    stack = feature_stack(image)
    sigma = 1.6
    np.testing.assert_allclose(stack[names.index("gaussian(1.6)")],
                               ndi.gaussian_filter(image, sigma, truncate=3.5), rtol=0, atol=1e-6)
    np.testing.assert_allclose(stack[names.index("log(1.6)")],
                               ndi.gaussian_laplace(image, sigma, truncate=3.5), atol=1e-5)
    np.testing.assert_allclose(stack[names.index("gradient(1.6)")],
                               ndi.gaussian_gradient_magnitude(image, sigma, truncate=3.5), atol=1e-5)


@pytest.mark.parametrize("roi", [np.s_[:, :, 7:8], np.s_[0:5, 10:25, :], np.s_[20:, :3, 15:]])
def test_roi_equals_the_same_region_of_the_full_stack(roi):
    image = smooth_image((30, 28, 24))
    full = feature_stack(image, spacing=(1.0, 1.0, 2.0))
    part = feature_stack(image, spacing=(1.0, 1.0, 2.0), roi=roi)
    np.testing.assert_array_equal(part, full[(slice(None), *roi)])


def test_multichannel_input_is_channels_first():
    image = np.stack([smooth_image((20, 18), 0), smooth_image((20, 18), 1)])
    stack = feature_stack(image, channel_axis=0)
    assert stack.shape == (98, 20, 18)
    np.testing.assert_array_equal(stack[49:], feature_stack(image[1]))
    from_image = feature_stack(Image(image, channel_axis=0))
    np.testing.assert_array_equal(from_image, stack)
    assert feature_names(2, n_channels=2)[49].startswith("c1:")


def test_subset_of_features_and_sigmas():
    image = smooth_image((20, 20, 12))
    stack = feature_stack(image, sigmas=(0.3, 2.0), features=("gaussian", "hessian"))
    assert stack.shape[0] == len(feature_names(3, sigmas=(0.3, 2.0), features=("gaussian", "hessian"))) == 5


def test_float16_output_for_caches():
    image = smooth_image((16, 16, 8))
    half = feature_stack(image, dtype=np.float16)
    assert half.dtype == np.float16
    np.testing.assert_allclose(half, feature_stack(image), rtol=2e-3, atol=2e-3)


def test_closed_form_eigenvalues_match_eigvalsh():
    rng = np.random.default_rng(0)
    matrices = rng.normal(size=(500, 3, 3))
    matrices = matrices + np.swapaxes(matrices, 1, 2)
    matrices[:50] = np.eye(3) * rng.normal(size=(50, 1, 1))           # all three equal
    matrices[50:100] = np.diag([2.0, 2.0, -1.0])                       # two equal
    entries = {(i, j): matrices[:, i, j] for i in range(3) for j in range(i, 3)}
    ours = np.stack(eigenvalues_symmetric(entries, 3), axis=-1)
    expected = np.linalg.eigvalsh(matrices)[:, ::-1]
    np.testing.assert_allclose(ours, expected, atol=1e-5 * np.abs(expected).max())


def test_bad_input_is_refused():
    image = smooth_image((10, 10))
    with pytest.raises(InvalidImageError, match="NaN"):
        feature_stack(np.where(image > 1, np.nan, image))
    with pytest.raises(InvalidImageError, match="unknown features"):
        feature_stack(image, features=("gaussian", "sobel"))
    with pytest.raises(InvalidImageError, match="positive"):
        feature_stack(image, sigmas=(0.0, 1.0))
    with pytest.raises(InvalidImageError, match="one slice per spatial axis"):
        feature_stack(image, roi=np.s_[3])
    with pytest.raises(InvalidImageError, match="spacing"):
        feature_stack(image, spacing=(1.0, 1.0, 1.0))
    assert set(FEATURES) == {"gaussian", "log", "gradient", "dog", "structure", "hessian"}


def test_out_buffer_in_any_layout():
    image = smooth_image((14, 12, 10))
    voxel_major = np.empty((14, 12, 10, 61), dtype=np.float32)
    result = feature_stack(image, out=np.moveaxis(voxel_major, -1, 0))
    np.testing.assert_array_equal(np.moveaxis(voxel_major, -1, 0), feature_stack(image))
    assert np.shares_memory(result, voxel_major)
    with pytest.raises(InvalidImageError, match="out has shape"):
        feature_stack(image, out=np.empty((3, 14, 12, 10), np.float32))


def test_every_preset_is_a_valid_feature_bank():
    from labtools.features import FEATURE_PRESETS, FEATURES, feature_names

    image = np.random.default_rng(0).random((12, 12, 12)).astype(np.float32)
    for name, (sigmas, features) in FEATURE_PRESETS.items():
        assert set(features) <= set(FEATURES), name
        stack = feature_stack(image, sigmas=sigmas, features=features)
        assert stack.shape == (len(feature_names(3, sigmas=sigmas, features=features)), *image.shape), name
