"""The end-to-end demo behind ``labtools demo`` (and ``make demo``).

It is a list of steps; each takes the shared ``DemoState`` and returns the
lines it adds to the report. Later parts of labtools append their own step
(metrics, pixel classification, training) to ``STEPS``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["run_demo", "DemoState", "STEPS"]


@dataclass
class DemoState:
    """What the steps share: the output folder and the data loaded so far."""

    out: Path
    data: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)  # (title, Image, labels, background label)


def _class_volumes(labels: np.ndarray, voxel_ml: float, classes: dict) -> list[str]:
    counts = np.bincount(labels.ravel(), minlength=max(classes) + 1)
    return [f"    {value} {name:<14} {counts[value] * voxel_ml:10.1f} ml"
            for value, name in classes.items()]


def step_phantom(state: DemoState) -> list[str]:
    """Make the 3D phantom, save it as NIfTI and read it back."""
    from labtools import io
    from labtools.datasets import PHANTOM_CLASSES, phantom

    image, labels = phantom((96, 96, 72), n_lesions=3, seed=0, spacing=(2.0, 2.0, 2.5))
    image_path = io.save(image, state.out / "phantom_t1.nii.gz")
    label_path = io.save(labels, state.out / "phantom_seg.nii.gz", affine=image.affine)
    reloaded, reloaded_labels = io.load(image_path), io.load(label_path)
    io.check_pair(reloaded, reloaded_labels)
    exact = np.array_equal(reloaded.array, image.array) and np.array_equal(reloaded_labels.array, labels)
    state.data["phantom"] = (reloaded, reloaded_labels.array)
    state.figures.append(("phantom (synthetic, 3 lesions)", reloaded, reloaded_labels.array, 0))
    return [f"phantom: {reloaded}",
            f"  saved {image_path.name} + {label_path.name}; reloaded bit-exact: {exact}",
            *_class_volumes(labels, image.voxel_volume_ml, PHANTOM_CLASSES)]


def step_mni152(state: DemoState) -> list[str]:
    """Load the real MNI152 template (2 mm) with its 4-class tissue map."""
    from labtools import io
    from labtools.datasets import MNI152_CLASSES, mni152

    image, labels = mni152(2)
    io.save(labels, state.out / "mni152_2mm_tissues.nii.gz", affine=image.affine)
    state.data["mni152"] = (image, labels)
    state.figures.append(("MNI152 T1, 2 mm (tissue classes)", image, labels, 1))
    return [f"mni152: {image}, orientation {image.orientation}",
            *_class_volumes(labels, image.voxel_volume_ml, MNI152_CLASSES)]


def step_metrics(state: DemoState) -> list[str]:
    """Score a naive intensity-threshold segmentation of the phantom with labtools.metrics."""
    from labtools.datasets import PHANTOM_CLASSES
    from labtools.metrics import evaluate

    image, labels = state.data["phantom"]
    # The simplest possible "model": each voxel takes the class whose mean intensity is nearest.
    means = np.array([image.array[labels == c].mean() for c in PHANTOM_CLASSES])
    guess = np.argmin(np.abs(image.array[..., None] - means), axis=-1).astype(np.uint8)
    scores = evaluate(guess, labels, spacing=image.spacing, labels=[1, 2, 3, 4], tolerance=2.0)
    lines = ["metrics: nearest-mean intensity classifier vs the phantom's labels"]
    lines.append(f"    {'class':<16}{'Dice':>7}{'HD95 mm':>9}{'NSD@2mm':>9}{'ref ml':>9}{'pred ml':>9}")
    for value, row in scores.items():
        lines.append(f"    {value} {PHANTOM_CLASSES[value]:<14}{row['dice']:>7.3f}{row['hd95']:>9.2f}"
                     f"{row['nsd']:>9.3f}{row['volume_ref_ml']:>9.1f}{row['volume_pred_ml']:>9.1f}")
    lesion = scores[4]
    lines.append(f"    lesions: {lesion['lesions_ref']} in the reference, {lesion['lesions_tp']} found, "
                 f"{lesion['lesions_fp']} false-positive components ({lesion['fp_volume_ml']:.1f} ml): "
                 "intensity alone is not a lesion detector")
    return lines


def step_pixel_classifier(state: DemoState) -> list[str]:
    """Label a phantom slice ilastik-style: sparse clicks -> random forest -> segmentation."""
    from labtools.datasets import PHANTOM_CLASSES
    from labtools.metrics import dice
    from labtools.pixel_classifier import PixelClassifier

    image, labels = state.data["phantom"]
    z = labels.shape[-1] // 2
    from labtools.io import Image

    plane, truth = Image(image.array[..., z], spacing=image.spacing[:2]), labels[..., z]
    clicks = np.zeros_like(truth)
    rng = np.random.default_rng(0)
    for value in PHANTOM_CLASSES:  # 25 clicks per class, as an annotator might give
        where = np.argwhere(truth == value)
        for x, y in where[rng.choice(len(where), min(25, len(where)), replace=False)]:
            clicks[x, y] = value + 1
    classifier = PixelClassifier(n_estimators=50).fit(plane, clicks)
    segmentation = classifier.predict(plane) - 1
    lines = [f"pixel classifier: {np.count_nonzero(clicks)} clicks on slice {z} -> random forest on "
             f"{classifier.n_features_in_} features"]
    lines += [f"    {value} {name:<14} Dice {dice(segmentation == value, truth == value):.3f}"
              for value, name in PHANTOM_CLASSES.items()]
    return lines


def step_training(state: DemoState) -> list[str]:
    """Train the lesson's small U-Net, planned for 2D phantoms, for 15 s; score it on unseen ones."""
    from labtools.datasets import PHANTOM_CLASSES, phantom
    from labtools.training import fit, plan, seed_everything

    train = [phantom((96, 96), n_lesions=2, seed=s) for s in range(12)]
    val = [phantom((96, 96), n_lesions=2, seed=1000 + s) for s in range(3)]
    # The plan for these phantoms, with four choices overridden for a 15-second demo: the lesson's
    # small network, its batch and a lower peak rate (the planned U-Net needs a minute or more).
    chosen = plan(train, dims=2, device="cpu", model="tiny_unet", channels=(16, 32, 64), batch_size=8,
                  lr=3e-3)
    seed_everything(0)
    model = chosen.make_model(in_channels=1, n_classes=len(PHANTOM_CLASSES))
    out = state.out / "training"
    if (out / "last.pt").exists():  # a rerun of the demo starts a fresh run
        for name in ("last.pt", "best.pt", "history.csv", "curves.png", "plan.json"):
            (out / name).unlink(missing_ok=True)
    history = fit(model, train, val, **chosen.fit_options(max_time=15), device="cpu", out=out, live=None)
    best = history.best("val_dice")
    features = "-".join(map(str, chosen.channels))
    lines = [f"training: TinyUNet ({features} features, patch {chosen.patch_size}, batch "
             f"{chosen.batch_size}) on 12 2D phantoms, {best['step']} steps in {history[-1]['time']:.0f} s; "
             f"best validation Dice {best['val_dice']:.3f} (epoch {best['epoch']}); "
             f"curves and plan.json in training/"]
    lines += [f"    {k} {name:<14} Dice {best[f'val_dice_{k}']:.3f}" for k, name in PHANTOM_CLASSES.items()]
    return lines


def step_montage(state: DemoState) -> list[str]:
    """Draw every dataset loaded so far in three planes with its labels."""
    import matplotlib

    matplotlib.use("Agg")  # the demo writes files; never open a window
    import matplotlib.pyplot as plt

    from labtools.viz import plot_planes

    rows = len(state.figures)
    fig, axes = plt.subplots(rows, 3, figsize=(9, 3 * rows), squeeze=False)
    for row, (title, image, labels, background) in zip(axes, state.figures):
        plot_planes(row, image, labels, title=title, background=background)
    fig.tight_layout()
    path = state.out / "montage.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [f"montage: {path.name} ({rows} rows: axial, coronal, sagittal)"]


STEPS: list[Callable[[DemoState], list[str]]] = [
    step_phantom, step_mni152, step_metrics, step_pixel_classifier, step_training, step_montage,
]


def run_demo(out="labtools-demo", *, progress: bool = True) -> Path:
    """Run every demo step, writing data, a montage and ``report.txt`` under `out`.

    Returns
    -------
    pathlib.Path
        The report file.

    Examples
    --------
    From a shell, ``labtools demo --out my-demo`` runs this function; from
    Python, ``run_demo("my-demo")`` returns ``Path("my-demo/report.txt")``.
    """
    from tqdm.auto import tqdm

    state = DemoState(out=Path(out))
    state.out.mkdir(parents=True, exist_ok=True)
    report = [f"labtools demo, {time.strftime('%Y-%m-%d %H:%M')}", ""]
    bar = tqdm(STEPS, desc="labtools demo", unit="step", disable=not progress)
    for step in bar:
        bar.set_postfix_str(step.__name__.removeprefix("step_"))
        started = time.perf_counter()
        lines = step(state)
        lines[0] += f"  [{time.perf_counter() - started:.1f} s]"
        if progress:
            for line in lines:
                bar.write(line)
        report += lines + [""]
    path = state.out / "report.txt"
    path.write_text("\n".join(report))
    if progress:
        print(f"Wrote {path} and {state.out / 'montage.png'}")
    return path
