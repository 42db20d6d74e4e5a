"""All metrics of one case from one distance computation: :func:`evaluate`."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from labtools.errors import ParameterError
from labtools.metrics._checks import as_binary_pair, as_label_maps, as_spacing
from labtools.metrics.lesions import lesion_detection
from labtools.metrics.overlap import confusion_matrix, overlap_scores
from labtools.metrics.rates import RATE_NAMES, rate_scores
from labtools.metrics.surface import (
    assd,
    average_surface_distance,
    directed_hausdorff,
    hausdorff,
    hd95,
    nsd,
    surface_distances,
)

__all__ = ["evaluate", "METRIC_NAMES", "AVAILABLE_METRICS"]

METRIC_NAMES = (
    "dice", "iou", "precision", "recall", "specificity", "accuracy", "volume_similarity",
    "hausdorff", "hd95", "assd", "nsd", "volume_pred_ml", "volume_ref_ml",
    "tp", "fp", "fn", "tn",
    "lesions_ref", "lesions_pred", "lesions_tp", "lesions_fn", "lesions_fp", "lesion_wise_dice",
    "fp_volume_ml", "fn_volume_ml",
)
_DIRECTED = ("directed_hausdorff", "average_surface_distance")
_DISTANCES = ("hausdorff", "hd95", "assd", "nsd", *_DIRECTED)
_LESIONS = ("lesions_ref", "lesions_pred", "lesions_tp", "lesions_fn", "lesions_fp", "lesion_wise_dice",
            "fp_volume_ml", "fn_volume_ml")
_SHAPES = ("centre_of_mass_distance", "boundary_iou", "centreline_dice", "panoptic_quality", "detection_f1")
#: Every metric ``evaluate(..., metrics=[...])`` can compute: the defaults, then the rates, the
#: directed distances (pred → ref), shape and topology, and object-level scores.
AVAILABLE_METRICS = METRIC_NAMES + RATE_NAMES + _DIRECTED + _SHAPES


def evaluate(pred, ref, spacing=None, labels=None, *, tolerance: float = 1.0,
             empty_value: float = np.nan, connectivity: int | None = None, metrics=None) -> dict:
    """Every overlap and distance metric of a prediction against a reference.

    The surface distances are computed once and shared by Hausdorff, HD95,
    ASSD and NSD, which is why this is several times faster than calling the
    four metrics one by one (``benchmarks/metrics.py``).

    Parameters
    ----------
    pred, ref : array_like
        Binary masks, or integer label maps when `labels` is given.
    spacing : sequence of float, optional
        Voxel size in mm per axis (default 1 mm).
    labels : sequence of int, optional
        Classes to evaluate one by one (each as ``map == label``).
    tolerance : float
        NSD tolerance in mm.
    empty_value : float
        Value of the metrics that are undefined when both masks are empty.
    connectivity : int, optional
        Connectivity of lesions (connected components); default full.
    metrics : sequence of str, optional
        Which metrics (names from ``AVAILABLE_METRICS``; ``"all"`` for every one);
        default ``METRIC_NAMES``. Only what they need is computed: no surface
        distances without a distance metric, no components without a lesion count.

    Returns
    -------
    dict
        Without `labels`: ``{metric: value}`` with the keys in ``METRIC_NAMES``.
        With `labels`: ``{label: {metric: value}}``.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((20, 20, 10), dtype=np.uint8); ref[5:15, 5:15, 2:8] = 1
    >>> pred = np.roll(ref, 1, axis=0)
    >>> scores = evaluate(pred, ref, spacing=(1.0, 1.0, 2.5))
    >>> scores["dice"], scores["hausdorff"], scores["volume_ref_ml"]
    (0.9, 1.0, 1.5)
    >>> sorted(evaluate(pred * 2, ref * 2, labels=[2])[2])[:3]
    ['accuracy', 'assd', 'dice']
    >>> chosen = evaluate(pred, ref, metrics=["dice", "matthews_correlation"])  # TP 540, FP = FN = 60
    >>> {name: round(value, 4) for name, value in chosen.items()}               # MCC 1.8e6 / 2.04e6
    {'dice': 0.9, 'matthews_correlation': 0.8824}
    """
    wanted = selected_metrics(metrics)
    if labels is not None:
        pred, ref = as_label_maps(pred, ref)
        results = {}
        for label, box in _label_boxes(pred, ref, labels).items():
            # Everything but the true negatives lives inside the class's box: count the rest as TN.
            inside_pred, inside_ref = pred[box] == label, ref[box] == label
            results[label] = _evaluate_binary(inside_pred, inside_ref, spacing, tolerance, empty_value,
                                              connectivity, wanted, outside=pred.size - inside_pred.size)
        return results
    pred, ref = as_binary_pair(pred, ref)
    return _evaluate_binary(pred, ref, spacing, tolerance, empty_value, connectivity, wanted)


def _label_boxes(pred: np.ndarray, ref: np.ndarray, labels) -> dict:
    """``{label: slices}``: the bounding box of each class in either map, from one pass per map.

    With several classes this is what they share: each class is then scored on
    its own box instead of the whole volume. A class absent from both maps gets
    a one-voxel box; label 0 (or negative values) the whole volume.
    """
    whole = tuple(slice(None) for _ in range(pred.ndim))
    labels = [int(label) for label in labels]
    if any(label <= 0 for label in labels) or min(pred.min(initial=0), ref.min(initial=0)) < 0:
        return {label: whole for label in labels}
    as_ints = lambda a: a if a.dtype.kind in "iu" else a.astype(np.int64)  # noqa: E731 (float maps of whole numbers)
    in_pred = ndi.find_objects(as_ints(pred), max_label=max(labels))
    in_ref = ndi.find_objects(as_ints(ref), max_label=max(labels))
    boxes = {}
    for label in labels:
        found = [b for b in (in_pred[label - 1], in_ref[label - 1]) if b is not None]
        if not found:
            boxes[label] = tuple(slice(0, 1) for _ in range(pred.ndim))
        else:
            boxes[label] = tuple(slice(min(b[axis].start for b in found), max(b[axis].stop for b in found))
                                 for axis in range(pred.ndim))
    return boxes


def selected_metrics(metrics) -> tuple[str, ...]:
    """The metric names asked for, checked (ParameterError naming the unknown ones).

    Examples
    --------
    >>> selected_metrics(["hd95", "dice"])
    ('hd95', 'dice')
    >>> len(selected_metrics("all")) == len(AVAILABLE_METRICS)
    True
    """
    if metrics is None:
        return METRIC_NAMES
    if isinstance(metrics, str):
        metrics = AVAILABLE_METRICS if metrics == "all" else [metrics]
    metrics = tuple(dict.fromkeys(str(m).strip() for m in metrics))
    unknown = [m for m in metrics if m not in AVAILABLE_METRICS]
    if unknown or not metrics:
        raise ParameterError(f"unknown metric(s) {unknown or metrics}; choose among {', '.join(AVAILABLE_METRICS)} "
                             "(or 'all')")
    return metrics


def _evaluate_binary(pred, ref, spacing, tolerance, empty_value, connectivity, wanted, outside: int = 0) -> dict:
    spacing = as_spacing(spacing, np.ndim(pred))
    c = confusion_matrix(pred, ref)
    c = c._replace(tn=c.tn + outside)           # voxels of the volume outside this class's box
    voxel_ml = float(np.prod(spacing)) / 1000.0
    values = {
        **overlap_scores(c, empty_value=empty_value),
        "volume_pred_ml": (c.tp + c.fp) * voxel_ml,
        "volume_ref_ml": (c.tp + c.fn) * voxel_ml,
        "tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn,
    }
    if any(name in RATE_NAMES for name in wanted):
        values.update(rate_scores(c, empty_value=empty_value))
    if any(name in _DISTANCES for name in wanted):
        d = surface_distances(pred, ref, spacing, surfel_bound=tolerance, surfels="nsd" in wanted)
        values.update({
            "hausdorff": hausdorff(distances=d, empty_value=empty_value),
            "hd95": hd95(distances=d, empty_value=empty_value),
            "assd": assd(distances=d, empty_value=empty_value),
            "directed_hausdorff": directed_hausdorff(distances=d, empty_value=empty_value),
            "average_surface_distance": average_surface_distance(distances=d, empty_value=empty_value),
        })
        if "nsd" in wanted:
            values["nsd"] = nsd(tolerance=tolerance, distances=d, empty_value=empty_value)
    if any(name in _LESIONS for name in wanted):
        values.update(lesion_detection(pred, ref, spacing, connectivity=connectivity).as_dict())
    for name in (n for n in wanted if n in _SHAPES):
        values[name] = _shape_metric(name, pred, ref, spacing, empty_value, connectivity)
    return {name: values[name] for name in wanted}


def _shape_metric(name, pred, ref, spacing, empty_value, connectivity) -> float:
    from labtools.metrics import instances, shape

    if name == "centre_of_mass_distance":
        return shape.centre_of_mass_distance(pred, ref, spacing, empty_value=empty_value)
    if name == "boundary_iou":
        return shape.boundary_iou(pred, ref, spacing=spacing, width=min(spacing), empty_value=empty_value)
    if name == "centreline_dice":
        return shape.centreline_dice(pred, ref, empty_value=empty_value)
    if name == "panoptic_quality":
        return instances.panoptic_quality(pred, ref, connectivity=connectivity, empty_value=empty_value)["pq"]
    return instances.detection_f1(pred, ref, connectivity=connectivity, empty_value=empty_value)
