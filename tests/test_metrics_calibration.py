"""Probability-map metrics against scikit-learn and the pitfalls paper's calibration examples.

References: scikit-learn's brier_score_loss, log_loss, calibration_curve,
roc_auc_score and average_precision_score on the flattened voxels; the worked
examples of Reinke et al. (Metrics Reloaded pitfalls, figure SN 2.24: ECE with
2, 5 and 10 bins) with the values printed in the paper, as MetricsReloaded's
test/test_metrics/test_calibration_metrics.py (Apache-2.0) encodes them; and a
straightforward loop over the bins for ECE.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk
from sklearn.calibration import calibration_curve

from labtools import metrics
from labtools.errors import InvalidImageError, ParameterError, ShapeMismatchError


def _maps(seed: int = 0, shape=(24, 20, 6)):
    rng = np.random.default_rng(seed)
    ref = rng.random(shape) < 0.3
    prob = np.clip(np.where(ref, 0.65, 0.3) + rng.normal(0, 0.2, shape), 0.001, 0.999)
    return prob, ref


def test_binary_scores_equal_scikit_learn():
    prob, ref = _maps()
    y, p = ref.ravel(), prob.ravel()
    assert np.isclose(metrics.brier_score(prob, ref), sk.brier_score_loss(y, p))
    assert np.isclose(-metrics.log_score(prob, ref), sk.log_loss(y, p))
    assert np.isclose(metrics.auroc(prob, ref), sk.roc_auc_score(y, p))
    assert np.isclose(metrics.average_precision(prob, ref), sk.average_precision_score(y, p))


def test_multiclass_brier_and_log_score_equal_scikit_learn():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, (4, 10, 12))
    prob = np.exp(logits) / np.exp(logits).sum(axis=0)
    ref = rng.integers(0, 4, (10, 12))
    flat = prob.reshape(4, -1).T
    assert np.isclose(metrics.brier_score(prob, ref),
                      sk.brier_score_loss(ref.ravel(), flat, labels=[0, 1, 2, 3], scale_by_half=False))
    assert np.isclose(-metrics.log_score(prob, ref), sk.log_loss(ref.ravel(), flat, labels=[0, 1, 2, 3]))


@pytest.mark.parametrize("n_bins", [2, 5, 10, 15])
def test_reliability_curve_equals_scikit_learns_calibration_curve(n_bins):
    prob, ref = _maps(2)
    frequency, confidence = calibration_curve(ref.ravel(), prob.ravel(), n_bins=n_bins, strategy="uniform")
    curve = metrics.reliability_curve(prob, ref, n_bins=n_bins)
    np.testing.assert_allclose(curve.confidence, confidence)
    np.testing.assert_allclose(curve.frequency, frequency)
    assert curve.count.sum() == ref.size


def test_ece_is_the_weighted_gap_of_the_bins_and_matches_the_pitfalls_example():
    prob, ref = _maps(3)
    p, y = prob.ravel(), ref.ravel()
    edges = np.linspace(0, 1, 11)
    gap = 0.0
    for k, (low, high) in enumerate(zip(edges[:-1], edges[1:])):      # bins (low, high], the first closed
        inside = (p > low) & (p <= high) if k else (p >= low) & (p <= high)
        if inside.any():
            gap += inside.sum() * abs(y[inside].mean() - p[inside].mean())
    assert np.isclose(metrics.expected_calibration_error(prob, ref), gap / p.size)
    # Pitfalls figure SN 2.24: ten cases, foreground probabilities and outcomes.
    fig_prob = np.array([[0.22, 0.48, 0.49, 0.96, 0.55, 0.64, 0.78, 0.82, 0.34, 0.87]])
    fig_ref = np.array([[0, 1, 0, 0, 1, 1, 1, 1, 1, 0]])
    for n_bins, printed in [(2, 0.11), (5, 0.32), (10, 0.36)]:
        assert np.isclose(metrics.expected_calibration_error(fig_prob, fig_ref, n_bins=n_bins), printed, atol=0.01)


def test_the_pitfalls_papers_brier_and_log_score():
    prob = np.array([[0.2, 0.4], [0.8, 0.6]])              # (K=2, N=2): class probabilities per case
    ref = np.array([1, 0])
    assert np.isclose(metrics.brier_score(prob[:, None, :], ref[None]), 0.4)
    assert np.isclose(metrics.log_score(prob[:, None, :], ref[None]), -0.57, atol=0.01)


def test_a_perfectly_calibrated_map_has_no_gap_and_one_class_gives_nan():
    ref = np.zeros((10, 10), bool)
    ref[:, :3] = True                       # 30 % foreground
    prob = np.full(ref.shape, 0.3)
    assert metrics.expected_calibration_error(prob, ref) == pytest.approx(0.0)
    assert np.isnan(metrics.auroc(prob, np.zeros_like(ref)))
    quantile = metrics.reliability_curve(np.random.default_rng(4).random((20, 20)), ref.repeat(2, 0).repeat(2, 1),
                                         n_bins=4, binning="quantile")
    assert quantile.count.tolist() == [100, 100, 100, 100]


def test_bad_inputs_say_what_is_wrong():
    prob, ref = _maps()
    with pytest.raises(InvalidImageError, match="probabilities in"):
        metrics.brier_score(prob * 2, ref)
    with pytest.raises(ShapeMismatchError, match="shape"):
        metrics.auroc(prob[:-1], ref)
    with pytest.raises(InvalidImageError, match="label map"):
        metrics.log_score(np.stack([1 - prob, prob]), ref.astype(int) * 2)
    with pytest.raises(ParameterError, match="binning"):
        metrics.expected_calibration_error(prob, ref, binning="sturges")


def test_metrics_reloaded_drops_probabilities_of_exactly_zero():
    prob = np.array([[0.0, 0.0, 0.2, 0.7, 0.9]])
    ref = np.array([[1, 0, 0, 1, 1]])
    # By hand, bins (0, 0.5] and (0.5, 1]: {0.2 -> 0}, {0.7, 0.9 -> 1, 1}: (1 * 0.2 + 2 * 0.2) / 3.
    assert metrics.expected_calibration_error(prob, ref, n_bins=2, first_bin_closed=False) == pytest.approx(0.6 / 3)
    # With the first bin closed the two zeros join [0, 0.5]: (3 * |1/3 - 0.2/3| + 2 * 0.2) / 5.
    assert metrics.expected_calibration_error(prob, ref, n_bins=2) == pytest.approx((3 * abs(1 / 3 - 0.2 / 3) + 0.4) / 5)
