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
# # Lesson 04: interactive labeling — scribbles, features and a random forest
#
# **Time to run:** about 3 minutes for Run All on a 2-core CPU, under a minute with `LABTOOLS_QUICK=1`
# (measured by `benchmarks/course_lessons.py`).
#
# **What you learn.** The recipe of ilastik (Sommer et al. 2011; Berg et al. 2019): describe every
# voxel by a bank of filter responses at several scales, train a random forest on the few voxels
# you scribbled, look at its prediction *and its uncertainty*, and scribble again where it is
# unsure. You will see what each filter responds to, measure the uncertainty in two ways, let the
# classifier suggest where to label next, and watch the Dice against the tissue labels improve
# round after round. At the end you paint in the notebook yourself.
#
# **Prerequisites.** Lesson 00 (images, MNI152). No deep learning: this is "shallow" learning,
# which is why it can retrain in a fraction of a second after every stroke.
#
# **Time.** About 45 minutes.
#
# **How to run.** CPU only; nothing to download. The image is the MNI152 template at 1 mm
# (197 × 233 × 189 voxels); with `LABTOOLS_QUICK=1` it is the 2 mm version with a smaller feature
# bank and forest, which runs in well under a minute.
#
# There are three exercises: write the function body, then run the check after it.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from scipy import ndimage as ndi

from labtools import datasets, exercises, metrics, viz, widgets
from labtools.widgets import render
from labtools.features import FEATURE_PRESETS, feature_names, feature_stack
from labtools.labeling import ClassTable, LabelingSession
from labtools.pixel_classifier import PixelClassifier, uncertainty_from_proba

QUICK = os.environ.get("LABTOOLS_QUICK") == "1"
SEED = 0          # cells that draw at random seed their own generator from it
image, truth = datasets.mni152(2 if QUICK else 1)
CLASSES = datasets.MNI152_CLASSES          # 1 background, 2 CSF/other, 3 grey, 4 white matter
# The axial slice 10 mm above the world origin (through the ventricles), via the inverse affine.
z = int(round(float((np.linalg.inv(image.affine) @ [0.0, 0.0, 10.0, 1.0])[2])))
print(image, "| axial slice", z, "| classes", CLASSES)

# %% [markdown]
# ## 1. Features: what a voxel looks like at several scales
#
# A voxel's intensity alone does not tell grey matter from CSF-filled sulci in a noisy or
# biased image; its neighbourhood does. ilastik describes each voxel by Gaussian-derivative
# filters (scale-space theory: Lindeberg 1994) at scales $\sigma$ from 0.3 to 10 voxels.
# With $G_\sigma$ a Gaussian of standard deviation $\sigma$ and $I$ the image:
#
# * **Gaussian smoothing** $G_\sigma * I$: the intensity averaged over a neighbourhood of size
#   $\sim\sigma$, less noisy;
# * **Laplacian of Gaussian** $\nabla^2 (G_\sigma * I) = \sum_i \partial_i^2 (G_\sigma * I)$: strongly
#   negative in the middle of bright blobs or ridges of width $\sim\sigma$, positive in dark ones
#   (Marr & Hildreth 1980); the **difference of Gaussians** $G_\sigma * I - G_{0.66\sigma} * I$ is
#   a cheap approximation of it;
# * **gradient magnitude** $\lVert\nabla (G_\sigma * I)\rVert$: large on edges (the grey/white
#   boundary, the brain's outline);
# * **structure-tensor eigenvalues** of $S = G_{\sigma/2} * (\nabla I_\sigma \nabla I_\sigma^\top)$
#   (Förstner & Gülch 1987): the gradient energy in the dominant direction ($\lambda_1$) and across
#   it: one large eigenvalue means an oriented edge, several large ones a corner or texture;
# * **Hessian eigenvalues** of the matrix of second derivatives of $G_\sigma * I$: the local
#   curvature, largest first; a strongly negative one marks a bright sheet or tube (a gyrus of
#   white matter), a strongly positive one a dark valley (a sulcus).
#
# `labtools.features.feature_stack` computes all of them (61 channels for a 3D image with the
# default seven scales); `feature_names` names the channels. `roi=` computes one slice only,
# with the same values as the whole volume would give.

# %%
sigmas = (1.0, 3.5, 10.0)
shown = ["gaussian", "log", "gradient", "structure", "hessian", "hessian"]
component = [None, None, None, 0, 0, 2]                 # which eigenvalue (0 = largest)
stack = feature_stack(image.array, sigmas=sigmas, roi=np.s_[:, :, z:z + 1])[..., 0]
names = feature_names(3, sigmas=sigmas)
fig, axes = plt.subplots(len(sigmas), len(shown) + 1, figsize=(13, 5.8))
for row, sigma in enumerate(sigmas):
    axes[row, 0].imshow(image.array[:, :, z].T, cmap="gray", origin="lower")
    axes[row, 0].set_ylabel(f"σ = {sigma:g} voxels")
    for column, (feature, k) in enumerate(zip(shown, component), start=1):
        name = f"{feature}({sigma:g})" + ("" if k is None else f"[{k}]")
        values = stack[names.index(name)]
        limit = np.percentile(np.abs(values), 99)
        signed = feature in ("log", "hessian")
        axes[row, column].imshow(values.T, origin="lower", cmap="coolwarm" if signed else "gray",
                                 vmin=-limit if signed else None, vmax=limit if signed else None)
        if row == 0:
            axes[row, column].set_title(name.split("(")[0] + ("" if k is None else f" λ{k + 1}"))
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_title("T1 slice")
plt.tight_layout()
plt.show()

# %% [markdown]
# Small scales keep fine detail (and noise), large ones see the context: at σ = 10 the
# smoothed image says "inside or outside the brain", at σ = 1 the gradient outlines the cortex.
# No single channel separates the four classes; the forest combines them.
#
# ### Exercise 1: two features by hand
#
# Write `smoothing_and_gradient(slice2d, sigma)`: return the Gaussian-smoothed slice and the
# gradient magnitude of the Gaussian-smoothed slice, both at scale `sigma` (in voxels), as two
# float32 arrays. Use `scipy.ndimage` (imported as `ndi`): `ndi.gaussian_filter` and
# `ndi.gaussian_gradient_magnitude`, with the kernels truncated at 3.5 σ (`truncate=3.5`), as
# labtools does. The check compares with the channels `gaussian(σ)` and `gradient(σ)` of
# `feature_stack` on a 2D slice.

# %%
def smoothing_and_gradient(slice2d, sigma):
    """Gaussian smoothing and Gaussian gradient magnitude of a 2D slice at scale `sigma`."""
    ### BEGIN SOLUTION
    data = np.asarray(slice2d, dtype=np.float32)
    smoothed = ndi.gaussian_filter(data, sigma, truncate=3.5)
    gradient = ndi.gaussian_gradient_magnitude(data, sigma, truncate=3.5)
    return smoothed.astype(np.float32), gradient.astype(np.float32)
    ### END SOLUTION


# %%
plane = image.array[:, :, z]
with exercises.check(1, "two features by hand") as check:
    for sigma in (0.7, 1.6, 5.0):
        reference = feature_stack(plane, sigmas=(sigma,), features=("gaussian", "gradient"))
        assert feature_names(2, sigmas=(sigma,), features=("gaussian", "gradient")) == [
            f"gaussian({sigma:g})", f"gradient({sigma:g})"]
        answer = smoothing_and_gradient(plane, sigma)
        check.equal(f"how many arrays smoothing_and_gradient(plane, {sigma}) returns",
                    len(answer) if isinstance(answer, tuple) else answer, 2,
                    hint="return the two arrays as a tuple: return smoothed, gradient")
        for name, mine, expected in zip(("smoothed", "gradient"), answer, reference):
            check.close(f"the {name} slice of smoothing_and_gradient(plane, {sigma})", mine, expected,
                        atol=1e-5, rtol=1e-5,
                        hint="ndi.gaussian_filter and ndi.gaussian_gradient_magnitude of the slice as float32, "
                             "both with sigma in voxels and truncate=3.5.")
            check.equal(f"the dtype of the {name} slice", str(np.asarray(mine).dtype), "float32",
                        hint="convert with .astype(np.float32).")

# %% [markdown]
# ## 2. Scribble, train, predict
#
# A `LabelingSession` (`docs/labeling.md`) holds the image, the scribbles painted so far
# (0 = not labelled, classes 1..K), a `PixelClassifier` and its latest prediction; the napari dock
# and the notebook canvas below are thin layers over it. The classifier is a random forest
# (Breiman 2001) on the feature bank: it is trained on the scribbled voxels only, and predicts every
# voxel from its features.
#
# Here a scripted "annotator" plays the user: it clicks a few voxels of each class in one axial
# slice, with the true tissue labels as its knowledge. Scribble 0 means "not labelled", so the
# classes painted are 1..K; a *class table* says what each one is called and which value it gets
# in the predicted label map. By default class 1 is the background and exports as 0 (the usual
# convention); MNI152's tissue map already numbers its classes 1..4, so we make the table from
# those values and each class keeps its own number. `background=1` tells the table which one is
# the background: overlays leave it transparent, as they leave 0 in other maps.

# %%
if QUICK:   # 3 scales, a small forest: the first fit takes seconds on two cores
    sigmas, filters = FEATURE_PRESETS["fast (3 scales, all filters)"]
    classifier = PixelClassifier(sigmas=sigmas, features=filters, n_estimators=20, n_jobs=2,
                                 random_state=SEED)
else:       # ilastik's seven scales and 100 trees
    classifier = PixelClassifier(n_estimators=100, random_state=SEED)
session = LabelingSession(image, classifier=classifier,
                          classes=ClassTable.from_values(list(CLASSES), names=CLASSES, background=1))
print(session.classes)
rng = np.random.default_rng(SEED)          # the scripted annotator's clicks; re-running repeats them


def click(session, slice_index, n_per_class, where=None):
    """The scripted annotator: n clicks per class in an axial slice, in `where` if given."""
    plane_truth = truth[:, :, slice_index]
    for label in CLASSES:
        candidates = np.argwhere((plane_truth == label) & (True if where is None else where))
        if len(candidates) == 0:
            continue
        chosen = candidates[rng.choice(len(candidates), min(n_per_class, len(candidates)),
                                       replace=False)]
        session.add_stroke((chosen[:, 0], chosen[:, 1], np.full(len(chosen), slice_index)), label)


click(session, z, n_per_class=8)
print("scribbled voxels per class:", session.class_counts())
prediction, uncertainty = session.update(np.s_[:, :, z])       # fit, then predict this slice
print("prediction", prediction.shape, prediction.dtype, "| mean uncertainty",
      round(float(uncertainty.mean()), 3))

# %%
def show_slice(session, slice_index, title=""):
    """T1 with scribbles, prediction, margin uncertainty and errors of one axial slice."""
    prediction, uncertainty = session.update(np.s_[:, :, slice_index])
    scribbled = np.argwhere(session.scribbles[:, :, slice_index])
    stroke_rgb = session.classes.scribble_colors()              # the background's strokes in grey
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
    axes[0].imshow(image.array[:, :, slice_index].T, cmap="gray", origin="lower")
    axes[0].scatter(*scribbled.T, s=8, edgecolors="white", linewidths=0.3,
                    c=[np.array(stroke_rgb[k]) / 255 for k in session.scribbles[:, :, slice_index][tuple(scribbled.T)]])
    viz.show_labels(axes[1], prediction[..., 0], session.classes.names(), image2d=image.array[:, :, slice_index],
                    background=1, classes=session.classes, alpha=0.6)
    shown = axes[2].imshow(uncertainty[..., 0].T, cmap="magma", vmin=0, vmax=1, origin="lower")
    axes[3].imshow((prediction[..., 0] != truth[:, :, slice_index]).T, cmap="Reds", origin="lower",
                   interpolation="nearest")
    for ax, name in zip(axes, ["T1 + scribbles", "prediction", "uncertainty (margin)", "errors"]):
        ax.set_title(name)
        ax.axis("off")
    fig.colorbar(shown, ax=axes[2], shrink=0.8)
    fig.suptitle(title)
    plt.show()


show_slice(session, z, f"after {sum(session.class_counts().values())} clicks on slice {z}")

# %% [markdown]
# ## 3. How unsure is the forest?
#
# The forest gives class probabilities $p_1 \ge p_2 \ge \dots \ge p_K$ (sorted) for each voxel: the
# share of its trees voting for each class. Two common ways to turn them into an uncertainty in
# $[0, 1]$ (Settles 2009, "Active learning literature survey", section 3.1):
#
# * the **margin** $1 - (p_1 - p_2)$: 1 when the two best classes are tied, 0 when one class has
#   every vote (what `LabelingSession.update` returns);
# * the normalised **entropy** $-\frac{1}{\log K}\sum_k p_k \log p_k$: 1 for a uniform
#   distribution, 0 for a certain one; it also counts doubt among the less likely classes.
#
# Uncertain voxels are where a stroke teaches the forest most: at tissue boundaries, in
# partial-volume voxels, and in structures no scribble has touched yet.
#
# ### Exercise 2: margin and entropy
#
# Write `margin_and_entropy(proba)`: `proba` has shape `(K, ...)` (class probabilities along the
# first axis, as `PixelClassifier.predict_proba` returns); return the two uncertainty maps above,
# each of shape `proba.shape[1:]`. Treat $0 \log 0$ as 0. The check compares with
# `labtools.pixel_classifier.uncertainty_from_proba` on the forest's probabilities for our slice.

# %%
def margin_and_entropy(proba):
    """Margin 1 - (p1 - p2) and normalised entropy of class probabilities (K, ...)."""
    ### BEGIN SOLUTION
    proba = np.asarray(proba, dtype=np.float64)
    ordered = np.sort(proba, axis=0)
    margin = 1.0 - (ordered[-1] - ordered[-2])
    safe = np.where(proba > 0, proba, 1.0)              # log(1) = 0 makes 0 log 0 = 0
    entropy = -(proba * np.log(safe)).sum(axis=0) / np.log(len(proba))
    return margin, entropy
    ### END SOLUTION


# %%
proba = session.classifier.predict_proba(image, roi=np.s_[:, :, z:z + 1])
# Analytic cases, one per column: certain, a tie between two classes, uniform, and (0.5, 0.3, 0.2, 0).
columns = np.array([[1.0, 0.5, 0.25, 0.5], [0.0, 0.5, 0.25, 0.3], [0.0, 0.0, 0.25, 0.2], [0.0, 0.0, 0.25, 0.0]])
by_hand = {"margin": [0.0, 1.0, 1.0, 0.8],
           "entropy": [0.0, np.log(2) / np.log(4), 1.0, -(0.5 * np.log(0.5) + 0.3 * np.log(0.3) + 0.2 * np.log(0.2)) / np.log(4)]}
with exercises.check(2, "margin and entropy") as check:
    for case, probabilities in [("four analytic columns (certain, tie, uniform, 0.5/0.3/0.2/0)", columns),
                                ("the forest's probabilities on slice z", proba)]:
        answer = margin_and_entropy(probabilities)
        expected = (by_hand["margin"], by_hand["entropy"]) if probabilities is columns else (
            uncertainty_from_proba(proba, "margin"), uncertainty_from_proba(proba, "entropy"))
        for name, mine, right, hint in zip(("margin", "entropy"), answer, expected, (
                "1 - (p1 - p2) with p1, p2 the two largest probabilities *along the first axis* (the classes).",
                "-Σ p log p over the classes (0 log 0 = 0), divided by log K to lie in [0, 1].")):
            check.close(f"the {name} of margin_and_entropy({case})", mine, right, atol=1e-5, rtol=1e-5, hint=hint)

# %% [markdown]
# The two measures mostly agree on *where* the forest is unsure; the scatter shows how they
# relate voxel by voxel.

# %%
entropy_map = uncertainty_from_proba(proba, "entropy")[..., 0]
margin_map = uncertainty_from_proba(proba, "margin")[..., 0]
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
axes[0].imshow(margin_map.T, cmap="magma", vmin=0, vmax=1, origin="lower")
axes[0].set_title("margin")
axes[1].imshow(entropy_map.T, cmap="magma", vmin=0, vmax=1, origin="lower")
axes[1].set_title("entropy")
axes[2].scatter(margin_map.ravel(), entropy_map.ravel(), s=1, alpha=0.2)
axes[2].set_xlabel("margin")
axes[2].set_ylabel("entropy")
for ax in axes[:2]:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Where to label next
#
# Scrolling through a volume looking for mistakes is slow. `classifier.suggest(image, n)` ranks the
# slices along the last axis by their mean margin uncertainty (estimated on every 4th voxel of each
# slice, 16 times cheaper than predicting everything) and returns the `n` most uncertain ones.
#
# ### Exercise 3: the most uncertain slices
#
# Write `most_uncertain_slices(uncertainty, n)`: `uncertainty` is a 3D array; return the indices
# (along the last axis) of the `n` slices with the highest mean uncertainty, the most uncertain
# first, as a list of ints. The check builds the same uncertainty sample as `suggest` (the margin on
# every 4th voxel in the slice plane) and compares your ranking with `classifier.suggest`.

# %%
def most_uncertain_slices(uncertainty, n):
    """Indices along the last axis of the n slices with the highest mean uncertainty."""
    ### BEGIN SOLUTION
    means = np.asarray(uncertainty, dtype=np.float64).mean(axis=(0, 1))
    return [int(i) for i in np.argsort(means)[::-1][:n]]
    ### END SOLUTION


# %%
volume_margin = session.classifier.uncertainty(image, kind="margin")
sampled = volume_margin[::4, ::4, :]
suggested = session.classifier.suggest(image, n=3)
# A small volume worked out by hand: slice k is uniformly k / 10, except slice 2, the most uncertain.
toy = np.broadcast_to(np.arange(6) / 10, (3, 4, 6)).copy()
toy[:, :, 2] = 0.9
with exercises.check(3, "the most uncertain slices") as check:
    hint = ("average each slice over its first two axes (mean(axis=(0, 1))), then sort the slices by that "
            "mean, highest first (np.argsort gives lowest first).")
    check.equal("most_uncertain_slices(toy volume of 6 slices, 3)", most_uncertain_slices(toy, 3), [2, 5, 4],
                hint=hint)
    check.equal("most_uncertain_slices(the forest's margin on every 4th voxel, 3)",
                most_uncertain_slices(sampled, 3), suggested, hint=hint)
print("suggested slices:", suggested)

# %% [markdown]
# ## 5. Label, retrain, repeat
#
# Now the loop an annotator runs in ilastik or in the napari dock, scripted: ask the classifier for
# the most uncertain slice, look at the prediction there, click a few voxels *where it is wrong*
# (our annotator knows the truth; you would see the mistakes), retrain, and measure the Dice of each
# class over the whole volume. Each round adds a handful of clicks, a tiny fraction of the voxels.

# %%
def volume_dice(session):
    """Dice of each tissue class of the whole-volume prediction against the tissue labels."""
    segmentation = session.predict_volume(progress=False)
    return {label: metrics.dice(segmentation == label, truth == label) for label in CLASSES}


rounds = 4 if QUICK else 8
rng = np.random.default_rng(SEED + 1)      # the annotator's corrections; re-running repeats them
history = [volume_dice(session)]
clicks = [sum(session.class_counts().values())]
visited = []
print(f"round 0: slice {z:3d}, {clicks[-1]:4d} clicks, Dice "
      + ", ".join(f"{CLASSES[k]} {history[-1][k]:.3f}" for k in CLASSES))
for round_number in range(1, rounds + 1):
    # The most uncertain slice not visited yet (an annotator moves on after correcting one).
    ranking = session.classifier.suggest(image, n=len(visited) + 2)
    next_slice = next(index for index in ranking if index not in visited + [z])
    visited.append(next_slice)
    current, _ = session.update(np.s_[:, :, next_slice])
    wrong = current[..., 0] != truth[:, :, next_slice]
    click(session, next_slice, n_per_class=8, where=wrong)   # corrections where it is wrong
    history.append(volume_dice(session))
    clicks.append(sum(session.class_counts().values()))
    print(f"round {round_number}: slice {next_slice:3d}, {clicks[-1]:4d} clicks, Dice "
          + ", ".join(f"{CLASSES[k]} {history[-1][k]:.3f}" for k in CLASSES))

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
for label in CLASSES:
    ax.plot(range(len(history)), [scores[label] for scores in history], marker="o",
            label=CLASSES[label])
ax.set_xlabel("round (0 = the first slice's clicks)")
ax.set_ylabel("Dice vs tissue labels")
ax.set_xticks(range(len(history)))
ax.legend(loc="lower right", fontsize=8)
ax.grid(alpha=0.3)
secondary = ax.secondary_xaxis("top", functions=(lambda r: r, lambda r: r))
secondary.set_xticks(range(len(history)))
secondary.set_xticklabels([str(c) for c in clicks], fontsize=7)
secondary.set_xlabel("clicks so far", fontsize=8)
plt.show()

# %%
show_slice(session, visited[-1], f"slice {visited[-1]} after {rounds} rounds")

# %% [markdown]
# **Question.** Dice improves fastest in the first rounds, then slowly. Why does labelling the
# most uncertain slice help more than labelling a random one, and when could following the
# suggestions mislead you?
#
# ### BEGIN SOLUTION
# A random slice is mostly made of voxels the forest already classifies confidently and
# correctly: clicks there add little information. The most uncertain slice holds the voxels near
# its decision boundaries, where one labelled example moves the boundary. But uncertainty is the
# forest's *own* opinion: where it is confidently wrong (a structure it has never seen, e.g. a
# lesion with the intensity of white matter) the margin is low and `suggest` never sends you there;
# and the most uncertain voxels are often partial-volume voxels at tissue boundaries whose "true"
# class is ambiguous, so clicks there can add label noise. Look at whole slices, not only at the
# suggestions, and label the confident mistakes too.
# ### END SOLUTION

# %% [markdown]
# ## 6. Painting in the notebook
#
# `labtools.widgets.ScribbleCanvas(session)` shows a slice of the session with its scribbles and
# prediction; paint on it with the mouse (choose the class and the brush size above it), and the
# session retrains and redraws after each stroke. It needs a live Jupyter frontend; in a plain
# script, or before you paint, it just holds its state.

# %%
canvas = widgets.ScribbleCanvas(session, axis=2, index=z, classes=CLASSES)
canvas

# %% [markdown]
# Everything the mouse does can also be done from code: `canvas.paint(points, label=..., radius=...)`
# paints a stroke through the given `(row, col)` points *of the picture on screen*, exactly as a
# mouse stroke would; the session records it (so `canvas.undo()` takes it back), refits and
# redraws. The picture is the slice turned for display (`labtools.widgets.render.plane`: anterior
# up), so we look for the white matter in that picture, not in the array.

# %%
picture = render.plane(truth, 2, z)                       # the tissue labels as the canvas shows them
depth = ndi.distance_transform_edt(picture == 4)          # pixels deepest inside white matter
row, col = np.unravel_index(int(np.argmax(depth)), picture.shape)
changed = canvas.paint([(row, col - 3), (row, col + 3)], label=4, radius=1)
painted = render.plane_to_voxels(truth.shape, 2, z, *np.nonzero(render.plane(
    session.scribbles, 2, z) == 4))
print(f"{changed} voxels painted as white matter; the status line says: {canvas.status.value!r}")
print("true classes under all white-matter scribbles of this slice:",
      np.unique(truth[painted]).tolist())
print("undo:", canvas.undo(), "- scribbled voxels now", sum(session.class_counts().values()))

# %% [markdown]
# For real work, use the napari dock: `napari -w labtools "Pixel classification"` (or
# **Plugins → labtools → Pixel classification**) gives the same session with a proper brush, 3D
# navigation, undo/redo buttons, autosave of the scribbles next to the image, and export of the
# segmentation as NIfTI (`docs/napari-labeling.md`). `labtools classify MODEL IMAGES --out DIR`
# then applies a saved classifier to other images (`docs/labeling.md`).

# %%
exercises.report()
