# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Transposed convolution in numpy
#
# Segmentation networks upsample with *transposed convolutions* (`torch.nn.ConvTranspose2d`).
# You rebuild one in numpy, with the layout torch uses: input `x` of shape `(N, C_in, H, W)`,
# `weight` of shape `(C_in, C_out, k, k)`, an integer `stride` and `padding`, no bias.
#
# 1. `output_size(size, kernel, stride, padding)`: the output length along one axis.
# 2. `zero_insert(x, stride)`: `x` with `stride - 1` zeros between neighbouring pixels, shape
#    `(N, C, (H - 1)·stride + 1, (W - 1)·stride + 1)`.
# 3. `conv_transpose2d(x, weight, stride, padding)`: every input pixel adds a copy of the kernel,
#    weighted by its value, at `stride` times its position; `padding` then crops that many
#    pixels from each border. The result equals
#    `torch.nn.functional.conv_transpose2d(x, weight, stride=stride, padding=padding)`.

# %%
import numpy as np

# %% [markdown]
# ## 1. Output size

# %%
def output_size(size, kernel, stride, padding):
    """Output length of a transposed convolution along one axis."""
    return (size - 1) * stride - 2 * padding + kernel  # SOLUTION


# %%
assert output_size(4, kernel=2, stride=2, padding=0) == 8
assert output_size(5, kernel=3, stride=1, padding=1) == 5
print("output_size: public checks passed")

# %% [markdown]
# ## 2. Zero insertion

# %%
def zero_insert(x, stride):
    """stride - 1 zeros between neighbouring pixels of x (N, C, H, W)."""
    ### BEGIN SOLUTION
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - 1) * stride + 1, (w - 1) * stride + 1), dtype=x.dtype)
    out[:, :, ::stride, ::stride] = x
    return out
    ### END SOLUTION


# %%
spread = zero_insert(np.arange(4.0).reshape(1, 1, 2, 2), 2)
assert spread.shape == (1, 1, 3, 3)
assert spread[0, 0, 2, 2] == 3.0 and spread[0, 0, 1, 1] == 0.0
print("zero_insert: public checks passed")

# %% [markdown]
# ## 3. Transposed convolution

# %%
def conv_transpose2d(x, weight, stride, padding):
    """Transposed 2D convolution of x (N, C_in, H, W) with weight (C_in, C_out, k, k)."""
    ### BEGIN SOLUTION
    n, _, h, w = x.shape
    k = weight.shape[2]
    full = np.zeros((n, weight.shape[1], (h - 1) * stride + k, (w - 1) * stride + k))
    for i in range(k):
        for j in range(k):
            full[:, :, i:i + (h - 1) * stride + 1:stride, j:j + (w - 1) * stride + 1:stride] += \
                np.einsum("nchw,co->nohw", x, weight[:, :, i, j])
    return full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]
    ### END SOLUTION


# %%
one = conv_transpose2d(np.ones((1, 1, 1, 1)), np.arange(9.0).reshape(1, 1, 3, 3), 2, 0)
assert np.array_equal(one[0, 0], np.arange(9.0).reshape(3, 3))
assert conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((2, 4, 2, 2)), 2, 0).shape == (1, 4, 6, 6)
print("conv_transpose2d: public checks passed")

# %%
### BEGIN HIDDEN TESTS
import torch

rng = np.random.default_rng(0)
for stride, padding, k in [(1, 0, 3), (2, 1, 3), (3, 0, 2), (2, 0, 1)]:
    x, weight = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(3, 2, k, k))
    expected = torch.nn.functional.conv_transpose2d(
        torch.from_numpy(x), torch.from_numpy(weight), stride=stride, padding=padding).numpy()
    assert np.allclose(conv_transpose2d(x, weight, stride, padding), expected)
    assert expected.shape[2] == output_size(4, k, stride, padding)
### END HIDDEN TESTS
