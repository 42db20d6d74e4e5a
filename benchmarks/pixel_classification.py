"""Benchmark: labtools PixelClassifier vs scikit-image's trainable segmentation, same run.

Data: the MNI152 1 mm template (197 x 233 x 189) with its 4 tissue classes, and
the same scripted scribbles for both sides: brush strokes (3x3 in-plane disks
at random interior points of each class) on a few axial slices.

1. End to end, scribbles -> full-volume segmentation: labtools (`fit` +
   `predict`) vs scikit-image `multiscale_basic_features` + `fit_segmenter` +
   `predict_segmenter` with the same forest (RandomForestClassifier, same
   n_estimators, all cores). labtools runs three times: with its defaults (the
   pyramid feature bank, coarse-to-fine prediction), with ilastik's exact bank
   (``method="exact"``), and with the defaults plus ``n_features_to_select=24``
   (feature selection).
   Each run has its own child process so that its peak RSS is its own.
   Reports time, Dice per class 2-4, peak RSS.
2. Stroke -> refreshed slice: after the first fit, add one stroke at a time
   on the visible slice, refit and predict that slice; median latency.
3. The 61-channel feature stack on 128^3 vs the naive scipy version.

Run:  .venv/bin/python -m benchmarks.pixel_classification [--trees 100] [--skip-128]
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource
import statistics
import time

import numpy as np
from scipy import ndimage as ndi

SLICES = (50, 70, 90, 110, 130)  # axial slices (last axis) with scribbles
POINTS_PER_CLASS = 40            # strokes per class per slice


def scripted_scribbles(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """3x3 brush dabs at random interior points of each class on a few axial slices."""
    rng = np.random.default_rng(seed)
    scribbles = np.zeros_like(labels)
    for z in SLICES:
        plane = labels[:, :, z]
        for value in np.unique(plane):
            interior = np.argwhere(ndi.binary_erosion(plane == value, iterations=2))
            if len(interior) == 0:
                continue
            for x, y in interior[rng.choice(len(interior), min(POINTS_PER_CLASS, len(interior)), replace=False)]:
                dab = scribbles[x - 1:x + 2, y - 1:y + 2, z]
                dab[plane[x - 1:x + 2, y - 1:y + 2] == value] = value
    return scribbles


def _dice_per_class(seg, labels) -> dict:
    from labtools.metrics import dice

    return {c: round(dice(seg == c, labels == c), 4) for c in (2, 3, 4)}


LABTOOLS_CONFIGS = {"labtools": {}, "labtools, exact bank": {"method": "exact"},
                    "labtools, 24 ch.": {"n_features_to_select": 24}}


def run_labtools(trees: int, options: dict, queue) -> None:
    from labtools.datasets import mni152
    from labtools.pixel_classifier import PixelClassifier

    image, labels = mni152(1)
    scribbles = scripted_scribbles(labels)
    start = time.perf_counter()
    clf = PixelClassifier(n_estimators=trees, **options).fit(image, scribbles)
    seg = clf.predict(image)
    elapsed = time.perf_counter() - start
    latencies = stroke_latencies(clf, image, labels, scribbles)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    queue.put({"seconds": elapsed, "dice": _dice_per_class(seg, labels), "peak_gb": peak,
               "latency_median": statistics.median(latencies), "latency_max": max(latencies)})


def stroke_latencies(clf, image, labels, scribbles, strokes: int = 8) -> list[float]:
    """Add a stroke on slice 100, refit, predict that slice: the live-update loop."""
    rng = np.random.default_rng(1)
    z = 100
    plane = labels[:, :, z]
    times = []
    for _ in range(strokes):
        value = rng.integers(2, 5)
        points = np.argwhere(ndi.binary_erosion(plane == value, iterations=2))
        x, y = points[rng.integers(len(points))]
        start = time.perf_counter()
        scribbles[x - 1:x + 2, y - 1:y + 2, z] = value
        clf.fit(image, scribbles)
        clf.predict_proba(image, roi=np.s_[:, :, z:z + 1])
        times.append(time.perf_counter() - start)
    return times


def run_skimage(trees: int, queue) -> None:
    from functools import partial

    from skimage.feature import multiscale_basic_features
    from skimage.future import fit_segmenter, predict_segmenter
    from sklearn.ensemble import RandomForestClassifier

    from labtools.datasets import mni152

    image, labels = mni152(1)
    scribbles = scripted_scribbles(labels)
    start = time.perf_counter()
    features_func = partial(multiscale_basic_features, intensity=True, edges=True, texture=True,
                            sigma_min=0.5, sigma_max=16)
    features = features_func(image.array)
    clf = fit_segmenter(scribbles, features, RandomForestClassifier(n_estimators=trees, n_jobs=-1, random_state=0))
    seg = predict_segmenter(features, clf)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    queue.put({"seconds": elapsed, "dice": _dice_per_class(seg, labels), "peak_gb": peak})


def in_child(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def feature_stack_128() -> tuple[float, float, float]:
    from labtools.features import feature_stack

    from benchmarks._naive_features import naive_feature_stack

    image = ndi.gaussian_filter(np.random.default_rng(0).random((128, 128, 128)), 1).astype(np.float32)
    start = time.perf_counter()
    ours = feature_stack(image)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    naive = naive_feature_stack(image)
    naive_s = time.perf_counter() - start
    return ours_s, naive_s, float(np.abs(ours - naive).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--skip-128", action="store_true", help="skip the feature-stack comparison")
    args = parser.parse_args()
    print(f"# {platform.node()} | {platform.machine()} | {time.strftime('%Y-%m-%d')} | "
          f"MNI152 1 mm, {len(SLICES)} scribbled slices, {args.trees} trees")
    ours = {name: in_child(run_labtools, args.trees, options) for name, options in LABTOOLS_CONFIGS.items()}
    theirs = in_child(run_skimage, args.trees)
    print(f"{'':<18}{'seconds':>9}{'peak RSS GB':>13}  Dice (class 2, 3, 4)      mean  speed-up")
    for name, r in (*ours.items(), ("scikit-image", theirs)):
        mean = statistics.fmean(r["dice"].values())
        print(f"{name:<18}{r['seconds']:>9.1f}{r['peak_gb']:>13.2f}  {list(r['dice'].values())}  {mean:.4f}"
              f"  {theirs['seconds'] / r['seconds']:.1f}x")
    for name, r in ours.items():
        print(f"{name}: stroke -> refreshed 197x233 slice: median {r['latency_median']:.3f} s, "
              f"max {r['latency_max']:.3f} s")
    if not args.skip_128:
        ours_s, naive_s, diff = feature_stack_128()
        print(f"61-channel stack on 128^3: labtools {ours_s:.2f} s, naive scipy {naive_s:.2f} s, "
              f"speed-up {naive_s / ours_s:.1f}x, max |difference| {diff:.2g}")


if __name__ == "__main__":
    main()
