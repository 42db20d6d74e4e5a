"""References of the transposed-convolution assignment, in numpy.

They follow ``torch.nn.functional.conv_transpose2d`` (tests/test_grading_assignments.py
checks them against it): input x (N, C_in, H, W), weight (C_in, C_out, k, k),
integer stride and padding, no bias, no groups, no dilation.
"""

import numpy as np


def output_size(size, kernel, stride, padding):
    """Output length of a transposed convolution along one axis."""
    return (size - 1) * stride - 2 * padding + kernel


def zero_insert(x, stride):
    """Put stride - 1 zeros between neighbouring pixels of x (N, C, H, W)."""
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - 1) * stride + 1, (w - 1) * stride + 1), dtype=x.dtype)
    out[:, :, ::stride, ::stride] = x
    return out


def conv_transpose2d(x, weight, stride, padding):
    """2D transposed convolution: each input pixel adds a weighted copy of the kernel."""
    n, _, h, w = x.shape
    k = weight.shape[2]
    full = np.zeros((n, weight.shape[1], (h - 1) * stride + k, (w - 1) * stride + k))
    for i in range(k):
        for j in range(k):
            full[:, :, i:i + (h - 1) * stride + 1:stride, j:j + (w - 1) * stride + 1:stride] += \
                np.einsum("nchw,co->nohw", x, weight[:, :, i, j])
    return full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]
