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
# # Lesson 07: Learning with few labels
#
# **Time to run:** about 2.5 minutes for Run All on a 2-core CPU
# (measured by `benchmarks/course_lessons.py`).
#
# A radiologist needs minutes to outline one organ on one slice, and a 3D volume has hundreds of
# slices: labels are the scarce resource of medical image segmentation, images are not. This
# lesson is about three ways of getting more out of few labels:
#
# * **self-supervised learning**: teach the network about the images first, with a task whose
#   answers come from the images themselves (fill in a hidden part; recognise two views of the
#   same patch);
# * **transfer learning**: start from a network trained elsewhere instead of from random weights;
# * **curriculum learning**: show the network easy examples first, as a teacher would.
#
# Then we measure, live, what they buy: the Dice of a 3D U-Net trained from a handful of
# annotated slices, as in the 3D U-Net paper (Çiçek et al. 2016), with and without pretraining.
#
# **Prerequisites:** lesson 05 (training a U-Net with `labtools.training.fit`). Everything runs
# on a CPU; with `LABTOOLS_QUICK=1` the sizes are tiny (for tests), without it realistic.

# %%
import os
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from labtools import datasets, exercises, metrics, viz
from labtools.models import make_model
from labtools.training import (PredefinedCurriculum, SelfPaced, SmoothingCurriculum, fit, load_checkpoint,
                               predict, pretrain)
from labtools.training.contrastive import info_nce
from labtools.training.pretrain import mask_patches
from labtools.training.sparse import labels_on_slices

QUICK = os.environ.get("LABTOOLS_QUICK") == "1"
OUT = Path("labtools-output") / "07-few-labels"
OUT.mkdir(parents=True, exist_ok=True)
print("outputs go to", OUT.resolve())
torch.set_num_threads(os.cpu_count() or 1)

# %% [markdown]
# ## 1. The data: volumes, and labels on a few slices only
#
# We use the synthetic phantom in 3D (`datasets.phantom`): background, CSF, grey matter, white
# matter and lesions. An annotator labels a few whole slices per axis; every other voxel is
# **unlabelled** (`-1`), which `fit` ignores in the loss (lesson 05's sparse labels).
# `labels_on_slices(labels, (n_x, n_y, n_z))` keeps `n_k` evenly spaced slices along axis k.

# %%
SHAPE = (32, 32, 32) if QUICK else (64, 64, 48)
volumes = [datasets.phantom(SHAPE, n_lesions=2, seed=s) for s in range(4)]
train_images = [image for image, _ in volumes[:3]]
train_truth = [labels for _, labels in volumes[:3]]
test_image, test_truth = volumes[3]

sparse = labels_on_slices(train_truth[0], (2, 2, 1))
print(f"labelled voxels: {np.mean(sparse >= 0):.1%} of the volume")
figure, axes = plt.subplots(1, 2, figsize=(8, 4))
z = SHAPE[2] // 2
viz.show_labels(axes[0], train_truth[0][:, :, z], datasets.PHANTOM_CLASSES, image2d=train_images[0].array[:, :, z])
axes[0].set_title("every voxel labelled")
shown = np.where(sparse[:, :, z] >= 0, sparse[:, :, z], 0)
viz.show_labels(axes[1], shown, datasets.PHANTOM_CLASSES, image2d=train_images[0].array[:, :, z])
axes[1].set_title("2, 2, 1 slices: the lines are all we know here")
plt.show()

# %% [markdown]
# ## 2. Self-supervised learning: answers taken from the images
#
# A network trained from few labels has to learn two things at once: what the images look like
# (edges, textures, anatomy) and which label goes where. Only the second needs labels. A
# **pretext task** teaches the first from unlabelled images:
#
# * **generation-based** methods hide part of the input and ask the network to produce it:
#   inpainting, masked image modelling (masked autoencoders), reconstructing a distorted image.
#   To fill a hidden cube of brain, the network must know what brain tissue looks like around it.
# * **contrastive** methods show two randomly altered **views** of the same patch (flipped,
#   brighter, noisier) and ask that their representations agree, while representations of
#   *different* patches differ. The network learns what does not change under the alterations.
#
# `labtools.training.pretrain(images, model, method="masked" | "contrastive")` does both for any
# network `make_model` builds. Here is what the masked task sees:

# %%
rng = np.random.default_rng(0)
patch = torch.from_numpy(train_images[0].array[None, None, :, :, z].astype(np.float32))
masked, mask = mask_patches(patch, 0.5, rng)
figure, axes = plt.subplots(1, 2, figsize=(7, 3.5))
axes[0].imshow(patch[0, 0].T, cmap="gray", origin="lower")
axes[0].set_title("the image")
axes[1].imshow(masked[0, 0].T, cmap="gray", origin="lower")
axes[1].set_title("what the network sees: fill in the rest")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ### Contrastive learning and the InfoNCE loss
#
# Take a batch of B patches, make two views of each, and embed every view into a vector. For the
# i-th patch, its first view `z1[i]` must pick out its partner `z2[i]` among the B second views:
# a B-way classification. Its logits are the **cosine similarities** `s(z1[i], z2[j])` divided by
# a **temperature** τ, and its loss is the cross-entropy with the right answer j = i:
#
# $$\ell_i = -\log \frac{\exp(s(z1_i, z2_i)/\tau)}{\sum_{j=1}^{B} \exp(s(z1_i, z2_j)/\tau)}$$
#
# InfoNCE (van den Oord et al. 2018; SimCLR, Chen et al. 2020) averages this over the patches
# **and in both directions** (view 1 → view 2 and view 2 → view 1). A small τ sharpens the
# softmax: the hardest negatives (other patches that look alike) weigh most.
#
# ### Exercise 1: the InfoNCE loss
#
# Write `my_info_nce(z1, z2, temperature)` for two `(B, D)` torch tensors: normalise each row to
# length 1, build the `(B, B)` matrix of similarities over τ, and average the cross-entropy
# of its rows (view 1 → view 2) and of its columns (view 2 → view 1). `torch.nn.functional`
# has `normalize` and `cross_entropy`.

# %%
import torch.nn.functional as F


def my_info_nce(z1, z2, temperature=0.1):
    """Symmetric InfoNCE of two batches of embeddings (B, D); row i of both is one patch."""
    ### BEGIN SOLUTION
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    logits = z1 @ z2.T / temperature
    targets = torch.arange(len(z1))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
    ### END SOLUTION


# %%
def straightforward_info_nce(z1, z2, temperature):
    """InfoNCE as the formula reads: a loop over anchors, explicit sums of exponentials."""
    total = 0.0
    for anchors, others in ((z1, z2), (z2, z1)):
        for i in range(len(anchors)):
            similarity = torch.stack([F.cosine_similarity(anchors[i], others[j], dim=0) for j in range(len(others))])
            logits = similarity / temperature
            total = total - torch.log(torch.exp(logits[i]) / torch.exp(logits).sum())
    return float(total / (2 * len(z1)))


generator = torch.Generator().manual_seed(7)
z1 = torch.randn(6, 4, generator=generator)
z2 = z1 * 3 + 0.5 * torch.randn(6, 4, generator=generator)  # partners alike, lengths not
z3 = torch.randn(6, 4, generator=generator) + torch.tensor([2.0, 0, 0, 0])
with exercises.check(1, "the InfoNCE loss") as check:
    for a, b, tau in ((z1, z2, 0.1), (z1, z3, 0.5), (z3, z1, 1.0)):
        mine = my_info_nce(a, b, tau)
        check.close(f"my_info_nce(a batch of 6, τ = {tau})", float(mine), straightforward_info_nce(a, b, tau),
                    rtol=1e-4, hint="cosine similarities (rows normalised), divided by τ, cross-entropy in "
                                    "both directions, averaged.")
        check.close(f"my_info_nce(a batch of 6, τ = {tau}), against labtools", float(mine),
                    float(info_nce(a, b, tau)), rtol=1e-4)
print("your InfoNCE equals the formula, written out, and labtools' info_nce")

# %% [markdown]
# ## 3. Pretraining, then transfer
#
# We pretrain a small 3D U-Net on the three training volumes **without their labels** (masked
# reconstruction), then train the segmentation network from few labelled slices twice: from
# random weights, and starting from the pretrained ones with `fit(..., init=...)`. `init` copies
# every layer whose name and shape match, and lists what it skips: here the last layer, which
# reconstructed 1 intensity channel and must now give 5 class scores. This is **transfer
# learning**, the same mechanism that starts a network from one trained on another task or
# another hospital's scans. Across a **domain gap** (other scanner, other contrast, other
# anatomy) what transfers is less; the first layers (edges, textures) travel best, which is why
# one often freezes them for a while (`freeze_epochs`) and lets the new head settle first.

# %%
PATCH = (16, 16, 16) if QUICK else (32, 32, 32)
SECONDS = 1.5 if QUICK else 8.0        # the same training time for every run below


def new_network():
    torch.manual_seed(0)  # the same starting weights for every run
    return make_model("tiny_unet", 3, 1, 5, channels=(8, 16, 32))


def fresh(name):
    """An empty run folder under OUT (fit refuses to start over an earlier run's checkpoints)."""
    shutil.rmtree(OUT / name, ignore_errors=True)
    return OUT / name


history = pretrain(train_images, new_network(), method="masked", epochs=2 if QUICK else 40, steps_per_epoch=10,
                   batch_size=2, patch_size=PATCH, max_time=2 if QUICK else 15, out=OUT / "pretrained",
                   live=None, device="cpu")
print(f"masked pretraining: loss {history[0]['train_loss']:.3f} -> {history[-1]['train_loss']:.3f} "
      f"in {len(history)} epochs")
print(load_checkpoint(OUT / "pretrained" / "last.pt")["config"]["pretrain"], "pretraining saved")

# %% [markdown]
# ## 4. The label-efficiency curve, live
#
# For each number of annotated slices per axis, we train from scratch and from the pretrained
# weights for the same wall time, and score the prediction on a fifth volume the network never
# saw (mean Dice of the four tissues and the lesions). The full experiment, with three curricula
# and MNI152, is `benchmarks/label_efficiency.py`; its table is in `docs/benchmarks.md`.

# %%
SETTINGS = [(1, 1, 1), (3, 3, 2)] if QUICK else [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 5, 3)]


def trained_dice(setting, **options) -> float:
    pairs = [(image, labels_on_slices(truth, setting)) for image, truth in zip(train_images, train_truth)]
    network = new_network()
    fit(network, pairs, epochs=1000, steps_per_epoch=5, batch_size=2, patch_size=PATCH, max_time=SECONDS,
        augment=False, out=fresh(f"run-{'-'.join(map(str, setting))}-{len(options)}"), live=None, device="cpu",
        **options)
    prediction = predict(network, test_image, patch_size=PATCH)
    return float(np.mean([metrics.dice(prediction == c, test_truth == c) for c in (1, 2, 3, 4)]))


curve = {"scratch": [], "pretrained": []}
for setting in SETTINGS:
    curve["scratch"].append(trained_dice(setting))
    curve["pretrained"].append(trained_dice(setting, init=OUT / "pretrained" / "last.pt"))
    print(setting, {name: round(values[-1], 3) for name, values in curve.items()})

labels = ["/".join(map(str, s)) for s in SETTINGS]
for name, values in curve.items():
    plt.plot(labels, values, marker="o", label=name)
plt.xlabel("annotated slices per axis")
plt.ylabel("mean Dice on an unseen volume")
plt.ylim(0, 1)
plt.legend()
plt.show()

# %% [markdown]
# A few seconds of training on a CPU are far from the paper's hours on a GPU, so the numbers are
# low and noisy; what to look at is the *shape*: more annotated slices help, with diminishing
# returns, and whether pretraining shifts the curve up depends on how much training follows it
# (with a long training both end in the same place). Reading such a curve is the practical
# question: **how many slices must we annotate to reach a target?**
#
# ### Exercise 2: reading the curve
#
# Write `fewest_slices(settings, dice, target)`: the first setting (they are sorted from fewest
# to most annotations) whose Dice reaches `target` (at least `target`), or `None` when none does.

# %%
def fewest_slices(settings, dice, target):
    """The first of `settings` whose Dice is at least `target`; None if none is."""
    ### BEGIN SOLUTION
    for setting, value in zip(settings, dice):
        if value >= target:
            return setting
    return None
    ### END SOLUTION


# %%
table = [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 5, 3)]
paper_like = [0.40, 0.72, 0.80, 0.86]      # the shape of the 3D U-Net paper's table
with exercises.check(2, "reading the curve") as check:
    check.equal("fewest_slices(settings, [0.40, 0.72, 0.80, 0.86], target=0.8)",
                fewest_slices(table, paper_like, 0.8), (3, 3, 2),
                hint="the target is reached when Dice >= target: 0.80 counts.")
    check.equal("fewest_slices(settings, [0.40, 0.72, 0.80, 0.86], target=0.7)",
                fewest_slices(table, paper_like, 0.7), (2, 2, 1),
                hint="the first setting that reaches the target, not the last.")
    check.equal("fewest_slices(settings, [0.40, 0.72, 0.80, 0.86], target=0.9)",
                fewest_slices(table, paper_like, 0.9), None, hint="no setting reaches 0.9: return None.")
    check.equal("fewest_slices on a curve that dips, target 0.7",
                fewest_slices(table, [0.75, 0.60, 0.80, 0.86], 0.7), (1, 1, 1),
                hint="go through the settings in order and stop at the first that reaches the target.")
print("you can read a label-efficiency curve")

# %% [markdown]
# ## 5. Curriculum learning: easy things first
#
# People learn arithmetic before calculus. **Curriculum learning** (Bengio et al. 2009) orders
# what a network sees the same way. For tumour segmentation in PET (the CLIPS project on
# TMTV-Net), three families were compared, and `fit(..., curriculum=...)` has one of each:
#
# * a **predefined curriculum**: a difficulty score per case is known in advance (small or
#   faint lesions are hard); training starts on the easiest cases and admits harder ones on a
#   schedule (`PredefinedCurriculum(difficulty)`);
# * **self-paced learning** (Kumar et al. 2010): the network decides what is easy: a sample counts
#   in the loss only while its loss is below a threshold λ, and λ grows as training goes on, so
#   hard samples enter later (`SelfPaced()`);
# * **curriculum by smoothing** (Sinha et al. 2020): the feature maps are blurred by a Gaussian
#   whose width shrinks epoch after epoch, so the network first learns coarse structure, then
#   details (`SmoothingCurriculum()`).
#
# ### Exercise 3: the self-paced weighting rule
#
# Write `self_paced_weights(losses, threshold)`: for a 1D numpy array of per-sample losses, weight
# 1.0 for every loss at most `threshold` and 0.0 above it; but never all zeros: when every loss is
# above the threshold, keep the easiest sample (weight 1 for the smallest loss).

# %%
def self_paced_weights(losses, threshold):
    """Hard self-paced weights: 1 for losses <= threshold, else 0; the easiest kept if none qualifies."""
    ### BEGIN SOLUTION
    losses = np.asarray(losses, dtype=float)
    weights = (losses <= threshold).astype(float)
    if not weights.any():
        weights[np.argmin(losses)] = 1.0
    return weights
    ### END SOLUTION


# %%
def labtools_weights(losses, threshold):
    rule = SelfPaced()
    rule.threshold = threshold      # the λ of this step
    return rule.weights(torch.tensor(losses, dtype=torch.float64)).numpy()


with exercises.check(3, "the self-paced weighting rule") as check:
    for losses, threshold in (([0.2, 0.9, 0.4, 1.5], 0.5), ([0.5, 0.2, 0.8], 0.5), ([3.0, 2.0, 4.0], 1.0)):
        check.equal(f"self_paced_weights({losses}, threshold={threshold})",
                    np.asarray(self_paced_weights(np.array(losses), threshold), dtype=float),
                    labtools_weights(losses, threshold),
                    hint="1.0 where loss <= threshold (a loss equal to it counts), 0.0 elsewhere; if that "
                         "leaves no sample, give the smallest loss weight 1.")
print("your weights are those SelfPaced gives")

# %% [markdown]
# Each curriculum is a small object that `fit` consults before each epoch (and, for self-paced
# learning, at each step). On our volumes, the predefined curriculum's difficulty is the lesion
# volume (large lesions first):

# %%
lesion_volume = [int((truth == 4).sum()) for truth in train_truth]
print("lesion voxels per training volume:", lesion_volume)
pairs = [(image, labels_on_slices(truth, SETTINGS[-1])) for image, truth in zip(train_images, train_truth)]
for curriculum in (PredefinedCurriculum([-v for v in lesion_volume]), SelfPaced(), SmoothingCurriculum()):
    network = new_network()
    run = fit(network, pairs, epochs=1000, steps_per_epoch=5, batch_size=2, patch_size=PATCH, max_time=SECONDS,
              augment=False, out=fresh(f"curriculum-{type(curriculum).__name__}"), live=None, device="cpu",
              curriculum=curriculum)
    prediction = predict(network, test_image, patch_size=PATCH)
    dice = np.mean([metrics.dice(prediction == c, test_truth == c) for c in (1, 2, 3, 4)])
    print(f"{type(curriculum).__name__:<22} {len(run)} epochs, mean Dice {dice:.3f}")

# %% [markdown]
# Whether a curriculum helps depends on the data and on the training time; the literature
# reports gains mostly when labels are noisy or classes very unbalanced, and none on easy
# problems. `docs/benchmarks.md` records what each does on MNI152 and on the phantom, including
# where it does not help.
#
# ## Summary
#
# * Labels are expensive, images are not: **pretrain** on unlabelled images with a pretext task
#   (masked reconstruction, or contrastive learning with InfoNCE), then **transfer** the weights
#   (`fit(init=...)`), possibly freezing them for the first epochs.
# * **Curricula** order the training: predefined difficulty, self-paced thresholds, or smoothing.
# * Measure with a **label-efficiency curve** at a fixed training budget, and read it for the
#   annotation effort a target needs.

# %%
exercises.report()
