"""Benchmark: labtools `evaluate` distance metrics vs MONAI's four metric calls, one process.

Cases (issue 3): 128^3 and 256^3 grids, spacing (1, 1, 2.5) mm, each with
  * organ: one compact ellipsoid (reference) and a prediction whose border is
    displaced by a smooth random field of ~1-2 voxels, as a decent model does;
  * blobs: ~40-120 components of varied size (reference); the prediction
    perturbs their borders, misses a few (FN) and adds a few (FP).
MONAI: HausdorffDistanceMetric(), HausdorffDistanceMetric(percentile=95),
SurfaceDistanceMetric(symmetric=True), SurfaceDiceMetric([tau], use_subvoxels=True).
labtools: one `labtools.metrics.evaluate` call, which also returns the overlap metrics.
Each side runs `--repeat` times on the same masks; the median time counts.

Run:  .venv/bin/python benchmarks/metrics.py [--sizes 128 256] [--repeat 3]
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


def organ_case(n: int, seed: int = 0):
    """An ellipsoidal organ and a prediction with a smoothly wrong border."""
    rng = np.random.default_rng(seed)
    grid = np.indices((n, n, n), dtype=np.float32)
    centre = (n - 1) / 2
    # Semi-axes in mm -> voxels (z has 2.5 mm voxels).
    axes = np.array([0.30, 0.22, 0.18 / 2.5 * 2]) * n
    radius = np.sqrt(sum(((g - centre) / a) ** 2 for g, a in zip(grid, axes)))
    ref = radius < 1.0
    wobble = _smooth_noise(ref.shape, rng, sigma=n / 16) * (1.5 / axes.mean())
    pred = radius < 1.0 + wobble
    return pred, ref


def blobs_case(n: int, seed: int = 0):
    """Many components; the prediction misses some, adds some, and perturbs borders."""
    rng = np.random.default_rng(seed)
    field = _smooth_noise((n, n, n), rng, sigma=n / 40)
    ref = field > 1.6
    labels, count = ndi.label(ref)
    wobble = _smooth_noise(ref.shape, rng, sigma=n / 40) * 0.12
    pred = field + wobble > 1.6
    missed = rng.choice(np.arange(1, count + 1), size=max(1, count // 10), replace=False)
    pred[np.isin(labels, missed)] = False
    extra = _smooth_noise((n, n, n), np.random.default_rng(seed + 1), sigma=n / 40) > 2.4
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


def labtools_evaluate(pred, ref):
    from labtools.metrics import evaluate

    result = evaluate(pred, ref, spacing=SPACING, tolerance=TOLERANCE)
    return {key: result[key] for key in ("hausdorff", "hd95", "assd", "nsd")}


def median_time(function, *args, repeat: int):
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # MONAI warns about nothing relevant here
    import monai  # noqa: F401  (import cost is not part of the timing)
    import labtools.metrics  # noqa: F401

    print(f"# {platform.node()} | {platform.machine()} | {time.strftime('%Y-%m-%d')} | "
          f"spacing {SPACING} mm | NSD tolerance {TOLERANCE} mm | median of {args.repeat}")
    print(f"{'case':<14}{'voxels':>10}{'MONAI s':>10}{'labtools s':>12}{'speed-up':>10}  values equal (rtol 1e-5)")
    for n in args.sizes:
        for name, make in (("organ", organ_case), ("blobs", blobs_case)):
            pred, ref = make(n)
            monai_s, reference = median_time(monai_four_calls, pred, ref, repeat=args.repeat)
            ours_s, ours = median_time(labtools_evaluate, pred, ref, repeat=args.repeat)
            equal = all(np.isclose(ours[k], reference[k], rtol=1e-5) for k in reference)
            print(f"{name + f' {n}^3':<14}{int(ref.sum()):>10}{monai_s:>10.3f}{ours_s:>12.3f}"
                  f"{monai_s / ours_s:>9.1f}x  {equal}  "
                  + " ".join(f"{k}={ours[k]:.4g}/{reference[k]:.4g}" for k in reference))


if __name__ == "__main__":
    main()
