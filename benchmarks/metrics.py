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
Each side runs `--repeat` times on the same masks; the median time counts.

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


def monai_four_calls(pred, ref):
    import torch
    from monai.metrics import HausdorffDistanceMetric, SurfaceDiceMetric, SurfaceDistanceMetric

    y_pred = torch.from_numpy(pred[None, None].astype(np.float32))
    y = torch.from_numpy(ref[None, None].astype(np.float32))
    return {
        "hausdorff": HausdorffDistanceMetric()(y_pred, y, spacing=SPACING).item(),
        "hd95": HausdorffDistanceMetric(percentile=95)(y_pred, y, spacing=SPACING).item(),
        "assd": SurfaceDistanceMetric(symmetric=True)(y_pred, y, spacing=SPACING).item(),
        "nsd": SurfaceDiceMetric([TOLERANCE], use_subvoxels=True)(y_pred, y, spacing=SPACING).item(),
    }


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


if __name__ == "__main__":
    main()
