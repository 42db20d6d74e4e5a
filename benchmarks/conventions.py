"""How much do libraries disagree? The same masks through labtools, MONAI, MedPy and seg-metrics.

Not a speed benchmark: it prints HD95, ASSD and NSD under each library's own
convention, for a compact organ (a decent prediction) and for scattered blobs
(with missed and extra components), plus what each returns when one mask is
empty. MedPy and seg-metrics are not labtools dependencies; install them to
include their columns (``pip install medpy seg-metrics``), or their rows say
"not installed". Numbers go to docs/metrics.md.

Run:  .venv/bin/python -m benchmarks.conventions [--size 96]   (from the repository root)
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from benchmarks.metrics import SPACING, blobs_case, organ_case  # same masks as the speed benchmark

TOLERANCE = 2.0


def _tensor(mask):
    import torch

    return torch.from_numpy(mask[None, None].astype(np.float32))


def labtools_rows(pred, ref):
    from labtools import metrics

    d = metrics.surface_distances(pred, ref, SPACING)
    return {
        "labtools default (= MONAI hd95, symmetric ASSD, subvoxel NSD)":
            (metrics.hd95(distances=d), metrics.assd(distances=d), metrics.nsd(tolerance=TOLERANCE, distances=d)),
        "labtools mode='pooled' / 'mean_of_means' / 'voxel'":
            (metrics.hd95(distances=d, mode="pooled"), metrics.assd(distances=d, mode="mean_of_means"),
             metrics.nsd(pred, ref, TOLERANCE, SPACING, mode="voxel")),
    }


def monai_rows(pred, ref):
    from monai.metrics import HausdorffDistanceMetric, SurfaceDiceMetric, SurfaceDistanceMetric

    p, r = _tensor(pred), _tensor(ref)
    return {"MONAI defaults (SurfaceDistanceMetric symmetric=False, SurfaceDice voxels)": (
        HausdorffDistanceMetric(percentile=95)(p, r, spacing=SPACING).item(),
        SurfaceDistanceMetric()(p, r, spacing=SPACING).item(),
        SurfaceDiceMetric([TOLERANCE])(p, r, spacing=SPACING).item(),
    )}


def medpy_rows(pred, ref):
    try:
        from medpy.metric.binary import assd, hd95
    except ImportError as err:
        return {"MedPy": f"not importable ({err})"}

    return {"MedPy hd95 / assd": (hd95(pred, ref, voxelspacing=SPACING), assd(pred, ref, voxelspacing=SPACING),
                                  float("nan"))}


def segmetrics_rows(pred, ref):
    try:
        import seg_metrics.seg_metrics as sg
    except ImportError as err:  # seg-metrics pulls in medutils, pingouin, ...
        return {"seg-metrics": f"not importable ({err})"}

    out = sg.write_metrics(labels=[1], gdth_img=ref.astype(np.uint8), pred_img=pred.astype(np.uint8),
                           spacing=SPACING, metrics=["hd95", "msd"], verbose=False)[0]
    return {"seg-metrics hd95 / msd": (out["hd95"][0], out["msd"][0], float("nan"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=96)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for name, make in (("organ", organ_case), ("blobs", blobs_case)):
        pred, ref = make(args.size)
        print(f"\n{name} {args.size}^3, spacing {SPACING} mm, NSD tolerance {TOLERANCE} mm")
        print(f"{'convention':<80}{'HD95':>9}{'ASSD':>9}{'NSD':>9}")
        for rows in (labtools_rows, monai_rows, medpy_rows, segmetrics_rows):
            for label, values in rows(pred, ref).items():
                text = values if isinstance(values, str) else "".join(f"{v:>9.4f}" for v in values)
                print(f"{label:<80}{text}")
    empty, ref = np.zeros((20, 20, 20), bool), organ_case(20)[1]
    print("\nprediction empty, reference not (HD95, ASSD):")
    from labtools import metrics

    print(f"  labtools: {metrics.hd95(empty, ref)}, {metrics.assd(empty, ref)}")
    from monai.metrics import HausdorffDistanceMetric, SurfaceDistanceMetric

    print(f"  MONAI:    {HausdorffDistanceMetric(percentile=95)(_tensor(empty), _tensor(ref)).item()}, "
          f"{SurfaceDistanceMetric(symmetric=True)(_tensor(empty), _tensor(ref)).item()}")
    for rows in (medpy_rows, segmetrics_rows):
        try:
            print(f"  {rows(empty, ref)}")
        except Exception as err:  # the point is to show how each library behaves
            print(f"  {rows.__name__.removesuffix('_rows')}: raises {type(err).__name__}: {err}"[:160])


if __name__ == "__main__":
    main()
