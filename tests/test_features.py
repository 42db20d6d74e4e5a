"""labtools.features against a straightforward scipy.ndimage version of each filter."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from benchmarks._naive_features import naive_feature_stack
from labtools.errors import InvalidImageError, ParameterError
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
    with pytest.raises(ParameterError, match="unknown features"):
        feature_stack(image, features=("gaussian", "sobel"))
    with pytest.raises(ParameterError, match="positive"):
        feature_stack(image, sigmas=(0.0, 1.0))
    with pytest.raises(InvalidImageError, match="one slice per spatial axis"):
        feature_stack(image, roi=np.s_[3])
    with pytest.raises(ParameterError, match="spacing"):
        feature_stack(image, spacing=(1.0, 1.0, 1.0))
    assert set(FEATURES) == {"gaussian", "log", "gradient", "dog", "structure", "hessian"}


def test_out_buffer_in_any_layout():
    image = smooth_image((14, 12, 10))
    voxel_major = np.empty((14, 12, 10, 61), dtype=np.float32)
    result = feature_stack(image, out=np.moveaxis(voxel_major, -1, 0))
    np.testing.assert_array_equal(np.moveaxis(voxel_major, -1, 0), feature_stack(image))
    assert np.shares_memory(result, voxel_major)
    with pytest.raises(ParameterError, match="out has shape"):
        feature_stack(image, out=np.empty((3, 14, 12, 10), np.float32))


def test_every_preset_is_a_valid_feature_bank():
    from labtools.features import FEATURE_PRESETS, FEATURES, feature_names

    image = np.random.default_rng(0).random((12, 12, 12)).astype(np.float32)
    for name, (sigmas, features) in FEATURE_PRESETS.items():
        assert set(features) <= set(FEATURES), name
        stack = feature_stack(image, sigmas=sigmas, features=features)
        assert stack.shape == (len(feature_names(3, sigmas=sigmas, features=features)), *image.shape), name


# --- method="pyramid": large scales on coarse grids --------------------------------------------

def test_pyramid_equals_exact_on_the_scales_it_keeps_on_the_image_grid():
    image = smooth_image((40, 36, 30))
    sigmas = (0.3, 0.7, 1.0, 1.6)  # factor 1: only the eigenvalues change (float32 instead of float64)
    exact = feature_stack(image, sigmas=sigmas)
    fast = feature_stack(image, sigmas=sigmas, method="pyramid")
    names = feature_names(3, sigmas=sigmas)
    for index, name in enumerate(names):
        if name.startswith(("structure", "hessian")):
            group = [i for i, n in enumerate(names) if n.split("[")[0] == name.split("[")[0]]
            scale = float(np.abs(exact[group]).max())
            assert np.abs(fast[index] - exact[index]).max() <= 2e-4 * scale, name
        else:
            np.testing.assert_array_equal(fast[index], exact[index], err_msg=name)


@pytest.mark.parametrize("sigma", [3.5, 5.0, 10.0])
def test_pyramid_is_exact_on_polynomials(sigma):
    # Gaussian smoothing keeps a ramp, its gradient is the slope, the Hessian of a parabola is 2a:
    # analytic values the coarse grids and the interpolation back must reproduce away from the border.
    x = np.arange(96, dtype=np.float32)
    ramp = np.broadcast_to((0.5 * x)[:, None, None], (96, 24, 24)).copy()
    parabola = np.broadcast_to((0.01 * (x - 48) ** 2)[:, None, None], (96, 24, 24)).copy()
    inside = np.s_[40:56, 10:14, 10:14]
    names = feature_names(3, sigmas=(sigma,))
    stack = feature_stack(ramp, sigmas=(sigma,), method="pyramid")
    np.testing.assert_allclose(stack[names.index(f"gaussian({sigma:g})")][inside], ramp[inside], rtol=1e-5)
    # 2e-3: scipy's sampled derivative-of-Gaussian kernel is that far from d/dx at 1.7 coarse voxels.
    np.testing.assert_allclose(stack[names.index(f"gradient({sigma:g})")][inside], 0.5, rtol=2e-3)
    # Second derivatives: scipy's truncated order-2 kernel is itself up to 5 % off 2a (0.019 exact
    # bank at sigma 3.5); the pyramid must be at least as close.
    stack = feature_stack(parabola, sigmas=(sigma,), method="pyramid")
    exact = feature_stack(parabola, sigmas=(sigma,))
    for name in (f"hessian({sigma:g})[0]", f"log({sigma:g})"):
        error = np.abs(stack[names.index(name)][inside] - 0.02).max()
        assert error <= max(np.abs(exact[names.index(name)][inside] - 0.02).max(), 0.02 * 0.02), name


def test_pyramid_channels_follow_the_exact_ones():
    # Measured bound (docs/pixel_classification.md): correlation with the exact channel over a
    # 96^3 image of smoothed noise, where scales 5 and 10 are mostly border.
    image = ndi.gaussian_filter(np.random.default_rng(0).random((96, 96, 96)), 2.0).astype(np.float32)
    exact, fast = feature_stack(image), feature_stack(image, method="pyramid")
    names = feature_names(3)
    for index, name in enumerate(names):
        correlation = np.corrcoef(exact[index].ravel(), fast[index].ravel())[0, 1]
        bound = 0.98 if name in ("gaussian(3.5)", "dog(3.5)", "log(3.5)") else 0.7
        assert correlation >= bound, (name, correlation)


@pytest.mark.parametrize("roi", [np.s_[:, :, 7:8], np.s_[3:20, 10:25, :], np.s_[21:, :3, 15:]])
def test_pyramid_roi_equals_the_same_region_of_the_full_stack(roi):
    image = smooth_image((44, 40, 36))
    full = feature_stack(image, spacing=(1.0, 0.5, 2.0), method="pyramid")
    part = feature_stack(image, spacing=(1.0, 0.5, 2.0), method="pyramid", roi=roi)
    np.testing.assert_array_equal(part, full[(slice(None), *roi)])


def test_pyramid_in_2d_with_spacing_has_the_channels_of_the_exact_bank():
    image = smooth_image((80, 60))
    fast = feature_stack(image, spacing=(0.5, 1.5), method="pyramid")
    assert fast.shape == (49, 80, 60) and np.isfinite(fast).all()
    exact = feature_stack(image, spacing=(0.5, 1.5))
    names = feature_names(2)
    assert np.corrcoef(exact[names.index("gaussian(3.5)")].ravel(),
                       fast[names.index("gaussian(3.5)")].ravel())[0, 1] > 0.97
    with pytest.raises(ParameterError, match="method"):
        feature_stack(image, method="fast")


def test_upsample_linear_matches_scipy_map_coordinates():
    from labtools.features.pyramid import upsample_linear

    coarse = np.random.default_rng(1).random((7, 9, 5)).astype(np.float32)
    factors, region = (2, 4, 1), np.s_[3:13, 5:30, 1:4]
    grid = np.meshgrid(*[np.arange(r.start, r.stop) / f for r, f in zip(region, factors)], indexing="ij")
    reference = ndi.map_coordinates(coarse, grid, order=1, mode="nearest")
    np.testing.assert_allclose(upsample_linear(coarse, factors, region), reference, atol=1e-6)


def test_float16_store_is_bit_for_bit_numpys_conversion():
    from labtools.features.bank import store

    rng = np.random.default_rng(2)
    value = (rng.standard_normal((20, 30, 40)) * 10.0 ** rng.uniform(-9, 3, (20, 30, 40))).astype(np.float32)
    value.flat[:6] = [0.0, -0.0, 2.0 ** -14, -(2.0 ** -25), 3 * 2.0 ** -25, 5 * 2.0 ** -26]  # edges and ties
    target = np.empty(value.shape, dtype=np.float16)
    store(target, value)
    np.testing.assert_array_equal(target.view(np.uint16), value.astype(np.float16).view(np.uint16))


def test_float32_closed_form_eigenvalues_match_eigvalsh():
    rng = np.random.default_rng(3)
    matrices = rng.normal(size=(2000, 3, 3))
    matrices = matrices + np.swapaxes(matrices, 1, 2)
    entries = {(i, j): matrices[:, i, j].astype(np.float32) for i in range(3) for j in range(i, 3)}
    ours = np.stack(eigenvalues_symmetric(entries, 3, dtype=np.float32), axis=-1)
    expected = np.linalg.eigvalsh(matrices)[:, ::-1]
    scale = np.abs(expected).max(axis=1, keepdims=True)
    assert np.all(np.abs(ours - expected) <= 1e-3 * scale)
    assert ours.dtype == np.float32


def test_a_feature_grid_computes_exactly_the_ticked_channels_of_the_full_bank():
    from labtools.features import classifier_settings, feature_names, feature_stack

    image = np.random.default_rng(4).random((20, 18, 12)).astype(np.float32)
    sigmas = (0.3, 1.0, 3.5)
    full = feature_stack(image, sigmas=sigmas)
    names = feature_names(3, sigmas=sigmas)
    grid = {"gaussian": (0.3, 3.5), "hessian": (1.0,), "gradient": (1.0, 3.5)}
    ticked = feature_stack(image, sigmas=sigmas, features=grid)
    ticked_names = feature_names(3, sigmas=sigmas, features=grid)
    assert ticked_names == ["gaussian(0.3)", "hessian(1)[0]", "hessian(1)[1]", "hessian(1)[2]",
                            "gradient(1)", "gaussian(3.5)", "gradient(3.5)"]  # by scale, then the grid's order
    np.testing.assert_array_equal(ticked, full[[names.index(n) for n in ticked_names]])
    roi = np.s_[3:9, :, 5:6]  # a region of a grid equals that part of the whole
    np.testing.assert_array_equal(feature_stack(image, sigmas=sigmas, features=grid, roi=roi),
                                  ticked[(slice(None), *roi)])
    settings = classifier_settings(sigmas, grid, "mm")
    assert settings["features"] == {"gaussian": (0.3, 3.5), "gradient": (1.0, 3.5), "hessian": (1.0,)}
    every = classifier_settings(sigmas, {name: sigmas for name in ("gaussian", "dog")})
    assert every["features"] == ("gaussian", "dog")  # a full grid is a plain list
    with pytest.raises(ParameterError, match="not among sigmas"):
        feature_stack(image, sigmas=sigmas, features={"gaussian": (2.0,)})
    with pytest.raises(ParameterError, match="no filter"):
        feature_stack(image, sigmas=sigmas, features={"hessian": (0.3,)})  # only smoothing below 0.5


def test_in_plane_scales_are_the_2d_bank_of_each_slice():
    from labtools.features import feature_names, feature_stack

    image = np.random.default_rng(5).random((22, 20, 6)).astype(np.float32)
    spacing = (0.8, 0.8, 3.0)
    sigmas, features = (0.7, 1.6), ("gaussian", "gradient", "hessian")
    mixed = feature_stack(image, sigmas=sigmas, features=features, spacing=spacing, in_plane=(1.6,))
    names = feature_names(3, sigmas=sigmas, features=features, in_plane=(1.6,))
    assert len(names) == mixed.shape[0] == 5 + 4  # 3D at 0.7 (hessian: 3), 2D at 1.6 (hessian: 2)
    assert names[5:] == ["gaussian(1.6,2D)", "gradient(1.6,2D)", "hessian(1.6,2D)[0]", "hessian(1.6,2D)[1]"]
    full3d = feature_stack(image, sigmas=(0.7,), features=features, spacing=spacing)
    np.testing.assert_array_equal(mixed[:5], full3d)
    for z in range(image.shape[2]):  # each slice's own 2D bank
        planar = feature_stack(image[..., z], sigmas=(1.6,), features=features, spacing=spacing[:2])
        np.testing.assert_array_equal(mixed[5:, ..., z], planar)
    roi = np.s_[4:15, 2:9, 2:4]
    np.testing.assert_array_equal(
        feature_stack(image, sigmas=sigmas, features=features, spacing=spacing, in_plane=(1.6,), roi=roi),
        mixed[(slice(None), *roi)])
    with pytest.raises(ParameterError, match="in_plane"):
        feature_stack(image, sigmas=sigmas, in_plane=(2.0,))
