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
# # Lesson 01: Upsampling in segmentation networks
#
# **Time to run:** about 10 seconds for Run All on a 2-core CPU
# (measured by `benchmarks/course_lessons.py`).
#
# A segmentation network shrinks its input (pooling, strided convolutions) to see more context,
# then has to grow the feature maps back to the input size to label every pixel. This lesson opens
# up the operations that do the growing, and one that enlarges the context without shrinking:
#
# 1. fixed upsampling: nearest neighbour and "bed of nails";
# 2. max unpooling with the indices remembered by max pooling;
# 3. the transposed convolution, computed by scattering kernels and as the transpose $C^\top$ of the
#    convolution's matrix, and its output size;
# 4. checkerboard artefacts and the resize-convolution fix;
# 5. dilated convolutions and how fast the receptive field grows.
#
# Every operation is in `labtools.upsampling`, written out in numpy; the lesson compares each with
# torch. **Prerequisites:** numpy, what a 2D convolution computes, a little torch. **Time:** about
# 75 minutes. Everything runs on a CPU in seconds; no GPU needed.
#
# There are four exercises. Each asks you to write a small function where the notebook says
# `# YOUR CODE HERE` (and raises `NotImplementedError` until you do); the cell after it checks your
# function against `labtools` and torch.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from labtools import datasets, exercises, upsampling

QUICK = os.environ.get("LABTOOLS_QUICK") == "1"   # small sizes for the automatic test run
torch.manual_seed(0)
torch.set_default_dtype(torch.float64)            # exact comparisons with numpy below
plt.rcParams.update({"figure.dpi": 80, "image.interpolation": "nearest"})


def show(images, titles, cmap="gray", size=2.6, **kwargs):
    """Draw 2D arrays side by side."""
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size))
    for ax, image, title in zip(np.atleast_1d(axes), images, titles):
        ax.imshow(image, cmap=cmap, **kwargs)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    plt.show()


# %% [markdown]
# ## 1. Fixed upsampling: nearest neighbour and bed of nails
#
# The simplest way to double a feature map is to copy every value into a 2×2 block (**nearest
# neighbour**). **Bed of nails** puts each value into the top-left corner of its block and zeros
# elsewhere. Neither has parameters. The arrays follow torch's layout `(N, C, H, W)`.

# %%
x = np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]          # (N=1, C=1, 2, 2)
print("nearest neighbour:\n", upsampling.nearest_neighbour(x, 2)[0, 0])
print("bed of nails:\n", upsampling.bed_of_nails(x, 2)[0, 0])

# %% [markdown]
# Nearest-neighbour upsampling is `torch.nn.functional.interpolate(mode="nearest")`:

# %%
rng = np.random.default_rng(1)   # each cell seeds its own draws: re-running a cell repeats it exactly
x = rng.random((2, 3, 5, 4))
for factor in (2, 3):
    torch_nn = F.interpolate(torch.from_numpy(x), scale_factor=factor, mode="nearest").numpy()
    np.testing.assert_array_equal(upsampling.nearest_neighbour(x, factor), torch_nn)
print("nearest_neighbour equals torch's interpolate(mode='nearest')")

# %% [markdown]
# On an image: a 64×64 slice of the labtools phantom, shrunk 4× by averaging blocks, then grown
# back. Nearest neighbour gives blocks; bed of nails keeps one pixel in 16 and leaves a grid of
# holes that a following convolution has to fill in.

# %%
image, labels = datasets.phantom((64, 64), seed=1)
slice_ = image.array[None, None].astype(float)
small = F.avg_pool2d(torch.from_numpy(slice_), 4).numpy()
show([slice_[0, 0], small[0, 0], upsampling.nearest_neighbour(small, 4)[0, 0],
      upsampling.bed_of_nails(small, 4)[0, 0]],
     ["phantom 64×64", "average-pooled 16×16", "nearest neighbour ×4", "bed of nails ×4"])

# %% [markdown]
# ### Exercise 1: bed of nails
#
# Write `my_bed_of_nails(x, factor)` for an array `x` of shape `(N, C, H, W)`: return an array of
# shape `(N, C, H·factor, W·factor)`, zero everywhere except at rows and columns that are multiples
# of `factor`, where it holds `x`. Keep the dtype of `x`. Hint: strided slicing `out[..., ::f, ::f]`.

# %%
def my_bed_of_nails(x, factor):
    """Bed-of-nails upsampling of x (N, C, H, W) by an integer factor."""
    ### BEGIN SOLUTION
    n, c, h, w = x.shape
    out = np.zeros((n, c, h * factor, w * factor), dtype=x.dtype)
    out[:, :, ::factor, ::factor] = x
    return out
    ### END SOLUTION


# %% [markdown]
# The check compares your function with `labtools.upsampling.bed_of_nails` and with torch: bed of
# nails is a transposed convolution (section 3) whose kernel is 1 in its corner and 0 elsewhere,
# applied to each channel separately (`groups=C`).

# %%
rng = np.random.default_rng(2)
with exercises.check(1, "bed of nails") as check:
    for trial in range(5):
        factor = int(rng.integers(2, 5))
        x = rng.standard_normal((2, 3, *rng.integers(1, 7, size=2)))
        x = x.astype(np.float32) if trial % 2 else x          # float32 and float64 inputs
        nail = torch.zeros(3, 1, factor, factor, dtype=torch.from_numpy(x).dtype)
        nail[:, :, 0, 0] = 1.0
        expected = F.conv_transpose2d(torch.from_numpy(x), nail, stride=factor, groups=3).numpy()
        call = f"my_bed_of_nails(x of shape {x.shape}, factor={factor})"
        mine = my_bed_of_nails(x, factor)
        check.equal(call, mine, expected,
                    hint="the value of x[..., i, j] goes to row i·factor, column j·factor "
                         "(the top-left corner of its block); every other entry is 0.")
        check.equal(f"the dtype of {call}", str(np.asarray(mine).dtype), str(x.dtype),
                    hint="create the output with np.zeros(..., dtype=x.dtype).")
print("your bed of nails equals labtools' and torch's conv_transpose2d with a one-hot kernel")

# %% [markdown]
# ## 2. Max unpooling
#
# Bed of nails puts every value in the same corner. **Max unpooling** puts it back where it came
# from: the max-pooling layer on the way down remembers, for each block, the position of its
# maximum, and the matching unpooling layer on the way up writes the value to that position
# (SegNet: Badrinarayanan, Kendall & Cipolla, 2017, pair each pooling layer with an unpooling
# layer). torch returns the positions as flat indices into each `H×W` plane.

# %%
x = np.array([[1.0, 5.0, 2.0, 0.0],
              [7.0, 2.0, 3.0, 9.0],
              [0.0, 1.0, 4.0, 4.0],
              [8.0, 2.0, 6.0, 1.0]])[None, None]
pooled, indices = upsampling.max_pool_with_indices(x, 2)
print("pooled:\n", pooled[0, 0], "\nflat indices:\n", indices[0, 0])
print("unpooled:\n", upsampling.max_unpool(pooled, indices, (4, 4))[0, 0])

# %% [markdown]
# The same with torch's layers `MaxPool2d(return_indices=True)` and `MaxUnpool2d`, on random
# sizes:

# %%
rng = np.random.default_rng(3)
for trial in range(5):
    size = int(rng.integers(2, 4))
    shape = tuple(int(s) * size for s in rng.integers(1, 6, size=2))
    x = rng.random((2, 3, *shape))
    t_pooled, t_indices = torch.nn.MaxPool2d(size, return_indices=True)(torch.from_numpy(x))
    t_unpooled = torch.nn.MaxUnpool2d(size)(t_pooled, t_indices, output_size=shape)
    pooled, indices = upsampling.max_pool_with_indices(x, size)
    assert np.array_equal(pooled, t_pooled.numpy()) and np.array_equal(indices, t_indices.numpy())
    np.testing.assert_array_equal(upsampling.max_unpool(pooled, indices, shape), t_unpooled.numpy())
print("max_pool_with_indices and max_unpool equal torch's MaxPool2d / MaxUnpool2d")

# %% [markdown]
# On the phantom: unpooling keeps the bright pixels at their original positions, so edges land
# where they were, not in the corner of each block.

# %%
pooled, indices = upsampling.max_pool_with_indices(slice_, 4)
show([slice_[0, 0], pooled[0, 0], upsampling.max_unpool(pooled, indices, slice_.shape[2:])[0, 0],
      upsampling.bed_of_nails(pooled, 4)[0, 0]],
     ["phantom", "max-pooled 16×16", "max unpooling", "bed of nails (same values)"])

# %% [markdown]
# ## 3. Transposed convolution
#
# The fixed operations above have no parameters. A **transposed convolution** (torch's
# `ConvTranspose2d`, sometimes called "deconvolution") learns how to upsample. Read it as a
# scatter: every input pixel $x_i$ adds a copy of the kernel, multiplied by $x_i$, into the output,
# the copies `stride` pixels apart; where copies overlap they add up. Finally `padding` pixels are
# cropped from each border. In 1D, input $(a, b)$, kernel $(u, v, w)$ and stride 2 give
# $(au,\ av,\ aw + bu,\ bv,\ bw)$:

# %%
a_b = torch.tensor([[[1.0, 10.0]]])            # (N, C_in, W)
kernel = torch.tensor([[[1.0, 2.0, 3.0]]])     # (C_in, C_out, k)
print(F.conv_transpose1d(a_b, kernel, stride=2))

# %% [markdown]
# `upsampling.conv_transpose2d` does exactly that scatter, one kernel tap at a time (read its
# source: `upsampling.conv_transpose2d??`). It equals torch for several channels, strides and
# paddings:

# %%
rng = np.random.default_rng(4)
for trial in range(5):
    k, stride = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    x = rng.standard_normal((2, 3, *rng.integers(2, 6, size=2)))
    # padding crops p pixels from each side of (n - 1) s + k: keep at least one pixel.
    padding = int(rng.integers(0, min(k - 1, ((min(x.shape[2:]) - 1) * stride + k - 1) // 2) + 1))
    weight = rng.standard_normal((3, 4, k, k))          # (C_in, C_out, k, k)
    expected = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(weight), stride=stride,
                                  padding=padding).numpy()
    np.testing.assert_allclose(upsampling.conv_transpose2d(x, weight, stride, padding), expected, rtol=1e-5, atol=1e-8)
print("the scatter equals torch's conv_transpose2d")

# %% [markdown]
# The scatter can also be written as a gather: insert `stride - 1` zeros between the input pixels
# (`upsampling.zero_insert`), pad by `k - 1 - padding`, and run an ordinary stride-1 convolution
# with the kernel flipped (and its two channel axes swapped). That is how the operation is often
# drawn (Dumoulin & Visin 2016, "A guide to convolution arithmetic for deep learning"):

# %%
rng = np.random.default_rng(5)
x = rng.standard_normal((1, 2, 4, 5))
weight = rng.standard_normal((2, 3, 3, 3))
stride, padding = 2, 1
spread = torch.from_numpy(upsampling.zero_insert(x, stride))
flipped = torch.from_numpy(weight).flip(2, 3).transpose(0, 1)       # (C_out, C_in, k, k)
gathered = F.conv2d(spread, flipped, padding=weight.shape[2] - 1 - padding).numpy()
np.testing.assert_allclose(gathered, upsampling.conv_transpose2d(x, weight, stride, padding), rtol=1e-5, atol=1e-8)
show([x[0, 0], spread[0, 0].numpy(), gathered[0, 0]],
     ["input 4×5", "zeros inserted (stride 2)", "conv with flipped kernel"], cmap="RdBu")

# %% [markdown]
# ## 4. The transposed convolution is the transpose of the convolution's matrix
#
# A convolution is linear, so it is a matrix: flatten the input $x$ and the output $y$, then
# $y = C x$. Row $r$ of $C$ holds the kernel at the place the kernel sits for output $r$; the rest
# of the row is zero. The lecture's example: kernel $(u, v, w)$, stride 1, padding 1, input length 4.
# `upsampling.conv_matrix` builds $C$ (torch's convolution is a cross-correlation: no flip):

# %%
rng = np.random.default_rng(6)
kernel = np.array([1.0, 2.0, 3.0])
C = upsampling.conv_matrix(kernel, (4,), stride=1, padding=1)
print(C)
x = rng.standard_normal(4)
torch_conv = F.conv1d(torch.from_numpy(x)[None, None], torch.from_numpy(kernel)[None, None],
                      padding=1).numpy().ravel()
np.testing.assert_allclose(C @ x, torch_conv, rtol=1e-5, atol=1e-8)
print("C @ x equals torch's conv1d")

# %% [markdown]
# The transposed convolution multiplies by $C^\top$: it maps the *output* grid of the convolution
# back to its *input* grid, with the same weights. (It is not the inverse: $C^\top C \neq I$.) This
# is also why the transposed convolution is the gradient of the convolution with respect to its
# input: backpropagation through $y = Cx$ multiplies by $C^\top$.

# %%
rng = np.random.default_rng(7)
y = rng.standard_normal(C.shape[0])
torch_transposed = F.conv_transpose1d(torch.from_numpy(y)[None, None],
                                      torch.from_numpy(kernel)[None, None], padding=1).numpy().ravel()
np.testing.assert_allclose(C.T @ y, torch_transposed, rtol=1e-5, atol=1e-8)
np.testing.assert_allclose(upsampling.conv_transpose_via_matrix(y, kernel, (4,), padding=1), torch_transposed, rtol=1e-5, atol=1e-8)
print("C^T @ y equals torch's conv_transpose1d")

# %% [markdown]
# With stride 2 the matrix is wider than tall: $C$ downsamples and $C^\top$ upsamples. Drawn as
# images, $C$ for a 3-tap kernel, stride 2, padding 1 on 8 inputs, and for a 3×3 kernel on a 4×4
# image (16 inputs, 4 outputs: each row is the kernel laid out on the flattened image):

# %%
C1 = upsampling.conv_matrix(kernel, (8,), stride=2, padding=1)
C2 = upsampling.conv_matrix(np.arange(1.0, 10.0).reshape(3, 3), (4, 4), stride=2, padding=1)
fig, axes = plt.subplots(1, 3, figsize=(10, 2.6), gridspec_kw={"width_ratios": [8, 4, 16]})
for ax, matrix, title in zip(axes, [C1, C1.T, C2], ["C (1D, 4×8)", "Cᵀ (8×4)", "C (2D, 4×16)"]):
    ax.imshow(matrix, cmap="viridis")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
fig.tight_layout()
plt.show()

# %% [markdown]
# Random sizes, strides and paddings, 1D and 2D: $C^\top y$ equals torch's `conv_transpose1d/2d`.
# One subtlety: with stride $s > 1$ several input sizes give the same output size (a stride-2
# convolution maps lengths 7 and 8 both to 4). $C$ knows which input size it came from; torch has
# to be told, with `output_padding` (extra rows at the end, between 0 and $s-1$).

# %%
rng = np.random.default_rng(8)
for trial in range(20 if QUICK else 200):
    ndim = int(rng.integers(1, 3))
    k = tuple(int(v) for v in rng.integers(1, 5, size=ndim))
    stride = int(rng.integers(1, 4))
    padding = int(rng.integers(0, min(k)))
    in_shape = tuple(int(v) for v in rng.integers(max(k), 9, size=ndim))
    kernel_nd = rng.standard_normal(k)
    C = upsampling.conv_matrix(kernel_nd, in_shape, stride, padding)
    out_shape = tuple((n + 2 * padding - kk) // stride + 1 for n, kk in zip(in_shape, k))
    y = rng.standard_normal(out_shape)
    # output_padding: the rows torch's formula (n_out - 1) s - 2p + k falls short of in_shape.
    extra = tuple(n - upsampling.output_size(m, kk, stride, padding)
                  for n, m, kk in zip(in_shape, out_shape, k))
    transposed = F.conv_transpose1d if ndim == 1 else F.conv_transpose2d
    expected = transposed(torch.from_numpy(y)[None, None], torch.from_numpy(kernel_nd)[None, None],
                          stride=stride, padding=padding, output_padding=extra).numpy()[0, 0]
    np.testing.assert_allclose((C.T @ y.ravel()).reshape(in_shape), expected, rtol=1e-5, atol=1e-8)
print("C^T equals torch's transposed convolution on every random case")

# %% [markdown]
# ### Exercise 2: build the convolution matrix of a 1D convolution
#
# Write `my_conv_matrix_1d(kernel, n, stride, padding)`: the matrix $C$ (a float numpy array) with
# `C @ x == conv1d(x)` for a signal `x` of length `n`, torch's convolution (cross-correlation:
# output $r$ is $\sum_t \text{kernel}[t]\, x[r\cdot\text{stride} + t - \text{padding}]$, with zero
# padding). It has $\lfloor (n + 2p - k)/s \rfloor + 1$ rows and `n` columns. Taps that fall on the
# padding contribute nothing.

# %%
def my_conv_matrix_1d(kernel, n, stride=1, padding=0):
    """Matrix C of torch's conv1d with this kernel: C @ x == conv1d(x) for len(x) == n."""
    ### BEGIN SOLUTION
    k = len(kernel)
    n_out = (n + 2 * padding - k) // stride + 1
    C = np.zeros((n_out, n))
    for r in range(n_out):
        for t in range(k):
            column = r * stride + t - padding
            if 0 <= column < n:
                C[r, column] = kernel[t]
    return C
    ### END SOLUTION


# %%
rng = np.random.default_rng(9)
with exercises.check(2, "the convolution matrix of a 1D convolution") as check:
    for trial in range(30):
        k, stride = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        padding, n = int(rng.integers(0, k)), int(rng.integers(k, 12))
        kernel_1d = rng.standard_normal(k)
        call = f"my_conv_matrix_1d(kernel of {k} taps, n={n}, stride={stride}, padding={padding})"
        mine = my_conv_matrix_1d(kernel_1d, n, stride, padding)
        check.close(call, mine, upsampling.conv_matrix(kernel_1d, (n,), stride, padding),
                    hint="it has (n + 2p - k) // s + 1 rows; row r holds kernel[t] in column "
                         "r·stride + t - padding (no flip: torch cross-correlates), columns outside 0..n-1 dropped.")
        x = rng.standard_normal(n)
        conv = F.conv1d(torch.from_numpy(x)[None, None], torch.from_numpy(kernel_1d)[None, None],
                        stride=stride, padding=padding).numpy().ravel()
        check.close(f"{call} @ x, against torch's conv1d", mine @ x, conv)
print("C @ x is conv1d; C.T @ y is conv_transpose1d (section 4)")

# %% [markdown]
# ## 5. The output size
#
# Each of the $n$ input pixels places a kernel copy, the copies $s$ apart: the last one starts at
# $(n-1)s$ and ends $k$ pixels later; cropping $p$ on both sides leaves
#
# $$n_\text{out} = (n - 1)\,s - 2p + k \;(+\ \text{output\_padding}),$$
#
# the convolution's size formula $n = \lfloor (n_\text{out} + 2p - k)/s \rfloor + 1$ solved for
# its input (Dumoulin & Visin 2016). The usual choices to exactly double a feature map are $k = 2,
# s = 2, p = 0$ (U-Net's "up-convolution", Ronneberger et al. 2015) and $k = 4, s = 2, p = 1$.

# %%
for k, s, p in [(2, 2, 0), (4, 2, 1), (3, 2, 1), (3, 1, 1)]:
    layer = torch.nn.ConvTranspose2d(1, 1, k, stride=s, padding=p)
    torch_size = layer(torch.zeros(1, 1, 16, 16)).shape[-1]
    print(f"k={k} s={s} p={p}: 16 -> {upsampling.output_size(16, k, s, p)} (torch: {torch_size})")

# %% [markdown]
# ### Exercise 3: the output size, with dilation and output padding
#
# torch's `ConvTranspose2d` also takes `dilation` $d$ (the kernel taps are $d$ pixels apart, so a
# kernel of $k$ taps spans $d(k-1)+1$ pixels) and `output_padding`. Write
# `transposed_output_size(n, k, stride=1, padding=0, dilation=1, output_padding=0)` returning the
# output length along one axis. Derive it from the scatter picture: replace $k$ by the span of the
# dilated kernel.

# %%
def transposed_output_size(n, k, stride=1, padding=0, dilation=1, output_padding=0):
    """Length of a transposed convolution's output along one axis."""
    ### BEGIN SOLUTION
    span = dilation * (k - 1) + 1            # pixels covered by one dilated kernel copy
    return (n - 1) * stride - 2 * padding + span + output_padding
    ### END SOLUTION


# %%
rng = np.random.default_rng(10)
with exercises.check(3, "the output size, with dilation and output padding") as check:
    for trial in range(40):
        n, k = int(rng.integers(1, 10)), int(rng.integers(1, 6))
        stride, dilation = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        padding = int(rng.integers(0, dilation * (k - 1) + 1))
        output_padding = int(rng.integers(0, max(stride, dilation)))
        if dilation == 1 and output_padding == 0:
            check.equal(f"transposed_output_size({n}, {k}, stride={stride}, padding={padding})",
                        transposed_output_size(n, k, stride, padding),
                        upsampling.output_size(n, k, stride, padding),
                        hint="without dilation it is (n - 1)·stride - 2·padding + k.")
        if upsampling.output_size(n, k, stride, padding) + (dilation - 1) * (k - 1) + output_padding <= 0:
            continue                                                  # torch refuses empty outputs
        layer = torch.nn.ConvTranspose1d(1, 1, k, stride=stride, padding=padding, dilation=dilation,
                                         output_padding=output_padding)
        check.equal(f"transposed_output_size({n}, {k}, stride={stride}, padding={padding}, "
                    f"dilation={dilation}, output_padding={output_padding})",
                    transposed_output_size(n, k, stride, padding, dilation, output_padding),
                    layer(torch.zeros(1, 1, n)).shape[-1],
                    hint="a dilated kernel spans dilation·(k - 1) + 1 pixels: put that in place of k, "
                         "then add output_padding.")
print("your formula matches torch's ConvTranspose1d and labtools")

# %% [markdown]
# ## 6. Checkerboard artefacts
#
# When the kernel size is not a multiple of the stride, the kernel copies of the scatter overlap
# unevenly: with $k = 3, s = 2$ every other output pixel receives two copies, the others one. Feed
# a constant image through a transposed convolution whose weights are all 1 and you see how many
# copies land on each pixel: a checkerboard (Odena, Dumoulin & Olah 2016, "Deconvolution and
# checkerboard artifacts", Distill). With $k = 4, s = 2$ the overlap is even inside the image,
# with $k = 2, s = 2$ there is none.

# %%
ones = np.ones((1, 1, 6, 6))
counts = {k: upsampling.conv_transpose2d(ones, np.ones((1, 1, k, k)), stride=2)[0, 0] for k in (2, 3, 4)}
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, (k, count) in zip(axes, counts.items()):
    ax.imshow(count, cmap="magma", vmin=0, vmax=4)
    ax.set_title(f"kernel {k}×{k}, stride 2: copies per pixel", fontsize=9)
    ax.axis("off")
fig.tight_layout()
plt.show()
interior = counts[3][2:-2, 2:-2]
assert set(np.unique(interior)) == {1.0, 2.0, 4.0}                  # uneven: 1, 2 or 4 copies
assert np.all(counts[4][2:-2, 2:-2] == 4) and np.all(counts[2] == 1)  # even overlap inside

# %% [markdown]
# Even overlap is not enough: a learned kernel puts *different* weights on the pixels of each
# parity, so the stride-2 output of a constant image is a periodic pattern unless training makes
# the weights balance exactly. Odena et al.'s fix is **resize-convolution**: upsample with nearest
# neighbour (or bilinear) and then apply an ordinary stride-1 convolution. Every output pixel now
# sees the same weights, so a constant input gives a constant output away from the border. Below,
# the same random positive 4×4 kernel both ways (4×4 → 8×8 for the first, a 3×3 kernel after
# nearest neighbour for the second):

# %%
rng = np.random.default_rng(11)
constant = np.ones((1, 1, 8, 8))
kernel4 = rng.uniform(0.2, 1.0, size=(1, 1, 4, 4))
transposed_out = upsampling.conv_transpose2d(constant, kernel4, stride=2, padding=1)[0, 0]
kernel3 = torch.from_numpy(rng.uniform(0.2, 1.0, size=(1, 1, 3, 3)))
resized = torch.from_numpy(upsampling.nearest_neighbour(constant, 2))
resize_conv_out = F.conv2d(resized, kernel3, padding=1).numpy()[0, 0]
show([transposed_out, resize_conv_out],
     ["transposed conv k=4, s=2", "nearest neighbour ×2, then conv 3×3"], cmap="magma", size=3.2)
print("interior std, transposed conv:", transposed_out[2:-2, 2:-2].std().round(3),
      "| resize-conv:", resize_conv_out[2:-2, 2:-2].std().round(12))
assert transposed_out[2:-2, 2:-2].std() > 1e-3 and np.allclose(resize_conv_out[1:-1, 1:-1], kernel3.sum().item())

# %% [markdown]
# The same effect shows on the gradients: the backward pass of a strided convolution is a
# transposed convolution, so a stride-3 convolution with a 4-tap kernel sends uneven gradients to
# its input. Many segmentation networks (U-Net among them) use $k = s = 2$, which has no overlap;
# nnU-Net uses transposed convolutions with kernel = stride as well.

# %% [markdown]
# ## 7. Dilated convolutions and the receptive field
#
# The **receptive field** of a unit is the set of input pixels that can change it. Each 3×3
# convolution adds 2 pixels to it, so $L$ stacked stride-1 layers see only $2L + 1$ pixels:
# context grows linearly with depth. Pooling multiplies the growth of every later layer by the
# stride, at the price of resolution. A **dilated** (atrous) convolution spreads its taps $d$
# pixels apart,
#
# $$ (x *_d w)(i) = \sum_t w(t)\, x(i + d\,t), $$
#
# so it covers $d(k-1)+1$ pixels with $k$ weights and no loss of resolution. Yu & Koltun (2016,
# "Multi-scale context aggregation by dilated convolutions") double $d$ at every layer: 3×3 layers
# with $d = 1, 2, 4, \dots, 2^{L-1}$ see $2^{L+1} - 1$ pixels, exponential growth. In general, layer
# $l$ adds $(k_l - 1)\, d_l \prod_{j<l} s_j$ (`upsampling.receptive_field`):

# %%
depths = np.arange(1, 9)
regular = [upsampling.receptive_field([3] * n) for n in depths]
pooled = [upsampling.receptive_field([3] * n, strides=[2] * n) for n in depths]
dilated = [upsampling.receptive_field([3] * n, dilations=[2 ** i for i in range(n)]) for n in depths]
assert dilated == [2 ** (n + 1) - 1 for n in depths]          # Yu & Koltun's closed form
fig, ax = plt.subplots(figsize=(4.5, 3))
ax.plot(depths, regular, "o-", label="3×3, stride 1")
ax.plot(depths, dilated, "s-", label="3×3, dilation 1, 2, 4, …")
ax.plot(depths, pooled, "^--", label="3×3, stride 2 (shrinks the map)")
ax.set(xlabel="layers", ylabel="receptive field (pixels)", yscale="log")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# We can measure a receptive field instead of computing it: build the stack in torch with all
# weights 1, take the centre unit of the output, and backpropagate. The input pixels with a
# non-zero gradient are the receptive field (all weights positive, so nothing cancels). Drawn
# for three stacks of three 3×3 layers: plain, Yu & Koltun's dilations 1, 2, 4, and dilations
# 2, 2, 2, which leaves holes ("gridding": only every other pixel is ever seen).

# %%
def measured_field(kernels, strides=None, dilations=None, size=65):
    """Gradient of the centre output unit of a stack of all-ones 2D convolutions w.r.t. the input."""
    strides = strides or [1] * len(kernels)
    dilations = dilations or [1] * len(kernels)
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    y = x
    for k, s, d in zip(kernels, strides, dilations):
        y = F.conv2d(y, torch.ones(1, 1, k, k), stride=s, dilation=d)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    return x.grad[0, 0].numpy()


stacks = {"dilation 1, 1, 1": [1, 1, 1], "dilation 1, 2, 4": [1, 2, 4], "dilation 2, 2, 2": [2, 2, 2]}
fields = {name: measured_field([3, 3, 3], dilations=d, size=33) for name, d in stacks.items()}
show([f[4:-4, 4:-4] > 0 for f in fields.values()], list(fields), cmap="Greys", size=3)
for name, d in stacks.items():
    rows = np.flatnonzero(fields[name].any(axis=1))
    assert rows[-1] - rows[0] + 1 == upsampling.receptive_field([3, 3, 3], dilations=d)
    print(f"{name}: receptive field {upsampling.receptive_field([3, 3, 3], dilations=d)} pixels, "
          f"{(fields[name] > 0).sum()} of them seen")

# %% [markdown]
# ### Exercise 4: the receptive field of a stack of (dilated, strided) convolutions
#
# Write `my_receptive_field(kernels, strides, dilations)`: the receptive field, in input pixels
# along one axis, of the units of the last layer of a stack of convolutions; layer `l` has kernel
# size `kernels[l]`, stride `strides[l]` and dilation `dilations[l]`. Keep track of the "jump": how
# many input pixels one step on the current layer's grid moves (the product of the strides below).
# The check compares with `labtools.upsampling.receptive_field` and with the field measured by
# backpropagation in torch (`measured_field` above).

# %%
def my_receptive_field(kernels, strides, dilations):
    """Receptive field (pixels along one axis) of a stack of convolutions."""
    ### BEGIN SOLUTION
    field, jump = 1, 1
    for size, step, spread in zip(kernels, strides, dilations):
        field += (size - 1) * spread * jump   # this layer's extra taps, in input pixels
        jump *= step
    return field
    ### END SOLUTION


# %%
rng = np.random.default_rng(12)
with exercises.check(4, "the receptive field of a stack of convolutions") as check:
    hint = ("start with field = 1 and jump = 1; each layer adds (k - 1)·dilation·jump, and only "
            "then multiplies jump by its stride (the stride spaces the layers *after* it).")
    check.equal("my_receptive_field([3, 3, 3], [1, 1, 1], [1, 2, 4])",
                my_receptive_field([3, 3, 3], [1, 1, 1], [1, 2, 4]), 15, hint=hint)
    check.equal("my_receptive_field([3, 3], [2, 1], [1, 1])", my_receptive_field([3, 3], [2, 1], [1, 1]), 7,
                hint=hint)
    for trial in range(8 if QUICK else 30):
        depth = int(rng.integers(1, 5))
        kernels = [int(v) for v in rng.integers(1, 6, size=depth)]
        strides = [int(v) for v in rng.integers(1, 3, size=depth)]
        dilations = [int(v) for v in rng.integers(1, 4, size=depth)]
        field = measured_field(kernels, strides, dilations, size=2 * upsampling.receptive_field(kernels, strides, dilations) + 1)
        rows = np.flatnonzero(field.any(axis=1))
        check.equal(f"my_receptive_field({kernels}, {strides}, {dilations}), against the field measured in torch",
                    my_receptive_field(kernels, strides, dilations), int(rows[-1] - rows[0] + 1), hint=hint)
print("your receptive field equals the one measured by backpropagation in torch")

# %% [markdown]
# ## Summary
#
# | operation | parameters | what it does |
# |---|---|---|
# | nearest neighbour | none | copies each value into a block |
# | bed of nails | none | one value per block, zeros elsewhere |
# | max unpooling | none (uses pooling indices) | puts values back where the maxima were |
# | transposed convolution | learned kernel | scatters kernel copies; multiplies by $C^\top$ |
# | resize-convolution | learned kernel | nearest neighbour then convolution: no checkerboard |
# | dilated convolution | learned kernel | larger receptive field at full resolution |
#
# **Questions to think about.** (1) Why does a transposed convolution with stride 1 equal an
# ordinary convolution? (2) A U-Net decoder upsamples with $k = s = 2$; which entries of $C^\top$ are
# non-zero, and what does that say about overlap?

# %% [markdown]
# ### BEGIN SOLUTION
# (1) With stride 1 no zeros are inserted: the gather form of section 3 is a stride-1 convolution
# of the input with the flipped kernel and padding $k - 1 - p$. (2) Each column of $C^\top$ (one
# input pixel) has its $k^2$ non-zeros in its own $2\times2$ output block, and no two columns share
# a row: every output pixel receives exactly one kernel copy, so there is no uneven overlap.
# ### END SOLUTION

# %%
exercises.report()
