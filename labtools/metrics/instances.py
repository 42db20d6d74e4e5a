"""Instance level: match predicted and reference objects, then score detection and each object.

Objects are the connected components of a binary mask (full connectivity by
default) or the values of an instance label map. Matching is explicit:

* ``rule="one_to_one"`` (default): among pairs whose IoU reaches `threshold`,
  the one-to-one assignment with the largest total IoU (Hungarian algorithm,
  ``scipy.optimize.linear_sum_assignment``); above an IoU of 0.5 every object
  has at most one candidate anyway (Kirillov et al. 2019), so this is the
  panoptic-quality matching;
* ``rule="greedy_by_score"``: predictions in decreasing `scores` order each take
  the unmatched reference object they overlap most (COCO and most detection
  challenges).

From a match: detection counts and F1, panoptic quality (PQ = SQ × RQ), and
per-object Dice / HD95 with the BraTS 2023 lesion-wise average (missed and
invented objects score 0 Dice and +inf distance, and count in the mean).

Examples
--------
>>> import numpy as np
>>> ref = np.zeros((10, 20), bool); ref[2:6, 2:6] = True; ref[2:6, 12:16] = True
>>> pred = np.zeros_like(ref); pred[2:6, 3:7] = True            # finds the first, misses the second
>>> match = match_instances(pred, ref)
>>> match.pairs, match.unmatched_pred, match.unmatched_ref
([(1, 1, 0.6)], [], [2])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage as ndi

from labtools.errors import ParameterError, ShapeMismatchError
from labtools.metrics._checks import per_label

__all__ = ["InstanceMatch", "label_instances", "match_instances", "detection_f1", "panoptic_quality",
           "instance_scores", "detection_average_precision"]

RULES = ("one_to_one", "greedy_by_score")


class InstanceMatch(NamedTuple):
    """Matched ``(pred id, ref id, IoU)`` pairs and the ids left over on each side."""

    pairs: list
    unmatched_pred: list
    unmatched_ref: list
    pred_labels: np.ndarray
    ref_labels: np.ndarray

    @property
    def tp(self) -> int:
        return len(self.pairs)

    @property
    def fp(self) -> int:
        return len(self.unmatched_pred)

    @property
    def fn(self) -> int:
        return len(self.unmatched_ref)


def label_instances(objects, connectivity: int | None = None) -> np.ndarray:
    """Instance labels: connected components of a binary mask, or an instance label map as it is.

    Examples
    --------
    >>> import numpy as np
    >>> label_instances(np.array([[1, 0, 1], [0, 0, 0]])).tolist()
    [[1, 0, 2], [0, 0, 0]]
    """
    objects = np.asarray(objects)
    if objects.ndim not in (2, 3):
        raise ParameterError(f"instances need a 2D or 3D mask or label map, got shape {objects.shape}")
    if objects.dtype == bool or set(np.unique(objects).tolist()) <= {0, 1}:
        structure = ndi.generate_binary_structure(objects.ndim, connectivity or objects.ndim)
        return ndi.label(objects.astype(bool), structure)[0]
    if objects.dtype.kind not in "iu" or objects.min() < 0:
        raise ParameterError("an instance label map holds non-negative integers (0 = background)")
    return objects


def _overlaps(pred_labels: np.ndarray, ref_labels: np.ndarray):
    """IoU of every (pred id, ref id) pair that overlaps, from one pass over the voxels."""
    pred_ids, pred_counts = np.unique(pred_labels[pred_labels > 0], return_counts=True)
    ref_ids, ref_counts = np.unique(ref_labels[ref_labels > 0], return_counts=True)
    pred_size, ref_size = dict(zip(pred_ids, pred_counts)), dict(zip(ref_ids, ref_counts))
    both = (pred_labels > 0) & (ref_labels > 0)
    pairs, counts = np.unique(np.stack([pred_labels[both], ref_labels[both]]), axis=1, return_counts=True)
    iou = {(int(p), int(r)): c / (pred_size[p] + ref_size[r] - c) for (p, r), c in zip(pairs.T, counts)}
    return [int(p) for p in pred_ids], [int(r) for r in ref_ids], iou


def match_instances(pred, ref, *, threshold: float = 0.5, rule: str = "one_to_one", scores=None,
                    connectivity: int | None = None, strict: bool = False) -> InstanceMatch:
    """Match predicted objects to reference objects by IoU.

    Parameters
    ----------
    pred, ref : array_like
        Binary masks (objects = connected components) or instance label maps.
    threshold : float
        A pair of overlapping objects can match when its IoU reaches `threshold`
        (IoU >= threshold, as panoptica's default); 0 means any overlap.
    rule : {"one_to_one", "greedy_by_score"}
        How candidates are assigned (module docstring).
    scores : dict, optional
        ``{pred id: confidence}`` for ``"greedy_by_score"`` (ids as in the labels).
    connectivity : int, optional
        For binary masks: 1 (faces) .. ndim (full, the default).
    strict : bool
        IoU > threshold instead: Kirillov et al.'s definition of PQ matching (IoU > 0.5),
        panoptica's ``strict_threshold=True``. The two differ only for pairs at exactly
        the threshold, which small objects produce often (IoU 0.5 = 8 of 16 voxels).

    Returns
    -------
    InstanceMatch
    """
    from scipy.optimize import linear_sum_assignment

    if rule not in RULES:
        raise ParameterError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    if not 0 <= threshold <= 1:
        raise ParameterError(f"threshold must be an IoU in [0, 1], got {threshold!r}")
    pred_labels, ref_labels = label_instances(pred, connectivity), label_instances(ref, connectivity)
    if pred_labels.shape != ref_labels.shape:
        raise ShapeMismatchError(f"pred and ref differ in shape: {pred_labels.shape} vs {ref_labels.shape}")
    pred_ids, ref_ids, iou = _overlaps(pred_labels, ref_labels)
    # _overlaps lists overlapping pairs only, so every candidate has IoU > 0.
    candidates = {pair: value for pair, value in iou.items()
                  if (value > threshold if strict else value >= threshold)}
    if rule == "greedy_by_score":
        if scores is None or set(pred_ids) - set(scores):
            raise ParameterError("greedy_by_score needs a score for every predicted object: scores={pred id: score}")
        pairs, taken = [], set()
        for p in sorted(pred_ids, key=lambda k: -scores[k]):
            options = [(value, r) for (q, r), value in candidates.items() if q == p and r not in taken]
            if options:
                value, r = max(options)
                pairs.append((p, r, value))
                taken.add(r)
    else:
        cost = np.zeros((len(pred_ids), len(ref_ids)))
        row, col = {p: i for i, p in enumerate(pred_ids)}, {r: j for j, r in enumerate(ref_ids)}
        for (p, r), value in candidates.items():
            cost[row[p], col[r]] = -value
        rows, cols = linear_sum_assignment(cost) if candidates else ([], [])
        pairs = sorted((pred_ids[i], ref_ids[j], -cost[i, j]) for i, j in zip(rows, cols) if cost[i, j] < 0)
    matched_pred, matched_ref = {p for p, _, _ in pairs}, {r for _, r, _ in pairs}
    return InstanceMatch([(p, r, float(v)) for p, r, v in pairs], [p for p in pred_ids if p not in matched_pred],
                         [r for r in ref_ids if r not in matched_ref], pred_labels, ref_labels)


@per_label
def detection_f1(pred, ref, *, threshold: float = 0.5, empty_value: float = np.nan, **match_options) -> float:
    """Detection F1 = 2TP / (2TP + FP + FN) over objects matched at an IoU `threshold`.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((10, 20), bool); ref[2:6, 2:6] = True; ref[2:6, 12:16] = True
    >>> pred = np.zeros_like(ref); pred[2:6, 2:6] = True; pred[8:10, 8:10] = True
    >>> detection_f1(pred, ref)          # one of two found, one invented: 2 / (2 + 1 + 1)
    0.5
    """
    match = match_instances(pred, ref, threshold=threshold, **match_options)
    total = 2 * match.tp + match.fp + match.fn
    return float(empty_value) if total == 0 else 2 * match.tp / total


@per_label
def panoptic_quality(pred, ref, *, threshold: float = 0.5, empty_value: float = np.nan,
                     **match_options) -> dict[str, float]:
    """Panoptic quality PQ = SQ × RQ (Kirillov et al. 2019) of one class's objects.

    SQ is the mean IoU of the matched pairs, RQ = TP / (TP + FP/2 + FN/2) the
    detection F1. Matching at IoU >= 0.5 equals panoptica's ``NaiveThresholdMatching``
    (tested against panoptica 2.1.7; pass ``connectivity=1`` in 2D, where panoptica
    uses scipy's face connectivity); ``strict=True`` is Kirillov's IoU > 0.5.

    Returns
    -------
    dict
        ``pq``, ``sq``, ``rq``, ``tp``, ``fp``, ``fn``; PQ and RQ 0 (SQ NaN) when
        nothing matched; `empty_value` when neither mask has an object.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((10, 20), bool); ref[2:6, 2:6] = True; ref[2:6, 12:16] = True
    >>> pred = np.zeros_like(ref); pred[2:6, 3:7] = True
    >>> {k: round(v, 4) for k, v in panoptic_quality(pred, ref).items()}   # SQ 0.6, RQ 1 / (1 + 0.5)
    {'pq': 0.4, 'sq': 0.6, 'rq': 0.6667, 'tp': 1, 'fp': 0, 'fn': 1}
    """
    match = match_instances(pred, ref, threshold=threshold, **match_options)
    if match.tp + match.fp + match.fn == 0:
        return {"pq": float(empty_value), "sq": float(empty_value), "rq": float(empty_value),
                "tp": 0, "fp": 0, "fn": 0}
    rq = match.tp / (match.tp + 0.5 * match.fp + 0.5 * match.fn)
    sq = float(np.mean([iou for _, _, iou in match.pairs])) if match.pairs else float("nan")
    return {"pq": sq * rq if match.pairs else 0.0, "sq": sq, "rq": rq, "tp": match.tp, "fp": match.fp,
            "fn": match.fn}


@per_label
def instance_scores(pred, ref, spacing=None, *, threshold: float = 0.0, **match_options) -> dict:
    """Per-object Dice and HD95 of the matched pairs, and lesion-wise means with BraTS's denominator.

    Each matched pair is scored on its own two objects. Missed reference
    objects and unmatched predictions score Dice 0 and HD95 +inf and count in
    the lesion-wise means: mean = Σ scores / (TP + FN + FP), the denominator of
    BraTS 2023's lesion-wise Dice (matching any overlap: ``threshold=0``, the
    default here). The challenge's full rules (merging close lesions, predictions
    near a lesion, a volume threshold, 374 mm) are
    :func:`labtools.metrics.brats_lesion_wise`.

    Returns
    -------
    dict
        ``objects`` (one dict per pair: pred id, ref id, iou, dice, hd95),
        ``lesion_wise_dice``, ``lesion_wise_hd95`` (with +inf for missed/extra
        objects: summarise with a worst value), ``tp``, ``fp``, ``fn``.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((10, 20), bool); ref[2:6, 2:6] = True; ref[2:6, 12:16] = True
    >>> pred = np.zeros_like(ref); pred[2:6, 2:6] = True
    >>> scores = instance_scores(pred, ref)
    >>> scores["objects"][0]["dice"], scores["lesion_wise_dice"]        # one perfect, one missed
    (1.0, 0.5)
    """
    from labtools.metrics.overlap import dice
    from labtools.metrics.surface import hd95

    match = match_instances(pred, ref, threshold=threshold, **match_options)
    objects = []
    for p, r, iou in match.pairs:
        a, b = match.pred_labels == p, match.ref_labels == r
        objects.append({"pred": p, "ref": r, "iou": iou, "dice": dice(a, b), "hd95": hd95(a, b, spacing)})
    count = match.tp + match.fn + match.fp
    if count == 0:
        lesion_dice = lesion_hd95 = float("nan")
    else:
        lesion_dice = sum(o["dice"] for o in objects) / count
        lesion_hd95 = float("inf") if match.fn + match.fp else float(np.mean([o["hd95"] for o in objects]))
    return {"objects": objects, "lesion_wise_dice": lesion_dice, "lesion_wise_hd95": lesion_hd95,
            "tp": match.tp, "fp": match.fp, "fn": match.fn}


def detection_average_precision(pred, ref, scores, *, threshold: float = 0.5, connectivity: int | None = None,
                                empty_value: float = np.nan) -> float:
    """Average precision of scored detections at one IoU threshold (the detection AP of PASCAL VOC / COCO).

    Predictions are matched greedily in decreasing score (``rule="greedy_by_score"``);
    walking down that list, precision and recall (over *all* reference objects,
    missed ones included) give AP = Σ (R_n − R_{n−1}) P_n, the step sum scikit-learn's
    ``average_precision_score`` uses. AUROC has no detection counterpart (there
    are no true negatives to count); use :func:`labtools.metrics.froc` for
    false positives per image.

    Parameters
    ----------
    pred : array_like
        Instance label map of the detections (or a binary mask: its components).
    ref : array_like
        Reference mask or instance map.
    scores : dict
        ``{pred id: confidence}``.
    threshold : float
        IoU a detection needs to count as found.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((10, 20), bool); ref[2:6, 2:6] = True; ref[2:6, 12:16] = True
    >>> pred = np.zeros((10, 20), np.uint8); pred[2:6, 2:6] = 1; pred[7:9, 8:10] = 2
    >>> detection_average_precision(pred, ref, {1: 0.9, 2: 0.3})   # precision 1 up to recall 1/2
    0.5
    """
    match = match_instances(pred, ref, threshold=threshold, rule="greedy_by_score", scores=scores,
                            connectivity=connectivity)
    n_ref = match.tp + match.fn
    if n_ref == 0:
        return float(empty_value) if match.fp == 0 else 0.0
    found = {p for p, _, _ in match.pairs}
    ordered = sorted(found | set(match.unmatched_pred), key=lambda k: -scores[k])     # every prediction
    hits = np.array([p in found for p in ordered], dtype=float)
    if hits.size == 0:
        return 0.0
    precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
    recall = np.cumsum(hits) / n_ref
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))
