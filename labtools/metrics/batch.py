"""Evaluating many cases from files: pairing, per-case rows, and an explicit summary policy.

This is what ``labtools evaluate PRED REF`` runs. One bad case (unreadable
file, other grid than its reference) becomes a row with an ``error`` and the
rest go on; the summary says how many cases the empty-mask policy touched.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import numpy as np

from labtools.errors import MissingFileError
from labtools.io import SUPPORTED_SUFFIXES, ZARR_SUFFIXES, check_pair, file_format, load
from labtools.metrics.evaluate import AVAILABLE_METRICS, evaluate

__all__ = ["pair_files", "evaluate_files", "summarize", "present_labels", "write_csv", "DISTANCE_METRICS"]

DISTANCE_METRICS = ("hausdorff", "hd95", "assd")


def pair_files(pred, ref) -> tuple[list[tuple[str, Path, Path]], list[Path], list[Path]]:
    """Match prediction and reference files by file name.

    `pred` and `ref` are two files, or two folders whose image files are
    matched by name. Returns ``(pairs, unmatched_pred, unmatched_ref)`` with
    pairs as ``(case name, pred path, ref path)``.

    Examples
    --------
    >>> pairs, _, _ = pair_files("a/case1.nii.gz", "b/case1.nii.gz")
    >>> pairs[0][0]
    'case1'
    """
    pred, ref = Path(pred), Path(ref)
    if not pred.is_dir() and not ref.is_dir():
        return [(_case_name(ref), pred, ref)], [], []
    for path in (pred, ref):
        if not path.is_dir():
            raise MissingFileError(f"{path}: expected a folder (PRED and REF must both be files "
                                   "or both be folders)")
    pred_files, ref_files = _image_files(pred), _image_files(ref)
    pairs = [(_case_name(ref_files[name]), pred_files[name], ref_files[name])
             for name in sorted(ref_files) if name in pred_files]
    unmatched_pred = [pred_files[n] for n in sorted(set(pred_files) - set(ref_files))]
    unmatched_ref = [ref_files[n] for n in sorted(set(ref_files) - set(pred_files))]
    return pairs, unmatched_pred, unmatched_ref


def _image_files(folder: Path) -> dict[str, Path]:
    # Zarr stores are folders; every other image is a file.
    return {p.name: p for p in sorted(folder.iterdir())
            if p.name.lower().endswith(SUPPORTED_SUFFIXES)
            and (p.is_dir() if p.name.lower().endswith(ZARR_SUFFIXES) else p.is_file())}


def _case_name(path: Path) -> str:
    return path.name[: -len(file_format(path))]


def evaluate_files(pairs, *, spacing="auto", labels=None, tolerance: float = 1.0,
                   progress: bool = True, metrics=None, scheduler=None, workers: int | None = None,
                   journal=None) -> list[dict]:
    """Evaluate each ``(case, pred path, ref path)`` as a Dask task; one row per case and label.

    Cases run on a local Dask cluster by default, or on the scheduler named
    (:func:`labtools.scale.dask_client`); rows come back in the order of
    `pairs`, whatever the order in which cases finish.

    Parameters
    ----------
    pairs : list of (str, Path, Path)
        From :func:`pair_files`.
    spacing : "auto" or sequence of float
        "auto" reads the voxel size from each reference file's header.
    labels : sequence of int, optional
        Classes to evaluate; default every non-zero value found in either file.
    tolerance : float
        NSD tolerance in mm.
    progress : bool
        Show a progress bar.
    metrics : sequence of str, optional
        Which metrics (see :func:`labtools.metrics.evaluate`); default its defaults.
    scheduler : str, optional
        A ``dask.distributed`` address, "local" or "synchronous" (no Dask);
        default ``DASK_SCHEDULER_ADDRESS``, the open client, or a local cluster.
    workers : int, optional
        Workers of a new local cluster (default one per core).
    journal : str or pathlib.Path, optional
        JSON-lines file recording each finished case under the content hash
        of its two files and the options: a rerun with the same journal skips
        them (see :class:`labtools.scale.CaseJournal`).

    Returns
    -------
    list of dict
        Rows with ``case``, ``label``, ``error`` (empty when fine),
        ``diagonal_mm`` (the image diagonal, for the summary policy) and
        every metric of :func:`labtools.metrics.evaluate`.
    """
    from labtools.scale import Case, CaseJournal, content_hash, run_cases

    options = {"spacing": spacing, "labels": labels, "tolerance": tolerance, "metrics": metrics,
               "version": _ROWS_VERSION}

    def key(case, pred_path, ref_path) -> str:
        # The content hash reads both files: only worth it when a journal will be looked up with it.
        if journal is None:
            return content_hash(options={"case": case, "pred": str(pred_path), "ref": str(ref_path), **options})
        return content_hash(pred_path, ref_path, options={"case": case, **options})

    cases = [Case(case, key(case, pred_path, ref_path),
                  (case, pred_path, ref_path, spacing, labels, tolerance, metrics))
             for case, pred_path, ref_path in pairs]
    by_case = {}
    for outcome in run_cases(_evaluate_case, cases, scheduler=scheduler, workers=workers, desc="evaluate",
                             journal=None if journal is None else CaseJournal(journal), progress=progress):
        by_case[outcome.case.name] = outcome.result if not outcome.error else [
            {"case": outcome.case.name, "label": "", "error": outcome.error}]
    return [row for case, _, _ in pairs for row in by_case[case]]


# Part of each case's content hash: bump it when the rows _evaluate_case returns change meaning,
# so that journals of older runs are not reused.
_ROWS_VERSION = 1


def _evaluate_case(case, pred_path, ref_path, spacing, labels, tolerance, metrics=None) -> list[dict]:
    """The rows of one case (runs on a Dask worker)."""
    pred, ref = load(pred_path), load(ref_path)
    check_pair(ref, pred, roles=("reference", "prediction"))  # same grid: shape and affine
    case_spacing = ref.spacing if spacing == "auto" else spacing
    pred_array, ref_array = np.asarray(pred.array), np.asarray(ref.array)  # a Zarr store is read here
    if labels is None:
        labels = present_labels(pred_array, ref_array)
    results = evaluate(pred_array, ref_array, spacing=case_spacing, labels=labels, tolerance=tolerance,
                       metrics=metrics)
    diagonal = float(np.linalg.norm(np.array(ref.spatial_shape) * np.array(case_spacing)))
    return [{"case": case, "label": label, "error": "", "diagonal_mm": diagonal, **scores}
            for label, scores in results.items()]


def summarize(rows: list[dict], *, inf_policy: str | float = "diagonal") -> list[dict]:
    """Mean, std and median of every metric per label, with an explicit empty-mask policy.

    NaN (both masks empty: nothing to score) is left out of the statistics
    and counted in ``n_both_empty``. +inf distances (exactly one mask empty)
    are replaced by the image diagonal in mm (``inf_policy="diagonal"``, as
    BraTS does with 373.13 mm), by a fixed number, or left out
    (``"exclude"``); ``n_one_empty`` counts them.

    Examples
    --------
    >>> rows = [{"case": "a", "label": 1, "error": "", "diagonal_mm": 100.0, "dice": 0.8, "hd95": 2.0},
    ...         {"case": "b", "label": 1, "error": "", "diagonal_mm": 100.0, "dice": 0.0, "hd95": math.inf}]
    >>> summary = summarize(rows)
    >>> [(s["metric"], s["mean"], s["n_one_empty"]) for s in summary]
    [('dice', 0.4, 0), ('hd95', 51.0, 1)]
    """
    if not (inf_policy in ("diagonal", "exclude") or isinstance(inf_policy, (int, float))):
        raise ValueError(f"inf_policy must be 'diagonal', 'exclude' or a number, got {inf_policy!r}")
    good = [r for r in rows if not r.get("error")]
    summary = []
    for label in sorted({r["label"] for r in good}, key=str):
        label_rows = [r for r in good if r["label"] == label]
        for metric in [m for m in AVAILABLE_METRICS if m in label_rows[0]]:
            values, both_empty, one_empty = [], 0, 0
            for row in label_rows:
                value = float(row[metric])
                if math.isnan(value):
                    both_empty += 1
                    continue
                if math.isinf(value):
                    one_empty += 1
                    if inf_policy == "exclude":
                        continue
                    value = row["diagonal_mm"] if inf_policy == "diagonal" else float(inf_policy)
                values.append(value)
            summary.append({
                "label": label, "metric": metric, "n": len(values),
                "mean": statistics.fmean(values) if values else math.nan,
                "std": statistics.pstdev(values) if len(values) > 1 else (0.0 if values else math.nan),
                "median": statistics.median(values) if values else math.nan,
                "n_both_empty": both_empty, "n_one_empty": one_empty,
            })
    return summary


def present_labels(pred, ref) -> list[int]:
    """Every non-zero value of either label map, sorted: what to evaluate by default.

    Examples
    --------
    >>> present_labels(np.array([0, 2, 2]), np.array([0, 1, 0]))
    [1, 2]
    """
    return [int(v) for v in np.union1d(np.unique(pred), np.unique(ref)) if v != 0]


def write_csv(path, rows: list[dict]) -> Path:
    """Write metric rows (dicts) as CSV, one column per key seen in any row, in order of appearance.

    inf and NaN are written as ``inf`` and ``nan``, which ``float()`` reads back.
    """
    import csv

    path = Path(path)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path
