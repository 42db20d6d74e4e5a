"""What an annotator waits for: stroke → prediction on screen, autosave, volume, on MNI152 1 mm.

Runs one scripted labeling session (brush strokes of radius 2 on three axial planes, a few per
tissue class; the slice on screen predicted after each stroke, as the dock's live update does)
and reports:

- first prediction: from the first strokes of two classes to the prediction of the plane on
  screen (session opened, nothing computed yet; the dock starts the whole feature bank in the
  background at the same time);
- later strokes: ``add_stroke`` + ``update(plane)`` for each of the next strokes, p50 / p95
  (moving to another plane predicts that plane first, as the dock does when you scroll; that
  is reported on its own);
- autosave: the time ``add_stroke`` takes with an autosave file (what a stroke costs the GUI);
- whole volume: ``predict_volume``, once the feature bank is built (the old version built it
  at the first update, this one in the background while the user paints);
- Dice of the final volume for the four MNI152 tissue classes.

The reference is labtools as it was before the annotator issue (``--reference-commit``, default
c9f204d): its ``labtools/`` is extracted from git into a temporary folder and the same
measurement runs there in a child process (two versions of one package cannot share a process);
both columns and their ratio (labtools / reference, below 1: faster) are printed.

Usage::

    python benchmarks/labeling_latency.py                 # both, 30 later strokes
    python benchmarks/labeling_latency.py --no-reference  # only this checkout
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def strokes(truth, planes, per_class, seed=0):
    """Brush strokes (disks of radius 2 in the plane) well inside each tissue: (coords, label)."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    disk = [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3) if dx * dx + dy * dy <= 4]
    out = []
    for z in planes:
        inside = {label: np.argwhere(ndi.binary_erosion(truth[:, :, z] == label, iterations=3))
                  for label in (1, 2, 3, 4)}
        for _ in range(per_class):
            for label, points in inside.items():
                if not len(points):
                    continue
                x, y = points[rng.integers(len(points))]
                xs = np.array([x + dx for dx, _ in disk])
                ys = np.array([y + dy for _, dy in disk])
                out.append(((xs, ys, np.full(len(disk), z)), label))
    return out


def measure(n_later: int, seed: int = 0) -> dict:
    """One scripted session with the labtools importable here; timings in seconds."""
    from labtools import datasets, metrics
    from labtools.labeling import LabelingSession
    from labtools.pixel_classifier import PixelClassifier

    image, truth = datasets.mni152(resolution=1)
    middle = image.spatial_shape[2] // 2
    plane = np.s_[:, :, middle]
    folder = tempfile.mkdtemp()
    options = dict(classifier=PixelClassifier(), autosave_path=os.path.join(folder, "t1_scribbles.nii.gz"))
    try:  # this version: keep MNI152's own label values (1..4) in predictions
        from labtools.labeling import ClassTable

        options["classes"] = ClassTable.from_values([1, 2, 3, 4])
    except ImportError:  # before the class table, predictions were the scribble classes: also 1..4
        pass
    session = LabelingSession(image, **options)
    if hasattr(session, "prepare_features"):
        session.prepare_features()  # what the dock does when labeling starts
    scripted = strokes(truth, (middle, middle - 20, middle + 20), per_class=4, seed=seed)
    on_screen = [k for k, s in enumerate(scripted) if s[0][2][0] == middle][:4]  # one per class
    first = [scripted[k] for k in on_screen]
    later = [s for k, s in enumerate(scripted) if k not in on_screen][:n_later]

    start = time.perf_counter()
    for coords, label in first:
        session.add_stroke(coords, label)
    session.update(plane)
    first_prediction = time.perf_counter() - start

    stroke_times, update_times, new_plane_times = [], [], []
    shown = middle
    for coords, label in later:
        plane_index = int(coords[2][0])
        if plane_index != shown:  # the annotator scrolls there first: the dock predicts that plane
            t0 = time.perf_counter()
            session.update(np.s_[:, :, plane_index])
            new_plane_times.append(time.perf_counter() - t0)
            shown = plane_index
        t0 = time.perf_counter()
        session.add_stroke(coords, label)
        t1 = time.perf_counter()
        session.update(np.s_[:, :, int(coords[2][0])])
        t2 = time.perf_counter()
        stroke_times.append(t1 - t0)
        update_times.append(t2 - t0)

    if hasattr(session, "features"):  # labelling takes minutes: the background bank is done by then
        session.features.whole()
    t0 = time.perf_counter()
    segmentation = session.predict_volume(progress=False)
    volume = time.perf_counter() - t0
    dice = {label: float(metrics.dice(segmentation == label, truth == label)) for label in (1, 2, 3, 4)}
    if hasattr(session, "close"):
        session.close()
    return {"first_prediction_s": first_prediction,
            "later_p50_s": float(np.percentile(update_times, 50)),
            "later_p95_s": float(np.percentile(update_times, 95)),
            "autosave_stroke_p50_ms": 1000 * float(np.percentile(stroke_times, 50)),
            "autosave_stroke_p95_ms": 1000 * float(np.percentile(stroke_times, 95)),
            "new_plane_s": float(np.mean(new_plane_times)) if new_plane_times else float("nan"),
            "volume_s": volume, "dice": dice, "strokes": len(first) + len(later)}


def reference(commit: str, n_later: int, seed: int = 0) -> dict:
    """`measure` with labtools as it was at `commit` (extracted from git), in a child process."""
    folder = Path(tempfile.mkdtemp(prefix="labtools-ref-"))
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "labtools"], check=True,
                             capture_output=True).stdout
    archive_path = folder / "ref.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(folder, filter="data")
    code = (f"import json, sys; sys.path.insert(0, {str(folder)!r}); sys.path.insert(1, {str(REPO)!r}); "
            f"from benchmarks.labeling_latency import measure; print(json.dumps(measure({n_later}, {seed})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(folder)})
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--later", type=int, default=30, help="strokes after the first prediction")
    parser.add_argument("--reference-commit", default="c9f204d")
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--seeds", type=int, default=3, help="scripted sessions (other strokes) to average")
    args = parser.parse_args(argv)
    ours = _mean([measure(args.later, seed) for seed in range(args.seeds)])
    theirs = None if args.no_reference else _mean([reference(args.reference_commit, args.later, seed)
                                                   for seed in range(args.seeds)])
    rows = [("first strokes -> first prediction of the plane (s)", "first_prediction_s", 1.0),
            ("later stroke -> refreshed plane, p50 (s)", "later_p50_s", None),
            ("later stroke -> refreshed plane, p95 (s)", "later_p95_s", 0.1),
            ("add_stroke with autosave, p50 (ms)", "autosave_stroke_p50_ms", None),
            ("add_stroke with autosave, p95 (ms)", "autosave_stroke_p95_ms", 5.0),
            ("scroll to another plane -> its prediction, mean (s)", "new_plane_s", None),
            ("whole-volume prediction, features built (s)", "volume_s", None)]
    print(f"MNI152 1 mm, {ours['strokes']:.0f} strokes, mean of {args.seeds} scripted sessions, "
          f"{os.cpu_count()} cores")
    print(f"{'':52s} {'labtools':>10s} {'reference':>10s} {'ratio':>7s} {'target':>7s}  (ratio: labtools / reference)")
    for name, key, target in rows:
        ref = "" if theirs is None else f"{theirs[key]:10.3f}"
        ratio = "" if theirs is None else f"{ours[key] / theirs[key]:7.3f}"  # labtools / reference
        print(f"{name:52s} {ours[key]:10.3f} {ref:>10s} {ratio:>7s} {'' if target is None else target:>7}")
    for label, name in zip((1, 2, 3, 4), ("background", "CSF/other", "grey matter", "white matter")):
        ref = "" if theirs is None else f"{theirs['dice'][str(label)]:10.3f}"
        print(f"{'Dice ' + name:52s} {ours['dice'][str(label)]:10.3f} {ref:>10s}")


def _mean(runs: list[dict]) -> dict:
    """Each number averaged over the runs; Dice per class too (keys as strings, as JSON has them)."""
    runs = [json.loads(json.dumps(run)) for run in runs]
    out = {key: float(np.mean([run[key] for run in runs])) for key in runs[0] if key != "dice"}
    out["dice"] = {label: float(np.mean([run["dice"][label] for run in runs])) for label in runs[0]["dice"]}
    return out


if __name__ == "__main__":
    main()
