"""All metrics of one case from one distance computation: :func:`evaluate`."""

from __future__ import annotations

import numpy as np

from labtools.metrics._checks import as_binary_pair, as_label_maps, as_spacing
from labtools.metrics.lesions import lesion_detection
from labtools.metrics.overlap import confusion_matrix, overlap_scores
from labtools.metrics.surface import assd, hausdorff, hd95, nsd, surface_distances

__all__ = ["evaluate", "METRIC_NAMES"]

METRIC_NAMES = (
    "dice", "iou", "precision", "recall", "specificity", "accuracy", "volume_similarity",
    "hausdorff", "hd95", "assd", "nsd", "volume_pred_ml", "volume_ref_ml",
    "tp", "fp", "fn", "tn",
    "lesions_ref", "lesions_pred", "lesions_tp", "lesions_fn", "lesions_fp", "lesion_wise_dice",
    "fp_volume_ml", "fn_volume_ml",
)


def evaluate(pred, ref, spacing=None, labels=None, *, tolerance: float = 1.0,
             empty_value: float = np.nan, connectivity: int | None = None) -> dict:
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
    """
    if labels is not None:
        pred, ref = as_label_maps(pred, ref)
        return {int(label): _evaluate_binary(pred == label, ref == label, spacing, tolerance,
                                             empty_value, connectivity)
                for label in labels}
    pred, ref = as_binary_pair(pred, ref)
    return _evaluate_binary(pred, ref, spacing, tolerance, empty_value, connectivity)


def _evaluate_binary(pred, ref, spacing, tolerance, empty_value, connectivity) -> dict:
    spacing = as_spacing(spacing, np.ndim(pred))
    c = confusion_matrix(pred, ref)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    d = surface_distances(pred, ref, spacing, surfel_bound=tolerance)
    return {
        **overlap_scores(c, empty_value=empty_value),
        "hausdorff": hausdorff(distances=d, empty_value=empty_value),
        "hd95": hd95(distances=d, empty_value=empty_value),
        "assd": assd(distances=d, empty_value=empty_value),
        "nsd": nsd(tolerance=tolerance, distances=d, empty_value=empty_value),
        "volume_pred_ml": (c.tp + c.fp) * voxel_ml,
        "volume_ref_ml": (c.tp + c.fn) * voxel_ml,
        "tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn,
        **lesion_detection(pred, ref, spacing, connectivity=connectivity).as_dict(),
    }
