"""Probability maps: calibration (ECE, Brier, log score, reliability curve) and ranking (AUROC, AP).

A segmentation network, a random forest or an ensemble gives each voxel a
probability; these metrics ask whether those probabilities mean what they say
(calibration: of the voxels given 0.8, are 80 % foreground?) and how well they
rank foreground above background (AUROC, average precision), before any
threshold is chosen.

Inputs: ``prob`` is the foreground probability map of a binary task (same
shape as the reference mask), or class probabilities of shape ``(K, *shape)``
with an integer label map ``ref`` of values 0..K-1 (Brier, log score).

Examples
--------
>>> import numpy as np
>>> ref = np.array([[0, 0, 1, 1]])
>>> prob = np.array([[0.1, 0.4, 0.35, 0.8]])
>>> round(brier_score(prob, ref), 4), round(auroc(prob, ref), 2)
(0.1581, 0.75)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from labtools.errors import InvalidImageError, ParameterError, ShapeMismatchError

__all__ = ["brier_score", "log_score", "expected_calibration_error", "ReliabilityCurve", "reliability_curve",
           "auroc", "average_precision"]


def _binary(prob, ref) -> tuple[np.ndarray, np.ndarray]:
    """Flattened foreground probabilities in [0, 1] and a boolean reference of the same shape."""
    prob, ref = np.asarray(prob, dtype=np.float64), np.asarray(ref)
    if prob.shape != ref.shape:
        raise ShapeMismatchError(f"prob and ref differ in shape: {prob.shape} vs {ref.shape}; give the "
                                 "foreground probability of every voxel of the reference")
    _check_probabilities(prob)
    if not np.isin(ref, (0, 1)).all():
        raise InvalidImageError("ref must be a binary mask (0 and 1) for a foreground probability map; "
                                "for several classes give prob of shape (K, *ref.shape) and a label map")
    return prob.ravel(), ref.astype(bool).ravel()


def _check_probabilities(prob: np.ndarray) -> None:
    if not np.isfinite(prob).all() or prob.min(initial=0) < 0 or prob.max(initial=0) > 1:
        raise InvalidImageError("prob must hold probabilities in [0, 1] (apply a softmax or sigmoid to "
                                "logits first)")


def _classes(prob, ref) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) class probabilities and (N,) labels from prob (K, *shape) and ref (*shape), or binary input."""
    prob, ref = np.asarray(prob, dtype=np.float64), np.asarray(ref)
    if prob.shape == ref.shape:
        p, r = _binary(prob, ref)
        return np.stack([1 - p, p], axis=1), r.astype(np.int64)
    if prob.shape[1:] != ref.shape:
        raise ShapeMismatchError(f"prob must have the shape of ref {ref.shape} (foreground probability) or "
                                 f"(K, *{ref.shape}) (class probabilities), got {prob.shape}")
    _check_probabilities(prob)
    k = prob.shape[0]
    if ref.min(initial=0) < 0 or ref.max(initial=0) >= k or not np.array_equal(ref, np.round(ref)):
        raise InvalidImageError(f"ref must be a label map of values 0..{k - 1} for {k} class probabilities")
    return prob.reshape(k, -1).T, ref.astype(np.int64).ravel()


def brier_score(prob, ref) -> float:
    """Brier score: the mean squared difference between probability and outcome (Brier 1950).

    Binary (``prob`` = foreground probability): mean of (p − y)², equal to
    ``sklearn.metrics.brier_score_loss``. K classes: mean over voxels of
    Σ_k (p_k − [y = k])², Brier's original multi-class form (scikit-learn's
    ``brier_score_loss(..., scale_by_half=False)``, Metrics Reloaded's
    ``brier_score``, which on a two-column binary input gives twice the binary value).
    0 is perfect.

    Examples
    --------
    >>> import numpy as np
    >>> brier_score(np.array([[0.0, 1.0, 0.5]]), np.array([[0, 1, 1]]))
    0.08333333333333333
    """
    prob_arr = np.asarray(prob)
    if prob_arr.shape == np.shape(ref):
        p, r = _binary(prob, ref)
        return float(np.mean((p - r) ** 2))
    p, r = _classes(prob, ref)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(r)), r] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def log_score(prob, ref, *, eps: float = 1e-10) -> float:
    """Logarithmic score: the mean log-probability given to the true class (≤ 0, higher is better).

    Its negative is the cross-entropy / log loss (``sklearn.metrics.log_loss``).
    Probabilities are floored at `eps` so that a confident mistake costs
    log(eps), not −inf (Metrics Reloaded adds 1e-10 the same way).

    Examples
    --------
    >>> import numpy as np
    >>> round(log_score(np.array([[0.9, 0.2]]), np.array([[1, 0]])), 4)   # (log 0.9 + log 0.8) / 2
    -0.1643
    """
    p, r = _classes(prob, ref)
    return float(np.mean(np.log(np.maximum(p[np.arange(len(r)), r], eps))))


class ReliabilityCurve(NamedTuple):
    """Per non-empty bin: mean predicted probability, observed foreground frequency, voxel count."""

    confidence: np.ndarray
    frequency: np.ndarray
    count: np.ndarray
    edges: np.ndarray


def reliability_curve(prob, ref, *, n_bins: int = 10, binning: str = "uniform",
                      first_bin_closed: bool = True) -> ReliabilityCurve:
    """The data of a reliability diagram of a foreground probability map.

    Voxels are grouped by their probability into `n_bins` bins, ``"uniform"``
    (equal width on [0, 1], the first bin closed: [0, 1/M], then (k/M, (k+1)/M])
    or ``"quantile"`` (equal voxel counts); for each non-empty bin, the mean
    probability and the share of foreground voxels. A calibrated map lies on
    the diagonal. ``first_bin_closed=False`` makes every bin (l, u], so that voxels
    of probability exactly 0 fall in no bin (Metrics Reloaded's ECE). Equals ``sklearn.calibration.calibration_curve`` (its
    ``prob_pred``, ``prob_true``) for uniform bins. Plot with :func:`labtools.viz.plot_reliability`.

    Examples
    --------
    >>> import numpy as np
    >>> curve = reliability_curve(np.array([[0.1, 0.15, 0.9, 0.85]]), np.array([[0, 1, 1, 1]]), n_bins=2)
    >>> curve.confidence.tolist(), curve.frequency.tolist(), curve.count.tolist()
    ([0.125, 0.875], [0.5, 1.0], [2, 2])
    """
    p, r = _binary(prob, ref)
    if not first_bin_closed:
        p, r = p[p > 0], r[p > 0]
    if int(n_bins) != n_bins or n_bins < 1:
        raise ParameterError(f"n_bins must be a positive whole number, got {n_bins!r}")
    if binning == "uniform":
        edges = np.linspace(0.0, 1.0, int(n_bins) + 1)
    elif binning == "quantile":
        edges = np.quantile(p, np.linspace(0.0, 1.0, int(n_bins) + 1))
    else:
        raise ParameterError(f'binning must be "uniform" or "quantile", got {binning!r}')
    # searchsorted(..., "left") - 1 puts p == edge k into bin k - 1, i.e. bins (e_k, e_k+1]; 0 goes to bin 0.
    index = np.clip(np.searchsorted(edges[1:-1], p, side="left"), 0, len(edges) - 2)
    count = np.bincount(index, minlength=len(edges) - 1)
    summed_p = np.bincount(index, weights=p, minlength=len(edges) - 1)
    summed_r = np.bincount(index, weights=r, minlength=len(edges) - 1)
    kept = count > 0
    return ReliabilityCurve(summed_p[kept] / count[kept], summed_r[kept] / count[kept], count[kept], edges)


def expected_calibration_error(prob, ref, *, n_bins: int = 10, binning: str = "uniform",
                               first_bin_closed: bool = True) -> float:
    """Expected calibration error Σ_b (|B_b| / N)·|frequency_b − confidence_b| (Naeini et al. 2015).

    The bins of :func:`reliability_curve`; 0 is perfectly calibrated. Metrics
    Reloaded's ``expectation_calibration_error`` uses the same formula but
    drops voxels whose probability is exactly 0 (its bins are (l, u]):
    ``first_bin_closed=False`` reproduces it; on maps without exact zeros the two agree.

    Examples
    --------
    >>> import numpy as np
    >>> expected_calibration_error(np.array([[0.1, 0.15, 0.9, 0.85]]), np.array([[0, 1, 1, 1]]), n_bins=2)
    0.25
    """
    curve = reliability_curve(prob, ref, n_bins=n_bins, binning=binning, first_bin_closed=first_bin_closed)
    return float(np.sum(curve.count * np.abs(curve.frequency - curve.confidence)) / curve.count.sum())


def _ranking(prob, ref, score) -> float:
    p, r = _binary(prob, ref)
    if r.all() or not r.any():
        return float("nan")                         # one class only: nothing to rank
    return float(score(r, p))


def auroc(prob, ref) -> float:
    """Area under the ROC curve of a probability map over its voxels (``sklearn.metrics.roc_auc_score``).

    The probability that a random foreground voxel gets a higher value than a
    random background voxel. NaN when the reference holds one class only
    (scikit-learn raises there).

    Examples
    --------
    >>> import numpy as np
    >>> auroc(np.array([[0.2, 0.6, 0.4, 0.9]]), np.array([[0, 0, 1, 1]]))
    0.75
    """
    from sklearn.metrics import roc_auc_score

    return _ranking(prob, ref, roc_auc_score)


def average_precision(prob, ref) -> float:
    """Average precision of a probability map over its voxels (``sklearn.metrics.average_precision_score``).

    The area under the precision-recall curve as the step sum
    Σ (R_n − R_{n−1}) P_n: more informative than AUROC when the foreground is
    small. NaN when the reference holds one class only.

    Examples
    --------
    >>> import numpy as np
    >>> round(average_precision(np.array([[0.2, 0.6, 0.4, 0.9]]), np.array([[0, 0, 1, 1]])), 4)
    0.8333
    """
    from sklearn.metrics import average_precision_score

    return _ranking(prob, ref, average_precision_score)
