"""Benchmark: labtools `evaluate` distance metrics vs MONAI's four metric calls, one process.

Cases (issues 3 and 17): 128^3 and 224x224x160 grids, spacing (1, 1, 2.5) mm, each with
  * compact: one ellipsoidal organ (reference) and a prediction whose border is
    displaced by a smooth random field of ~1-2 voxels, as a decent model does;
  * blobby: ~40-120 components of varied size (reference); the prediction
    perturbs their borders, misses a few (FN) and adds a few (FP).
MONAI: HausdorffDistanceMetric(), HausdorffDistanceMetric(percentile=95),
SurfaceDistanceMetric(symmetric=True), SurfaceDiceMetric([tau], use_subvoxels=True).
labtools: one `labtools.metrics.evaluate(..., metrics=["hausdorff", "hd95", "assd", "nsd"])`
call, the same four numbers (the speed-up column); and the default `evaluate`, which adds the
overlap metrics, volumes and lesion counts (the last column, for information).
A last row scores a 5-organ label map per class (MONAI on one-hot channels, labtools with
labels=1..5, whose classes share one bounding-box pass). Each side runs `--repeat` times on the
same masks; the median time counts.

Run:  .venv/bin/python benchmarks/metrics.py [--sizes 128 224x224x160] [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import numpy as np
from scipy import ndimage as ndi

SPACING = (1.0, 1.0, 2.5)
TOLERANCE = 2.0  # mm, NSD tolerance


def _smooth_noise(shape, rng, sigma):
    field = ndi.gaussian_filter(rng.standard_normal(shape), sigma)
    return field / field.std()


def organ_case(shape, seed: int = 0):
    """An ellipsoidal organ and a prediction with a smoothly wrong border (compact)."""
    rng = np.random.default_rng(seed)
    n = min(shape)
    grid = np.indices(shape, dtype=np.float32)
    # Semi-axes in mm -> voxels (z has 2.5 mm voxels).
    axes = np.array([0.30, 0.22, 0.18 / 2.5 * 2]) * n
    radius = np.sqrt(sum(((g - (s - 1) / 2) / a) ** 2 for g, s, a in zip(grid, shape, axes)))
    ref = radius < 1.0
    wobble = _smooth_noise(ref.shape, rng, sigma=n / 16) * (1.5 / axes.mean())
    pred = radius < 1.0 + wobble
    return pred, ref


def blobs_case(shape, seed: int = 0):
    """Many components; the prediction misses some, adds some, and perturbs borders (blobby)."""
    rng = np.random.default_rng(seed)
    n = min(shape)
    field = _smooth_noise(shape, rng, sigma=n / 40)
    ref = field > 1.6
    labels, count = ndi.label(ref)
    wobble = _smooth_noise(ref.shape, rng, sigma=n / 40) * 0.12
    pred = field + wobble > 1.6
    missed = rng.choice(np.arange(1, count + 1), size=max(1, count // 10), replace=False)
    pred[np.isin(labels, missed)] = False
    extra = _smooth_noise(shape, np.random.default_rng(seed + 1), sigma=n / 40) > 2.4
    pred |= extra & ~ndi.binary_dilation(ref, iterations=3)
    return pred, ref


def organs_case(shape, n: int = 5):
    """A multi-organ label map: n compact organs ~64 voxels across at different places (1..n)."""
    pred, ref = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    for k in range(1, n + 1):
        p, r = organ_case((64, 64, 48), seed=k)
        corner = [(k * 37) % (s - 64) for s in shape[:2]] + [(k * 23) % (shape[2] - 48)]
        box = tuple(slice(c, c + q) for c, q in zip(corner, p.shape))
        pred[box][p], ref[box][r] = k, k
    return pred, ref


def monai_four_calls_per_class(pred, ref, n: int = 5):
    """MONAI's four metrics on one-hot maps (background left out): {class: {metric: value}}."""
    onehot = lambda m: np.stack([m == k for k in range(n + 1)])  # noqa: E731
    values = monai_four_calls(onehot(pred), onehot(ref), channels=True)
    return {k: {name: values[name][k - 1] for name in values} for k in range(1, n + 1)}


def labtools_per_class(pred, ref, n: int = 5):
    from labtools.metrics import evaluate

    return evaluate(pred, ref, spacing=SPACING, tolerance=TOLERANCE, labels=range(1, n + 1), metrics=FOUR)


def monai_four_calls(pred, ref, channels: bool = False):
    import torch
    from monai.metrics import HausdorffDistanceMetric, SurfaceDiceMetric, SurfaceDistanceMetric

    add_axes = (lambda m: m[None]) if channels else (lambda m: m[None, None])  # noqa: E731
    y_pred = torch.from_numpy(add_axes(pred).astype(np.float32))
    y = torch.from_numpy(add_axes(ref).astype(np.float32))
    background = {"include_background": not channels}
    values = {
        "hausdorff": HausdorffDistanceMetric(**background)(y_pred, y, spacing=SPACING),
        "hd95": HausdorffDistanceMetric(percentile=95, **background)(y_pred, y, spacing=SPACING),
        "assd": SurfaceDistanceMetric(symmetric=True, **background)(y_pred, y, spacing=SPACING),
        "nsd": SurfaceDiceMetric([TOLERANCE] * (pred.shape[0] - 1 if channels else 1), use_subvoxels=True,
                                 **background)(y_pred, y, spacing=SPACING),
    }
    return {name: value[0].tolist() if channels else value.item() for name, value in values.items()}


FOUR = ("hausdorff", "hd95", "assd", "nsd")


def labtools_evaluate(pred, ref):
    from labtools.metrics import evaluate

    return evaluate(pred, ref, spacing=SPACING, tolerance=TOLERANCE, metrics=FOUR)


def labtools_evaluate_everything(pred, ref):
    from labtools.metrics import evaluate

    result = evaluate(pred, ref, spacing=SPACING, tolerance=TOLERANCE)
    return {key: result[key] for key in FOUR}


def parse_shape(text: str) -> tuple[int, int, int]:
    """"128" -> (128, 128, 128); "224x224x160" -> (224, 224, 160)."""
    parts = [int(v) for v in text.lower().split("x")]
    return tuple(parts * 3) if len(parts) == 1 else tuple(parts)


def median_time(function, *args, repeat: int):
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["128", "224x224x160"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-organs", dest="organs", action="store_false",
                        help="skip the multi-class row (5 organs in one label map)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # MONAI warns about nothing relevant here
    import monai  # noqa: F401  (import cost is not part of the timing)
    import labtools.metrics  # noqa: F401

    print(f"# {platform.node()} | {platform.machine()} | {time.strftime('%Y-%m-%d')} | "
          f"spacing {SPACING} mm | NSD tolerance {TOLERANCE} mm | median of {args.repeat}")
    print(f"{'case':<22}{'voxels':>10}{'MONAI s':>10}{'labtools s':>12}{'speed-up':>10}"
          f"{'full evaluate s':>17}  values equal (rtol 1e-5)")
    for size in args.sizes:
        shape = parse_shape(size)
        for name, make in (("compact", organ_case), ("blobby", blobs_case)):
            pred, ref = make(shape)
            monai_s, reference = median_time(monai_four_calls, pred, ref, repeat=args.repeat)
            ours_s, ours = median_time(labtools_evaluate, pred, ref, repeat=args.repeat)
            full_s, full = median_time(labtools_evaluate_everything, pred, ref, repeat=args.repeat)
            equal = all(np.isclose(ours[k], reference[k], rtol=1e-5) and ours[k] == full[k] for k in reference)
            label = f"{name} {'x'.join(map(str, shape))}"
            print(f"{label:<22}{int(ref.sum()):>10}{monai_s:>10.3f}{ours_s:>12.3f}"
                  f"{monai_s / ours_s:>9.1f}x{full_s:>17.3f}  {equal}  "
                  + " ".join(f"{k}={ours[k]:.4g}/{reference[k]:.4g}" for k in reference), flush=True)
    if args.organs:
        # A multi-class map: the classes share one bounding-box pass (evaluate(labels=...)).
        shape = parse_shape(args.sizes[-1])
        pred, ref = organs_case(shape)
        monai_s, reference = median_time(monai_four_calls_per_class, pred, ref, repeat=args.repeat)
        ours_s, ours = median_time(labtools_per_class, pred, ref, repeat=args.repeat)
        equal = all(np.isclose(ours[c][k], reference[c][k], rtol=1e-5) for c in reference for k in FOUR)
        label = f"5 organs {'x'.join(map(str, shape))}"
        print(f"{label:<22}{int((ref > 0).sum()):>10}{monai_s:>10.3f}{ours_s:>12.3f}{monai_s / ours_s:>9.1f}x"
              f"{'':>17}  {equal}  (MONAI: one-hot, 5 channels; labtools: labels=1..5)", flush=True)


if __name__ == "__main__":
    main()
