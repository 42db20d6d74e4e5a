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
# # Metrics basics: Dice and Hausdorff distance
#
# You implement two segmentation metrics with numpy (and scipy), following the course's
# conventions (docs/metrics.md):
#
# * `dice_score(pred, ref)`: the Dice coefficient 2·TP / (2·TP + FP + FN) of two binary masks.
#   Two empty masks have nothing to compare: return NaN. One empty mask and one non-empty: 0.
# * `hausdorff_distance(pred, ref, spacing)`: the symmetric Hausdorff distance in mm between the
#   boundaries of two masks. Boundary voxels are the mask minus its binary erosion (face
#   connectivity); take, for every boundary voxel of one mask, the distance in mm to the nearest
#   boundary voxel of the other, in both directions, and return the largest. Both masks empty:
#   NaN; exactly one empty: infinity.
#
# Masks may be boolean or integer (0/1), 2D or 3D. `spacing` is the voxel size in mm per axis.
# Run the checks below each function; the grader tests more cases than these.

# %%
import numpy as np
from scipy import ndimage

# %% [markdown]
# ## 1. Dice score

# %%
def dice_score(pred, ref):
    """Dice coefficient of two binary masks; NaN when both are empty."""
    ### BEGIN SOLUTION
    pred, ref = np.asarray(pred, bool), np.asarray(ref, bool)
    denominator = pred.sum() + ref.sum()
    if denominator == 0:
        return float("nan")
    return float(2 * np.logical_and(pred, ref).sum() / denominator)
    ### END SOLUTION


# %%
square = np.zeros((8, 8), bool)
square[2:6, 2:6] = True
assert dice_score(square, square) == 1.0
assert dice_score(square, ~square) == 0.0
assert abs(dice_score(square, np.roll(square, 1, axis=0)) - 0.75) < 1e-12
print("dice_score: public checks passed")

# %%
### BEGIN HIDDEN TESTS
from labtools import metrics

rng = np.random.default_rng(0)
for _ in range(20):
    a, b = rng.random((2, 12, 10)) > 0.6
    assert np.isclose(dice_score(a, b), metrics.dice(a, b))
assert np.isnan(dice_score(np.zeros((4, 4)), np.zeros((4, 4))))
assert dice_score(np.zeros((4, 4)), square[:4, :4]) == 0.0
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Hausdorff distance

# %%
def hausdorff_distance(pred, ref, spacing):
    """Symmetric Hausdorff distance in mm between the boundaries of two masks."""
    ### BEGIN SOLUTION
    pred, ref = np.asarray(pred, bool), np.asarray(ref, bool)
    if not pred.any() and not ref.any():
        return float("nan")
    if not pred.any() or not ref.any():
        return float("inf")

    def boundary(mask):
        return mask & ~ndimage.binary_erosion(mask)

    pred_edge, ref_edge = boundary(pred), boundary(ref)
    # distance (mm) from every voxel to the nearest boundary voxel of the other mask
    to_ref = ndimage.distance_transform_edt(~ref_edge, sampling=spacing)
    to_pred = ndimage.distance_transform_edt(~pred_edge, sampling=spacing)
    return float(max(to_ref[pred_edge].max(), to_pred[ref_edge].max()))
    ### END SOLUTION


# %%
assert hausdorff_distance(square, square, (1.0, 1.0)) == 0.0
assert hausdorff_distance(square, np.roll(square, 2, axis=1), (0.5, 0.5)) == 1.0
assert np.isinf(hausdorff_distance(square, np.zeros_like(square), (1.0, 1.0)))
print("hausdorff_distance: public checks passed")

# %%
### BEGIN HIDDEN TESTS
for _ in range(10):
    a, b = rng.random((2, 9, 8, 7)) > 0.7
    spacing = tuple(rng.uniform(0.5, 3.0, 3))
    assert np.isclose(hausdorff_distance(a, b, spacing), metrics.hausdorff(a, b, spacing=spacing))
assert np.isnan(hausdorff_distance(np.zeros((4, 4)), np.zeros((4, 4)), (1.0, 1.0)))
### END HIDDEN TESTS
