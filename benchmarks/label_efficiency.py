"""Benchmark (issue 15): Dice against the number of annotated slices, from scratch, after
self-supervised pretraining, and with each curriculum; the same wall time for every run.

The seed lecture's 3D U-Net experiment (Çiçek et al. 2016, seed 004: IoU 0.33-0.48 from one
annotated slice per axis, 0.85-0.87 from 5, 5, 3), redone on CPU sizes:

* MNI152 (2 mm, cropped to the head, 4 classes): one volume whose labels are kept only on n
  evenly spaced slices per axis (1,1,1 / 2,2,1 / 3,3,2 / 5,5,3), the rest unlabelled; the
  network densifies them and is scored on every voxel that was not annotated (mean Dice of CSF,
  grey and white matter).
* phantom: 4 training volumes annotated the same way, scored on a fifth; their difficulty for the
  predefined curriculum is the lesion volume (small lesions are hard).

Methods: scratch; "ssl" = fit(init=) from `pretrain(method="masked")` on the unlabelled training
volumes (its time is shown apart; it needs no labels and is done once per dataset); the curricula
PredefinedCurriculum (phantom only: MNI152 is one volume, nothing to order), SelfPaced and
SmoothingCurriculum. Every run trains a 3D TinyUNet (8, 16, 32) for --seconds seconds.

Run:  .venv/bin/python benchmarks/label_efficiency.py [--seconds 18] [--full] [--plot PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

SETTINGS = ((1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 5, 3))


def mean_dice(prediction, truth, mask, classes) -> float:
    from labtools import metrics

    prediction, truth = np.where(mask, prediction, -1), np.where(mask, truth, -1)  # -1: not scored
    return float(np.mean([metrics.dice(prediction == c, truth == c) for c in classes]))


def mni152_task():
    from labtools import datasets

    image, labels = datasets.mni152(resolution=2)
    crop = np.s_[10:90, 10:106, 0:80]  # the head, sizes multiples of 16
    volume = _crop(image, crop)
    truth = labels[crop].astype(np.int16) - 1  # 0 outside the brain, 1 CSF, 2 grey, 3 white matter
    return {"name": "MNI152", "train": [volume], "truths": [truth], "test": (volume, truth),
            "difficulty": None, "classes": (1, 2, 3), "test_is_train": True}


def phantom_task():
    from labtools import datasets

    pairs = [datasets.phantom((64, 64, 48), n_lesions=2, seed=s) for s in range(5)]
    return {"name": "phantom", "train": [p[0] for p in pairs[:4]], "truths": [p[1].astype(np.int16) for p in pairs[:4]],
            "test": (pairs[4][0], pairs[4][1].astype(np.int16)),
            "difficulty": [-float((p[1] == 4).sum()) for p in pairs[:4]],  # larger lesions first
            "classes": (1, 2, 3, 4), "test_is_train": False}


def _crop(image, crop):
    from labtools.io import Image

    return Image(np.ascontiguousarray(image.array[crop]), spacing=image.spacing)


def run_task(task, seconds: float, pretrain_seconds: float, out: Path) -> list[dict]:
    import torch

    from labtools.models import make_model
    from labtools.training import (PredefinedCurriculum, SelfPaced, SmoothingCurriculum, fit, predict,
                                   pretrain)
    from labtools.training.sparse import labels_on_slices

    def network():
        torch.manual_seed(0)
        return make_model("tiny_unet", 3, 1, len(task["classes"]) + 1, channels=(8, 16, 32))

    patch = (32, 32, 32)
    start = time.perf_counter()
    epochs = 1000  # the time budget ends training
    ssl_out = out / f"{task['name']}-ssl"
    pretrain(task["train"], network(), method="masked", epochs=epochs, steps_per_epoch=10, batch_size=2,
             patch_size=patch, max_time=pretrain_seconds, out=ssl_out, live=None, device="cpu")
    ssl_seconds = time.perf_counter() - start
    print(f"  {task['name']}: masked pretraining on {len(task['train'])} unlabelled volume(s): {ssl_seconds:.0f} s")
    methods = {"scratch": {}, "ssl": {"init": ssl_out / "last.pt"}}
    if task["difficulty"] is not None:
        methods["predefined"] = {"curriculum": lambda: PredefinedCurriculum(task["difficulty"], start=0.5)}
    methods["self-paced"] = {"curriculum": lambda: SelfPaced()}
    methods["smoothing"] = {"curriculum": lambda: SmoothingCurriculum(sigma=1.0, decay=0.8)}
    rows = []
    test_image, test_truth = task["test"]
    for setting in SETTINGS:
        pairs = [(image, labels_on_slices(truth, setting)) for image, truth in zip(task["train"], task["truths"])]
        scored = (labels_on_slices(test_truth, setting) < 0 if task["test_is_train"]   # the unannotated voxels
                  else np.ones(test_truth.shape, bool))
        row = {"data": task["name"], "slices": setting}
        for name, options in methods.items():
            options = {k: (v() if callable(v) else v) for k, v in options.items()}
            net = network()
            run_out = out / f"{task['name']}-{'-'.join(map(str, setting))}-{name}"
            fit(net, pairs, epochs=epochs, steps_per_epoch=10, batch_size=2, patch_size=patch, max_time=seconds,
                out=run_out, live=None, augment=False, device="cpu", **options)
            prediction = predict(net, test_image, patch_size=patch)
            row[name] = mean_dice(prediction, test_truth, scored, task["classes"])
        rows.append(row)
        print("  " + format_row(row, list(methods)))
    return rows


def format_row(row, methods) -> str:
    return f"{row['data']:<8} {'/'.join(map(str, row['slices'])):<6} " + "  ".join(
        f"{m} {row[m]:.3f}" for m in methods if m in row)


def plot(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["data"] for r in rows})
    figure, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 3.6), squeeze=False)
    for ax, name in zip(axes[0], datasets):
        mine = [r for r in rows if r["data"] == name]
        labels = ["/".join(map(str, r["slices"])) for r in mine]
        for method in [m for m in mine[0] if m not in ("data", "slices")]:
            ax.plot(labels, [r[method] for r in mine], marker="o", label=method)
        ax.set(title=name, xlabel="annotated slices per axis", ylabel="mean Dice (unannotated voxels)", ylim=(0, 1))
        ax.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=18.0, help="training time of every run")
    parser.add_argument("--pretrain-seconds", type=float, default=30.0)
    parser.add_argument("--data", choices=("mni152", "phantom", "both"), default="both")
    parser.add_argument("--full", action="store_true", help="longer runs: 120 s each, 300 s of pretraining")
    parser.add_argument("--plot", default="build/label_efficiency.png")
    args = parser.parse_args()
    if args.full:
        args.seconds, args.pretrain_seconds = 120.0, 300.0
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {args.seconds:g} s per run")
    started = time.perf_counter()
    tasks = {"mni152": [mni152_task], "phantom": [phantom_task], "both": [mni152_task, phantom_task]}[args.data]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for make_task in tasks:
            rows += run_task(make_task(), args.seconds, args.pretrain_seconds, Path(folder))
    plot(rows, Path(args.plot))
    print(f"total {time.perf_counter() - started:.0f} s; plot: {args.plot}")


if __name__ == "__main__":
    main()
