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
# # Lesson 02: Loss functions for segmentation
#
# **Time to run:** about 2 minutes for Run All on a 2-core CPU, under a minute with `LABTOOLS_QUICK=1`
# (measured by `benchmarks/course_lessons.py`).
#
# A segmentation network outputs, for every pixel, one score (logit) per class. The loss turns
# these scores and the reference labels into one number whose gradient trains the network. This
# lesson goes through the losses used in practice and what each one is for:
#
# 1. cross-entropy, and why it struggles when the foreground is small;
# 2. weighted cross-entropy with the U-Net weight map for touching objects;
# 3. the soft Dice loss and its gradient;
# 4. generalised Dice, focal and Tversky losses, and Dice + cross-entropy as nnU-Net trains;
# 5. an experiment: the same tiny network trained with each loss on a small-foreground task.
#
# All losses come from `labtools.losses` (documented in `docs/losses.md`); the lesson checks them
# against torch and MONAI and opens up their formulas. **Prerequisites:** softmax, gradients,
# torch autograd; lesson 01 is not needed. **Time:** about 90 minutes. Runs on a CPU, no GPU
# needed: the training experiment at the end takes about a minute and a half at full size
# (seconds with `LABTOOLS_QUICK=1`).
#
# There are three exercises: write a function where the notebook says `# YOUR CODE HERE`; the
# cell after it checks your function against `labtools`, torch and MONAI.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from monai import losses as monai_losses
from scipy import ndimage

from labtools import datasets, exercises, losses, metrics, viz

QUICK = os.environ.get("LABTOOLS_QUICK") == "1"   # small sizes for the automatic test run
torch.manual_seed(0)
torch.set_num_threads(1)       # the tensors here are tiny: extra threads cost more than they save
plt.rcParams.update({"figure.dpi": 80, "image.interpolation": "nearest"})
f64 = torch.float64            # comparisons with MONAI run in double precision


def show(images, titles, cmaps=None, size=2.6, colorbar=False):
    """Draw 2D arrays side by side; cmap "phantom" draws a phantom label map with its class names."""
    fig, axes = plt.subplots(1, len(images), figsize=(size * len(images), size))
    for ax, image, title, cmap in zip(np.atleast_1d(axes), images, titles, cmaps or ["gray"] * len(images)):
        if cmap == "phantom":   # labtools' label colours, background transparent, a legend of names
            ax.imshow(np.ma.masked_equal(image, 0), cmap=viz.label_colormap(5), vmin=0, vmax=4)
            viz.label_legend(ax, datasets.PHANTOM_CLASSES, image, fontsize=6)
        else:
            drawn = ax.imshow(image, cmap=cmap)
            if colorbar:
                fig.colorbar(drawn, ax=ax, fraction=0.046)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    plt.show()


def monai_target(target):
    """MONAI wants the label map with a channel axis: (B, 1, *spatial)."""
    return target[:, None]


# %% [markdown]
# ## 1. Cross-entropy
#
# The network's logits $z_c(x)$ become probabilities with a softmax over the classes,
# $p_c(x) = e^{z_c(x)} / \sum_k e^{z_k(x)}$. Cross-entropy averages, over the $N$ pixels, minus the
# log-probability given to the correct class $t(x)$:
#
# $$ \mathrm{CE} = -\frac{1}{N} \sum_x \log p_{t(x)}(x). $$
#
# Our example: a 64×64 slice of the labtools phantom (5 classes: background, CSF, grey matter,
# white matter, lesion) and a made-up "prediction": the one-hot labels, blurred and with noise
# added, as logits.

# %%
rng = np.random.default_rng(1)   # each cell seeds its own draws: re-running a cell repeats it exactly
image, labels = datasets.phantom((64, 64), seed=1, n_lesions=3)
target = torch.from_numpy(labels.astype(np.int64))[None]                  # (B=1, H, W)
onehot = F.one_hot(target, 5).movedim(-1, 1).to(f64)                      # (1, 5, H, W)
blurred = ndimage.gaussian_filter(onehot.numpy(), sigma=(0, 0, 1.5, 1.5))
logits = torch.from_numpy(6 * blurred + rng.normal(0, 0.8, blurred.shape))
ce_map = losses.cross_entropy(logits, target, reduction="none")[0]
p_t = torch.softmax(logits, 1).gather(1, target[:, None])[0, 0]
show([image.array, labels, p_t, ce_map], ["phantom", "labels", "p of the true class", "−log p_t"],
     ["gray", "phantom", "viridis", "magma"], colorbar=True)

# %% [markdown]
# `losses.cross_entropy` is torch's `F.cross_entropy`, which is also the CE term of MONAI's
# `DiceCELoss` (here with the Dice term switched off):

# %%
ce = losses.cross_entropy(logits, target)
assert torch.isclose(ce, F.cross_entropy(logits, target))
monai_ce = monai_losses.DiceCELoss(softmax=True, to_onehot_y=True, lambda_dice=0.0)
assert torch.isclose(ce, monai_ce(logits, monai_target(target)), atol=1e-6)
print(f"CE = {ce:.4f} (torch and MONAI agree)")

# %% [markdown]
# Cross-entropy is a mean over pixels, so each class counts in proportion to its area. The lesion
# covers a few percent of this slice: even if the network got every lesion pixel badly wrong, the
# background and tissue classes would dominate the loss, and its gradient. Below: each class's
# share of the pixels and of the summed CE.

# %%
counts = np.bincount(labels.ravel(), minlength=5)
ce_share = np.array([ce_map[target[0] == c].sum().item() for c in range(5)]) / ce_map.sum().item()
for c, name in datasets.PHANTOM_CLASSES.items():
    print(f"{name:13s} {counts[c] / counts.sum():6.1%} of the pixels, {ce_share[c]:6.1%} of the CE")

# %% [markdown]
# ## 2. Weighted cross-entropy and the U-Net weight map
#
# Ronneberger et al. (2015, U-Net) multiply each pixel's cross-entropy by a weight $w(x)$:
#
# $$ \mathrm{wCE} = -\frac{1}{N} \sum_x w(x) \log p_{t(x)}(x), \qquad
#    w(x) = w_c(x) + w_0 \exp\!\left(-\frac{(d_1(x) + d_2(x))^2}{2\sigma^2}\right). $$
#
# $w_c$ balances the class frequencies. The second term is for cells that touch: $d_1$ and $d_2$
# are the distances from a background pixel to the nearest and second-nearest cell, so the
# weight is large in the thin background gaps between two cells, and the network learns to keep
# them apart. The paper uses $w_0 = 10$ and $\sigma = 5$ pixels. `losses.unet_weight_map`
# computes it; here on synthetic touching cells, separated by background lines 1–2 pixels wide
# as in the paper's annotations.

# %%
def touching_cells(size, n_cells, radius, seed):
    """Binary mask of roundish cells that touch, with a thin background line between neighbours."""
    rng_cells = np.random.default_rng(seed)
    seeds = np.zeros((size, size), bool)
    seeds[tuple(rng_cells.integers(radius // 2, size - radius // 2, size=(2, n_cells)))] = True
    distance, (rows, cols) = ndimage.distance_transform_edt(~seeds, return_indices=True)
    cell_id = np.where(distance < radius, rows * size + cols + 1, 0)        # Voronoi cells, cut round
    # A pixel next to (8-neighbourhood) a different cell becomes background: the separating line.
    neighbour_max = ndimage.maximum_filter(cell_id, size=3)
    neighbour_min = ndimage.minimum_filter(np.where(cell_id > 0, cell_id, cell_id.max() + 1), size=3)
    border = (cell_id > 0) & ((neighbour_max != cell_id) | (neighbour_min != cell_id))
    return ((cell_id > 0) & ~border).astype(np.uint8)


cells = touching_cells(96, n_cells=14, radius=13, seed=3)
weights = losses.unet_weight_map(cells)                                  # w0 = 10, sigma = 5
class_part = losses.unet_weight_map(cells, w0=0.0)                       # w_c alone
n_cells = ndimage.label(cells, structure=np.ones((3, 3)))[1]
show([cells, class_part, weights - class_part, weights],
     [f"{n_cells} cells", "w_c (balanced)", "border term", "w = w_c + border"],
     ["gray", "viridis", "magma", "magma"], size=2.8, colorbar=True)

# %% [markdown]
# Along one row: the weight is high in the narrow gaps between cells, lower in wide background
# areas, and only $w_c$ on the cells themselves.

# %%
row = int(np.argmax((weights - class_part).max(axis=1)))
fig, ax = plt.subplots(figsize=(7, 2.2))
ax.plot(weights[row], label="w(x)")
ax.fill_between(np.arange(96), 0, cells[row] * weights.max(), color="0.85", label="cell")
ax.set(xlabel=f"column (row {row})", ylabel="weight")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# `losses.weighted_cross_entropy` is this weighted mean. It divides by the number of pixels, not by
# $\sum w$, so a weight map of ones gives plain cross-entropy. (torch's `F.cross_entropy(weight=...)`
# takes one weight per *class* and divides by the summed weights: a different normalisation.)

# %%
rng = np.random.default_rng(2)
cell_target = torch.from_numpy(cells.astype(np.int64))[None]
cell_logits = torch.from_numpy(rng.normal(0, 1, (1, 2, 96, 96)))
w = torch.from_numpy(weights)[None].to(f64)
wce = losses.weighted_cross_entropy(cell_logits, cell_target, w)
by_hand = (w * F.cross_entropy(cell_logits, cell_target, reduction="none")).mean()
assert torch.isclose(wce, by_hand)
assert torch.isclose(losses.weighted_cross_entropy(cell_logits, cell_target, torch.ones_like(w)),
                     losses.cross_entropy(cell_logits, cell_target))
print(f"weighted CE {wce:.4f}, plain CE {losses.cross_entropy(cell_logits, cell_target):.4f}")

# %% [markdown]
# ### Exercise 1: the border term of the weight map
#
# Write `my_weight_map(labels, w0=10.0, sigma=5.0)` for a 2D mask `labels` (0 = background),
# returning $w(x) = 1 + w_0 \exp(-(d_1 + d_2)^2 / 2\sigma^2)$ on background pixels and $1$ on
# object pixels (that is, $w_c = 1$: `unet_weight_map(labels, class_weights=None)`). Steps:
#
# * objects are the connected components of `labels > 0` with 8-connectivity
#   (`scipy.ndimage.label` with `structure=np.ones((3, 3))`);
# * for each object $k$, `scipy.ndimage.distance_transform_edt(objects != k)` is the distance of
#   every pixel to that object's nearest pixel;
# * $d_1$, $d_2$ are the smallest and second-smallest of these distances at each pixel;
# * with fewer than two objects there is no border term: return ones.

# %%
def my_weight_map(labels, w0=10.0, sigma=5.0):
    """U-Net weight map with w_c = 1: 1 + w0 exp(-(d1 + d2)^2 / (2 sigma^2)) on the background."""
    ### BEGIN SOLUTION
    objects, count = ndimage.label(labels > 0, structure=np.ones((3, 3)))
    if count < 2:
        return np.ones(labels.shape)
    per_object = np.stack([ndimage.distance_transform_edt(objects != k) for k in range(1, count + 1)])
    per_object.sort(axis=0)
    nearest, second = per_object[0], per_object[1]
    border = w0 * np.exp(-(nearest + second) ** 2 / (2 * sigma**2))
    return 1.0 + np.where(labels == 0, border, 0.0)
    ### END SOLUTION


# %%
rng = np.random.default_rng(3)
one_blob = np.zeros((20, 20), np.uint8)
one_blob[5:9, 5:9] = 1
cases = [(cells, 10.0, 5.0), (touching_cells(48, 6, 9, seed=7), 5.0, 3.0), (one_blob, 10.0, 5.0),
         ((rng.random((40, 40)) > 0.85).astype(np.uint8), 10.0, 2.0)]
# Analytic case: two columns of objects 1 pixel apart, so d1 = d2 = 1 in the gap.
gap = np.zeros((5, 7), np.uint8)
gap[:, :3] = 1
gap[:, 4:] = 1
names = ["the 96×96 touching cells", "6 touching cells 48×48", "one square", "random specks 40×40"]
assert np.isclose(losses.unet_weight_map(gap, class_weights=None)[2, 3], 1 + 10 * np.exp(-4 / 50))
with exercises.check(1, "the border term of the weight map") as check:
    check.close("my_weight_map(two objects 1 pixel apart; in the gap d1 = d2 = 1)", my_weight_map(gap),
                losses.unet_weight_map(gap, class_weights=None),
                hint="w = 1 + w0·exp(-(d1 + d2)² / (2σ²)) with σ² (sigma squared) in the denominator.")
    for name, (mask, w0, sigma) in zip(names, cases):
        check.close(f"my_weight_map({name}, w0={w0}, sigma={sigma})",
                    my_weight_map(mask, w0=w0, sigma=sigma),
                    losses.unet_weight_map(mask, w0=w0, sigma=sigma, class_weights=None),
                    hint="objects are 8-connected components; d1 and d2 are the distances to the nearest "
                         "and the second-nearest *object*; the border term is only added on background pixels.")
print("your weight map equals labtools.losses.unet_weight_map(class_weights=None)")

# %% [markdown]
# ## 3. The soft Dice loss and its gradient
#
# Instead of weighting pixels, one can optimise the overlap measure itself. The Dice coefficient of
# binary masks is $2|P \cap G| / (|P| + |G|)$; Milletari et al. (2016, V-Net) make it
# differentiable by using the probabilities $p_i$ in place of the predicted mask ($g_i$ is the
# reference, 0 or 1):
#
# $$ D = \frac{2 \sum_i p_i g_i}{\sum_i p_i^2 + \sum_i g_i^2}, \qquad
#    \frac{\partial D}{\partial p_j} = 2\,\frac{g_j \left(\sum_i p_i^2 + \sum_i g_i^2\right)
#    - 2 p_j \sum_i p_i g_i}{\left(\sum_i p_i^2 + \sum_i g_i^2\right)^2}. $$
#
# The loss is $1 - D$. `losses.dice_loss` computes it per image and per class and averages.
# By default it uses $\sum p_i + \sum g_i$ in the denominator (MONAI's default, also common);
# `squared=True` gives V-Net's squares. Both add a small $s = 10^{-5}$ to numerator and
# denominator, so that an empty class gives $D = 1$ rather than $0/0$.
#
# The gradient is a whole-image quantity: every $\partial D/\partial p_j$ depends on all pixels
# through the sums. Inside the reference it is positive (raise $p$), outside it is negative, and
# its size scales like one over the object's size. Below: a disc of reference, a prediction that
# is a shifted, blurry disc, and $\partial D / \partial p$ from torch autograd through
# `losses.dice_loss(squared=True)`. For one foreground class we give the loss two channels whose
# softmax is $(1 - p, p)$: logits $(\log(1-p), \log p)$.

# %%
def two_channel_logits(p):
    """Logits whose softmax over 2 channels is (1 - p, p): for one foreground probability map."""
    return torch.stack([torch.log1p(-p), torch.log(p)], dim=1)


yy, xx = np.mgrid[:48, :48]
disc = torch.from_numpy(((yy - 24) ** 2 + (xx - 22) ** 2 <= 100).astype(np.int64))[None]
blurry = 1 / (1 + np.exp(np.sqrt((yy - 26.0) ** 2 + (xx - 26.0) ** 2) - 9))
p = torch.from_numpy(np.clip(blurry, 1e-4, 1 - 1e-4))[None].requires_grad_(True)
foreground_dice = 1 - losses.dice_loss(two_channel_logits(p), disc, squared=True, smooth_nr=0,
                                       smooth_dr=0, reduction="none")[0, 1]       # class 1 only
(gradient,) = torch.autograd.grad(foreground_dice, p)
limit = gradient.abs().max().item()
fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
for ax, shown, title, kw in zip(axes, [disc[0], p[0].detach(), gradient[0]],
                                ["reference g", "prediction p", "∂D/∂p, autograd (blue > 0 > red)"],
                                [{"cmap": "gray"}, {"cmap": "viridis"},
                                 {"cmap": "RdBu", "vmin": -limit, "vmax": limit}]):
    ax.imshow(shown, **kw)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
fig.tight_layout()
plt.show()
print(f"D = {foreground_dice:.4f}")

# %% [markdown]
# ### Exercise 2: V-Net Dice and its gradient formula
#
# Write two torch functions of a probability map `p` and a binary reference `g` (same shape, any
# number of axes, float tensors; sums run over all elements):
#
# * `vnet_dice(p, g)`: $D = 2\sum p g / (\sum p^2 + \sum g^2)$, a scalar tensor;
# * `vnet_dice_gradient(p, g)`: $\partial D / \partial p_j$ from the formula above (not autograd),
#   a tensor shaped like `p`.
#
# The check compares the value with `losses.dice_loss(squared=True)` and MONAI's
# `DiceLoss(squared_pred=True)`, and the gradient with torch autograd.

# %%
def vnet_dice(p, g):
    """Milletari's soft Dice 2 sum(p g) / (sum p^2 + sum g^2)."""
    ### BEGIN SOLUTION
    return 2 * (p * g).sum() / ((p * p).sum() + (g * g).sum())
    ### END SOLUTION


def vnet_dice_gradient(p, g):
    """dD/dp_j by the closed-form formula."""
    ### BEGIN SOLUTION
    squares = (p * p).sum() + (g * g).sum()
    return 2 * (g * squares - 2 * p * (p * g).sum()) / squares**2
    ### END SOLUTION


# %%
rng = np.random.default_rng(4)
monai_vnet = monai_losses.DiceLoss(softmax=True, to_onehot_y=True, squared_pred=True,
                                   include_background=False, smooth_nr=0, smooth_dr=0)
with exercises.check(2, "V-Net Dice and its gradient") as check:
    for trial in range(5):
        shape = (1, *rng.integers(4, 12, size=int(rng.integers(2, 4))))          # 2D or 3D, batch of 1
        g = torch.from_numpy((rng.random(shape) < rng.uniform(0.1, 0.5)).astype(np.int64))
        p = torch.from_numpy(rng.uniform(0.01, 0.99, shape)).requires_grad_(True)
        expected_dice = 1 - losses.dice_loss(two_channel_logits(p), g, squared=True, smooth_nr=0,
                                             smooth_dr=0, reduction="none")[0, 1]
        assert torch.isclose(expected_dice, 1 - monai_vnet(two_channel_logits(p), monai_target(g)))  # = MONAI
        where = f"p and g of shape {tuple(shape)}"
        check.close(f"vnet_dice({where})", vnet_dice(p.detach(), g.to(f64)), expected_dice,
                    hint="the denominator holds the sums of the *squares*, Σp² + Σg² (V-Net), not Σp + Σg.")
        (autograd,) = torch.autograd.grad(expected_dice, p)
        check.close(f"vnet_dice_gradient({where}), against torch autograd",
                    vnet_dice_gradient(p.detach(), g.to(f64)), autograd,
                    hint="the quotient rule: 2·(g·S - 2p·I) / S² with S = Σp² + Σg² and I = Σpg.")
print("your Dice equals labtools and MONAI, your gradient equals autograd")

# %% [markdown]
# **Why Dice helps small objects.** The cross-entropy gradient at a pixel,
# $\partial\,\mathrm{CE}/\partial p_{t} = -1/(N p_t)$, does not depend on how large the object is:
# a 10-pixel lesion gets 10 pixels' worth of gradient in a 10 000-pixel image. The Dice gradient
# is normalised by the object's own size. Below, for discs of growing radius (prediction
# $p = 0.5$ everywhere), the gradient at a pixel inside the disc, from autograd through
# `losses.dice_loss` (foreground class only) and `losses.cross_entropy`:

# %%
radii = np.array([2, 4, 8, 16, 24])
grads = {"soft Dice (foreground)": [], "cross-entropy": []}
for radius in radii:
    mask = torch.from_numpy(((yy - 24) ** 2 + (xx - 24) ** 2 <= radius**2).astype(np.int64))[None]
    p = torch.full((1, 48, 48), 0.5, dtype=f64, requires_grad=True)
    fg_dice = losses.dice_loss(two_channel_logits(p), mask, include_background=False)
    grads["soft Dice (foreground)"].append(-torch.autograd.grad(fg_dice, p)[0][0, 24, 24].item())
    ce_loss = losses.cross_entropy(two_channel_logits(p), mask)
    grads["cross-entropy"].append(-torch.autograd.grad(ce_loss, p)[0][0, 24, 24].item())
fig, ax = plt.subplots(figsize=(4.5, 3))
for name, values in grads.items():
    ax.loglog(np.pi * radii**2, values, "o-", label=name)
ax.set(xlabel="object area (pixels)", ylabel="−∂loss/∂p at an object pixel")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
np.testing.assert_allclose(grads["cross-entropy"], 1 / (0.5 * 48 * 48), rtol=1e-5, atol=1e-8)  # -1 / (N p), size-independent

# %% [markdown]
# ## 4. Generalised Dice
#
# `dice_loss` averages the per-class Dice losses, each class counting equally whatever its size.
# Sudre et al. (2017) instead weight each class $l$ by the inverse of its squared reference volume,
# $w_l = 1/(\sum_n r_{ln})^2$, inside one ratio:
#
# $$ \mathrm{GDL} = 1 - 2\,\frac{\sum_l w_l \sum_n r_{ln} p_{ln}}{\sum_l w_l \sum_n (r_{ln} + p_{ln})}. $$
#
# A small class then weighs most in the sums: missing the lesions costs more in GDL than in the
# class-averaged Dice. Below: an almost perfect prediction of the phantom slice, then the same
# prediction with the lesion called white matter.

# %%
sharp = 8.0 * onehot                                   # confident, correct logits
missed = sharp.clone()
missed[:, 3] += 8.0 * onehot[:, 4]                     # lesion pixels: white matter wins...
missed[:, 4] = 0.0                                     # ...and the lesion channel is silent
print("class volumes:", counts, "-> Sudre weights ∝", np.round((1 / counts**2) / (1 / counts**2).max(), 4))
for name, fn in [("Dice loss (mean over classes)", losses.dice_loss),
                 ("generalised Dice loss", losses.generalized_dice_loss)]:
    print(f"{name:30s} correct: {fn(sharp, target):.3f}   lesion missed: {fn(missed, target):.3f}")
monai_gdl = monai_losses.GeneralizedDiceLoss(softmax=True, to_onehot_y=True)
assert torch.isclose(losses.generalized_dice_loss(missed, target), monai_gdl(missed, monai_target(target)),
                     atol=1e-6)

# %% [markdown]
# ## 5. Focal loss
#
# Most pixels of a segmentation are easy (deep background, the centre of a large organ) and
# already have $p_t$ close to 1; together they still add a lot of small losses. Lin et al. (2017)
# multiply cross-entropy by a factor that vanishes for well-classified pixels:
#
# $$ \mathrm{FL}(p_t) = -(1 - p_t)^\gamma \log p_t, \qquad \gamma \ge 0. $$
#
# $\gamma = 0$ is cross-entropy; with $\gamma = 2$ (the paper's choice) the loss of a pixel at
# $p_t = 0.9$ is divided by 100 ($(1 - 0.9)^2 = 0.01$), while a badly classified one at $p_t = 0.1$
# keeps 81 % of it ($0.9^2$). The curves, computed with
# `losses.focal_loss(reduction="none")` on logits built to give each $p_t$:

# %%
pt = torch.linspace(0.01, 0.99, 99, dtype=f64)
two_class = two_channel_logits(pt[None]).view(1, 2, 1, 99)                 # class 1 has probability p_t
ones_target = torch.ones(1, 1, 99, dtype=torch.long)
fig, ax = plt.subplots(figsize=(4.8, 3.2))
for gamma in (0, 0.5, 1, 2, 5):
    curve = losses.focal_loss(two_class, ones_target, gamma=gamma, reduction="none")[0, 1, 0]
    assert torch.allclose(curve, -(1 - pt) ** gamma * torch.log(pt))     # Lin et al.'s formula
    ax.plot(pt, curve, label=f"γ = {gamma}")
ax.set(xlabel="probability of the true class $p_t$", ylabel="loss", ylim=(0, 4))
ax.axvspan(0.6, 1.0, color="0.92")
ax.text(0.62, 3.5, "well classified", fontsize=8)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# `losses.focal_loss` is the softmax (multi-class) form and, as MONAI, divides the sum by
# $B \cdot C \cdot N$ (C classes), so at $\gamma = 0$ it is CE / C. MONAI's default `FocalLoss()`
# is the sigmoid (multi-label) form: pass `use_softmax=True` to compare.

# %%
for gamma in (0.0, 2.0):
    ours = losses.focal_loss(logits, target, gamma=gamma)
    theirs = monai_losses.FocalLoss(use_softmax=True, to_onehot_y=True, gamma=gamma)(logits, monai_target(target))
    assert abs(ours.item() - theirs.item()) < 1e-6        # MONAI computes the focal loss in float32
assert torch.isclose(losses.focal_loss(logits, target, gamma=0.0), losses.cross_entropy(logits, target) / 5)
print("focal loss equals MONAI's FocalLoss(use_softmax=True); at gamma = 0 it is CE / C")

# %% [markdown]
# ### Exercise 3: the focal loss map
#
# Write `my_focal_map(logits, target, gamma=2.0)` in torch: for logits `(B, C, *spatial)` and
# integer targets `(B, *spatial)`, return the per-pixel focal loss $-(1-p_t)^\gamma \log p_t$,
# shape `(B, *spatial)`. Compute $\log p_t$ with `torch.log_softmax` (stable for large logits)
# and pick the target class with `gather` (or a one-hot mask).

# %%
def my_focal_map(logits, target, gamma=2.0):
    """Per-pixel focal loss -(1 - p_t)^gamma log p_t, shape (B, *spatial)."""
    ### BEGIN SOLUTION
    log_probs = torch.log_softmax(logits, dim=1)
    log_pt = log_probs.gather(1, target.unsqueeze(1)).squeeze(1)
    return -(1 - torch.exp(log_pt)) ** gamma * log_pt
    ### END SOLUTION


# %%
rng = np.random.default_rng(5)
with exercises.check(3, "the focal loss map") as check:
    for trial, gamma in enumerate([0.0, 0.5, 2.0, 3.0, 2.0, 1.0]):
        n_classes = int(rng.integers(2, 5))
        shape = tuple(int(s) for s in rng.integers(3, 9, size=int(rng.integers(2, 4))))
        test_logits = torch.from_numpy(rng.normal(0, 3, (2, n_classes, *shape)))
        test_target = torch.from_numpy(rng.integers(0, n_classes, (2, *shape)))
        expected = losses.focal_loss(test_logits, test_target, gamma=gamma, reduction="none").sum(1)
        twin = monai_losses.FocalLoss(use_softmax=True, to_onehot_y=True, gamma=gamma)
        assert torch.isclose((expected.mean() / n_classes).float(), twin(test_logits, monai_target(test_target)))
        check.close(f"my_focal_map(logits of shape {tuple(test_logits.shape)}, gamma={gamma})",
                    my_focal_map(test_logits, test_target, gamma), expected,
                    hint="p_t is the softmax over the class axis (dim=1) at the target class; the loss is "
                         "-(1 - p_t)^γ · log p_t, shape (B, *spatial), positive.")
    huge = torch.tensor([[[[1000.0]], [[-1000.0]]]], dtype=f64)          # no overflow allowed
    at_huge = my_focal_map(huge, torch.ones(1, 1, 1, dtype=torch.long))
    check.that("my_focal_map at logits (1000, -1000), target class 1", bool(torch.isfinite(at_huge).all()),
               yours=at_huge.flatten()[0], expected="a finite number (2000: a hopeless pixel)",
               hint="log(softmax(z)) overflows for large logits; torch.log_softmax computes it stably.")
print("your focal map equals labtools, MONAI and, at γ = 0, cross-entropy")

# %% [markdown]
# ## 6. Tversky loss
#
# Dice weighs false positives and false negatives equally. In lesion segmentation a missed lesion
# is often worse than a few extra pixels. Salehi et al. (2017) use the Tversky index with soft
# counts $\mathrm{TP} = \sum p g$, $\mathrm{FP} = \sum p (1-g)$, $\mathrm{FN} = \sum (1-p) g$:
#
# $$ T = \frac{\mathrm{TP}}{\mathrm{TP} + \alpha\,\mathrm{FP} + \beta\,\mathrm{FN}},\qquad
#    \text{loss} = 1 - T. $$
#
# $\alpha = \beta = 0.5$ is Dice; the paper's $\alpha = 0.3, \beta = 0.7$ makes misses cost more.
# A reference disc, an over-segmentation (dilated by 2 pixels) and an under-segmentation (eroded by
# 2 pixels), as confident logits:

# %%
reference = (yy - 24) ** 2 + (xx - 24) ** 2 <= 12**2
ref_target = torch.from_numpy(reference.astype(np.int64))[None]
for name, mask in [("over-segmented", ndimage.binary_dilation(reference, iterations=2)),
                   ("under-segmented", ndimage.binary_erosion(reference, iterations=2))]:
    guess = torch.from_numpy(np.where(mask, 0.99, 0.01))[None]
    row = {"Dice loss": losses.dice_loss(two_channel_logits(guess), ref_target, include_background=False),
           "Tversky 0.3/0.7": losses.tversky_loss(two_channel_logits(guess), ref_target, alpha=0.3,
                                                  beta=0.7, include_background=False)}
    twin = monai_losses.TverskyLoss(softmax=True, to_onehot_y=True, alpha=0.3, beta=0.7,
                                    include_background=False)
    assert torch.isclose(row["Tversky 0.3/0.7"], twin(two_channel_logits(guess), monai_target(ref_target)))
    print(f"{name:16s}", "   ".join(f"{k}: {v:.3f}" for k, v in row.items()))

# %% [markdown]
# ## 7. Dice + cross-entropy (nnU-Net)
#
# Dice alone can be unstable early in training (the ratio jumps when a class is nearly empty in a
# batch) and gives poorly calibrated probabilities; CE alone neglects small structures. nnU-Net
# (Isensee et al. 2021), which sets up strong baselines for most segmentation challenges, simply
# adds the two. `losses.dice_ce_loss` is CE + Dice loss; nnU-Net leaves the background out of the
# Dice term and computes it over the whole batch ("batch Dice"). nnU-Net's own code computes
# CE − Dice, i.e. ours minus 1: the same gradients.

# %%
rng = np.random.default_rng(6)
batch_logits = torch.from_numpy(rng.normal(0, 2, (3, 4, 16, 16, 8)))          # 3D, a batch of 3
batch_target = torch.from_numpy(rng.integers(0, 4, (3, 16, 16, 8)))
default = losses.dice_ce_loss(batch_logits, batch_target)
assert torch.isclose(default, losses.cross_entropy(batch_logits, batch_target)
                     + losses.dice_loss(batch_logits, batch_target))
nnunet_style = losses.dice_ce_loss(batch_logits, batch_target, include_background=False, batch=True)
twin = monai_losses.DiceCELoss(softmax=True, to_onehot_y=True, include_background=False, batch=True)
assert torch.isclose(nnunet_style, twin(batch_logits, monai_target(batch_target)), atol=1e-6)
print(f"Dice + CE: {default:.4f}; nnU-Net style (no background, batch Dice): {nnunet_style:.4f}")

# %% [markdown]
# ## 8. labtools and MONAI, side by side
#
# With the settings `docs/losses.md` lists (softmax over the classes, integer targets turned
# one-hot, MONAI's default smoothing), every overlap loss in labtools equals its MONAI twin. One
# table on random 2D and 3D inputs:

# %%
rng = np.random.default_rng(7)
twins = {
    "dice_loss": (losses.dice_loss, monai_losses.DiceLoss(softmax=True, to_onehot_y=True)),
    "dice_loss(squared)": (lambda z, t: losses.dice_loss(z, t, squared=True),
                           monai_losses.DiceLoss(softmax=True, to_onehot_y=True, squared_pred=True)),
    "generalized_dice_loss": (losses.generalized_dice_loss,
                              monai_losses.GeneralizedDiceLoss(softmax=True, to_onehot_y=True)),
    "focal_loss": (losses.focal_loss, monai_losses.FocalLoss(use_softmax=True, to_onehot_y=True)),
    "tversky_loss(0.3, 0.7)": (lambda z, t: losses.tversky_loss(z, t, alpha=0.3, beta=0.7),
                               monai_losses.TverskyLoss(softmax=True, to_onehot_y=True, alpha=0.3, beta=0.7)),
    "dice_ce_loss": (losses.dice_ce_loss, monai_losses.DiceCELoss(softmax=True, to_onehot_y=True)),
}
print(f"{'loss':24s} {'labtools 2D':>12s} {'MONAI 2D':>10s} {'labtools 3D':>12s} {'MONAI 3D':>10s}")
for name, (ours, theirs) in twins.items():
    values = []
    for spatial in [(12, 10), (6, 8, 5)]:
        z = torch.from_numpy(rng.normal(0, 2, (2, 3, *spatial)))
        t = torch.from_numpy(rng.integers(0, 3, (2, *spatial)))
        values += [ours(z, t).item(), theirs(z, monai_target(t)).item()]
    np.testing.assert_allclose(values[0::2], values[1::2], atol=1e-6, rtol=1e-5, err_msg=str(name))
    print(f"{name:24s} " + " ".join(f"{v:>11.6f}" for v in values))

# %% [markdown]
# ## 9. Experiment: a small foreground
#
# Now the losses at work. The task: find small bright spots (about 1–2 % of the pixels) in noisy
# images with a slowly varying background. The network is deliberately tiny (three convolution
# layers, a few hundred weights) and trained briefly with Adam; every run starts from the same
# weights and sees the same data. We compare the Dice (`labtools.metrics.dice`) that each loss
# reaches on held-out images. Weighted CE uses `unet_weight_map(w0=0)`: only the class-balancing
# term $w_c$.

# %%
def spot_images(n, size, rng_data):
    """Images (n, 1, size, size) with 1-3 small bright discs each, and their masks (n, size, size)."""
    rows, cols = np.mgrid[:size, :size]
    images, masks = [], []
    for _ in range(n):
        mask = np.zeros((size, size), np.int64)
        for _ in range(rng_data.integers(1, 4)):
            cy, cx = rng_data.integers(4, size - 4, 2)
            mask[(rows - cy) ** 2 + (cols - cx) ** 2 <= rng_data.uniform(1.5, 3.5) ** 2] = 1
        drift = ndimage.gaussian_filter(rng_data.normal(0, 3, (size, size)), 6)
        images.append(mask + rng_data.normal(0, 0.5, (size, size)) + drift)
        masks.append(mask)
    return torch.tensor(np.array(images)[:, None], dtype=torch.float32), torch.tensor(np.array(masks))


size, n_images, steps = (48, 8, 100) if QUICK else (64, 16, 300)
train_x, train_y = spot_images(n_images, size, np.random.default_rng(1))
test_x, test_y = spot_images(n_images, size, np.random.default_rng(2))
balance = torch.from_numpy(np.stack([losses.unet_weight_map(m, w0=0.0) for m in train_y.numpy()]))
print(f"foreground: {train_y.float().mean():.1%} of the training pixels")
show([train_x[0, 0], train_y[0]], ["training image", "its spots"], size=2.4)

# %%
candidates = {
    "CE": losses.cross_entropy,
    "weighted CE": lambda z, t: losses.weighted_cross_entropy(z, t, balance),
    "focal (γ=2)": losses.focal_loss,
    "Dice": losses.dice_loss,
    "Dice (no bg)": lambda z, t: losses.dice_loss(z, t, include_background=False),
    "generalised Dice": losses.generalized_dice_loss,
    "Tversky 0.3/0.7": lambda z, t: losses.tversky_loss(z, t, alpha=0.3, beta=0.7, include_background=False),
    "Dice+CE (nnU-Net)": lambda z, t: losses.dice_ce_loss(z, t, include_background=False, batch=True),
}


def tiny_network():
    torch.manual_seed(0)                                   # the same initial weights for every loss
    return torch.nn.Sequential(torch.nn.Conv2d(1, 8, 5, padding=2), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, 2, 1))


results, predictions = {}, {}
for name, loss_fn in candidates.items():
    network = tiny_network()
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-2)
    for step in range(steps):
        optimiser.zero_grad()
        loss_fn(network(train_x), train_y).backward()
        optimiser.step()
    with torch.no_grad():
        predicted = network(test_x).argmax(1).numpy() == 1
    truth = test_y.numpy() == 1
    predictions[name] = predicted
    results[name] = {"Dice": metrics.dice(predicted, truth, empty_value=0.0),
                     "recall": metrics.recall(predicted, truth),
                     "volume ratio": predicted.sum() / truth.sum()}
    print(f"{name:18s} " + "  ".join(f"{k} {v:5.2f}" for k, v in results[name].items()))

# %%
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.bar(list(results), [r["Dice"] for r in results.values()], color="tab:blue")
ax.set(ylabel="test Dice", ylim=(0, 1), title=f"{steps} Adam steps, foreground {test_y.float().mean():.1%}")
ax.tick_params(axis="x", labelrotation=30, labelsize=8)
fig.tight_layout()
plt.show()
show([test_y[0], predictions["CE"][0], predictions["Dice (no bg)"][0], predictions["Dice+CE (nnU-Net)"][0]],
     ["reference", "CE", "Dice (no bg)", "Dice+CE"], size=2.3)

# %% [markdown]
# Read the table before drawing conclusions: with a short training and a rare foreground, plain
# CE (and focal loss, which is a down-weighted CE) can settle on "everything is background", a
# local optimum that already gets about 98–99 % of the pixels right, while the losses built on overlap look
# at the foreground's Dice directly. Class weighting fixes CE by a different route and tends to
# over-segment (volume ratio > 1). Longer training, a real U-Net and more data shrink the
# differences; nnU-Net's Dice + CE is a robust default. Try other `steps`, spot sizes or
# `include_background=True` for Tversky.
#
# **Question.** Why can a Dice loss that includes the background class (`"Dice"` above) reach a
# lower Dice than `"Dice (no bg)"`, especially after a short training?

# %% [markdown]
# ### BEGIN SOLUTION
# The background Dice is close to 1 as soon as the network predicts background almost everywhere,
# and its gradient per pixel is tiny (the background class is huge, and the Dice gradient scales
# like one over the class size). Averaged with the foreground term, it halves the weight of the
# foreground Dice and adds a term that rewards the all-background solution, so the loss gives the
# rare class less push than the foreground-only Dice.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# | loss | labtools | idea | paper |
# |---|---|---|---|
# | cross-entropy | `cross_entropy` | −log p of the right class, mean over pixels | — |
# | weighted CE | `weighted_cross_entropy` + `unet_weight_map` | class balance, thin gaps between objects | Ronneberger et al. 2015 |
# | soft Dice | `dice_loss` (`squared=True`: V-Net) | optimise the overlap directly | Milletari et al. 2016 |
# | generalised Dice | `generalized_dice_loss` | classes weighted by 1/volume² | Sudre et al. 2017 |
# | focal | `focal_loss` | down-weight easy pixels by $(1-p_t)^\gamma$ | Lin et al. 2017 |
# | Tversky | `tversky_loss` | trade false positives against false negatives | Salehi et al. 2017 |
# | Dice + CE | `dice_ce_loss` | nnU-Net's default | Isensee et al. 2021 |

# %%
exercises.report()
