"""Upsampling, written out in numpy: the reference functions of the upsampling lesson.

Every function follows the torch function named in its docstring (same array
layout: (N, C, *spatial), weights (C_in, C_out, *kernel) for transposed
convolutions), and ``tests/test_upsampling.py`` checks each against it. The
point is to see the arithmetic: nearest-neighbour and bed-of-nails
upsampling, max unpooling with the pooling's indices, the transposed
convolution computed by scattering kernels and as the transpose of the
convolution's matrix, and the receptive field of stacked (dilated)
convolutions.

Examples
--------
>>> import numpy as np
>>> from labtools import upsampling
>>> x = np.array([[[1.0, 2.0]]])                     # (N, C, W)
>>> upsampling.nearest_neighbour(x, 2).tolist()
[[[1.0, 1.0, 2.0, 2.0]]]
>>> upsampling.bed_of_nails(x, 2).tolist()
[[[1.0, 0.0, 2.0, 0.0]]]
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "nearest_neighbour", "bed_of_nails", "max_pool_with_indices", "max_unpool",
    "output_size", "zero_insert", "conv_transpose2d", "conv_matrix", "conv_transpose_via_matrix",
    "receptive_field",
]


def nearest_neighbour(x: np.ndarray, factor: int) -> np.ndarray:
    """Repeat every pixel `factor` times along each spatial axis.

    Equals ``torch.nn.functional.interpolate(x, scale_factor=factor, mode="nearest")``.

    Examples
    --------
    >>> nearest_neighbour(np.array([[[[1, 2]]]]), 2)[0, 0].tolist()
    [[1, 1, 2, 2], [1, 1, 2, 2]]
    """
    for axis in range(2, x.ndim):
        x = np.repeat(x, factor, axis=axis)
    return x


def bed_of_nails(x: np.ndarray, factor: int) -> np.ndarray:
    """Put each pixel in the top-left corner of a `factor`-wide block of zeros.

    Examples
    --------
    >>> bed_of_nails(np.ones((1, 1, 2, 2)), 2)[0, 0].astype(int).tolist()
    [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    """
    out = np.zeros((*x.shape[:2], *(s * factor for s in x.shape[2:])), dtype=x.dtype)
    out[(slice(None), slice(None), *[slice(None, None, factor)] * (x.ndim - 2))] = x
    return out


def max_pool_with_indices(x: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """2D max pooling (stride = size) that also returns where each maximum was.

    Indices are flat positions in each (H, W) input plane, as
    ``torch.nn.functional.max_pool2d(x, size, return_indices=True)`` gives them
    (the first maximum wins a tie).

    Examples
    --------
    >>> pooled, where = max_pool_with_indices(np.array([[[[1, 5], [7, 2]]]]), 2)
    >>> pooled.tolist(), where.tolist()
    ([[[[7]]]], [[[[2]]]])
    """
    n, c, h, w = x.shape
    oh, ow = h // size, w // size
    blocks = x[:, :, :oh * size, :ow * size].reshape(n, c, oh, size, ow, size).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(n, c, oh, ow, size * size)
    where = blocks.argmax(axis=-1)
    rows = np.arange(oh)[:, None] * size + where // size
    cols = np.arange(ow)[None, :] * size + where % size
    return blocks.max(axis=-1), rows * w + cols


def max_unpool(x: np.ndarray, indices: np.ndarray, output_shape) -> np.ndarray:
    """Put each value back where its maximum came from; zeros elsewhere.

    Equals ``torch.nn.functional.max_unpool2d(x, indices, size, output_size=output_shape)``.

    Examples
    --------
    >>> max_unpool(np.array([[[[7]]]]), np.array([[[[2]]]]), (2, 2))[0, 0].tolist()
    [[0, 0], [7, 0]]
    """
    n, c = x.shape[:2]
    out = np.zeros((n, c, int(np.prod(output_shape))), dtype=x.dtype)
    np.put_along_axis(out, indices.reshape(n, c, -1), x.reshape(n, c, -1), axis=-1)
    return out.reshape(n, c, *output_shape)


def output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Length of a transposed convolution's output along one axis: (size - 1) stride - 2 padding + kernel.

    Examples
    --------
    >>> output_size(4, kernel=4, stride=2, padding=1)   # the usual "double the size" choice
    8
    """
    return (size - 1) * stride - 2 * padding + kernel


def zero_insert(x: np.ndarray, stride: int) -> np.ndarray:
    """Put ``stride - 1`` zeros between neighbouring pixels (N, C, H, W): a transposed
    convolution is a plain convolution of this, with a flipped kernel.

    Examples
    --------
    >>> zero_insert(np.ones((1, 1, 2, 2)), 2)[0, 0].astype(int).tolist()
    [[1, 0, 1], [0, 0, 0], [1, 0, 1]]
    """
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - 1) * stride + 1, (w - 1) * stride + 1), dtype=x.dtype)
    out[:, :, ::stride, ::stride] = x
    return out


def conv_transpose2d(x: np.ndarray, weight: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """2D transposed convolution: each input pixel adds a weighted copy of the kernel to the output.

    Equals ``torch.nn.functional.conv_transpose2d(x, weight, stride=stride, padding=padding)``
    for x (N, C_in, H, W) and weight (C_in, C_out, k, k). Where copies overlap
    unevenly (k not a multiple of the stride) the output gets a checkerboard.

    Examples
    --------
    >>> ones = np.ones((1, 1, 3, 3))
    >>> conv_transpose2d(ones, np.ones((1, 1, 3, 3)), stride=2)[0, 0, :3, :5].astype(int).tolist()
    [[1, 1, 2, 1, 2], [1, 1, 2, 1, 2], [2, 2, 4, 2, 4]]
    """
    n, _, h, w = x.shape
    k = weight.shape[2]
    full = np.zeros((n, weight.shape[1], (h - 1) * stride + k, (w - 1) * stride + k))
    for i in range(k):
        for j in range(k):
            # Kernel tap (i, j) of every input pixel lands stride apart, starting at (i, j).
            full[:, :, i:i + (h - 1) * stride + 1:stride, j:j + (w - 1) * stride + 1:stride] += \
                np.einsum("nchw,co->nohw", x, weight[:, :, i, j])
    return full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]


def conv_matrix(kernel: np.ndarray, input_shape, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The matrix C of a single-channel convolution: ``conv(x).ravel() == C @ x.ravel()``.

    `kernel` is 1D or 2D, the convolution is torch's (cross-correlation, zero
    padding). Row r of C holds the kernel placed at output position r, so C is
    sparse and banded; its transpose maps the output grid back to the input
    grid, which is exactly what a transposed convolution does.

    Examples
    --------
    >>> conv_matrix(np.array([1.0, 2.0, 3.0]), (4,)).astype(int).tolist()
    [[1, 2, 3, 0], [0, 1, 2, 3]]
    """
    kernel = np.atleast_1d(np.asarray(kernel, dtype=float))
    input_shape = tuple(input_shape)
    padded = tuple(s + 2 * padding for s in input_shape)
    out_shape = tuple((p - k) // stride + 1 for p, k in zip(padded, kernel.shape))
    matrix = np.zeros((math.prod(out_shape), math.prod(input_shape)))
    for row, corner in enumerate(np.ndindex(*out_shape)):
        for tap in np.ndindex(*kernel.shape):
            position = [c * stride + t - padding for c, t in zip(corner, tap)]
            if all(0 <= p < s for p, s in zip(position, input_shape)):  # taps on padding add nothing
                matrix[row, np.ravel_multi_index(position, input_shape)] += kernel[tap]
    return matrix


def conv_transpose_via_matrix(y: np.ndarray, kernel: np.ndarray, input_shape, stride: int = 1,
                              padding: int = 0) -> np.ndarray:
    """The transposed convolution of a single-channel `y` as Cᵀ y, C = :func:`conv_matrix`.

    Equals ``torch.nn.functional.conv_transpose1d/2d`` with the same kernel,
    stride and padding, when `input_shape` is the size that convolution maps
    onto y's shape (torch's ``output_padding`` picks among several such sizes).

    Examples
    --------
    >>> conv_transpose_via_matrix(np.array([1.0, 1.0]), np.array([1.0, 2.0, 3.0]), (4,)).tolist()
    [1.0, 3.0, 5.0, 3.0]
    """
    matrix = conv_matrix(kernel, input_shape, stride, padding)
    return (matrix.T @ np.asarray(y, dtype=float).ravel()).reshape(input_shape)


def receptive_field(kernel_sizes, strides=None, dilations=None) -> int:
    """Receptive field (in input pixels) of a stack of convolutions along one axis.

    Each layer adds ``(k - 1) * dilation * jump`` where ``jump`` is the product
    of the strides below it: dilation grows the field without more weights.

    Examples
    --------
    >>> receptive_field([3, 3, 3])                        # three 3x3 convolutions
    7
    >>> receptive_field([3, 3, 3], dilations=[1, 2, 4])   # dilated: exponential growth
    15
    """
    n = len(kernel_sizes)
    strides = strides or [1] * n
    dilations = dilations or [1] * n
    field, jump = 1, 1
    for k, s, d in zip(kernel_sizes, strides, dilations):
        field += (k - 1) * d * jump
        jump *= s
    return field
