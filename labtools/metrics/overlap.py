"""Overlap metrics from the confusion matrix of two binary masks.

Conventions (docs/metrics.md): both masks empty gives ``empty_value`` (NaN
by default: there is nothing to score); one empty and the other not gives 0,
never NaN, as nnU-Net does. A zero denominator that does not come from two
empty masks (e.g. specificity when everything is foreground) is NaN.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from labtools.metrics._checks import as_binary_pair, per_label

__all__ = [
    "Confusion", "confusion_matrix", "overlap_scores", "accuracy", "precision", "recall", "specificity",
    "f1", "dice", "iou", "volume_similarity",
]


class Confusion(NamedTuple):
    """Voxel counts: true/false positives and negatives."""

    tp: int
    fp: int
    fn: int
    tn: int


@per_label
def confusion_matrix(pred, ref) -> Confusion:
    """Count TP, FP, FN, TN of a binary prediction against a reference.

    Examples
    --------
    >>> import numpy as np
    >>> confusion_matrix(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [1, 0]]))
    Confusion(tp=1, fp=1, fn=1, tn=1)
    """
    pred, ref = as_binary_pair(pred, ref)
    tp = int(np.count_nonzero(pred & ref))
    n_pred, n_ref = int(np.count_nonzero(pred)), int(np.count_nonzero(ref))
    return Confusion(tp=tp, fp=n_pred - tp, fn=n_ref - tp, tn=pred.size - n_pred - n_ref + tp)


def overlap_scores(c: Confusion, *, empty_value: float = np.nan) -> dict[str, float]:
    """Every overlap metric of one confusion matrix, with the empty-mask policy applied.

    Examples
    --------
    >>> scores = overlap_scores(Confusion(tp=1, fp=1, fn=1, tn=1))
    >>> scores["dice"], scores["iou"], scores["accuracy"]
    (0.5, 0.3333333333333333, 0.5)
    """
    both_empty = c.tp + c.fp + c.fn == 0

    def ratio(numerator: float, denominator: float) -> float:
        if denominator:
            return numerator / denominator
        return empty_value if both_empty else 0.0

    union = c.tp + c.fp + c.fn
    return {
        "dice": ratio(2 * c.tp, union + c.tp),
        "iou": ratio(c.tp, union),
        "precision": ratio(c.tp, c.tp + c.fp),
        "recall": ratio(c.tp, c.tp + c.fn),
        # All-foreground references have no negatives: undefined, whatever the masks.
        "specificity": c.tn / (c.tn + c.fp) if c.tn + c.fp else float("nan"),
        "accuracy": (c.tp + c.tn) / (union + c.tn),
        "volume_similarity": ratio(union + c.tp - abs(c.fn - c.fp), union + c.tp),
    }


def _score(name: str, pred, ref, empty_value: float = np.nan) -> float:
    return overlap_scores(confusion_matrix(pred, ref), empty_value=empty_value)[name]


@per_label
def dice(pred, ref, *, empty_value: float = np.nan) -> float:
    """Dice coefficient 2TP / (2TP + FP + FN), equal to F1.

    Equals ``monai.metrics.DiceMetric`` when the reference is not empty; MONAI
    gives NaN for an empty reference with false positives, labtools gives 0.

    Examples
    --------
    >>> import numpy as np
    >>> dice(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [1, 0]]))
    0.5
    >>> dice(np.zeros((2, 2)), np.zeros((2, 2)))
    nan
    """
    return _score("dice", pred, ref, empty_value)


@per_label
def f1(pred, ref, *, empty_value: float = np.nan) -> float:
    """F1 score (harmonic mean of precision and recall); the same number as :func:`dice`.

    Examples
    --------
    >>> import numpy as np
    >>> f1(np.array([1, 1, 0, 0]).reshape(2, 2), np.array([1, 0, 1, 0]).reshape(2, 2))
    0.5
    """
    return dice(pred, ref, empty_value=empty_value)


@per_label
def iou(pred, ref, *, empty_value: float = np.nan) -> float:
    """Intersection over union (Jaccard) TP / (TP + FP + FN).

    Examples
    --------
    >>> import numpy as np
    >>> round(iou(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [1, 0]])), 4)
    0.3333
    """
    return _score("iou", pred, ref, empty_value)


@per_label
def precision(pred, ref, *, empty_value: float = np.nan) -> float:
    """Precision (positive predictive value) TP / (TP + FP).

    Examples
    --------
    >>> import numpy as np
    >>> precision(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [0, 0]]))
    0.5
    """
    return _score("precision", pred, ref, empty_value)


@per_label
def recall(pred, ref, *, empty_value: float = np.nan) -> float:
    """Recall (sensitivity) TP / (TP + FN).

    Examples
    --------
    >>> import numpy as np
    >>> recall(np.array([[1, 0], [0, 0]]), np.array([[1, 1], [0, 0]]))
    0.5
    """
    return _score("recall", pred, ref, empty_value)


@per_label
def specificity(pred, ref) -> float:
    """Specificity TN / (TN + FP); NaN when the reference has no background.

    Examples
    --------
    >>> import numpy as np
    >>> round(specificity(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [0, 0]])), 4)
    0.6667
    """
    return _score("specificity", pred, ref)


@per_label
def accuracy(pred, ref) -> float:
    """Fraction of voxels classified correctly, (TP + TN) / all.

    Examples
    --------
    >>> import numpy as np
    >>> accuracy(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [0, 0]]))
    0.75
    """
    return _score("accuracy", pred, ref)


@per_label
def volume_similarity(pred, ref, *, empty_value: float = np.nan) -> float:
    """Volume similarity 1 - |FN - FP| / (2TP + FP + FN) (Taha & Hanbury 2015).

    It compares sizes only: two disjoint masks of equal volume score 1.

    Examples
    --------
    >>> import numpy as np
    >>> volume_similarity(np.array([[1, 1], [0, 0]]), np.array([[0, 0], [1, 1]]))
    1.0
    """
    return _score("volume_similarity", pred, ref, empty_value)
