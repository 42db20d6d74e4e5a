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
# # Lesson 05: U-Net lab — brain tumour segmentation
#
# **Time to run:** about 3 minutes for Run All on a 2-core CPU, under a minute with `LABTOOLS_QUICK=1`
# (measured by `benchmarks/course_lessons.py`).
#
# **What you learn.** How a U-Net is built (encoder, decoder, skip connections), how big each of
# its levels is, how `labtools` trains one (patches, Dice + cross-entropy, live curves, checkpoints,
# CPU or GPU), how a network learns from sparse labels, and how to evaluate its predictions per
# class with Dice and HD95.
#
# **Prerequisites.** Lesson 00 (images and geometry); lessons 01–03 (upsampling, losses, metrics)
# help but are not required. Basic PyTorch (`nn.Module`, tensors).
#
# **Time.** About 60 minutes, of which two and a half minutes of training.
#
# **How to run.** On a CPU training takes two and a half minutes (a time budget stops it); on a CUDA GPU the
# same cell trains more epochs in the same time, under bf16 autocast. The data is the synthetic
# phantom, whose lesions play the tumours. If the Medical Segmentation Decathlon brain-tumour
# task (Task01, BraTS gliomas) is already in your data folder (`$LABTOOLS_DATA`, see lesson 00),
# the lab uses a few of its cases instead; it never downloads anything. `LABTOOLS_QUICK=1` shrinks
# everything to a one-minute run.
#
# There are three exercises: write the function body, then run the check after it.

# %%
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from labtools import datasets, exercises, losses, metrics, models, viz, widgets
from labtools.errors import DatasetNotFoundError
from labtools.training import (UNLABELLED, describe_device, fit, labels_from_scribbles, load_model,
                               predict, select_device)
from labtools.training import plan
from labtools.training.predict import inference_options
from labtools.training.sources import load_source, slices_2d

QUICK = os.environ.get("LABTOOLS_QUICK") == "1"
SEED = 0
torch.manual_seed(SEED)   # cells that draw at random seed again, so that a re-run repeats them
OUT = (Path("labtools-output") / "05-unet-lab").resolve()   # next to this notebook
OUT.mkdir(parents=True, exist_ok=True)
pd.set_option("display.precision", 3)
print("quick mode" if QUICK else "full mode")

# %% [markdown]
# ## 1. The U-Net
#
# A segmentation network must output one class score per voxel, at the input's resolution, while
# seeing enough context to know *what* a voxel belongs to. The U-Net (Ronneberger et al. 2015,
# "U-Net: Convolutional Networks for Biomedical Image Segmentation") does both with two paths:
#
# * the **encoder** (contracting path) applies two $3\times3$ convolutions per level, then a
#   $2\times2$ max pooling that halves the grid, and doubles the number of features at the next
#   level: the deeper the level, the coarser the grid and the larger the receptive field;
# * the **decoder** (expanding path) doubles the grid back at each level with a $2\times2$
#   transposed convolution of stride 2 (lesson 01), **concatenates** the encoder's features of the
#   same resolution (the *skip connection*, which brings back the fine detail pooling threw away),
#   and applies two more convolutions;
# * a $1\times1$ convolution maps the last features to one logit per class.
#
# Sizes: a $3\times3$ convolution with padding 1 keeps the grid; pooling maps $n \mapsto n/2$; a
# transposed convolution with kernel 2 and stride 2 maps $n \mapsto (n-1)\cdot 2 + 2 = 2n$. So an
# input of side $n$ is seen at $n, n/2, \dots, n/2^{L-1}$ over $L$ levels, and $n$ must be a multiple
# of $2^{L-1}$. (The 2015 paper used unpadded convolutions, which lose 2 pixels per convolution, and
# cropped the skip features to fit: "copy and crop". Padded convolutions, as here, avoid the crop.)
# The 3D U-Net (Çiçek et al. 2016) is the same with $3\times3\times3$ kernels.
#
# `labtools.models.TinyUNet` is this network in one screen of code (read
# `labtools/models/tiny_unet.py`); it adds instance normalisation after each convolution, which
# lets small batches train. `make_model` builds it, or MONAI's `UNet`, `DynUNet` (nnU-Net's),
# `AttentionUnet`, ... by name.

# %%
features = (8, 16, 32) if QUICK else (16, 32, 64, 128)
n_classes = 5                    # background, CSF, grey matter, white matter, lesion
torch.manual_seed(SEED)
net = models.make_model("tiny_unet", spatial_dims=2, in_channels=1, out_channels=n_classes,
                        channels=features)
print(net)
print(f"{models.count_parameters(net):,} parameters; input sizes must be multiples of "
      f"{models.size_divisor(net)}")

# %% [markdown]
# Where do the parameters sit? Level $\ell$ has an encoder block (or the bottom block at the
# deepest level), and above the bottom a decoder block and the transposed convolution that brings
# the level below up to this level's grid. The table counts them with
# `labtools.models.count_parameters`.

# %%
def level_table(network):
    """Parameters of each level of a TinyUNet: encoder, upsampling, decoder (a DataFrame)."""
    depth = len(network.down)
    rows = []
    for level in range(depth + 1):
        encoder = network.down[level] if level < depth else network.bottom
        # The decoder lists are ordered from the bottom up.
        up = network.upsample[depth - 1 - level] if level < depth else None
        decoder = network.up[depth - 1 - level] if level < depth else None
        rows.append({"level": level,
                     "features": network.labtools_spec["channels"][level],
                     "encoder": models.count_parameters(encoder),
                     "upsampling": models.count_parameters(up) if up is not None else 0,
                     "decoder": models.count_parameters(decoder) if decoder is not None else 0})
    table = pd.DataFrame(rows).set_index("level")
    table["total"] = table.sum(axis=1) - table["features"]
    return table


table = level_table(net)
print(table)
print("head (1x1 convolution):", models.count_parameters(net.head))
assert table["total"].sum() + models.count_parameters(net.head) == models.count_parameters(net)

# %% [markdown]
# The deepest levels hold most of the parameters: a $3\times3$ convolution from $c$ to $c'$
# features has $9cc' + c'$ parameters, and the features double at every level.
#
# ### Exercise 1: parameters of a convolution block
#
# Write `conv_block_parameters(n_in, n_out, spatial_dims)`: the number of parameters of one
# TinyUNet block, i.e. two convolutions with kernel size 3 in every spatial dimension (with bias),
# the first from `n_in` to `n_out` features and the second from `n_out` to `n_out`, each followed by
# an instance normalisation with a learned scale and shift per feature (ReLU has none). The check
# compares with `sum(p.numel() for p in block.parameters())` on blocks of 2D and 3D networks.

# %%
def conv_block_parameters(n_in, n_out, spatial_dims):
    """Parameters of two 3^d convolutions (n_in -> n_out -> n_out) with bias and affine norms."""
    ### BEGIN SOLUTION
    kernel = 3 ** spatial_dims
    first = kernel * n_in * n_out + n_out
    second = kernel * n_out * n_out + n_out
    norms = 2 * (2 * n_out)
    return first + second + norms
    ### END SOLUTION


# %%
net3d = models.make_model("tiny_unet", 3, in_channels=4, out_channels=4, channels=(8, 16, 32))
with exercises.check(1, "parameters of a convolution block") as check:
    for network, dims in ((net, 2), (net3d, 3)):
        channels = network.labtools_spec["channels"]
        n_in = [network.labtools_spec["in_channels"], *channels[:-2]]
        blocks = [(block, a, b) for block, a, b in zip(network.down, n_in, channels[:-1])]
        blocks.append((network.bottom, channels[-2], channels[-1]))
        blocks += [(block, 2 * c, c) for block, c in zip(network.up, channels[-2::-1])]  # decoders see 2c
        for block, a, b in blocks:
            check.equal(f"conv_block_parameters({a}, {b}, spatial_dims={dims})", conv_block_parameters(a, b, dims),
                        sum(p.numel() for p in block.parameters()),
                        hint="a convolution n -> m with kernel 3 in d dimensions has 3^d·n·m weights and m "
                             "biases; each instance norm has a scale and a shift per feature (2m).")

# %% [markdown]
# ### Exercise 2: the shapes inside the network
#
# Write `encoder_shapes(input_shape, features)`: for an input of shape `(C, H, W)` (or
# `(C, D, H, W)`) and the features per level, return the list of the shapes of the tensors each
# encoder block outputs (those are the skip connections), followed by the bottom block's output,
# without the batch axis. For `(1, 64, 64)` and `(8, 16, 32)`: `[(8, 64, 64), (16, 32, 32),
# (32, 16, 16)]`. The check runs the real network and records its tensors with forward hooks;
# it also checks that each transposed convolution gives back exactly the skip's shape, which is
# what makes the concatenation possible.

# %%
def encoder_shapes(input_shape, features):
    """Shapes (without batch) of the encoder blocks' outputs and of the bottom block's output."""
    ### BEGIN SOLUTION
    spatial = list(input_shape[1:])
    shapes = []
    for level, n in enumerate(features):
        shapes.append((n, *[s // 2 ** level for s in spatial]))
    return shapes
    ### END SOLUTION


# %%
def recorded_shapes(network, x):
    """Run `network` on `x` and return the output shapes of its blocks, recorded by forward hooks."""
    seen = {"down": [], "upsample": []}
    hooks = [block.register_forward_hook(
        lambda module, inputs, output: seen["down"].append(tuple(output.shape[1:])))
        for block in [*network.down, network.bottom]]
    hooks += [up.register_forward_hook(
        lambda module, inputs, output: seen["upsample"].append(tuple(output.shape[1:])))
        for up in network.upsample]
    with torch.no_grad():
        network(x)
    for hook in hooks:
        hook.remove()
    return seen


with exercises.check(2, "the shapes inside the network") as check:
    for network, shape in ((net, (1, 64, 64)), (net, (1, 96, 32)), (net3d, (4, 32, 16, 24))):
        seen = recorded_shapes(network, torch.zeros(1, *shape))
        assert seen["upsample"] == seen["down"][-2::-1]       # each upsampling gives back its skip's shape
        mine = encoder_shapes(shape, network.labtools_spec["channels"])
        check.equal(f"encoder_shapes({shape}, {network.labtools_spec['channels']})",
                    [tuple(int(n) for n in s) for s in mine] if isinstance(mine, (list, tuple)) else mine,
                    seen["down"],
                    hint="level l has features[l] channels and the input's spatial sizes divided by 2**l "
                         "(level 0 keeps the input's size); no batch axis.")

# %% [markdown]
# ## 2. The data
#
# A U-Net learns from (image, label map) pairs. By default this lab uses 2D slices of the phantom:
# each seed draws another brain, so training and validation images are different "subjects", and
# the lesions (class 4) are the tumours. `labtools.training.sources.load_source("phantom", dims=2)`
# is the same data `labtools train --data phantom` uses.
#
# With the Decathlon brain-tumour task on disk, the lab takes the axial slices that hold tumour
# from a few cases: four MRI channels (FLAIR, T1w, T1 with contrast, T2w) and four classes
# (background, oedema, non-enhancing tumour, enhancing tumour; Antonelli et al. 2022). We load
# only a few cases on purpose: each takes 143 MB of memory as float32, and
# `load_source("decathlon:Task01_BrainTumour", dims=2)` (what `labtools train` uses) would load all
# 484.

# %%
def brain_tumour_slices(n_train, n_val, every=4):
    """Training and validation 2D slices of a few Task01 cases, or None when it is not on disk."""
    try:
        task = datasets.decathlon("Task01_BrainTumour")   # never downloads (download=False)
    except DatasetNotFoundError as error:
        print("Task01_BrainTumour is not in the data folder, so this lab uses the phantom.\n"
              f"({str(error).split('(')[0].strip()}; see datasets/decathlon-task01-braintumour.md)")
        return None
    split = {"train": range(n_train), "val": range(n_train, n_train + n_val)}
    pairs = {name: [pair for case in cases for pair in slices_2d(*task[case], keep_every=every)]
             for name, cases in split.items()}
    classes = {int(k): name for k, name in task.labels.items()}
    return pairs["train"], pairs["val"], classes, len(task.modality), (1.0, 1.0)


tumours = None if QUICK else brain_tumour_slices(n_train=16, n_val=4)
if tumours is not None:
    train, val, classes, in_channels, spacing = tumours
elif QUICK:
    train = [datasets.phantom((64, 64), n_lesions=2, seed=s) for s in range(6)]
    val = [datasets.phantom((64, 64), n_lesions=2, seed=1000 + s) for s in range(2)]
    classes, in_channels, spacing = dict(datasets.PHANTOM_CLASSES), 1, (2.0, 2.0)
else:
    source = load_source("phantom", dims=2)
    train, val, classes = source.train, source.val, source.classes
    in_channels, spacing = source.in_channels, (2.0, 2.0)
print(f"{len(train)} training and {len(val)} validation slices; classes {classes}")

# %%
fig, axes = plt.subplots(2, 4, figsize=(9, 4.6))
for column, (image, labels) in enumerate(train[:4]):
    array = image.array if hasattr(image, "array") else np.asarray(image)
    axes[0, column].imshow((array[0] if array.ndim == 3 else array).T, cmap="gray", origin="lower")
    viz.show_labels(axes[1, column], labels, classes, legend=column == 3)   # background transparent
for ax in axes.ravel():
    ax.axis("off")
axes[0, 0].set_title("image (first channel)", loc="left")
axes[1, 0].set_title("labels", loc="left")
plt.show()

# %% [markdown]
# ## 3. Learning from sparse labels
#
# Drawing every voxel of a 3D label map takes hours. Çiçek et al. (2016, "3D U-Net: Learning Dense
# Volumetric Segmentation from Sparse Annotation") trained from a few annotated slices per volume:
# unannotated voxels get weight 0 in the loss, so they contribute nothing and get no gradient, and
# the network still predicts every voxel. labtools marks such voxels `UNLABELLED` (−1); the losses
# take `ignore_index=UNLABELLED` and `fit` passes it when the data hold any. Scribbles from lesson 04
# (0 = not labelled, classes 1..K) become training labels with `labels_from_scribbles`
# (class $k \mapsto k-1$, $0 \mapsto$ `UNLABELLED`).
#
# Let us check the promise on the Dice + cross-entropy loss: keep the labels of every 8th row
# only, and look at the gradient of the loss with respect to the logits.

# %%
image0, labels0 = train[0]
scribbles = np.zeros_like(labels0, dtype=np.uint8)
scribbles[::8] = labels0[::8] + 1                   # "annotated rows", classes 1..K
sparse = labels_from_scribbles(scribbles)
print("labelled voxels:", int((sparse != UNLABELLED).sum()), "of", sparse.size)

torch.manual_seed(SEED)
logits = torch.randn(1, n_classes if tumours is None else len(classes), *sparse.shape,
                     requires_grad=True)
target = torch.from_numpy(sparse.astype(np.int64))[None]
loss = losses.dice_ce_loss(logits, target, ignore_index=UNLABELLED)
loss.backward()
gradient = logits.grad.abs().sum(dim=1)[0].numpy()
print(f"loss {loss.item():.4f}; largest gradient at an unlabelled voxel: "
      f"{gradient[sparse == UNLABELLED].max():.1e}, at a labelled one: {gradient[sparse >= 0].max():.1e}")
assert gradient[sparse == UNLABELLED].max() == 0.0

# %% [markdown]
# Training on such labels is the same call as below with `sparse` pairs (or
# `training_pair_from_session(session)` from an interactive labeling session); see
# "Training from scribbles" in `docs/training.md`.
#
# ## 4. A plan for this dataset
#
# How big should the patches be? How many images per batch, how deep a network, which
# learning rate, how should the intensities be scaled? Tuning these by hand for every dataset is
# slow and easy to get wrong. nnU-Net (Isensee et al., Nature Methods 2021) showed that a fixed
# recipe plus a handful of rules that read the dataset does as well as expert tuning, on dozens
# of tasks. The rules look at a **fingerprint** of the data: voxel spacings, image sizes,
# intensities inside the labelled structures, the modality (CT intensities are Hounsfield units
# and mean the same in every scan; MRI intensities do not), how often each class occurs.
#
# `labtools.training.plan` applies such rules and says why it chose each value. Read its output
# below, then think about two of its rules:
#
# * **patch and batch from a budget**: a step may process only so many voxels (GPU memory, or on
#   a CPU time). A 2D slice that fits is taken whole; otherwise patches shrink along their longest
#   axis. The batch fills what is left. A bigger patch sees more context, a bigger batch gives a
#   smoother gradient: the budget trades one against the other.
# * **depth from the patch**: the network halves the grid until about 4 voxels are left per axis,
#   so the deepest features see the whole patch.
#
# Every choice can be overridden (`plan(data, dims=2, batch_size=4)`); only that choice changes.
# `labtools plan --data phantom` prints the same from the command line, and `labtools train`
# follows the plan unless told otherwise.

# %%
device = select_device("auto")
quick = dict(channels=(8, 16), epochs=3, steps_per_epoch=4, batch_size=4, patch_size=(64, 64)) if QUICK else {}
chosen = plan(train, dims=2, device=str(device), **quick)
print(chosen.describe())

# %% [markdown]
# ## 5. Training
#
# `labtools.training.fit` is one plain loop (read `labtools/training/loop.py`): each step draws a
# batch of random patches (some centred on foreground, so the small lesions are seen),
# augments them (flips, rotations and scaling, intensity and contrast changes, noise, a bias
# field, a simulated lower resolution: what differs between scanners), computes the loss (Dice +
# cross-entropy, as nnU-Net) and takes an AdamW step; the learning rate warms up, then decays
# along a cosine to the end of the time budget. After every epoch it segments the whole
# validation images with a sliding window and records the Dice of every class; the best epoch is
# saved as `best.pt`, next to the plan.
#
# On a CUDA GPU the forward pass runs under bf16 autocast and the data stay in GPU memory
# (lesson 00). The first output line of `fit` names the device. The live curves come from
# `labtools.widgets.live_curves()`, a callback that redraws the loss and Dice curves in place after
# each epoch (`fit`'s default `live="auto"` does the same in Jupyter).

# %%
print("device:", describe_device(device), "| bf16 autocast:", device.type == "cuda")
torch.manual_seed(SEED)
net = chosen.make_model(in_channels=in_channels, n_classes=max(classes) + 1)
run = OUT / time.strftime("run-%Y%m%d-%H%M%S")       # a new folder per run: fit never overwrites one
seconds = None if QUICK else 150                     # a time budget: the schedule is fitted to it
history = fit(net, train, val, out=run, device=device, seed=SEED, live=None,
              callbacks=[widgets.live_curves(class_names=classes)], **chosen.fit_options(max_time=seconds))
print(history)

# %%
columns = ["epoch", "train_loss", "val_loss", "val_dice"] + [f"val_dice_{k}" for k in sorted(classes)]
pd.DataFrame(list(history))[columns].set_index("epoch").tail(5)

# %% [markdown]
# Read the curves: the training loss should fall steadily; the validation Dice rises and then
# flattens. A validation loss that climbs while the training loss keeps falling is overfitting.
# The lesion class is learned last and stays the hardest: few voxels, varied contrast. With a GPU
# (or more minutes) the same cell runs more epochs; `fit(..., resume=True, epochs=...)` continues a
# run from its `last.pt`.
#
# ## 6. Evaluation
#
# We reload the best checkpoint (`load_model` rebuilds the network from the description stored in
# it), segment the validation images with `predict` (sliding window, the training patch size, the
# plan's normalisation: `inference_options(config)` gives what prediction must repeat) and
# score each class with `labtools.metrics.evaluate`: Dice (overlap) and HD95 (the 95th percentile of
# the boundary distances, in mm; lesson 03).

# %%
model, config = load_model(run / "best.pt", device=device)
predictions = [predict(model, image, **inference_options(config)) for image, _ in val]
rows = []
for case, ((image, truth), prediction) in enumerate(zip(val, predictions)):
    scores = metrics.evaluate(prediction, truth, spacing=spacing, labels=sorted(k for k in classes if k))
    for label, values in scores.items():
        rows.append({"case": case, "class": classes[label], "dice": values["dice"],
                     "hd95 (mm)": values["hd95"], "volume ref (ml)": values["volume_ref_ml"]})
results = pd.DataFrame(rows)
results.groupby("class", sort=False)[["dice", "hd95 (mm)"]].agg(["mean", "std"])

# %% [markdown]
# HD95 is infinite when a class is present in the reference but not predicted at all (or the
# reverse): no boundary to measure against (`docs/metrics.md`). Now look at the case with the most
# lesion: image, reference, prediction and where they disagree.

# %%
tumour_class = max(classes)
case = int(np.argmax([(truth == tumour_class).sum() for _, truth in val]))
image, truth = val[case]
array = image.array if hasattr(image, "array") else np.asarray(image)
fig, axes = plt.subplots(1, 4, figsize=(11, 3))
axes[0].imshow((array[0] if array.ndim == 3 else array).T, cmap="gray", origin="lower")
viz.show_labels(axes[1], truth, classes, legend=False)
viz.show_labels(axes[2], predictions[case], classes)                  # the legend names the classes
axes[3].imshow((predictions[case] != truth).T, cmap="Reds", origin="lower", interpolation="nearest")
for ax, title in zip(axes, ["image", "reference", "prediction", "disagreement"]):
    ax.set_title(title)
    ax.axis("off")
dice_tumour = metrics.dice(predictions[case] == tumour_class, truth == tumour_class)
fig.suptitle(f"validation case {case}: Dice of class '{classes[tumour_class]}' = {dice_tumour:.3f}")
plt.show()

# %% [markdown]
# ### Exercise 3: Dice per class
#
# Write `dice_per_class(prediction, truth, labels)`: a dict `{label: Dice}` of the two label maps
# for each label in `labels`, with $\mathrm{Dice} = 2|P\cap T| / (|P| + |T|)$ (Dice 1945;
# Sørensen 1948) of the masks $P$ = (prediction == label) and $T$ = (truth == label). When both masks
# are empty the Dice is undefined: return NaN (the course's convention, `docs/metrics.md`). The
# check compares with `labtools.metrics.dice` on the validation predictions and on a case where a
# class is missing.

# %%
def dice_per_class(prediction, truth, labels):
    """{label: Dice of (prediction == label) vs (truth == label)}; NaN when both are empty."""
    ### BEGIN SOLUTION
    scores = {}
    for label in labels:
        p, t = np.asarray(prediction) == label, np.asarray(truth) == label
        total = int(p.sum()) + int(t.sum())
        scores[label] = float("nan") if total == 0 else 2.0 * float((p & t).sum()) / total
    return scores
    ### END SOLUTION


# %%
labels_to_check = sorted(classes)
no_lesion = np.minimum(val[0][1], tumour_class - 1)   # no voxel of the last class anywhere
toy_pred, toy_truth = np.array([[1, 1, 0], [2, 0, 0]]), np.array([[1, 0, 0], [2, 2, 0]])
with exercises.check(3, "Dice per class") as check:
    # By hand: class 0 has |P| = |T| = 3, overlap 2 -> 2/3; class 1: |P| = 2, |T| = 1, overlap 1 -> 2/3;
    # class 2: |P| = 1, |T| = 2, overlap 1 -> 2/3 (IoU would give 1/2 each).
    check.close("dice_per_class(a 2×3 example, labels [0, 1, 2])", dice_per_class(toy_pred, toy_truth, [0, 1, 2]),
                {0: 2 / 3, 1: 2 / 3, 2: 2 / 3}, hint="Dice = 2|P ∩ T| / (|P| + |T|) with P = (prediction == label).")
    check.close(f"dice_per_class(a map without class {tumour_class}, itself)[{tumour_class}]",
                dice_per_class(no_lesion, no_lesion, labels_to_check)[tumour_class], np.nan,
                hint="when both masks are empty, 0/0 is undefined: return float('nan'), not 0 or 1.")
    for case, ((_, truth), prediction) in enumerate(zip(val, predictions)):
        check.close(f"dice_per_class(validation case {case})", dice_per_class(prediction, truth, labels_to_check),
                    {label: metrics.dice(prediction == label, truth == label) for label in labels_to_check})

# %% [markdown]
# ## What next
#
# * Train longer or bigger: `make_model("unet", ...)` (MONAI's residual U-Net) or `"dynunet"`
#   (nnU-Net's architecture), `fit(..., resume=True, epochs=...)`, or a 3D network on 3D patches
#   (`spatial_dims=3`).
# * The same from a terminal: `labtools train --data phantom --dims 2 --max-time 300 --out runs/x`,
#   then `labtools predict runs/x/best.pt scan.nii.gz --out segs`.
# * Lesson 06 evaluates segmentations over many cases and reports the results as a challenge would.

# %%
exercises.report()
