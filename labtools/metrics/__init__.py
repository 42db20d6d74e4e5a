"""Segmentation metrics: overlap, boundary distance (mm), lesion-wise, and evaluate().

numpy in, floats (or dicts) out; 2D and 3D; ``spacing=`` wherever distances or
volumes appear. Conventions, including the empty-mask policy and how each
metric relates to MONAI, DeepMind, MedPy and seg-metrics, are in docs/metrics.md.

Examples
--------
>>> import numpy as np
>>> from labtools import metrics
>>> ref = np.zeros((32, 32), bool); ref[8:24, 8:24] = True
>>> pred = np.roll(ref, 2, axis=1)
>>> round(metrics.dice(pred, ref), 3), metrics.hausdorff(pred, ref, spacing=(0.5, 0.5))
(0.875, 1.0)
"""

from labtools.metrics.evaluate import METRIC_NAMES, evaluate
from labtools.metrics.lesions import FROC, LesionReport, froc, lesion_detection, volume_ml
from labtools.metrics.overlap import (
    Confusion,
    accuracy,
    confusion_matrix,
    dice,
    f1,
    iou,
    overlap_scores,
    precision,
    recall,
    specificity,
    volume_similarity,
)
from labtools.metrics.surface import SurfaceDistances, assd, hausdorff, hd95, nsd, surface_distances

__all__ = [
    "Confusion", "confusion_matrix", "overlap_scores", "accuracy", "precision", "recall",
    "specificity", "f1", "dice", "iou", "volume_similarity",
    "SurfaceDistances", "surface_distances", "hausdorff", "hd95", "assd", "nsd",
    "LesionReport", "lesion_detection", "volume_ml", "FROC", "froc",
    "evaluate", "METRIC_NAMES", "batch",
]


def __getattr__(name: str):
    # metrics.batch (file pairing, CSV) pulls in labtools.io: load it on first use only, so
    # that `from labtools import metrics` stays as light as the metrics themselves.
    if name == "batch":
        import importlib

        return importlib.import_module("labtools.metrics.batch")
    raise AttributeError(f"module 'labtools.metrics' has no attribute {name!r}")
