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
# # Segmentation losses in numpy
#
# Networks output *logits* of shape `(B, C, *spatial)`: B images, C classes, 2 or 3 spatial axes.
# Class probabilities are the softmax over the class axis (axis 1). The target holds one class
# index per voxel, shape `(B, *spatial)`. Implement three losses with numpy; each returns a
# Python float and must equal `labtools.losses` (which equals MONAI):
#
# * `cross_entropy(logits, target)`: the mean over all voxels of −log p_t, t the target class;
# * `dice_loss(logits, target)`: soft Dice loss 1 − (2·Σ p·g + s) / (Σ p + Σ g + s) per image and
#   class (sums over the voxels, g the one-hot target, s = 1e-5), averaged over images and classes;
# * `focal_loss(logits, target)`: −g·(1 − p)^γ·log p with γ = 2, summed over classes and averaged
#   over B·C·voxels.
#
# Logits can be large (±1000): compute log-probabilities without overflow (log-sum-exp).

# %%
import numpy as np

# %%
def log_softmax(logits):
    """log of the softmax over axis 1, stable for large logits."""
    ### BEGIN SOLUTION
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    ### END SOLUTION


def one_hot(target, n_classes):
    """(B, *spatial) class indices -> (B, C, *spatial) of 0.0 / 1.0."""
    return np.moveaxis(np.eye(n_classes)[target], -1, 1)


# %% [markdown]
# ## 1. Cross-entropy

# %%
def cross_entropy(logits, target):
    """Mean over voxels of -log p_t."""
    ### BEGIN SOLUTION
    log_p = log_softmax(logits)
    picked = np.take_along_axis(log_p, target[:, None], axis=1)
    return float(-picked.mean())
    ### END SOLUTION


# %%
uniform = np.zeros((1, 2, 4, 4))
labels = np.zeros((1, 4, 4), dtype=np.int64)
assert abs(cross_entropy(uniform, labels) - np.log(2)) < 1e-12
print("cross_entropy: public checks passed")

# %% [markdown]
# ## 2. Soft Dice loss

# %%
SMOOTH = 1e-5


def dice_loss(logits, target):
    """1 - soft Dice per image and class, averaged."""
    ### BEGIN SOLUTION
    p = np.exp(log_softmax(logits))
    g = one_hot(target, logits.shape[1])
    axes = tuple(range(2, logits.ndim))
    dice = (2 * (p * g).sum(axes) + SMOOTH) / (p.sum(axes) + g.sum(axes) + SMOOTH)
    return float((1 - dice).mean())
    ### END SOLUTION


# %%
labels[:, :2] = 1
assert abs(dice_loss(uniform, labels) - 0.5) < 1e-6
print("dice_loss: public checks passed")

# %% [markdown]
# ## 3. Focal loss

# %%
def focal_loss(logits, target):
    """Focal loss with gamma = 2, mean over B * C * voxels."""
    gamma = 2.0
    ### BEGIN SOLUTION
    log_p = log_softmax(logits)
    g = one_hot(target, logits.shape[1])
    return float((-g * (1 - np.exp(log_p)) ** gamma * log_p).mean())
    ### END SOLUTION


# %%
assert abs(focal_loss(uniform, labels) - 0.25 * np.log(2) / 2) < 1e-12
print("focal_loss: public checks passed")

# %%
### BEGIN HIDDEN TESTS
import torch
from labtools import losses

rng = np.random.default_rng(0)
for shape in [(2, 3, 5, 4), (1, 4, 3, 3, 2)]:
    x = rng.normal(0, 3, shape)
    t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    tx, tt = torch.from_numpy(x), torch.from_numpy(t)
    assert np.isclose(cross_entropy(x, t), float(losses.cross_entropy(tx, tt)))
    assert np.isclose(dice_loss(x, t), float(losses.dice_loss(tx, tt)))
    assert np.isclose(focal_loss(x, t), float(losses.focal_loss(tx, tt)))
    assert np.isfinite(cross_entropy(1000 * x, t))
### END HIDDEN TESTS
