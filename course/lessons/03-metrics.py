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
# # Lesson 03: Segmentation metrics
#
# **Time to run:** about 20 seconds for Run All on a 2-core CPU
# (measured by `benchmarks/course_lessons.py`).
#
# A segmentation is only as good as the number that judges it, and that number depends on
# choices that papers rarely print. In this lesson you
#
# * derive precision, recall, F1 = Dice, IoU and volume similarity from the confusion matrix;
# * move a prediction with a **metric explorer** widget and watch the scores react;
# * compute the Hausdorff distance, HD95 and the average surface distance from **distance maps**,
#   and see the normalised surface Dice (NSD) as a tolerance band around a contour;
# * measure why two libraries give different numbers for the same masks (labtools vs MONAI);
# * count lesions (TP/FN/FP), measure a total tumour volume in ml and draw an FROC curve;
# * simulate several raters and see how much experts disagree with each other.
#
# **Prerequisites:** numpy, lesson 00 (images, spacing). **Time:** about 90 minutes.
# Everything runs on a CPU in a few seconds; no GPU is needed. The functions used here are
# `labtools.metrics` (conventions: `docs/metrics.md`), the same ones the grader and the napari
# plugin call.

# %%
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from monai.metrics import (
    HausdorffDistanceMetric,
    SurfaceDiceMetric,
    SurfaceDistanceMetric,
    compute_froc_curve_data,
    compute_froc_score,
    get_confusion_matrix,
    compute_confusion_matrix_metric,
)
from monai.transforms import VoteEnsemble
from scipy import ndimage

from labtools import datasets, exercises, metrics, widgets
from labtools.metrics.batch import summarize

QUICK = os.environ.get("LABTOOLS_QUICK") == "1"
warnings.filterwarnings("ignore", module="monai")  # MONAI warns about empty masks and deprecations


def monai_tensor(mask):
    """A binary mask as MONAI wants it: a float tensor of shape (batch=1, channel=1, *spatial)."""
    return torch.from_numpy(np.asarray(mask)[None, None].astype(np.float32))


def monai_value(metric, pred, ref, **kwargs) -> float:
    return float(metric(monai_tensor(pred), monai_tensor(ref), **kwargs).item())


# %% [markdown]
# ## 1. A reference and a prediction
#
# We take one slice of the synthetic phantom (`labtools.datasets.phantom`). The **reference** is
# the white matter (with the lesions inside it); the **prediction** is what a naive method gives:
# smooth the image and keep what is brighter than a threshold. The bias field and the noise make
# it wrong in realistic ways: a dark lesion is left out, borders wander.

# %%
image, labels = datasets.phantom((160, 160), n_lesions=2, seed=3, spacing=(1.25, 1.25), noise=0.06)
spacing = image.spacing
ref = labels >= 3                                              # white matter and lesions
pred = ndimage.gaussian_filter(image.array, 1.0) > 0.62        # a threshold "segmentation"

fig, axes = plt.subplots(1, 2, figsize=(8, 4))
axes[0].imshow(image.array.T, cmap="gray", origin="lower")
axes[0].set_title(f"phantom slice, {spacing[0]} mm pixels")
axes[1].imshow(image.array.T, cmap="gray", origin="lower")
axes[1].contour(ref.T, levels=[0.5], colors="lime", linewidths=1)
axes[1].contour(pred.T, levels=[0.5], colors="magenta", linewidths=1)
axes[1].set_title("reference (green) and prediction (magenta)")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. The confusion matrix
#
# Every pixel falls in one of four boxes: true positive (in both masks), false positive (only in
# the prediction), false negative (only in the reference), true negative (in neither). All the
# overlap metrics are ratios of these four counts:
#
# $$\text{precision} = \frac{TP}{TP+FP},\qquad \text{recall} = \frac{TP}{TP+FN},\qquad
# \text{specificity} = \frac{TN}{TN+FP}.$$
#
# The **Dice** coefficient (Dice 1945) of a prediction $B$ and a reference $A$ is
# $D = \frac{2|A\cap B|}{|A|+|B|}$. With $|A| = TP+FN$, $|B| = TP+FP$ and $|A\cap B| = TP$:
#
# $$D = \frac{2TP}{2TP+FP+FN} = \frac{2}{\frac{1}{\text{precision}} + \frac{1}{\text{recall}}} = F_1,$$
#
# the harmonic mean of precision and recall. Dice *is* the F1 score.
#
# Specificity is almost useless in segmentation: TN counts the huge background, so it is close to
# 1 for nearly any prediction. Dice and IoU leave TN out.

# %%
c = metrics.confusion_matrix(pred, ref)
print(c)
colour = np.zeros(ref.shape + (3,))
colour[pred & ref] = (0.2, 0.8, 0.2)              # TP green
colour[pred & ~ref] = (1.0, 0.6, 0.0)             # FP orange
colour[~pred & ref] = (0.9, 0.1, 0.1)             # FN red
plt.figure(figsize=(4, 4))
plt.imshow(colour.transpose(1, 0, 2), origin="lower")
plt.title("TP green, FP orange, FN red")
plt.axis("off")
plt.show()
print({name: round(value, 4) for name, value in metrics.overlap_scores(c).items()})

# %% [markdown]
# ### Exercise 1: overlap scores from the four counts
#
# Write `scores_from_counts(tp, fp, fn, tn)` returning a dict with the keys `"precision"`,
# `"recall"`, `"specificity"`, `"f1"`, `"dice"` and `"iou"` (IoU = TP / (TP + FP + FN)), using
# only the four numbers. Compute Dice with the confusion-matrix formula and F1 as the harmonic mean
# of precision and recall, so that the check below confirms they are the same number. You may
# assume the masks are not empty.

# %%
def scores_from_counts(tp, fp, fn, tn):
    """Overlap scores of one binary prediction from its confusion-matrix counts."""
    ### BEGIN SOLUTION
    prec = tp / (tp + fp)
    rec = tp / (tp + fn)
    return {
        "precision": prec,
        "recall": rec,
        "specificity": tn / (tn + fp),
        "f1": 2 / (1 / prec + 1 / rec),
        "dice": 2 * tp / (2 * tp + fp + fn),
        "iou": tp / (tp + fp + fn),
    }
    ### END SOLUTION


# %%
# The same confusion matrix from MONAI, and its precision / recall / F1.
monai_cm = get_confusion_matrix(monai_tensor(pred), monai_tensor(ref))
monai_scores = {name: compute_confusion_matrix_metric(monai_name, monai_cm).item()
                for name, monai_name in [("precision", "precision"), ("recall", "sensitivity"), ("f1", "f1 score")]}
hints = {"precision": "TP / (TP + FP): of what was predicted, the share that is right.",
         "recall": "TP / (TP + FN): of the reference, the share that was found.",
         "specificity": "TN / (TN + FP): of the true background, the share left out.",
         "f1": "the harmonic mean 2 / (1/precision + 1/recall).",
         "dice": "2TP / (2TP + FP + FN).", "iou": "TP / (TP + FP + FN): true negatives do not count."}
with exercises.check(1, "overlap scores from the four counts") as check:
    # Our case, and a made-up one where every score differs from every other.
    for counts in [(c.tp, c.fp, c.fn, c.tn), (30, 10, 20, 940)]:
        mine = scores_from_counts(*counts)
        check.equal("the keys of the dict scores_from_counts returns", sorted(mine) if isinstance(mine, dict) else mine,
                    sorted(hints), hint="return a dict with exactly these keys.")
        expected = metrics.overlap_scores(metrics.Confusion(*counts))
        expected["f1"] = expected["dice"]
        for name in hints:
            check.close(f"scores_from_counts(tp, fp, fn, tn = {counts})[{name!r}]", mine[name], expected[name],
                        hint=hints[name])
    mine = scores_from_counts(c.tp, c.fp, c.fn, c.tn)
    for name, theirs in monai_scores.items():
        check.close(f"scores_from_counts(our case)[{name!r}], against MONAI", mine[name], theirs, rtol=1e-5)
print("your scores equal labtools and MONAI; F1 and Dice are one number")

# %% [markdown]
# ## 3. IoU, Dice and volume similarity
#
# The Jaccard index (IoU, Jaccard 1912) $J = \frac{TP}{TP+FP+FN}$ carries the same information as
# Dice: $J = \frac{D}{2-D}$ and $D = \frac{2J}{1+J}$. So ranking methods by Dice or by IoU gives the
# same order; only the numbers differ (IoU is always the smaller one, except at 0 and 1).
#
# **Volume similarity** (Taha & Hanbury 2015, BMC Medical Imaging 15:29) compares sizes only:
#
# $$VS = 1 - \frac{\big||A|-|B|\big|}{|A|+|B|} = 1 - \frac{|FN-FP|}{2TP+FP+FN}.$$
#
# A prediction of the right size in the wrong place scores VS = 1 with Dice = 0. Volumes matter
# clinically (tumour burden, see section 7), but VS never judges a segmentation alone.

# %%
d = np.linspace(0, 1, 101)
shifted = np.roll(ref, 60, axis=0)                       # same size, elsewhere
print(f"Dice {metrics.dice(pred, ref):.3f} -> IoU predicted from it {metrics.dice(pred, ref) / (2 - metrics.dice(pred, ref)):.3f}"
      f", labtools IoU {metrics.iou(pred, ref):.3f}")
print(f"shifted copy of the reference: Dice {metrics.dice(shifted, ref):.3f}, "
      f"volume similarity {metrics.volume_similarity(shifted, ref):.3f}")
plt.figure(figsize=(3.5, 3.2))
plt.plot(d, d / (2 - d), label="IoU = D / (2 - D)")
plt.plot(d, d, ":", color="gray", label="identity")
plt.scatter([metrics.dice(pred, ref)], [metrics.iou(pred, ref)], color="red", zorder=3, label="our case")
plt.xlabel("Dice")
plt.ylabel("IoU")
plt.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 4. Explore: move the prediction, watch the numbers
#
# `labtools.widgets.MetricExplorer` shows a reference and a prediction and recomputes Dice, HD95,
# ASSD and NSD whenever you move a slider: the shift sliders move the prediction (in pixels),
# the grow slider dilates (> 0) or erodes (< 0) it, and the checkbox adds a false-positive blob
# far away. Try it before reading on: which metrics
# punish a one-pixel shift, and which barely notice an erosion? The next sections explain the
# distance-based ones.

# %%
explorer = widgets.MetricExplorer(ref, pred, spacing=spacing, tolerance=2.0)
explorer

# %% [markdown]
# A widget can be driven from code too, which is how you script a sweep (and how this notebook is
# tested headless): set a slider's `.value` and read `.values`.

# %%
explorer.grow_slider.value = 2
print("dilated by 2 pixels:", {name: round(value, 3) for name, value in explorer.values.items()})
explorer.grow_slider.value = 0
explorer.shift_sliders[0].value = 3
print("shifted by 3 pixels:", {name: round(value, 3) for name, value in explorer.values.items()})
explorer.shift_sliders[0].value = 0
explorer.blob_checkbox.value = True
print("plus a far blob:    ", {name: round(value, 3) for name, value in explorer.values.items()})

# %% [markdown]
# ## 5. Distances between surfaces, with distance maps
#
# Overlap metrics ignore *where* the errors are: a stray blob far away costs as many pixels as a
# thin rim along the border. Surface distances measure how far the boundaries are apart, in mm.
#
# Take the boundary of each mask (the mask minus its erosion). The **Euclidean distance map** of a
# boundary gives, at every pixel, the distance in mm to the nearest boundary pixel
# (`scipy.ndimage.distance_transform_edt` with `sampling=spacing`). Its **zero-level set** is the
# boundary itself. Reading the map of the reference at the prediction's boundary pixels gives the
# directed distances $d(b, A) = \min_{a\in A}\lVert a-b\rVert$ for every $b$ on the prediction's
# surface, and the other way round. From these two sets (Huttenlocher et al. 1993; Taha & Hanbury
# 2015):
#
# $$h(B, A) = \max_{b\in \partial B} d(b, \partial A),\qquad HD = \max\big(h(A,B),\, h(B,A)\big),$$
#
# HD95 replaces the maxima by 95th percentiles, and the average symmetric surface distance (ASSD)
# averages the distances.

# %%
def boundary(mask):
    """Boundary pixels: the mask minus its erosion (face connectivity), as labtools and MONAI."""
    return mask & ~ndimage.binary_erosion(mask)


map_of_ref = ndimage.distance_transform_edt(~boundary(ref), sampling=spacing)
map_of_pred = ndimage.distance_transform_edt(~boundary(pred), sampling=spacing)
pred_to_ref = map_of_ref[boundary(pred)]          # one distance per prediction boundary pixel

fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
for ax, dmap, own, other, title in [
        (axes[0], map_of_ref, ref, pred, "distance to the reference surface"),
        (axes[1], map_of_pred, pred, ref, "distance to the predicted surface")]:
    shown = ax.imshow(dmap.T, origin="lower", cmap="magma", vmax=25)
    ax.contour(own.T, levels=[0.5], colors="white", linewidths=1)      # the zero-level surface
    ax.contour(other.T, levels=[0.5], colors="cyan", linewidths=1)     # read the map along this one
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.colorbar(shown, ax=ax, shrink=0.8, label="mm")
axes[2].hist(pred_to_ref, bins=40, color="magenta", alpha=0.7)
axes[2].axvline(pred_to_ref.max(), color="k", label=f"max {pred_to_ref.max():.1f} mm")
axes[2].axvline(np.percentile(pred_to_ref, 95), color="k", ls="--",
                label=f"95th pct {np.percentile(pred_to_ref, 95):.1f} mm")
axes[2].set_xlabel("distance of prediction boundary pixels to the reference (mm)")
axes[2].legend(fontsize=8)
plt.tight_layout()
plt.show()

# The map read at the prediction's boundary is exactly labtools' directed distance set.
d_lab = metrics.surface_distances(pred, ref, spacing, surfels=False)
np.testing.assert_allclose(np.sort(pred_to_ref), np.sort(d_lab.voxel_pred_to_ref), rtol=1e-5, atol=1e-8)
print(f"{pred_to_ref.size} boundary pixels, largest distance {pred_to_ref.max():.2f} mm "
      f"(labtools: {d_lab.voxel_pred_to_ref.max():.2f} mm)")

# %% [markdown]
# ### Exercise 2: Hausdorff distance from distance maps
#
# Write `hausdorff_from_maps(pred, ref, spacing, percentile=100)`: build the distance map of each
# mask's boundary (use `boundary` above and `ndimage.distance_transform_edt(..., sampling=spacing)`),
# read each map at the *other* mask's boundary pixels, take the `percentile` of each directed set
# (`np.percentile`) and return the larger of the two. With `percentile=100` this is the Hausdorff
# distance; with 95 it is HD95 as MONAI and BraTS define it.

# %%
def hausdorff_from_maps(pred, ref, spacing, percentile=100):
    """Symmetric (percentile) Hausdorff distance in mm between the boundaries of two masks."""
    ### BEGIN SOLUTION
    edge_p, edge_r = boundary(pred), boundary(ref)
    to_r = ndimage.distance_transform_edt(~edge_r, sampling=spacing)[edge_p]
    to_p = ndimage.distance_transform_edt(~edge_p, sampling=spacing)[edge_r]
    return float(max(np.percentile(to_r, percentile), np.percentile(to_p, percentile)))
    ### END SOLUTION


# %%
# Cases where the two directions differ a lot: a disc and a smaller, shifted one, both ways round.
yy, xx = np.mgrid[:64, :64]
disc_ref = (yy - 30) ** 2 + (xx - 30) ** 2 <= 15**2
disc_pred = (yy - 36) ** 2 + (xx - 33) ** 2 <= 6**2
cases = {"pred, ref (our case)": (pred, ref, spacing),
         "a small disc inside a big one, 0.8×2 mm": (disc_pred, disc_ref, (0.8, 2.0)),
         "a big disc around a small one, 0.8×2 mm": (disc_ref, disc_pred, (0.8, 2.0))}
with exercises.check(2, "Hausdorff distance from distance maps") as check:
    for name, (p_mask, r_mask, sp) in cases.items():
        for q, monai_metric in [(100, HausdorffDistanceMetric(include_background=True)),
                                (95, HausdorffDistanceMetric(include_background=True, percentile=95))]:
            expected = metrics.hausdorff(p_mask, r_mask, sp) if q == 100 else metrics.hd95(p_mask, r_mask, sp)
            assert np.isclose(expected, monai_value(monai_metric, p_mask, r_mask, spacing=sp), rtol=1e-5)  # = MONAI
            check.close(f"hausdorff_from_maps({name}, spacing={sp}, percentile={q}) in mm",
                        hausdorff_from_maps(p_mask, r_mask, sp, percentile=q), expected, rtol=1e-6,
                        hint="pass sampling=spacing to the distance transform (mm, not pixels); take the "
                             "percentile of each direction separately, then the larger of the two.")
    print(f"HD95 of our case: yours {hausdorff_from_maps(pred, ref, spacing, 95):.3f} mm = labtools = MONAI")

# %% [markdown]
# ### One outlier pixel
#
# The Hausdorff distance is a maximum: one false-positive pixel far from the object sets it.
# HD95 ignores the worst 5 % of boundary pixels and ASSD averages them, so both barely move.
# This is why challenges (BraTS, KiTS) report HD95 rather than HD.

# %%
speck = pred.copy()
speck[10, 80] = True                             # one stray pixel outside the head
rows = []
for name, mask in [("prediction", pred), ("prediction + 1 stray pixel", speck)]:
    rows.append({"case": name, "Dice": metrics.dice(mask, ref), "HD (mm)": metrics.hausdorff(mask, ref, spacing),
                 "HD95 (mm)": metrics.hd95(mask, ref, spacing), "ASSD (mm)": metrics.assd(mask, ref, spacing)})
pd.DataFrame(rows).set_index("case").round(3)

# %% [markdown]
# ### Average surface distance: two ways to average
#
# The lecture writes ASSD as the mean of the two directed means,
# $\frac{1}{2}\big(\bar d(A,B) + \bar d(B,A)\big)$. labtools (like MONAI's
# `SurfaceDistanceMetric(symmetric=True)` and MedPy 0.5.2) pools all distances of both directions
# and averages once, so the surface with more boundary pixels weighs more. The two agree when both
# boundaries have about as many pixels; `mode="mean_of_means"` gives the lecture's version.

# %%
print(f"ASSD pooled {metrics.assd(pred, ref, spacing):.4f} mm, "
      f"mean of means {metrics.assd(pred, ref, spacing, mode='mean_of_means'):.4f} mm, "
      f"MONAI symmetric {monai_value(SurfaceDistanceMetric(include_background=True, symmetric=True), pred, ref, spacing=spacing):.4f} mm")

# %% [markdown]
# ## 6. Normalised surface Dice: a tolerance band
#
# Distances in mm are hard to compare between organs. The **normalised surface Dice** at tolerance
# $\tau$ (Nikolov et al. 2021, J Med Internet Res 23:e26151) asks a yes/no question for every
# piece of surface: is it within $\tau$ mm of the other surface? With $S_A, S_B$ the two surfaces
# and $B^{(\tau)}_A$ the band of width $\tau$ around $S_A$:
#
# $$NSD_\tau = \frac{|S_A \cap B^{(\tau)}_B| + |S_B \cap B^{(\tau)}_A|}{|S_A| + |S_B|}.$$
#
# $\tau$ is chosen from the inter-observer variation of the structure: an error smaller than two
# experts' disagreement is not an error. labtools measures surfaces by surface elements weighted
# by their area (DeepMind's implementation, which Nikolov et al. published), not by counting pixels.

# %%
tau = 2.5
edge_pred = boundary(pred)
inside = edge_pred & (map_of_ref <= tau)
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
axes[0].imshow((map_of_ref <= tau).T, origin="lower", cmap="Greens", alpha=0.6)
axes[0].contour(ref.T, levels=[0.5], colors="green", linewidths=0.8)
ys, xs = np.nonzero(edge_pred & ~inside)
axes[0].scatter(ys, xs, s=3, color="red", label="prediction surface outside the band")
axes[0].set_title(f"band of ±{tau} mm around the reference surface", fontsize=9)
axes[0].legend(fontsize=7, loc="lower left")
axes[0].axis("off")
taus = np.arange(0, 8.01, 0.5)
axes[1].plot(taus, [metrics.nsd(pred, ref, tolerance=t, spacing=spacing) for t in taus], "o-")
axes[1].set_xlabel("tolerance τ (mm)")
axes[1].set_ylabel("NSD")
axes[1].set_title("NSD grows with the tolerance", fontsize=9)
plt.tight_layout()
plt.show()
print(f"NSD at {tau} mm: {metrics.nsd(pred, ref, tolerance=tau, spacing=spacing):.3f}; "
      f"share of prediction boundary pixels inside the band: {inside.sum() / edge_pred.sum():.3f}")

# %% [markdown]
# ## 7. Why libraries disagree
#
# Take one 3D case with anisotropic voxels (1 × 1 × 2.5 mm, as in many CT and MR scans) and ask
# labtools and MONAI for "the" HD95, ASSD and NSD. The differences come from three choices
# (`docs/metrics.md`, section "The convention table"):
#
# 1. **Which points form the surface.** Voxel centres of the boundary voxels (MONAI's default,
#    MedPy) or surface elements between voxels, each weighted by its area (DeepMind's NSD; MONAI
#    with `use_subvoxels=True`; labtools' default for NSD).
# 2. **How a percentile or a mean combines the two directions.** HD95 as the larger of the two
#    directed 95th percentiles (MONAI, BraTS, labtools) or the 95th percentile of both sets pooled
#    (MedPy, seg-metrics; labtools `mode="pooled"`). ASSD pooled, or as the mean of two means, or
#    (MONAI's default `symmetric=False`) one direction only.
# 3. **Empty masks.** A missed structure has no surface: is its distance infinite, NaN or 0?

# %%
shape3d = (48, 48, 20) if QUICK else (96, 96, 40)
image3d, labels3d = datasets.phantom(shape3d, n_lesions=3, seed=5, spacing=(1.0, 1.0, 2.5), noise=0.06)
ref3d = labels3d >= 3
pred3d = ndimage.gaussian_filter(image3d.array, 1.0) > 0.62
sp3d, tol = image3d.spacing, 2.0
compare = [
    ("HD95", "max of directed 95th percentiles", metrics.hd95(pred3d, ref3d, sp3d),
     "HausdorffDistanceMetric(percentile=95)",
     monai_value(HausdorffDistanceMetric(include_background=True, percentile=95), pred3d, ref3d, spacing=sp3d)),
    ("HD95", "mode='pooled' (MedPy, seg-metrics)", metrics.hd95(pred3d, ref3d, sp3d, mode="pooled"), "", np.nan),
    ("ASSD", "pooled", metrics.assd(pred3d, ref3d, sp3d), "SurfaceDistanceMetric(symmetric=True)",
     monai_value(SurfaceDistanceMetric(include_background=True, symmetric=True), pred3d, ref3d, spacing=sp3d)),
    ("ASSD", "mode='mean_of_means'", metrics.assd(pred3d, ref3d, sp3d, mode="mean_of_means"),
     "SurfaceDistanceMetric() default: one direction",
     monai_value(SurfaceDistanceMetric(include_background=True), pred3d, ref3d, spacing=sp3d)),
    (f"NSD {tol} mm", "surfels weighted by area", metrics.nsd(pred3d, ref3d, tol, sp3d),
     "SurfaceDiceMetric(use_subvoxels=True)",
     monai_value(SurfaceDiceMetric([tol], include_background=True, use_subvoxels=True), pred3d, ref3d, spacing=sp3d)),
    (f"NSD {tol} mm", "mode='voxel'", metrics.nsd(pred3d, ref3d, tol, sp3d, mode="voxel"),
     "SurfaceDiceMetric() default: voxel centres",
     monai_value(SurfaceDiceMetric([tol], include_background=True), pred3d, ref3d, spacing=sp3d)),
]
table = pd.DataFrame(compare, columns=["metric", "labtools option", "labtools", "MONAI call", "MONAI"])
# Where labtools claims to match a MONAI call, it does (tests/test_metrics.py checks this over many cases).
for row in (0, 2, 4, 5):
    assert np.isclose(table.labtools[row], table.MONAI[row], rtol=1e-4), table.iloc[row]
table.round(4)

# %% [markdown]
# Same masks, same spacing, and HD95 or NSD change by several percent depending on the option.
# Neither number is wrong; a paper that does not name its library and options cannot be compared
# with another.
#
# Now the empty masks. A method that misses a structure completely:

# %%
empty = np.zeros_like(ref3d)
for name, (p, r) in {"prediction empty": (empty, ref3d), "reference empty": (pred3d, empty)}.items():
    print(f"{name:17s} labtools: Dice {metrics.dice(p, r):.1f}, HD95 {metrics.hd95(p, r, sp3d)}, "
          f"NSD {metrics.nsd(p, r, tol, sp3d):.1f} | MONAI: HD95 "
          f"{monai_value(HausdorffDistanceMetric(include_background=True, percentile=95), p, r, spacing=sp3d)}")
# Averaged over a "good" case and a completely missed one:
monai_hd95 = [monai_value(HausdorffDistanceMetric(include_background=True, percentile=95), p, ref3d, spacing=sp3d)
              for p in (pred3d, empty)]
print(f"MONAI HD95 per case {np.round(monai_hd95, 2)} -> nanmean {np.nanmean(monai_hd95):.2f} mm: the miss vanished")
diagonal = float(np.linalg.norm(np.multiply(shape3d, sp3d)))          # the image diagonal in mm
rows3d = [{"case": case, "label": 1, "error": "", "diagonal_mm": diagonal, "hd95": metrics.hd95(p, ref3d, sp3d)}
          for case, p in [("good", pred3d), ("missed", empty)]]
hd95_summary = summarize(rows3d)[0]            # +inf replaced by the diagonal, and counted
print(f"labtools HD95 per case {[round(r['hd95'], 2) for r in rows3d]} -> mean {hd95_summary['mean']:.2f} mm "
      f"with inf -> diagonal ({diagonal:.1f} mm), n_one_empty = {hd95_summary['n_one_empty']}")


# %% [markdown]
# labtools returns **+inf** for the distance to a missing surface (and NSD 0): the miss is a wrong
# answer, and it must show. MONAI's HD95 is NaN there, and a `nanmean` then silently reports the
# good case alone. When many cases are averaged, `metrics.batch.summarize` replaces +inf by a
# stated worst value (the image diagonal, as BraTS does) and counts how many cases that touched
# (`n_one_empty`). Lesson 06 applies this to a folder of PET cases.
#
# ## 8. Lesions: detection, TMTV and FROC
#
# In oncology the question is often "did we find every lesion?" before "how good is each border?".
# Lesions are connected components (`scipy.ndimage.label`); a reference lesion is **detected**
# (TP) when the prediction overlaps it, **missed** (FN) otherwise; a predicted component that
# touches no reference lesion is a **false positive** (FP), as autoPET and BraTS count them.
# The total lesion volume in ml is voxel count × voxel volume / 1000: in PET it is the **total
# metabolic tumour volume** (TMTV), a prognostic marker in lymphoma.

# %%
lesion_shape = (64, 64, 40) if QUICK else (128, 128, 80)
_, lesion_labels = datasets.phantom(lesion_shape, n_lesions=6, seed=11, spacing=(2.0, 2.0, 2.0))
lesion_spacing = (2.0, 2.0, 2.0)
lesion_ref = lesion_labels == 4
components, n_components = ndimage.label(lesion_ref, ndimage.generate_binary_structure(3, 3))
sizes = np.bincount(components.ravel())[1:]
lesion_pred = lesion_ref & (components != 1 + np.argmin(sizes))                  # miss the smallest lesion
lesion_pred |= ndimage.binary_dilation(components == 1 + np.argmax(sizes))     # over-segment the largest
centre = np.array(lesion_shape) // 2 + [8, -10, 0]                              # one false-positive blob
grid = np.indices(lesion_shape)
lesion_pred |= sum((g - c) ** 2 for g, c in zip(grid, centre)) <= 9
report = metrics.lesion_detection(lesion_pred, lesion_ref, spacing=lesion_spacing)
print(report)
print(f"TMTV true {metrics.volume_ml(lesion_ref, lesion_spacing):.2f} ml, "
      f"predicted {metrics.volume_ml(lesion_pred, lesion_spacing):.2f} ml; "
      f"per-lesion Dice {np.round(report.lesion_dice, 2)}, lesion-wise Dice {report.lesion_wise_dice:.3f}")
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, mask, title in [(axes[0], lesion_ref, "reference lesions"), (axes[1], lesion_pred, "prediction")]:
    ax.imshow(mask.max(axis=2).T, origin="lower", cmap="gray")     # maximum intensity projection
    ax.set_title(title + " (projection)", fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# A detector that outputs a **probability** per candidate can trade misses for false positives.
# The **FROC** curve (free-response ROC; Bunch et al. 1978, Chakraborty 1989) plots sensitivity
# (share of lesions found) against the average number of false positives per image as the
# threshold falls; the FROC score averages the sensitivity at 1/4, 1/2, 1, 2, 4 and 8 FPs per
# image (CAMELYON16). Below, a simulated detector on 20 images: true lesions get high
# probabilities, false candidates low ones.

# %%
rng = np.random.default_rng(1)   # each cell seeds its own draws: re-running a cell repeats it exactly
n_images, n_targets = 20, 45
tp_probs = np.clip(rng.beta(5, 2, n_targets), 0, 1) * (rng.random(n_targets) > 0.1)  # 10 % never found (0)
fp_probs = rng.beta(2, 5, 60)
curve = metrics.froc(fp_probs, tp_probs, num_targets=n_targets, num_images=n_images)
monai_fps, monai_sens = compute_froc_curve_data(fp_probs, tp_probs, n_targets, n_images)
assert np.allclose(curve.fps_per_image, monai_fps) and np.allclose(curve.sensitivity, monai_sens)
assert np.isclose(curve.score, compute_froc_score(monai_fps, monai_sens))
plt.figure(figsize=(4, 3.2))
plt.step(curve.fps_per_image, curve.sensitivity, where="post")
plt.xscale("symlog", linthresh=0.25)
plt.xlabel("false positives per image")
plt.ylabel("sensitivity")
plt.title(f"FROC score {curve.score:.3f} (= MONAI)", fontsize=9)
plt.show()

# %% [markdown]
# ## 9. Inter-rater variability
#
# There is no ground truth in medical images, only references drawn by people, and people disagree.
# The MICCAI 2016 MS lesion challenge (MS-SEG; Commowick et al. 2018, Scientific Reports 8:13650)
# had seven experts delineate every case and built the reference as a consensus of them
# (with LOP STAPLE); automatic methods were then judged against that consensus *and* compared
# with the experts' own spread. If a method's Dice against the consensus is as high as an expert's,
# it segments like an expert, whatever the absolute number is.
#
# We simulate five raters from one "truth": each one's border jitters (a smooth random field
# added to the signed distance of the truth), one draws generously (dilation), one tightly
# (erosion), one misses a lesion. The simplest consensus is the **majority vote**: a pixel is in
# when more than half of the raters say so. STAPLE (Warfield, Zou & Wells 2004) goes further and
# estimates each rater's sensitivity and specificity, weighting the reliable ones more.

# %%
_, rater_labels = datasets.phantom((160, 160), n_lesions=5, seed=21, spacing=(1.0, 1.0))
truth = rater_labels == 4
truth_components, n_truth = ndimage.label(truth, np.ones((3, 3)))
signed = ndimage.distance_transform_edt(~truth) - ndimage.distance_transform_edt(truth)  # < 0 inside


def rater(seed, grow=0.0, drop_lesion=None):
    """One simulated rater: the truth with a jittered border, grown by `grow` pixels, maybe a lesion missed."""
    jitter = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(truth.shape), 4)
    mask = signed + 1.5 * jitter / jitter.std() < grow
    if drop_lesion is not None:
        mask &= truth_components != drop_lesion + 1
        mask &= ~ndimage.binary_dilation(truth_components == drop_lesion + 1, iterations=4)
    return mask


raters = {"A (jitter)": rater(1), "B (generous)": rater(2, grow=1.5), "C (tight)": rater(3, grow=-1.5),
          "D (misses one)": rater(4, drop_lesion=0), "E (jitter)": rater(5)}
fig, axes = plt.subplots(1, 5, figsize=(13, 2.8))
for ax, (name, mask) in zip(axes, raters.items()):
    ax.imshow(mask.T, origin="lower", cmap="gray")
    ax.contour(truth.T, levels=[0.5], colors="lime", linewidths=0.6)
    ax.set_title(name, fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# ### Exercise 3: majority vote
#
# Write `majority_vote(masks)`: given a list of binary masks of the same shape, return a boolean
# mask that is True where **more than half** of them are True. (With an odd number of raters there
# are no ties.) The check compares it with MONAI's `VoteEnsemble`.

# %%
def majority_vote(masks):
    """Consensus of binary masks: True where more than half of them are True."""
    ### BEGIN SOLUTION
    votes = np.sum([np.asarray(m, bool) for m in masks], axis=0)
    return votes * 2 > len(masks)
    ### END SOLUTION


# %%
def monai_vote(masks):
    stacked = torch.from_numpy(np.stack(masks)[:, None].astype(np.float32))   # (raters, channel, H, W)
    return VoteEnsemble(num_classes=2)(stacked)[0].numpy() > 0


four = list(raters.values())[:4]
with exercises.check(3, "majority vote") as check:
    mine = majority_vote(list(raters.values()))
    check.equal("the dtype of majority_vote(the five raters)", str(np.asarray(mine).dtype), "bool",
                hint="return a boolean mask (a comparison like votes * 2 > n gives one).")
    check.equal("majority_vote(the five raters)", mine, monai_vote(list(raters.values())),
                hint="a pixel is in when more than half of the masks have it: count the votes per pixel.")
    check.equal("majority_vote([truth, truth, not truth])", majority_vote([truth, truth, ~truth]), truth)
    # With four raters, two votes are a tie: not *more* than half.
    check.equal("majority_vote(raters A-D: four masks, ties at 2 votes)", majority_vote(four),
                np.sum(four, axis=0) >= 3, hint="more than half of 4 is 3 or more: a 2-2 tie is not in.")
print("your vote equals MONAI's VoteEnsemble")

# %% [markdown]
# How far apart are the raters? Compare every pair, then each rater with the vote and with the
# truth we started from.

# %%
vote = monai_vote(list(raters.values()))
names = list(raters)
pair_dice = np.array([[metrics.dice(raters[a], raters[b]) for b in names] for a in names])
pair_hd95 = np.array([[metrics.hd95(raters[a], raters[b]) for b in names] for a in names])
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, matrix, title, fmt in [(axes[0], pair_dice, "Dice between raters", "{:.2f}"),
                               (axes[1], pair_hd95, "HD95 between raters (mm)", "{:.1f}")]:
    ax.imshow(matrix, cmap="viridis")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, fmt.format(matrix[i, j]), ha="center", va="center", color="w", fontsize=8)
    ax.set_xticks(range(len(names)), [n.split()[0] for n in names])
    ax.set_yticks(range(len(names)), [n.split()[0] for n in names])
    ax.set_title(title, fontsize=9)
plt.show()
upper = np.triu_indices(len(names), 1)
spread = pd.DataFrame({
    "Dice vs vote": [metrics.dice(raters[n], vote) for n in names],
    "HD95 vs vote (mm)": [metrics.hd95(raters[n], vote) for n in names],
    "Dice vs truth": [metrics.dice(raters[n], truth) for n in names],
}, index=names)
print(f"rater vs rater: Dice {pair_dice[upper].mean():.3f} ± {pair_dice[upper].std():.3f}, "
      f"HD95 {pair_hd95[upper].mean():.2f} ± {pair_hd95[upper].std():.2f} mm")
print(f"vote vs truth: Dice {metrics.dice(vote, truth):.3f}, HD95 {metrics.hd95(vote, truth):.2f} mm")
spread.round(3)

# %% [markdown]
# ### Exercise 4 (question): what does the spread tell you?
#
# (a) Why are the raters' Dice scores against the vote mostly higher than the Dice between two raters?
# (b) Rater D's HD95 is far worse than its Dice suggests. Why?
# (c) An automatic method reaches Dice 0.85 against the vote. Is it good?

# %% [markdown]
# ### BEGIN SOLUTION
# (a) The vote sits in the middle of the raters: each rater's independent errors are outvoted, so
# a rater differs from the vote by its own errors only, whereas two raters differ by both of
# theirs (Rater D is the exception: its own error, the missed lesion, is large.) (b) A missed lesion is a small share of the pixels (Dice drops a little) but its whole
# surface is far from any surface of the other mask, so more than 5 % of the boundary points have a
# large distance and HD95 jumps. (c) Compare it with the raters: if the experts reach about the
# same Dice against the vote, the method performs like an expert; the ceiling is the inter-rater
# agreement, not 1.
# ### END SOLUTION

# %% [markdown]
# ## 10. Choosing metrics
#
# Every section so far answered "what does this metric measure?". A study starts from the other
# end: "what matters about my problem?". Metrics Reloaded (Maier-Hein et al. 2024) turns that into
# a **problem fingerprint**, a short list of questions, and derives the metrics from the answers;
# its companion paper on pitfalls (Reinke et al. 2024) shows what goes wrong otherwise. The
# questions that change the choice most:
#
# * Is it **semantic** segmentation (every voxel a class), **detection** (find and count the
#   objects) or **instance** segmentation (find each object and delineate it)?
# * Are the targets **small** (a few voxels across), or do their **sizes vary** a lot? Then Dice
#   alone misleads (section 3) and boundary or detection metrics must join it.
# * Does the exact **boundary** matter, and how much do raters disagree on it (NSD's tolerance)?
# * Are the structures **tubular** (vessels): is connectivity the point?
# * Can an image have **no target** at all (empty references, section 7)?
# * Are **probabilities** used, or a **volume** as a biomarker, or do misses cost more than false
#   alarms?
#
# `metrics.recommend` asks these questions and answers with labtools calls, each with its reason
# and the pitfalls to watch. Two problems: multiple-sclerosis lesions (many small objects, healthy
# scans possible; raters disagree by about a voxel) and an organ at risk in radiotherapy planning
# (one large structure whose outline and volume are the point).

# %%
ms_lesions = metrics.recommend("instance", small_structures=True, size_variability=True, empty_possible=True,
                               tolerance_mm=1.0)
print(ms_lesions)

# %%
organ_at_risk = metrics.recommend("semantic", boundary_matters=True, volume_matters=True, tolerance_mm=2.0)
organ_at_risk          # a notebook shows the recommendation as a table

# %% [markdown]
# The lesions get detection metrics first (found, missed and invented lesions; section 8), then
# per-lesion overlap and boundary metrics; the organ gets Dice, NSD at the raters' 2 mm and HD95,
# and its volume. What `evaluate` can compute goes straight into it, on this lesson's 3D case:

# %%
wanted = [name for name in organ_at_risk.metrics if name in metrics.AVAILABLE_METRICS]
print(wanted)
pd.Series(metrics.evaluate(pred3d, ref3d, sp3d, tolerance=2.0, metrics=wanted)).round(3)

# %% [markdown]
# ## Summary
#
# * Dice = F1 = 2TP / (2TP + FP + FN); IoU = D / (2 − D); volume similarity ignores location.
# * HD, HD95 and ASSD are read off distance maps at the other surface; HD follows the worst pixel,
#   HD95 and ASSD do not. NSD counts surface within a tolerance band chosen from rater agreement.
# * Libraries differ in surface points, percentile pooling and empty masks: name library and
#   options with every number, and decide explicitly what a missed structure scores.
# * Lesion-wise counts, TMTV and FROC answer detection questions that voxel metrics hide.
# * Expert disagreement is the yardstick: compare a method with the spread between raters.
# * Choose metrics from the problem's fingerprint (`metrics.recommend`), not from habit.
#
# Further reading: Maier-Hein et al. 2024, "Metrics reloaded", Nature Methods 21:195–212;
# Taha & Hanbury 2015. Next: lesson 04 (interactive labeling), and lesson 06, which evaluates a
# folder of PET cases with these metrics.

# %%
exercises.report()
