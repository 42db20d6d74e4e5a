"""Segmentation metrics: overlap, rates, boundary distance (mm), shape and topology, calibration,
lesion-wise, and evaluate().

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

from labtools.metrics.brats import BRATS_SETTINGS, brats_lesion_wise
from labtools.metrics.calibration import (
    ReliabilityCurve,
    auroc,
    average_precision,
    brier_score,
    expected_calibration_error,
    log_score,
    reliability_curve,
)
from labtools.metrics.evaluate import AVAILABLE_METRICS, METRIC_NAMES, evaluate
from labtools.metrics.instances import (
    InstanceMatch,
    detection_average_precision,
    detection_f1,
    instance_scores,
    label_instances,
    match_instances,
    panoptic_quality,
)
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
from labtools.metrics.rates import (
    RATE_NAMES,
    absolute_volume_difference_ratio,
    balanced_accuracy,
    cohens_kappa,
    false_discovery_rate,
    false_negative_rate,
    false_omission_rate,
    false_positive_rate,
    fbeta,
    fowlkes_mallows,
    informedness,
    markedness,
    matthews_correlation,
    negative_predictive_value,
    net_benefit,
    normalised_expected_cost,
    positive_likelihood_ratio,
    prevalence_threshold,
    rate_scores,
    youden_index,
)
from labtools.metrics.recommendation import Advice, Recommendation, recommend
from labtools.metrics.reduction import REDUCTIONS, Reduced, reduce_metric
from labtools.metrics.shape import (
    betti_errors,
    betti_numbers,
    boundary_iou,
    centre_of_mass_distance,
    centreline_dice,
)
from labtools.metrics.surface import (
    SurfaceDistances,
    assd,
    average_surface_distance,
    directed_hausdorff,
    hausdorff,
    hd95,
    nsd,
    surface_distances,
)

__all__ = [
    "Confusion", "confusion_matrix", "overlap_scores", "accuracy", "precision", "recall",
    "specificity", "f1", "dice", "iou", "volume_similarity",
    "rate_scores", "RATE_NAMES", "false_positive_rate", "false_negative_rate", "false_discovery_rate",
    "false_omission_rate", "negative_predictive_value", "prevalence_threshold", "balanced_accuracy",
    "matthews_correlation", "fowlkes_mallows", "informedness", "youden_index", "markedness", "fbeta",
    "cohens_kappa", "positive_likelihood_ratio", "normalised_expected_cost", "net_benefit",
    "absolute_volume_difference_ratio",
    "SurfaceDistances", "surface_distances", "hausdorff", "hd95", "assd", "nsd", "directed_hausdorff",
    "average_surface_distance",
    "brier_score", "log_score", "expected_calibration_error", "ReliabilityCurve", "reliability_curve",
    "auroc", "average_precision",
    "centre_of_mass_distance", "boundary_iou", "centreline_dice", "betti_numbers", "betti_errors",
    "InstanceMatch", "label_instances", "match_instances", "detection_f1", "panoptic_quality",
    "instance_scores", "detection_average_precision", "brats_lesion_wise", "BRATS_SETTINGS",
    "LesionReport", "lesion_detection", "volume_ml", "FROC", "froc",
    "evaluate", "METRIC_NAMES", "AVAILABLE_METRICS", "batch", "reduce_metric", "Reduced", "REDUCTIONS",
    "recommend", "Recommendation", "Advice",
]


def __getattr__(name: str):
    # metrics.batch (file pairing, CSV) pulls in labtools.io: load it on first use only, so
    # that `from labtools import metrics` stays as light as the metrics themselves.
    if name == "batch":
        import importlib

        return importlib.import_module("labtools.metrics.batch")
    raise AttributeError(f"module 'labtools.metrics' has no attribute {name!r}")
