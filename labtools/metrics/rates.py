"""Rates, agreement and decision metrics from the confusion matrix (Metrics Reloaded's counting family).

Every function here is a ratio of the four counts TP, FP, FN, TN of
:func:`~labtools.metrics.confusion_matrix`, so all of them come from one
count of the masks (:func:`rate_scores` gives them at once).

Conventions (docs/metrics.md, "Rates and agreement"):

* both masks empty: ``empty_value`` (NaN by default: nothing to score);
* a rate whose denominator is zero otherwise (FNR with an empty reference,
  NPV when everything is predicted foreground, ...) is NaN, as MONAI's
  ``compute_confusion_matrix_metric`` returns;
* scores built on precision and recall (F-beta, Fowlkes-Mallows) follow the
  overlap metrics' rule: one mask empty and the other not scores 0, as
  nnU-Net and Metrics Reloaded's F-beta do; MCC is 0 when a marginal is
  zero, as scikit-learn returns (MONAI: NaN).

Examples
--------
>>> import numpy as np
>>> pred = np.array([[1, 1, 0, 0], [0, 0, 0, 0]])
>>> ref = np.array([[1, 0, 1, 0], [0, 0, 0, 0]])
>>> c = confusion_matrix(pred, ref)
>>> c
Confusion(tp=1, fp=1, fn=1, tn=5)
>>> scores = rate_scores(c)
>>> scores["false_positive_rate"], round(scores["matthews_correlation"], 4)
(0.16666666666666666, 0.3333)
"""

from __future__ import annotations

import math

import numpy as np

from labtools.errors import ParameterError
from labtools.metrics._checks import per_label
from labtools.metrics.overlap import Confusion, confusion_matrix

__all__ = [
    "rate_scores", "RATE_NAMES", "false_positive_rate", "false_negative_rate", "false_discovery_rate",
    "false_omission_rate", "negative_predictive_value", "prevalence_threshold", "balanced_accuracy",
    "matthews_correlation", "fowlkes_mallows", "informedness", "youden_index", "markedness", "fbeta",
    "cohens_kappa", "positive_likelihood_ratio", "normalised_expected_cost", "net_benefit",
    "absolute_volume_difference_ratio",
]

RATE_NAMES = (
    "false_positive_rate", "false_negative_rate", "false_discovery_rate", "false_omission_rate",
    "negative_predictive_value", "prevalence_threshold", "balanced_accuracy", "matthews_correlation",
    "fowlkes_mallows", "informedness", "markedness", "fbeta", "cohens_kappa", "positive_likelihood_ratio",
    "normalised_expected_cost", "net_benefit", "absolute_volume_difference_ratio",
)
_NAN = float("nan")


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else _NAN


def rate_scores(c: Confusion, *, beta: float = 1.0, exchange_rate: float = 1.0, cost_fn: float | None = None,
                cost_fp: float | None = None, empty_value: float = np.nan, undefined_mcc: float = 0.0,
                one_empty_value: float = 0.0) -> dict[str, float]:
    """Every metric of this module from one confusion matrix, the conventions applied.

    Parameters
    ----------
    c : Confusion
        The counts, from :func:`confusion_matrix`.
    beta : float
        Weight of recall against precision in :func:`fbeta` (β > 1 favours recall).
    exchange_rate : float
        False positives one true positive is worth, for :func:`net_benefit`.
    cost_fn, cost_fp : float, optional
        Costs of a false negative and a false positive in :func:`normalised_expected_cost`
        (default: the inverse class priors, Metrics Reloaded's choice).
    empty_value : float
        The result when both masks are empty.
    undefined_mcc : float
        MCC when a marginal is zero: 0 as scikit-learn, NaN as MONAI.
    one_empty_value : float
        Fowlkes-Mallows when exactly one mask is empty: 0 (nnU-Net's rule), NaN as MONAI.

    Returns
    -------
    dict
        ``{name: value}`` for the names in :data:`RATE_NAMES`.

    Examples
    --------
    >>> round(rate_scores(Confusion(tp=8, fp=2, fn=4, tn=86), beta=2.0)["fbeta"], 4)
    0.6897
    """
    if not (math.isfinite(beta) and beta > 0):
        raise ParameterError(f"beta must be a positive number, got {beta!r}")
    tp, fp, fn, tn = (float(v) for v in c)
    n = tp + fp + fn + tn
    if tp + fp + fn == 0:                                   # both masks empty
        return dict.fromkeys(RATE_NAMES, float(empty_value))
    positives, negatives, predicted = tp + fn, tn + fp, tp + fp
    tpr, tnr = _ratio(tp, positives), _ratio(tn, negatives)
    ppv, npv = _ratio(tp, predicted), _ratio(tn, tn + fn)
    fpr, fnr = _ratio(fp, negatives), _ratio(fn, positives)
    one_empty = positives == 0 or predicted == 0
    marginals = predicted * positives * negatives * (tn + fn)
    p_observed = (tp + tn) / n
    p_chance = (positives * predicted + negatives * (tn + fn)) / (n * n)
    beta2 = beta * beta
    return {
        "false_positive_rate": fpr,
        "false_negative_rate": fnr,
        "false_discovery_rate": _ratio(fp, predicted),
        "false_omission_rate": _ratio(fn, tn + fn),
        "negative_predictive_value": npv,
        "prevalence_threshold": _ratio(math.sqrt(tpr * (1 - tnr)) + tnr - 1, tpr + tnr - 1)
        if not (math.isnan(tpr) or math.isnan(tnr)) else _NAN,
        "balanced_accuracy": (tpr + tnr) / 2,
        "matthews_correlation": (tp * tn - fp * fn) / math.sqrt(marginals) if marginals else float(undefined_mcc),
        "fowlkes_mallows": float(one_empty_value) if one_empty else math.sqrt(ppv * tpr),
        "informedness": tpr + tnr - 1,
        "markedness": ppv + npv - 1,
        "fbeta": (1 + beta2) * tp / ((1 + beta2) * tp + beta2 * fn + fp),
        "cohens_kappa": _ratio(p_observed - p_chance, 1 - p_chance),
        "positive_likelihood_ratio": _ratio(tpr, fpr) if not math.isnan(tpr) else _NAN,
        "normalised_expected_cost": _expected_cost(tp, fp, fn, tn, cost_fn, cost_fp),
        "net_benefit": tp / n - fp / n * exchange_rate,
        "absolute_volume_difference_ratio": _ratio(abs(predicted - positives), positives),
    }


def _expected_cost(tp, fp, fn, tn, cost_fn, cost_fp) -> float:
    """Ferrer's normalised expected cost, as Metrics Reloaded computes it (priors from the reference)."""
    n = tp + fp + fn + tn
    prior_fg, prior_bg = (tp + fn) / n, (tn + fp) / n
    if prior_fg == 0 or prior_bg == 0:
        return _NAN
    c_fn = 1 / (2 * prior_fg) if cost_fn is None else float(cost_fn)
    c_fp = 1 / (2 * prior_bg) if cost_fp is None else float(cost_fp)
    if c_fn <= 0 or c_fp <= 0:
        raise ParameterError(f"costs must be positive, got cost_fn={cost_fn!r}, cost_fp={cost_fp!r}")
    alpha = c_fp * prior_bg / (c_fn * prior_fg)
    r_fp, r_fn = fp / (tn + fp), fn / (tp + fn)
    return alpha * r_fp + r_fn if alpha >= 1 else r_fp + r_fn / alpha


def _score(name: str, pred, ref, empty_value: float = np.nan, **options) -> float:
    return rate_scores(confusion_matrix(pred, ref), empty_value=empty_value, **options)[name]


@per_label
def false_positive_rate(pred, ref, *, empty_value: float = np.nan) -> float:
    """False positive rate (fall-out) FP / (FP + TN) = 1 - specificity.

    NaN when the reference has no background. Equals MONAI's ``"fall out"``.

    Examples
    --------
    >>> import numpy as np
    >>> false_positive_rate(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [0, 0]]))
    0.3333333333333333
    """
    return _score("false_positive_rate", pred, ref, empty_value)


@per_label
def false_negative_rate(pred, ref, *, empty_value: float = np.nan) -> float:
    """False negative rate (miss rate) FN / (TP + FN) = 1 - recall; NaN for an empty reference (MONAI).

    Examples
    --------
    >>> import numpy as np
    >>> false_negative_rate(np.array([[1, 0], [0, 0]]), np.array([[1, 1], [0, 0]]))
    0.5
    """
    return _score("false_negative_rate", pred, ref, empty_value)


@per_label
def false_discovery_rate(pred, ref, *, empty_value: float = np.nan) -> float:
    """False discovery rate FP / (TP + FP) = 1 - precision; NaN for an empty prediction (MONAI).

    Examples
    --------
    >>> import numpy as np
    >>> false_discovery_rate(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [0, 0]]))
    0.5
    """
    return _score("false_discovery_rate", pred, ref, empty_value)


@per_label
def false_omission_rate(pred, ref, *, empty_value: float = np.nan) -> float:
    """False omission rate FN / (FN + TN) = 1 - NPV; NaN when nothing is predicted background.

    Examples
    --------
    >>> import numpy as np
    >>> false_omission_rate(np.array([[1, 0], [0, 0]]), np.array([[1, 1], [0, 0]]))
    0.3333333333333333
    """
    return _score("false_omission_rate", pred, ref, empty_value)


@per_label
def negative_predictive_value(pred, ref, *, empty_value: float = np.nan) -> float:
    """Negative predictive value TN / (TN + FN); NaN when nothing is predicted background.

    Examples
    --------
    >>> import numpy as np
    >>> round(negative_predictive_value(np.array([[1, 0], [0, 0]]), np.array([[1, 1], [0, 0]])), 4)
    0.6667
    """
    return _score("negative_predictive_value", pred, ref, empty_value)


@per_label
def prevalence_threshold(pred, ref, *, empty_value: float = np.nan) -> float:
    """Prevalence threshold (√(TPR·FPR) − FPR) / (TPR − FPR) (Balayla 2020), as MONAI computes it.

    The prevalence below which the positive predictive value drops sharply.

    Examples
    --------
    >>> import numpy as np
    >>> pred = np.array([[1, 1, 0, 0], [1, 0, 0, 0]])
    >>> ref = np.array([[1, 1, 0, 0], [0, 1, 0, 0]])
    >>> round(prevalence_threshold(pred, ref), 4)
    0.3539
    """
    return _score("prevalence_threshold", pred, ref, empty_value)


@per_label
def balanced_accuracy(pred, ref, *, empty_value: float = np.nan) -> float:
    """Balanced accuracy (TPR + TNR) / 2: accuracy that does not reward a huge background.

    NaN when the reference is empty or all foreground (MONAI; scikit-learn warns and
    scores the one class present).

    Examples
    --------
    >>> import numpy as np
    >>> balanced_accuracy(np.array([[1, 0], [0, 0]]), np.array([[1, 1], [0, 0]]))
    0.75
    """
    return _score("balanced_accuracy", pred, ref, empty_value)


@per_label
def matthews_correlation(pred, ref, *, empty_value: float = np.nan, undefined_value: float = 0.0) -> float:
    """Matthews correlation coefficient (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN)).

    In [-1, 1]; `undefined_value` (0, as ``sklearn.metrics.matthews_corrcoef``) when a
    marginal is zero; ``undefined_value=np.nan`` reproduces MONAI.

    Examples
    --------
    >>> import numpy as np
    >>> round(matthews_correlation(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [0, 0]])), 4)
    0.5774
    """
    return _score("matthews_correlation", pred, ref, empty_value, undefined_mcc=undefined_value)


@per_label
def fowlkes_mallows(pred, ref, *, empty_value: float = np.nan, one_empty_value: float = 0.0) -> float:
    """Fowlkes–Mallows index √(precision · recall); `one_empty_value` (0) when exactly one mask is empty.

    ``one_empty_value=np.nan`` reproduces MONAI's ``"fowlkes mallows index"``.

    Examples
    --------
    >>> import numpy as np
    >>> round(fowlkes_mallows(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [1, 0]])), 4)
    0.5
    """
    return _score("fowlkes_mallows", pred, ref, empty_value, one_empty_value=one_empty_value)


@per_label
def informedness(pred, ref, *, empty_value: float = np.nan) -> float:
    """Bookmaker informedness TPR + TNR − 1 (the Youden index); NaN when TPR or TNR is undefined.

    Examples
    --------
    >>> import numpy as np
    >>> informedness(np.array([[1, 0], [0, 0]]), np.array([[1, 1], [0, 0]]))
    0.5
    """
    return _score("informedness", pred, ref, empty_value)


@per_label
def youden_index(pred, ref, *, empty_value: float = np.nan) -> float:
    """Youden's J = sensitivity + specificity − 1 (Youden 1950): the same number as :func:`informedness`.

    Examples
    --------
    >>> import numpy as np
    >>> youden_index(np.array([[1, 0], [0, 0]]), np.array([[1, 1], [0, 0]]))
    0.5
    """
    return _score("informedness", pred, ref, empty_value)


@per_label
def markedness(pred, ref, *, empty_value: float = np.nan) -> float:
    """Markedness PPV + NPV − 1; NaN when either is undefined (MONAI).

    Examples
    --------
    >>> import numpy as np
    >>> round(markedness(np.array([[1, 0], [0, 0]]), np.array([[1, 1], [0, 0]])), 4)
    0.6667
    """
    return _score("markedness", pred, ref, empty_value)


@per_label
def fbeta(pred, ref, *, beta: float = 1.0, empty_value: float = np.nan) -> float:
    """F-beta (1 + β²)·TP / ((1 + β²)·TP + β²·FN + FP) (Chinchor 1992); β = 1 is Dice.

    β = 2 weighs recall four times as much as precision. One mask empty: 0.
    Metrics Reloaded scores two empty masks 1: pass ``empty_value=1.0``.

    Examples
    --------
    >>> import numpy as np
    >>> pred, ref = np.array([[1, 0], [0, 0]]), np.array([[1, 1], [0, 0]])
    >>> round(fbeta(pred, ref, beta=2.0), 4), round(fbeta(pred, ref, beta=0.5), 4)
    (0.5556, 0.8333)
    """
    return _score("fbeta", pred, ref, empty_value, beta=beta)


@per_label
def cohens_kappa(pred, ref, *, empty_value: float = np.nan) -> float:
    """Cohen's kappa (p_o − p_e) / (1 − p_e): agreement beyond chance (Cohen 1960).

    Examples
    --------
    >>> import numpy as np
    >>> cohens_kappa(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [0, 0]]))
    0.5
    """
    return _score("cohens_kappa", pred, ref, empty_value)


@per_label
def positive_likelihood_ratio(pred, ref, *, empty_value: float = np.nan) -> float:
    """LR+ = sensitivity / (1 − specificity); NaN with no false positive (Metrics Reloaded, scikit-learn).

    Examples
    --------
    >>> import numpy as np
    >>> positive_likelihood_ratio(np.array([[1, 1, 0, 0]]), np.array([[1, 0, 0, 0]]))
    3.0
    """
    return _score("positive_likelihood_ratio", pred, ref, empty_value)


@per_label
def normalised_expected_cost(pred, ref, *, cost_fn: float | None = None, cost_fp: float | None = None,
                             empty_value: float = np.nan) -> float:
    """Normalised expected cost (Ferrer 2022), as Metrics Reloaded defines it.

    With α = c_FP·P(background) / (c_FN·P(foreground)): NEC = α·FPR + FNR when
    α ≥ 1, else FPR + FNR/α. The default costs (inverse priors) make α = 1 and
    NEC = FPR + FNR. 0 is perfect, 1 is what always answering one class costs.

    Examples
    --------
    >>> import numpy as np
    >>> pred, ref = np.array([[1, 1, 0, 0]]), np.array([[1, 0, 1, 0]])
    >>> normalised_expected_cost(pred, ref), normalised_expected_cost(pred, ref, cost_fn=5.0, cost_fp=1.0)
    (1.0, 3.0)
    """
    return _score("normalised_expected_cost", pred, ref, empty_value, cost_fn=cost_fn, cost_fp=cost_fp)


@per_label
def net_benefit(pred, ref, *, exchange_rate: float = 1.0, empty_value: float = np.nan) -> float:
    """Net benefit TP/N − FP/N · exchange rate (Vickers et al. 2016).

    ``exchange_rate``: how many false positives one true positive is worth
    (1/9 when finding one case among ten tested is acceptable).

    Examples
    --------
    >>> import numpy as np
    >>> net_benefit(np.array([[1, 1, 0, 0]]), np.array([[1, 0, 0, 0]]), exchange_rate=0.5)
    0.125
    """
    return _score("net_benefit", pred, ref, empty_value, exchange_rate=exchange_rate)


@per_label
def absolute_volume_difference_ratio(pred, ref, *, empty_value: float = np.nan) -> float:
    """|volume(pred) − volume(ref)| / volume(ref); NaN for an empty reference (Metrics Reloaded).

    Examples
    --------
    >>> import numpy as np
    >>> absolute_volume_difference_ratio(np.array([[1, 1, 1, 0]]), np.array([[1, 1, 0, 0]]))
    0.5
    """
    return _score("absolute_volume_difference_ratio", pred, ref, empty_value)
