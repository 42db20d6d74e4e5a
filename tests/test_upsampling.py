"""labtools.upsampling: every function equals its torch twin on random sizes, strides and paddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labtools import upsampling

SEEDS = range(6)


def rng_for(seed):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_nearest_neighbour_and_bed_of_nails_equal_torch(seed):
    rng = rng_for(seed)
    x = rng.random((2, 3, *rng.integers(2, 7, size=2)))
    factor = int(rng.integers(2, 4))
    expected = F.interpolate(torch.from_numpy(x), scale_factor=factor, mode="nearest").numpy()
    np.testing.assert_array_equal(upsampling.nearest_neighbour(x, factor), expected)
    # Bed of nails = a transposed convolution with a kernel that is 1 in its corner, 0 elsewhere.
    nail = torch.zeros(3, 1, factor, factor, dtype=torch.float64)
    nail[:, :, 0, 0] = 1
    expected = F.conv_transpose2d(torch.from_numpy(x), nail, stride=factor, groups=3).numpy()
    np.testing.assert_array_equal(upsampling.bed_of_nails(x, factor), expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_max_pooling_indices_and_unpooling_equal_torch(seed):
    rng = rng_for(seed)
    size = int(rng.integers(2, 4))
    shape = tuple(int(s) * size for s in rng.integers(1, 5, size=2))
    x = rng.random((2, 2, *shape))
    pooled, indices = upsampling.max_pool_with_indices(x, size)
    torch_pooled, torch_indices = F.max_pool2d(torch.from_numpy(x), size, return_indices=True)
    np.testing.assert_array_equal(pooled, torch_pooled.numpy())
    np.testing.assert_array_equal(indices, torch_indices.numpy())
    expected = F.max_unpool2d(torch_pooled, torch_indices, size, output_size=shape).numpy()
    np.testing.assert_array_equal(upsampling.max_unpool(pooled, indices, shape), expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_conv_transpose2d_equals_torch(seed):
    rng = rng_for(seed)
    k, stride = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    padding = int(rng.integers(0, k))  # torch needs padding < the dilated kernel size
    x = rng.standard_normal((2, 3, *rng.integers(2, 6, size=2)))
    weight = rng.standard_normal((3, 4, k, k))
    expected = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(weight), stride=stride,
                                  padding=padding).numpy()
    ours = upsampling.conv_transpose2d(x, weight, stride, padding)
    assert ours.shape[2:] == tuple(upsampling.output_size(s, k, stride, padding) for s in x.shape[2:])
    np.testing.assert_allclose(ours, expected, atol=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ndim", [1, 2])
def test_convolution_matrix_reproduces_torch_convolution(seed, ndim):
    rng = rng_for(seed)
    k, stride = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    padding = int(rng.integers(0, k))
    shape = tuple(int(s) for s in rng.integers(k + 1, 8, size=ndim))
    kernel, x = rng.standard_normal((k,) * ndim), rng.standard_normal(shape)
    conv = F.conv1d if ndim == 1 else F.conv2d
    expected = conv(torch.from_numpy(x)[None, None], torch.from_numpy(kernel)[None, None],
                    stride=stride, padding=padding).numpy().ravel()
    np.testing.assert_allclose(upsampling.conv_matrix(kernel, shape, stride, padding) @ x.ravel(),
                               expected, atol=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("ndim", [1, 2])
def test_transposed_convolution_is_the_transpose_of_the_convolution_matrix(seed, ndim):
    # The lesson's claim: conv_transpose(y) = C^T y, checked against torch for random settings.
    rng = rng_for(seed)
    k, stride = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    y_shape = tuple(int(s) for s in rng.integers(1, 6, size=ndim))
    # Padding below k, and small enough that the input keeps at least one pixel.
    padding = int(rng.integers(0, min(k, ((min(y_shape) - 1) * stride + k - 1) // 2 + 1)))
    kernel, y = rng.standard_normal((k,) * ndim), rng.standard_normal(y_shape)
    input_shape = tuple(upsampling.output_size(s, k, stride, padding) for s in y_shape)
    assert min(input_shape) >= 1
    transpose = F.conv_transpose1d if ndim == 1 else F.conv_transpose2d
    expected = transpose(torch.from_numpy(y)[None, None], torch.from_numpy(kernel)[None, None],
                         stride=stride, padding=padding).numpy()[0, 0]
    ours = upsampling.conv_transpose_via_matrix(y, kernel, input_shape, stride, padding)
    np.testing.assert_allclose(ours, expected, atol=1e-10)


def test_checkerboard_appears_when_the_kernel_is_not_a_multiple_of_the_stride():
    ones = np.ones((1, 1, 6, 6))
    uneven = upsampling.conv_transpose2d(ones, np.ones((1, 1, 3, 3)), stride=2)[0, 0, 2:-2, 2:-2]
    even = upsampling.conv_transpose2d(ones, np.ones((1, 1, 4, 4)), stride=2)[0, 0, 2:-2, 2:-2]
    assert np.ptp(uneven) > 0 and np.ptp(even) == 0  # overlaps 1, 2, 4 vs exactly 4 everywhere


@pytest.mark.parametrize("kernels, strides, dilations", [
    ([3, 3, 3], None, None),
    ([3, 3, 3], None, [1, 2, 4]),
    ([3, 2, 3, 2, 3], [1, 2, 1, 2, 1], None),
])
def test_receptive_field_equals_the_support_of_a_gradient(kernels, strides, dilations):
    # Measure it: the input pixels that influence one output pixel of a real stack of convolutions.
    strides, dilations = strides or [1] * len(kernels), dilations or [1] * len(kernels)
    x = torch.zeros(1, 1, 64, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, d in zip(kernels, strides, dilations):
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    y[0, 0, y.shape[-1] // 2].backward()
    support = np.flatnonzero(x.grad[0, 0].numpy())
    assert upsampling.receptive_field(kernels, strides, dilations) == support[-1] - support[0] + 1
