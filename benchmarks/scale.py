"""Benchmark (issue 18): many cases on Dask, and a whole-body CT classified block by block.

(a) cases: N generated 64³ prediction/reference pairs (two classes, shifted balls, one in
    seven with a class missing) evaluated with labtools' default metrics three ways in one
    process: the sequential loop (``scheduler="synchronous"``, no Dask), then a local Dask
    cluster of 1 and of 2 single-threaded worker processes. Cluster start-up is timed apart.
    Prints cases/s and the ratio to the sequential loop.
(b) ct: a generated 512×512×800 CT-like volume (labtools.datasets.ct_like, int16, 0.8×0.8×1 mm)
    is written to OME-Zarr block by block, a PixelClassifier (default feature bank: 7 scales,
    61 channels, whose whole bank would be ~50 GB in float32) is trained from scribbles on three
    axial slices, and the volume is classified block by block into another OME-Zarr store.
    Runs in a child process so that its peak resident memory (getrusage) is its own; prints
    the times, the peak RSS (target: ≤ 4 GB) and the Dice of each class against the generator's.

Run:  .venv/bin/python benchmarks/scale.py [--cases 1000] [--ct 512x512x800] [--part cases|ct|both]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _ball(shape, centre, radius):
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    return (sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius ** 2).astype(np.uint8)


def write_cases(folder: Path, n: int, size: int = 64):
    from labtools import io

    pred_dir, ref_dir = folder / "pred", folder / "ref"
    pred_dir.mkdir(), ref_dir.mkdir()
    rng = np.random.default_rng(0)
    shape = (size,) * 3
    for i in range(n):
        centre = rng.integers(size // 3, 2 * size // 3, size=3)
        ref = _ball(shape, centre, size // 4)
        ref[_ball(shape, centre + 4, size // 8) > 0] = 2
        pred = np.roll(ref, int(rng.integers(-3, 4)), axis=int(rng.integers(0, 3)))
        if i % 7 == 3:
            pred[pred == 2] = 0
        io.save(ref, ref_dir / f"case{i:04d}.nii.gz", spacing=(1.0, 1.0, 1.5))
        io.save(pred, pred_dir / f"case{i:04d}.nii.gz", spacing=(1.0, 1.0, 1.5))
    return pred_dir, ref_dir


def run_cases_benchmark(n: int) -> None:
    import logging

    from distributed import LocalCluster

    from labtools.metrics.batch import evaluate_files, pair_files

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        pairs, _, _ = pair_files(*write_cases(Path(folder), n))
        print(f"(a) {n} case pairs of 64³ written in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        expected = evaluate_files(pairs, scheduler="synchronous", progress=False)
        sequential = time.perf_counter() - start
        print(f"    sequential loop  : {n / sequential:7.1f} cases/s ({sequential:.1f} s)")
        for workers in (1, 2):
            start = time.perf_counter()
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None, silence_logs=logging.ERROR) as cluster:
                started = time.perf_counter() - start
                start = time.perf_counter()
                rows = evaluate_files(pairs, scheduler=cluster.scheduler_address, progress=False)
                seconds = time.perf_counter() - start
            same = len(rows) == len(expected) and all(
                a["case"] == b["case"] and str(a.get("dice")) == str(b.get("dice")) for a, b in zip(rows, expected))
            plural = "s" if workers > 1 else " "
            print(f"    Dask, {workers} worker{plural}: {n / seconds:7.1f} cases/s ({seconds:.1f} s; "
                  f"{sequential / seconds:.2f}x the sequential loop; cluster start {started:.1f} s; "
                  f"rows {'identical' if same else 'DIFFER'})")


def run_ct_benchmark(shape) -> None:
    import dask

    from labtools import io
    from labtools.datasets.ct_like import CT_LIKE_CLASSES, ct_like
    from labtools.pixel_classifier import PixelClassifier

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        image, classes = ct_like(shape)
        start = time.perf_counter()
        with dask.config.set(scheduler="threads", num_workers=2):
            io.save(image, folder / "ct.ome.zarr")
        print(f"(b) {'x'.join(map(str, shape))} CT-like volume written to OME-Zarr in "
              f"{time.perf_counter() - start:.1f} s")
        lazy = io.load(folder / "ct.ome.zarr")
        classifier = PixelClassifier(n_jobs=2)
        rows, targets = [], []
        start = time.perf_counter()
        rng = np.random.default_rng(0)
        for fraction in (0.2, 0.42, 0.75):  # three axial slices: pelvis, liver, lungs
            z = int(fraction * shape[2])
            truth = np.asarray(classes[:, :, z])
            features = classifier.transform(lazy, roi=np.s_[:, :, z:z + 1])[..., 0]
            for value in np.unique(truth):
                inside = np.argwhere(truth == value)
                chosen = inside[rng.choice(len(inside), min(300, len(inside)), replace=False)]
                rows.append(features[:, chosen[:, 0], chosen[:, 1]].T)
                targets.append(np.full(len(chosen), value + 1))
        classifier.fit_samples(np.concatenate(rows), np.concatenate(targets), ndim=3)
        print(f"    scribbles on 3 slices, features of those slices only, forest fitted: "
              f"{time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        with dask.config.set(scheduler="threads", num_workers=2):
            io.save(lazy.with_array(classifier.predict_blockwise(lazy)), folder / "ct_seg.ome.zarr")
        seconds = time.perf_counter() - start
        voxels = int(np.prod(shape))
        print(f"    classified block by block into OME-Zarr: {seconds:.0f} s "
              f"({voxels / seconds / 1e6:.2f} Mvoxel/s)")
        segmentation = io.load(folder / "ct_seg.ome.zarr").array
        with dask.config.set(scheduler="threads", num_workers=2):
            scores = []
            for value, name in CT_LIKE_CLASSES.items():
                found, truth = segmentation == value + 1, classes == value
                overlap, sizes = dask.compute((found & truth).sum(), found.sum() + truth.sum())
                scores.append(f"{name} {2 * overlap / sizes:.3f}")
        print("    Dice per class: " + ", ".join(scores))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"    peak RSS of the whole run: {peak / 2**30:.2f} GiB (target ≤ 4 GB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--ct", default="512x512x800")
    parser.add_argument("--part", choices=("cases", "ct", "both"), default="both")
    args = parser.parse_args()
    shape = tuple(int(n) for n in args.ct.split("x"))
    if args.part in ("cases", "both"):
        print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
              f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        run_cases_benchmark(args.cases)
    if args.part == "ct":
        run_ct_benchmark(shape)
    elif args.part == "both":  # its own process: its peak memory is not part (a)'s
        subprocess.run([sys.executable, __file__, "--part", "ct", "--ct", args.ct], check=True)


if __name__ == "__main__":
    main()
