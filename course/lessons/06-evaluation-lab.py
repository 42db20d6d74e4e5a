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
# # Lesson 06: Evaluation lab — a PET tumour-volume report over a folder of cases
#
# **Time to run:** about 30 seconds for Run All on a 2-core CPU
# (measured by `benchmarks/course_lessons.py`).
#
# A PET segmentation project ends with a report per patient: Dice, Hausdorff distance, surface
# Dice, the total metabolic tumour volume (TMTV) found and expected in ml, the false-positive and
# false-negative volumes, and how many lesions were found, missed or invented. (Such a report is
# what the TMTV-Net evaluation scripts print for lymphoma PET; Yousefirizi et al. 2024.) In this
# lab you produce that report for a whole folder:
#
# 1. generate a small folder of synthetic PET-like cases (SUV images and reference lesion masks,
#    NIfTI files);
# 2. segment them with two classic methods: a fixed threshold SUV ≥ 2.5, and 41 % of each
#    lesion's SUVmax;
# 3. evaluate both folders with `labtools` (the Python API and the `labtools evaluate` command);
# 4. read the per-case report and the summary, decide what to do with missed cases, plot
#    predicted against true TMTV (identity line, Bland–Altman), and pick the better method.
#
# **Prerequisites:** lesson 03 (metrics). **Time:** about 60 minutes. CPU only.
# Files go to `labtools-output/06-evaluation-lab/` next to this notebook (a notebook's kernel
# runs in the notebook's folder); the first code cell prints the full path.

# %%
import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import ndimage
from skimage.measure import label as skimage_label

from labtools import datasets, exercises, io, metrics
from labtools.metrics.batch import evaluate_files, pair_files, summarize, write_csv

QUICK = os.environ.get("LABTOOLS_QUICK") == "1"
OUT = (Path("labtools-output") / "06-evaluation-lab").resolve()   # next to this notebook
N_CASES = 6 if QUICK else 20
# Same 192 mm field of view either way; QUICK uses 4 mm voxels (a typical PET grid), else 2 mm.
SHAPE, SPACING = ((48, 48, 40), (4.0, 4.0, 4.0)) if QUICK else ((96, 96, 80), (2.0, 2.0, 2.0))
TOLERANCE = 5.0      # NSD tolerance in mm, as in the TMTV-Net report
FULL = np.ones((3, 3, 3), bool)   # lesions are 26-connected components, the labtools default
shutil.rmtree(OUT, ignore_errors=True)
print(f"{N_CASES} cases of {SHAPE} voxels at {SPACING} mm -> {OUT}")

# %% [markdown]
# ## 1. Synthetic PET cases
#
# A PET image shows where a tracer (FDG, a glucose analogue) accumulates; its values are
# standardised uptake values (SUV: activity divided by injected dose per body weight), so that
# SUV ≈ 1 is an even spread. Lymphoma lesions take up several times more than normal tissue.
#
# Our cases start from the phantom's anatomy and lesions (`datasets.phantom`) and add an uptake
# model:
#
# * normal tissue gets a constant SUV per class (grey matter ~1.6 — the brain is avid for glucose —
#   white matter ~1.0, CSF ~0.4);
# * each lesion gets its own SUVmax between 2 and 12, so some lesions are faint;
# * half of the cases get a "physiological" hot spot (think brown fat or bowel) that is not a
#   tumour: a trap for thresholds;
# * the scanner blurs everything with a Gaussian point-spread function of 7 mm FWHM
#   (partial-volume effect: small lesions look fainter and larger than they are), then adds noise
#   whose variance grows with the signal, as counting statistics do.
#
# The reference mask is the true lesion extent, before blurring.

# %%
TISSUE_SUV = {0: 0.05, 1: 0.4, 2: 1.6, 3: 1.0}
FWHM_MM = 7.0


def pet_case(seed):
    """One synthetic PET case: (SUV image as an Image, reference lesion mask as uint8)."""
    rng = np.random.default_rng(seed)
    n_lesions = 1 if seed == 0 else int(rng.integers(1, 6))
    _, labels = datasets.phantom(SHAPE, n_lesions=n_lesions, seed=100 + seed, spacing=SPACING)
    lesions, count = ndimage.label(labels == 4, FULL)
    suv = np.vectorize(TISSUE_SUV.get, otypes=[np.float32])(np.minimum(labels, 3))
    for k in range(1, count + 1):
        # case 0 has a single faint lesion: a method relying on SUV >= 2.5 will miss it entirely
        suv[lesions == k] = 2.0 if seed == 0 else rng.uniform(2.0, 12.0)
    if seed % 2 == 1:
        centre = np.argwhere(labels == 2)[rng.integers((labels == 2).sum())]
        distance = np.sqrt(sum(((g - c) * s) ** 2 for g, c, s in zip(np.indices(SHAPE), centre, SPACING)))
        suv[(distance <= 6.0) & (labels != 4)] = rng.uniform(4.0, 7.0)
    sigma = [FWHM_MM / 2.355 / s for s in SPACING]
    blurred = ndimage.gaussian_filter(suv, sigma)
    noisy = blurred + rng.normal(0.0, 1.0, SHAPE) * 0.12 * np.sqrt(np.maximum(blurred, 0.0))
    image = io.Image(np.maximum(noisy, 0.0).astype(np.float32), spacing=SPACING)
    return image, (lesions > 0).astype(np.uint8)


for folder in ("images", "labels"):
    (OUT / folder).mkdir(parents=True, exist_ok=True)
for seed in range(N_CASES):
    image, reference = pet_case(seed)
    io.save(image, OUT / "images" / f"case_{seed:03d}.nii.gz")
    io.save(reference, OUT / "labels" / f"case_{seed:03d}.nii.gz", spacing=SPACING)
print(sorted(p.name for p in (OUT / "labels").iterdir()))

# %% [markdown]
# PET is usually read as a **maximum intensity projection** (MIP): the brightest voxel along each
# ray. Reference lesions are outlined in green.

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
for ax, seed in zip(axes, (0, 1, 2)):
    image, reference = io.load(OUT / "images" / f"case_{seed:03d}.nii.gz"), io.load(OUT / "labels" / f"case_{seed:03d}.nii.gz")
    ax.imshow(image.array.max(axis=1).T, origin="lower", cmap="gray_r", vmax=6)
    ax.contour(reference.array.max(axis=1).T, levels=[0.5], colors="lime", linewidths=1)
    ax.set_title(f"case_{seed:03d}: SUVmax {image.array.max():.1f}", fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. TMTV in millilitres
#
# The total metabolic tumour volume is the volume of all lesion voxels together:
# $\text{TMTV} = N_\text{voxels} \cdot \prod_i s_i / 1000$ ml, with $s_i$ the voxel size in mm
# along each axis (1 ml = 1000 mm³). It is a prognostic marker in diffuse large B-cell lymphoma
# (Barrington & Meignan 2019, J Nucl Med 60:1096), which is why the report gives it first.
#
# ### Exercise 1: TMTV from a mask and its spacing
#
# Write `tmtv_ml(mask, spacing)` returning the volume of the non-zero voxels of `mask` in ml.

# %%
def tmtv_ml(mask, spacing):
    """Total volume (ml) of the non-zero voxels of a mask with voxel size `spacing` (mm)."""
    ### BEGIN SOLUTION
    return float(np.count_nonzero(mask)) * float(np.prod(spacing)) / 1000.0
    ### END SOLUTION


# %%
reference = io.load(OUT / "labels" / "case_001.nii.gz")
label_map = np.zeros((6, 5, 4), np.uint8)
label_map[1:3, 1:4, 1] = 2                       # 6 voxels of a structure whose label value is 2
with exercises.check(1, "TMTV from a mask and its spacing") as check:
    hint = "count the non-zero voxels (np.count_nonzero), times the voxel volume in mm³ (np.prod(spacing)), / 1000."
    check.close("tmtv_ml(1000 voxels of 2×2×2 mm) in ml", tmtv_ml(np.ones((10, 10, 10)), (2.0, 2.0, 2.0)), 8.0,
                hint=hint, mistakes={"mm³ instead of ml": 8000.0, "ignoring the spacing": 1.0})
    check.close("tmtv_ml(6 voxels labelled 2, 1×1.5×2 mm) in ml", tmtv_ml(label_map, (1.0, 1.5, 2.0)), 0.018,
                hint=hint, mistakes={"summing the label values instead of counting voxels": 0.036})
    check.close("tmtv_ml(an empty mask)", tmtv_ml(np.zeros((4, 4, 4)), (1.0, 1.0, 1.0)), 0.0, hint=hint)
    check.close("tmtv_ml(case_001's reference)", tmtv_ml(reference.array, reference.spacing),
                metrics.volume_ml(reference.array, reference.spacing), hint=hint)
print(f"TMTV of case_001 = {metrics.volume_ml(reference.array, reference.spacing):.2f} ml")

# %% [markdown]
# ## 3. Two classic segmentations
#
# Before deep learning, and still in many clinical studies, lesions are delineated by thresholds
# (Barrington & Meignan 2019 review them for lymphoma):
#
# * **SUV ≥ 2.5**: every voxel above a fixed uptake. Simple; it misses faint lesions and keeps
#   every physiological hot spot.
# * **41 % of SUVmax**, per lesion: find candidates (here: components of SUV ≥ 2.5), and in a box
#   around each keep the connected region above 41 % of that candidate's maximum (the EANM
#   guideline's relative threshold; Boellaard et al. 2015). It adapts to each lesion's contrast,
#   but a faint lesion's 41 % level falls below normal tissue, so it leaks.
#
# These are the *methods under test* in this lab, not metrics, so we write them here.

# %%
def threshold_fixed(suv, level=2.5):
    """Lesion mask: every voxel with SUV >= level."""
    return suv >= level


def threshold_relative(suv, fraction=0.41, seed_level=2.5, margin=3):
    """Lesion mask: around each SUV >= seed_level component, the region above fraction x its SUVmax."""
    seeds, _ = ndimage.label(suv >= seed_level, FULL)
    mask = np.zeros(suv.shape, bool)
    for k, box in enumerate(ndimage.find_objects(seeds), start=1):
        box = tuple(slice(max(b.start - margin, 0), b.stop + margin) for b in box)
        local = suv[box]
        peak = np.unravel_index(np.argmax(np.where(seeds[box] == k, local, -np.inf)), local.shape)
        regions, _ = ndimage.label(local >= fraction * local[peak], FULL)
        mask[box] |= regions == regions[peak]          # the region holding this lesion's maximum
    return mask


METHODS = {"suv2.5": threshold_fixed, "41pct": threshold_relative}
for method, segment in METHODS.items():
    (OUT / f"pred_{method}").mkdir(exist_ok=True)
    for path in sorted((OUT / "images").glob("*.nii.gz")):
        image = io.load(path)
        io.save(segment(image.array).astype(np.uint8), OUT / f"pred_{method}" / path.name, affine=image.affine)

fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
image = io.load(OUT / "images" / "case_001.nii.gz")
for ax, name in zip(axes, ("labels", "pred_suv2.5", "pred_41pct")):
    mask = io.load(OUT / name / "case_001.nii.gz").array
    ax.imshow(image.array.max(axis=1).T, origin="lower", cmap="gray_r", vmax=6)
    ax.contour(mask.max(axis=1).T, levels=[0.5], colors="red" if name != "labels" else "lime", linewidths=1)
    ax.set_title(f"case_001: {name} ({metrics.volume_ml(mask, SPACING):.1f} ml)", fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 4. Evaluate the folders
#
# `metrics.batch.pair_files` pairs prediction and reference files by name; `evaluate_files`
# loads each pair, checks that they share a grid, reads the spacing from the reference header and
# runs `metrics.evaluate` (all metrics from one surface-distance computation); `write_csv` writes
# one row per case. NSD uses the report's 5 mm tolerance.

# %%
rows = {}
for method in METHODS:
    pairs, unmatched_pred, unmatched_ref = pair_files(OUT / f"pred_{method}", OUT / "labels")
    assert not unmatched_pred and not unmatched_ref
    rows[method] = evaluate_files(pairs, tolerance=TOLERANCE, progress=False)
    write_csv(OUT / f"metrics_{method}.csv", rows[method])
print(f"{len(pairs)} cases per method; columns: {list(rows['suv2.5'][0])}")

# %% [markdown]
# The same evaluation from the shell is one command, which is what you would run on a cluster
# after inference. It writes the per-case CSV and a `_summary.csv` next to it, and prints the
# summary. We run it with the same Python and check that it agrees with the API.

# %%
command = [sys.executable, "-m", "labtools.cli", "evaluate", str(OUT / "pred_41pct"), str(OUT / "labels"),
           "--tolerance", str(TOLERANCE), "--out", str(OUT / "cli_41pct.csv"), "--quiet"]
print("$ labtools evaluate", " ".join(command[4:]))
result = subprocess.run(command, capture_output=True, text=True)
print(result.stdout)
from_cli = pd.read_csv(OUT / "cli_41pct.csv")
np.testing.assert_allclose(from_cli["dice"], [r["dice"] for r in rows["41pct"]], equal_nan=True, rtol=1e-5, atol=1e-8)

# %% [markdown]
# ## 5. The per-case report
#
# First the printout for one patient, in the layout of the TMTV-Net report. Precision and recall
# here are voxel-wise; the lesion counts say whether each lesion was found at all. A reference
# lesion counts as found when the prediction touches it (any voxel; "approach 1"), or, stricter,
# when it covers more than half of it ("approach 2", `overlap=0.5`).

# %%
def print_report(case, method):
    row = next(r for r in rows[method] if r["case"] == case)
    image = io.load(OUT / "images" / f"{case}.nii.gz")
    pred = io.load(OUT / f"pred_{method}" / f"{case}.nii.gz").array
    ref = io.load(OUT / "labels" / f"{case}.nii.gz").array
    voxel_ml = np.prod(image.spacing) / 1000
    print(f"Patient: {case}   method: {method}   NSD tolerance: {TOLERANCE:g} mm")
    print(f"  SUVmax                 {image.array.max():8.2f}")
    print(f"  mean surface distance  {row['assd']:8.2f} mm")
    print(f"  Hausdorff distance     {row['hausdorff']:8.2f} mm")
    print(f"  Dice                   {row['dice']:8.3f}")
    print(f"  NSD at {TOLERANCE:g} mm           {row['nsd']:8.3f}")
    print(f"  TMTV predicted         {row['volume_pred_ml']:8.2f} ml")
    print(f"  TMTV true              {row['volume_ref_ml']:8.2f} ml")
    print(f"  TMTV FP (lesions)      {row['fp_volume_ml']:8.2f} ml   FP voxels {row['fp'] * voxel_ml:6.2f} ml")
    print(f"  TMTV FN (lesions)      {row['fn_volume_ml']:8.2f} ml   FN voxels {row['fn'] * voxel_ml:6.2f} ml")
    print(f"  TMTV TP                {row['tp'] * voxel_ml:8.2f} ml")
    print(f"  precision {100 * row['precision']:.1f} %   recall {100 * row['recall']:.1f} %")
    for title, overlap in (("approach 1 (any voxel)", 0.0), ("approach 2 (> 50 % covered)", 0.5)):
        lesions = metrics.lesion_detection(pred, ref, image.spacing, overlap=overlap)
        print(f"  {title}: TP lesions {lesions.tp}/{lesions.n_ref}, FN lesions {lesions.fn}/{lesions.n_ref}, "
              f"FP predictions {lesions.fp}/{lesions.n_pred}")


print_report("case_001", "suv2.5")
print()
print_report("case_001", "41pct")

# %% [markdown]
# Now every case in one table per method. Case 0 (one faint lesion) is missed by both: its
# prediction is empty, so Dice and NSD are 0 and the distances are **infinite**.

# %%
COLUMNS = ["dice", "hausdorff", "hd95", "nsd", "volume_ref_ml", "volume_pred_ml", "fp_volume_ml",
           "fn_volume_ml", "lesions_ref", "lesions_tp", "lesions_fn", "lesions_fp"]
tables = {method: pd.DataFrame(rows[method]).set_index("case")[COLUMNS] for method in METHODS}
for method, frame in tables.items():
    print(f"--- {method}")
    print(frame.round(2).to_string())

# %% [markdown]
# ## 6. The summary, and what to do with infinity
#
# A mean over cases must decide what an infinite Hausdorff distance (a missed case) contributes.
# Dropping it flatters the method: the worst case disappears. `summarize` replaces +inf by the
# image diagonal in mm by default (the largest distance possible in the image; BraTS uses 373 mm
# for its grid), or by a number you choose, or leaves it out with `inf_policy="exclude"`; in
# every case it counts how many values it touched (`n_one_empty`). Cases with both masks empty
# (NaN) are left out and counted in `n_both_empty`. The median is robust to the choice, the mean
# is not: report which policy you used.

# %%
summary_rows = []
for method in METHODS:
    for policy in ("diagonal", "exclude"):
        for item in summarize(rows[method], inf_policy=policy):
            if item["metric"] in ("dice", "hausdorff", "hd95", "nsd", "volume_pred_ml"):
                summary_rows.append({"method": method, "inf policy": policy, **item})
    write_csv(OUT / f"summary_{method}.csv", summarize(rows[method]))
summary = pd.DataFrame(summary_rows).drop(columns=["label", "std"])
summary.set_index(["method", "inf policy", "metric"]).round(3)

# %% [markdown]
# ## 7. TMTV: predicted against true
#
# TMTV is used as a number, so the question is also whether the predicted volume agrees with the
# true one. A scatter plot with the identity line shows the agreement; a **Bland–Altman plot**
# (Bland & Altman 1986, Lancet) shows the difference (predicted − true) against the mean of the
# two, with the mean difference (the bias) and the limits of agreement, bias ± 1.96 standard
# deviations, where 95 % of differences should fall.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
largest = max(max(frame.volume_ref_ml.max(), frame.volume_pred_ml.max()) for frame in tables.values())
axes[0].plot([0, largest], [0, largest], "k:", label="identity")
for (method, frame), colour in zip(tables.items(), ("tab:blue", "tab:orange")):
    true, predicted = frame.volume_ref_ml.to_numpy(), frame.volume_pred_ml.to_numpy()
    axes[0].scatter(true, predicted, color=colour, label=method)
    mean, difference = (true + predicted) / 2, predicted - true
    bias, sd = difference.mean(), difference.std(ddof=1)
    axes[1].scatter(mean, difference, color=colour, label=f"{method}: bias {bias:+.1f} ml")
    for level in (bias - 1.96 * sd, bias, bias + 1.96 * sd):
        axes[1].axhline(level, color=colour, ls="-" if level == bias else "--", lw=0.8)
axes[0].set_xlabel("true TMTV (ml)")
axes[0].set_ylabel("predicted TMTV (ml)")
axes[0].legend(fontsize=8)
axes[1].axhline(0, color="k", lw=0.5)
axes[1].set_xlabel("mean of true and predicted TMTV (ml)")
axes[1].set_ylabel("predicted − true (ml)")
axes[1].set_title("Bland–Altman (dashed: bias ± 1.96 SD)", fontsize=9)
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 8. Lesion counts by hand
#
# ### Exercise 2: TP, FN and FP lesions with connected components
#
# Write `lesion_counts(pred, ref)` returning `(tp, fn, fp)`:
#
# * label the connected components of both masks with `ndimage.label` and full connectivity
#   (`structure=np.ones((3, 3, 3))`);
# * a reference component is a TP when at least one of its voxels is predicted, else an FN;
# * a predicted component is an FP when none of its voxels is in the reference.

# %%
def lesion_counts(pred, ref):
    """(true-positive, false-negative, false-positive) lesion counts of two 3D binary masks."""
    ### BEGIN SOLUTION
    pred, ref = np.asarray(pred, bool), np.asarray(ref, bool)
    ref_components, n_ref = ndimage.label(ref, np.ones((3, 3, 3)))
    pred_components, n_pred = ndimage.label(pred, np.ones((3, 3, 3)))
    found = len(np.unique(ref_components[pred & (ref_components > 0)]))
    invented = n_pred - len(np.unique(pred_components[ref & (pred_components > 0)]))
    return found, n_ref - found, invented
    ### END SOLUTION


# %%
# By hand: two reference lesions that touch only at a corner (one lesion with full connectivity),
# one reference lesion far away that is missed, and one predicted blob that touches nothing.
toy_ref, toy_pred = np.zeros((9, 9, 9), bool), np.zeros((9, 9, 9), bool)
toy_ref[1:3, 1:3, 1:3] = toy_ref[3:5, 3:5, 3:5] = True      # corner to corner: 26-connected
toy_ref[7, 7, 7] = True                                       # missed
toy_pred[1:3, 1:3, 1:3] = True                                # finds the first lesion
toy_pred[7, 1, 1] = True                                      # a false positive
with exercises.check(2, "TP, FN and FP lesions") as check:
    hint = ("components come from ndimage.label(mask, np.ones((3, 3, 3))) (26 neighbours); a reference "
            "component is found if any of its voxels is predicted; return the tuple (tp, fn, fp) in that order.")
    check.equal("lesion_counts(a 9×9×9 example worked out by hand)", tuple(lesion_counts(toy_pred, toy_ref)),
                (1, 1, 1), hint=hint)
    for method in METHODS:
        for path in sorted((OUT / "labels").glob("*.nii.gz")):
            ref = io.load(path).array
            pred = io.load(OUT / f"pred_{method}" / path.name).array
            expected = metrics.lesion_detection(pred, ref, SPACING)
            # scikit-image's labelling (connectivity 3 = 26 neighbours) counts the same components
            assert skimage_label(ref, connectivity=3).max() == expected.n_ref
            check.equal(f"lesion_counts(pred_{method}/{path.name}, labels/{path.name})",
                        tuple(lesion_counts(pred, ref)), (expected.tp, expected.fn, expected.fp), hint=hint)
print("your lesion counts equal labtools' lesion_detection on every case")

# %% [markdown]
# ## 9. Which method is better?
#
# ### Exercise 3: pick the better method from the report
#
# Write `better_method(tables)`: given `{method: per-case DataFrame}` (the `tables` above),
# return the name of the method with the higher **median** Dice over the cases. Then answer the
# questions below in the markdown cell.

# %%
def better_method(tables):
    """Name of the method whose per-case Dice has the highest median."""
    ### BEGIN SOLUTION
    medians = {name: frame["dice"].median() for name, frame in tables.items()}
    return max(medians, key=medians.get)
    ### END SOLUTION


# %%
medians = {name: float(np.median([r["dice"] for r in rows[name]])) for name in METHODS}
# Made-up tables where the mean and the median disagree (a: one failed case pulls its mean down),
# and where the best mean Hausdorff points the other way too.
skewed = {"a": pd.DataFrame({"dice": [0.0, 0.8, 0.85, 0.9], "hausdorff": [np.inf, 9.0, 8.0, 7.0]}),
          "b": pd.DataFrame({"dice": [0.7, 0.72, 0.75, 0.6], "hausdorff": [5.0, 6.0, 5.5, 6.5]})}
three = {"x": pd.DataFrame({"dice": [0.5, 0.6, 0.9]}), "y": pd.DataFrame({"dice": [0.55, 0.65, 0.7]}),
         "z": pd.DataFrame({"dice": [0.2, 0.62, 0.95]})}
with exercises.check(3, "pick the better method") as check:
    hint = "compute the median of each table's 'dice' column (frame['dice'].median()) and return the name of the largest."
    check.equal("better_method(a: Dice 0, 0.8, 0.85, 0.9; b: Dice 0.7, 0.72, 0.75, 0.6)", better_method(skewed), "a",
                hint=hint, mistakes={"the mean instead of the median": "b"})
    check.equal("better_method(three methods x, y, z)", better_method(three), "y",
                hint=hint, mistakes={"the mean instead of the median": "x"})
    check.equal("better_method(the two thresholds' tables)", better_method(tables), max(medians, key=medians.get),
                hint=hint)
print(f"median Dice {({k: round(v, 3) for k, v in medians.items()})} -> {max(medians, key=medians.get)}")

# %% [markdown]
# **Questions.** (a) Does the method with the better median Dice also have the smaller TMTV bias
# in the Bland–Altman plot? (b) Which kind of error does each method make (look at the FP and FN
# volumes and lesion counts)? (c) Would you report the mean Hausdorff distance with the
# `"exclude"` policy? Why not?

# %% [markdown]
# ### BEGIN SOLUTION
# (a) Not necessarily: Dice rewards overlap, TMTV only size, and errors of opposite sign cancel
# in a volume. Here both thresholds over-size bright lesions (the scanner's blur spreads a lesion
# of SUV 10 well beyond the 2.5 level, and 41 % of a high SUVmax sits lower than the blurred
# edge), so both have a positive bias; read the Bland–Altman bias and limits, not only the Dice.
# (b) SUV ≥ 2.5: false-positive lesions from physiological hot spots, over-sized bright lesions,
# and it misses lesions whose blurred SUVmax stays below 2.5. 41 %: the same false positives (the
# hot spots seed it too), regions that leak into normal tissue around low-contrast lesions, and
# faint lesions lost when they merge with a bright neighbour into one candidate (one SUVmax per
# candidate). Both miss case 0 entirely.
# (c) No: excluding the infinite distances removes exactly the cases where the method failed
# completely, so the mean looks better than the method is. Replace them by a stated worst value
# (the image diagonal) and give the number of such cases, or report the median.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# * A folder evaluation is three calls (`pair_files`, `evaluate_files`, `summarize`) or one
#   command (`labtools evaluate PRED REF --tolerance 5 --out metrics.csv`), with the same numbers.
# * The report per case combines overlap (Dice, precision, recall), boundary (HD, NSD), volume
#   (TMTV true and predicted, FP and FN volumes in ml) and detection (lesion counts).
# * Missed cases give infinite distances: choose and state a policy; check medians.
# * For a volume biomarker, look at agreement (identity line, Bland–Altman), not only at Dice.
#
# The CSV files in `labtools-output/06-evaluation-lab/` open in any spreadsheet. Replace
# `pred_41pct/` by your own network's predictions (lesson 05) and rerun section 4.

# %%
exercises.report()
