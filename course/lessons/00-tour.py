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
# # Lesson 00: a tour of labtools
#
# **Time to run:** about 15 seconds for Run All on a 2-core CPU
# (measured by `benchmarks/course_lessons.py`).
#
# **What you learn.** What a medical image is for a program: an array of voxel values *plus* its
# geometry (voxel size, position and orientation in the scanner, stored in the NIfTI header). You
# meet the two data sets every lesson uses (a synthetic phantom and the real MNI152 template), the
# three ways labtools is used (notebooks, the napari plugin, the grader), how to train on a CPU or
# a GPU, and where downloaded data lives.
#
# **Prerequisites.** Python and numpy; nothing about medical imaging.
#
# **Time.** About 45 minutes.
#
# **How to run.** Top to bottom, in JupyterLab (`make demo` installs everything). Nothing here
# needs a GPU or a download. Set the environment variable `LABTOOLS_QUICK=1` before starting
# Jupyter to get the small sizes the test suite uses.
#
# There are three exercises (marked **Exercise**): write the body of the function, then run the
# cell after it, which checks your answer against labtools and nibabel.

# %%
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import torch

import labtools
from labtools import datasets, exercises, io, metrics, viz

QUICK = os.environ.get("LABTOOLS_QUICK") == "1"
torch.manual_seed(0)
OUT = (Path("labtools-output") / "00-tour").resolve()   # next to this notebook
OUT.mkdir(parents=True, exist_ok=True)
print("labtools", labtools.__version__, "| quick mode" if QUICK else "| full sizes", "| files go to", OUT)

# %% [markdown]
# ## 1. The phantom: a synthetic brain you can make in a second
#
# `datasets.phantom` draws a brain-like volume and its label map from a seed: CSF, grey matter,
# white matter and a few tumour-like lesions, with noise and a smooth intensity bias as in a real
# scan. The same arguments always give the same arrays, which makes it the data of the tests and of
# quick experiments. It returns an `Image` (the intensities with their geometry) and a plain
# integer array of labels.

# %%
shape = (64, 64, 48) if QUICK else (96, 96, 72)
image, labels = datasets.phantom(shape, n_lesions=3, seed=0)
print(image)
print("labels:", labels.dtype, labels.shape, "classes", datasets.PHANTOM_CLASSES)

# %%
z = int(np.argmax((labels == 4).sum(axis=(0, 1))))   # the axial slice with the most lesion
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
axes[0].imshow(image.array[:, :, z].T, cmap="gray", origin="lower")
axes[0].set_title(f"intensity, slice z={z}")
viz.show_labels(axes[1], labels[:, :, z], datasets.PHANTOM_CLASSES, image2d=image.array[:, :, z], alpha=0.6)
axes[1].set_title("labels (background transparent)")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# We show `array[:, :, z].T` with `origin="lower"`: the first array axis runs left to right and
# the second bottom to top, as in a radiological "x, y" view. Which way is *left* in the patient is
# not a property of the array at all: it is in the image's geometry, next.

# %% [markdown]
# ## 2. An image is an array plus its geometry
#
# A voxel index $(i, j, k)$ says nothing about millimetres. The NIfTI header stores a $4\times4$
# **affine** matrix $A$ that maps indices to world coordinates in mm (the scanner's frame, with
# axes pointing to the patient's Right, Anterior and Superior, "RAS+"):
#
# $$\begin{pmatrix} x \\ y \\ z \\ 1\end{pmatrix} = A \begin{pmatrix} i \\ j \\ k \\ 1\end{pmatrix},
# \qquad A = \begin{pmatrix} R\,\mathrm{diag}(s) & t \\ 0 & 1 \end{pmatrix}$$
#
# with $s$ the voxel size (the **spacing**) per axis, $R$ a rotation (with possible flips) and $t$
# the world position of voxel $(0, 0, 0)$. The orientation code (e.g. `"RAS"`, `"LPS"`) says
# towards which patient direction each array axis points. (Formats: NIfTI-1 specification,
# Cox et al. 2004, sections on `qform` and `sform`.)
#
# `labtools.io.save` writes an `Image` (or an array with `spacing=`) to NIfTI, `io.load` reads it
# back. Let us give the phantom anisotropic voxels, as in a clinical scan with thick slices.

# %%
thick, thick_labels = datasets.phantom((64, 64, 24) if QUICK else (96, 96, 36), seed=1,
                                       spacing=(1.0, 1.0, 3.0))
path = io.save(thick, OUT / "phantom_thick.nii.gz")
loaded = io.load(path)
print(loaded)
print("spacing (mm):", loaded.spacing)
print("orientation:", loaded.orientation)
print("voxel volume (ml):", loaded.voxel_volume_ml)
print("affine:\n", loaded.affine)

# %% [markdown]
# What the header says: nibabel reads it without loading the voxels. `dim` holds the number of
# axes and their sizes, `pixdim` the voxel sizes (its first entry is the sign of the `qform`
# orientation), `xyzt_units` the unit, and `qform_code`/`sform_code` say whether the two stored
# affines are meaningful (1 = scanner coordinates). `labtools.io` keeps the header it read in
# `meta["nifti_header"]`, so a file loaded and saved again keeps it.

# %%
header = nib.load(path).header
print("dim      ", header["dim"])
print("pixdim   ", header["pixdim"])
print("units    ", header.get_xyzt_units())
print("data type", header.get_data_dtype())
print("qform/sform codes", int(header["qform_code"]), int(header["sform_code"]))
assert "nifti_header" in loaded.meta

# %% [markdown]
# Shown without its geometry, the thick-slice volume looks squashed: a sagittal slice has 3 mm
# between rows but 1 mm between columns. `imshow(..., aspect=...)` with the ratio of the spacings
# draws it in millimetres.

# %%
x = thick.shape[0] // 2
fig, axes = plt.subplots(1, 2, figsize=(7, 3))
for ax, aspect, title in zip(axes, [1.0, thick.spacing[2] / thick.spacing[1]],
                             ["voxels (wrong)", "millimetres (right)"]):
    ax.imshow(thick.array[x].T, cmap="gray", origin="lower", aspect=aspect)
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# ### Exercise 1: volume of a structure in millilitres
#
# Write `structure_volume_ml(labels, spacing, label)`: the volume, in millilitres, of all voxels
# of `labels` equal to `label`, for voxels of size `spacing` (mm per axis). One ml is 1000 mm³.
# Use only numpy. The check compares with `Image.voxel_volume_ml` and `labtools.metrics.volume_ml`.

# %%
def structure_volume_ml(labels, spacing, label):
    """Volume in ml of the voxels of `labels` equal to `label` (spacing in mm)."""
    ### BEGIN SOLUTION
    voxel_mm3 = float(np.prod(spacing))
    return float(np.count_nonzero(np.asarray(labels) == label)) * voxel_mm3 / 1000.0
    ### END SOLUTION


# %%
with exercises.check(1, "volume of a structure in millilitres") as check:
    for label, name in datasets.PHANTOM_CLASSES.items():
        count = int((thick_labels == label).sum())
        expected_ml = metrics.volume_ml(thick_labels == label, spacing=thick.spacing)
        check.close(f"structure_volume_ml(thick_labels, {thick.spacing}, label={label}) ({name})",
                    structure_volume_ml(thick_labels, thick.spacing, label), expected_ml,
                    hint="count the voxels equal to `label` and multiply by the volume of one voxel "
                         "(the product of the spacing, in mm³); 1 ml = 1000 mm³.",
                    mistakes={"mm³ instead of ml (no division by 1000)": expected_ml * 1000,
                              "ignoring the spacing (1 mm³ per voxel)": count / 1000})
        print(f"{name:13s} {expected_ml:8.2f} ml")

# %% [markdown]
# ## 3. MNI152: a real brain, with a real affine
#
# The MNI152 template is the average of 152 adult T1-weighted MRI scans registered together
# (Fonov et al. 2011, the "2009" version). labtools ships it (through nilearn, offline) at 1 or
# 2 mm, with a 4-class tissue map derived from its tissue priors: 1 background, 2 CSF/other,
# 3 grey matter, 4 white matter. Its affine puts the world origin $(0, 0, 0)$ near the anterior
# commissure, so voxel $(0, 0, 0)$ is *not* at the origin.

# %%
mni, mni_labels = datasets.mni152(2)
print(mni)
print("orientation", mni.orientation, "(nibabel says", "".join(nib.aff2axcodes(mni.affine)) + ")")
print("affine:\n", mni.affine)
print("classes", datasets.MNI152_CLASSES)

# %%
centre = [s // 2 for s in mni.shape]
views = {"sagittal": (mni.array[centre[0]], mni_labels[centre[0]]),
         "coronal": (mni.array[:, centre[1]], mni_labels[:, centre[1]]),
         "axial": (mni.array[:, :, centre[2]], mni_labels[:, :, centre[2]])}
fig, axes = plt.subplots(2, 3, figsize=(9, 5.5))
for column, (name, (intensity, tissue)) in enumerate(views.items()):
    axes[0, column].imshow(intensity.T, cmap="gray", origin="lower")
    # Class 1 ("background") is left transparent; the legend names the others.
    viz.show_labels(axes[1, column], tissue, datasets.MNI152_CLASSES, background=1,
                    legend=column == 2)
    axes[0, column].set_title(name)
for ax in axes.ravel():
    ax.axis("off")
plt.show()

# %% [markdown]
# ### Exercise 2: world coordinates of voxels
#
# Write `voxel_to_world(affine, ijk)`: `ijk` is an array of shape `(n, 3)` of voxel indices;
# return the `(n, 3)` world coordinates in mm, using the formula of section 2 (homogeneous
# coordinates, or $R\,\mathrm{diag}(s)\cdot ijk + t$). Use numpy only; the check compares with
# `nibabel.affines.apply_affine`, on the MNI152 affine and on an oblique one.

# %%
def voxel_to_world(affine, ijk):
    """World coordinates (mm) of the voxel indices `ijk` (shape (n, 3)) under `affine`."""
    ### BEGIN SOLUTION
    ijk = np.asarray(ijk, dtype=float)
    return ijk @ np.asarray(affine)[:3, :3].T + np.asarray(affine)[:3, 3]
    ### END SOLUTION


# %%
from nibabel.affines import apply_affine, from_matvec  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

corners = np.array([[0, 0, 0], [98, 116, 94], [49, 67, 36], [10, 0, 5]])
oblique = from_matvec(Rotation.from_euler("xyz", [10, -20, 5], degrees=True).as_matrix()
                      @ np.diag([0.8, 0.8, 3.0]), [-90.0, 120.0, -40.0])
random_voxels = np.random.default_rng(1).integers(0, 100, size=(50, 3))
with exercises.check(2, "world coordinates of voxels") as check:
    for name, affine, ijk in [("MNI152's affine", mni.affine, corners),
                              ("an oblique affine", oblique, random_voxels)]:
        check.close(f"voxel_to_world({name}, {len(ijk)} voxels)", voxel_to_world(affine, ijk),
                    apply_affine(affine, ijk),
                    hint="world = R·diag(s)·ijk + t: the 3×3 block of the affine times each voxel "
                         "(as a column; for rows, ijk @ A[:3, :3].T), plus the last column A[:3, 3].")

# %% [markdown]
# With the affine we can go the other way too: which voxel holds the world origin of MNI space,
# the anterior commissure? The inverse affine answers (here with nibabel).

# %%
origin_voxel = np.round(apply_affine(np.linalg.inv(mni.affine), [0.0, 0.0, 0.0])).astype(int)
print("world (0, 0, 0) mm is voxel", origin_voxel.tolist(), "- tissue class",
      int(mni_labels[tuple(origin_voxel)]))

# %% [markdown]
# ## 4. The three faces of labtools
#
# The same functions are used in three places, so a number (a Dice score, a volume) is the same
# wherever you see it.
#
# **Notebooks** (this course). `labtools.widgets` holds the notebook views: `SliceViewer` scrolls
# through a volume with its labels as an overlay, in millimetres; `view3d` shows it in 3D (with
# ipyniivue, offline). Widgets need a live Jupyter frontend to be seen: in a plain script, or
# before you touch them, they only hold their state. Every widget can also be driven from code,
# as the cell after the viewer does.

# %%
from labtools import widgets  # noqa: E402

# MNI152's class 1 is "outside the brain": shift the classes down so that it becomes 0, which
# the viewers leave transparent.
tissue = mni_labels - 1
tissue_names = {k - 1: name for k, name in datasets.MNI152_CLASSES.items() if k > 1}
viewer = widgets.SliceViewer(mni, tissue, opacity=0.3, names=tissue_names)
viewer

# %% [markdown]
# The viewer's controls are ordinary ipywidgets (`viewer.sliders`, `viewer.plane_dropdown`,
# `viewer.opacity_slider`); setting `viewer.index` or `viewer.axis` from code moves them, as your
# mouse would. The picture is drawn in Python, so `viewer.rgb()` gives it as an array.

# %%
viewer.index = int(origin_voxel[viewer.axis])     # the axial slice through the world origin
print("showing slice", viewer.index, "along voxel axis", viewer.axis, "- picture", viewer.rgb().shape)
viewer.axis = "all three"                          # sagittal, coronal and axial side by side

# %%
widgets.view3d(mni, tissue)

# %% [markdown]
# **The napari plugin** is for real labelling work: a desktop viewer (needs a display) with docks
# for interactive pixel classification, training and evaluation. Start it with `napari` from the
# project's environment and open **Plugins → labtools**, or directly
# `napari -w labtools Evaluation`; open NIfTI files with the labtools reader
# (`napari --plugin labtools scan.nii.gz`). See `docs/napari.md`. The plugin is found through the
# `napari.manifest` entry point, which we can list without starting napari:

# %%
from importlib.metadata import entry_points  # noqa: E402

for entry in entry_points(group="napari.manifest"):
    print(f"napari plugin {entry.name!r}: manifest {entry.value}")

# %% [markdown]
# **The grader.** Instructors write an assignment as a solution notebook with `### BEGIN SOLUTION`
# markers (this lesson is written the same way); `labtools assign FOLDER --out DIR` writes the
# student notebook with the solutions replaced by stubs, and
# `labtools grade FOLDER SUBMISSIONS --out DIR` grades the students' notebooks in a sandbox, with
# feedback per function (`docs/grading.md`). Here is the student version of one assignment:

# %%
from labtools import grading  # noqa: E402

assignment = Path(labtools.__file__).resolve().parents[1] / "course" / "assignments" / "metrics-basics"
written = grading.assign(assignment, OUT / "assignment", check_solution=False)
student_cells = json.loads(written[0].read_text())["cells"]
print(next("".join(cell["source"]) for cell in student_cells if "def dice_score" in "".join(cell["source"])))

# %% [markdown]
# ## 5. CPU or GPU
#
# Everything in this course runs on a laptop CPU; the U-Net lab (lesson 05) trains faster on a GPU.
# `labtools.training.select_device("auto")` picks a CUDA GPU, then Apple's MPS, then the CPU, and
# `fit` uses it (its first output line names the device).

# %%
from labtools.training import select_device  # noqa: E402

device = select_device("auto")
print("training would run on:", device, "| CUDA available:", torch.cuda.is_available())

# %% [markdown]
# What changes on a GPU (`docs/training.md`): the forward pass runs under **bf16 autocast**.
# bfloat16 keeps float32's 8 exponent bits (its range) but only 7 mantissa bits, so each number
# carries a relative rounding error of up to $2^{-8} \approx 0.4\,\%$. In exchange, convolutions run
# on the GPU's tensor cores and activations take half the memory; unlike float16, whose range is
# small, bf16 needs no loss scaling. The loss itself is
# computed in float32. The CPU supports the same autocast, so we can look at the effect here:

# %%
conv = torch.nn.Conv2d(1, 8, 3, padding=1)
slice_tensor = torch.from_numpy(mni.array[:, :, centre[2]].copy())[None, None]
with torch.no_grad():
    exact = conv(slice_tensor)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        approximate = conv(slice_tensor)
relative = ((approximate.float() - exact).abs().max() / exact.abs().max()).item()
print("dtype under autocast:", approximate.dtype, "| bf16 epsilon:", torch.finfo(torch.bfloat16).eps)
print(f"largest difference: {relative:.2%} of the largest output")

# %% [markdown]
# Other differences on a GPU: `fit` keeps the training cases in GPU memory when they fit, and
# asks cuDNN to pick the fastest convolution kernels, so GPU runs are not bit-for-bit repeatable
# (CPU runs are). On a machine with several GPUs, `torchrun` trains on all of them.
#
# ## 6. Where data lives
#
# The phantom and MNI152 need no download. Real data sets (the Medical Segmentation Decathlon
# tasks) are downloaded once, on request, into the data folder: `$LABTOOLS_DATA` when set, else
# `~/.cache/labtools`. `labtools datasets` (a shell command) lists them and whether each is on
# disk; here we call the same command from Python.

# %%
from labtools.cli import main as labtools_command  # noqa: E402

exit_status = labtools_command(["datasets"])   # 0: success, as in a shell

# %% [markdown]
# Asking for a task that is not on disk never downloads by accident: without `download=True`
# labtools raises `DatasetNotFoundError`, whose message says where it looked.

# %%
from labtools.errors import DatasetNotFoundError  # noqa: E402

try:
    task = datasets.decathlon("Task04_Hippocampus")
    print("on disk:", task)
except DatasetNotFoundError as error:
    print("not downloaded:", str(error).splitlines()[0])

# %% [markdown]
# ### Exercise 3: bring an image to RAS order
#
# Scanners and tools do not all store voxels in the same order: DICOM-based tools often write
# LPS (the first axis runs towards the patient's Left, the second Posterior). Many viewers and
# networks assume RAS. Write `to_ras(array, affine)` for the case where every array axis already
# runs along one world axis (the affine's $3\times3$ part is diagonal, possibly with negative
# entries): flip each axis whose diagonal entry is negative and return `(new_array, new_affine)`,
# such that every voxel keeps its world position. Hint: flipping axis $a$ of length $n$ maps index
# $i$ to $n-1-i$; the new affine is the old one times the affine of that index change.
# The check compares with `nibabel.as_closest_canonical`.

# %%
def to_ras(array, affine):
    """(array, affine) with every axis flipped to point to R, A or S (diagonal affines)."""
    ### BEGIN SOLUTION
    array, affine = np.asarray(array), np.asarray(affine, dtype=float)
    flip = np.eye(4)
    for axis in range(3):
        if affine[axis, axis] < 0:
            array = np.flip(array, axis=axis)
            flip[axis, axis] = -1.0
            flip[axis, 3] = array.shape[axis] - 1
    return array, affine @ flip
    ### END SOLUTION


# %%
lps_affine = np.diag([-2.0, -2.0, 2.0, 1.0])
lps_affine[:3, 3] = [98.0, 98.0, -72.0]
lps_array = mni.array[::-1, ::-1]          # the same brain stored in LPS order
canonical = nib.as_closest_canonical(nib.Nifti1Image(np.ascontiguousarray(lps_array), lps_affine))
assert nib.aff2axcodes(lps_affine) == ("L", "P", "S")
with exercises.check(3, "bring an image to RAS order") as check:
    mine_array, mine_affine = to_ras(lps_array, lps_affine)
    check.close("the affine to_ras returns", mine_affine, canonical.affine,
                hint="flipping axis a multiplies its column by -1 and moves the origin to the "
                     "world position of the last voxel along a: translation += A[:3, a] * (n - 1).")
    check.equal("the array to_ras returns", mine_array, np.asanyarray(canonical.dataobj),
                hint="flip the array along each axis whose diagonal entry is negative (np.flip).")

# %% [markdown]
# ## What next
#
# * Lesson 01 opens up the upsampling layers of segmentation networks, 02 their losses, 03 the
#   metrics that score them.
# * Lesson 04 labels MNI152 interactively with a random forest (ilastik's recipe); lesson 05 trains
#   a U-Net; lesson 06 evaluates segmentations over many cases.
# * `docs/io.md` and `docs/datasets.md` hold everything about files and data sets.

# %%
exercises.report()
