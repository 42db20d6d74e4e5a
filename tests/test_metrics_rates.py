"""labtools.metrics.rates against MONAI, scikit-learn and the Metrics Reloaded pitfalls figures.

Three kinds of reference, none of them our own output:

* MONAI 1.6's ``compute_confusion_matrix_metric`` for the rates it offers, on
  random 2D/3D masks of several densities (and where labtools documents a
  different convention, that MONAI differs exactly there);
* scikit-learn's MCC, Cohen's kappa, F-beta, balanced accuracy and LR+ on the
  flattened masks;
* the worked examples of the Metrics Reloaded pitfalls paper (Reinke et al.,
  Nature Methods 2024, figures SN 2.9, 2.11, 2.17, 2.7, 3.8), with the values
  printed in the paper, as MetricsReloaded's own test suite
  (test/test_metrics/test_pairwise_measures.py, Apache-2.0) encodes them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.metrics import compute_confusion_matrix_metric, get_confusion_matrix
from sklearn import metrics as sk

from labtools import metrics
from labtools.errors import ParameterError
from labtools.metrics import rates

MONAI_NAMES = {
    "false_positive_rate": "fall out", "false_negative_rate": "miss rate",
    "false_discovery_rate": "false discovery rate", "false_omission_rate": "false omission rate",
    "negative_predictive_value": "negative predictive value", "prevalence_threshold": "prevalence threshold",
    "balanced_accuracy": "balanced accuracy", "matthews_correlation": "matthews correlation coefficient",
    "fowlkes_mallows": "fowlkes mallows index", "informedness": "informedness", "markedness": "markedness",
}


def _random_pairs():
    rng = np.random.default_rng(7)
    for shape in [(30, 40), (12, 14, 10)]:
        for density in (0.05, 0.3, 0.7):
            ref = rng.random(shape) < density
            pred = np.where(rng.random(shape) < 0.2, ~ref, ref)          # 20 % of the voxels flipped
            yield pred, ref


def _monai(name: str, pred, ref) -> float:
    as_tensor = lambda m: torch.from_numpy(np.asarray(m, np.float32)[None, None])  # noqa: E731
    counts = get_confusion_matrix(as_tensor(pred), as_tensor(ref))
    return float(compute_confusion_matrix_metric(MONAI_NAMES[name], counts).item())


@pytest.mark.parametrize("name", sorted(MONAI_NAMES))
def test_rates_equal_monai_on_random_masks(name):
    for pred, ref in _random_pairs():
        ours = getattr(rates, name)(pred, ref)
        np.testing.assert_allclose(ours, _monai(name, pred, ref), rtol=1e-5, err_msg=name)


def test_where_monai_gives_nan_labtools_follows_its_documented_rules():
    ref = np.zeros((8, 8), bool)
    ref[2:5, 2:5] = True
    empty = np.zeros_like(ref)
    # Prediction empty: Fowlkes-Mallows and MCC score 0 (a failure), MONAI NaN.
    assert rates.fowlkes_mallows(empty, ref) == 0.0 and np.isnan(_monai("fowlkes_mallows", empty, ref))
    assert rates.matthews_correlation(empty, ref) == 0.0 and np.isnan(_monai("matthews_correlation", empty, ref))
    assert sk.matthews_corrcoef(ref.ravel(), empty.ravel()) == 0.0
    # Rates with a zero denominator are NaN in both.
    assert np.isnan(rates.false_discovery_rate(empty, ref)) and np.isnan(_monai("false_discovery_rate", empty, ref))
    # Both masks empty: empty_value.
    assert np.isnan(rates.balanced_accuracy(empty, empty))
    assert rates.fbeta(empty, empty, empty_value=1.0) == 1.0        # Metrics Reloaded's choice


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_sklearn_agrees_on_mcc_kappa_fbeta_balanced_accuracy_and_lr_plus(beta):
    for pred, ref in _random_pairs():
        truth, guess = ref.ravel(), pred.ravel()
        assert np.isclose(rates.matthews_correlation(pred, ref), sk.matthews_corrcoef(truth, guess))
        assert np.isclose(rates.cohens_kappa(pred, ref), sk.cohen_kappa_score(truth, guess))
        assert np.isclose(rates.fbeta(pred, ref, beta=beta), sk.fbeta_score(truth, guess, beta=beta))
        assert np.isclose(rates.balanced_accuracy(pred, ref), sk.balanced_accuracy_score(truth, guess))
        positive, _ = sk.class_likelihood_ratios(truth, guess)
        assert np.isclose(rates.positive_likelihood_ratio(pred, ref), positive)
    assert np.isclose(rates.fbeta(pred, ref, beta=1.0), metrics.dice(pred, ref))
    assert rates.youden_index(pred, ref) == rates.informedness(pred, ref)


def _row(ones_zeros: list[tuple[int, int]]) -> np.ndarray:
    """A 1-row 2D mask from (value, count) runs, as the paper's 1D examples."""
    return np.concatenate([np.full(count, value, bool) for value, count in ones_zeros])[None]


# The pitfalls paper's examples: (pred runs, ref runs).
F29_1 = _row([(1, 45), (0, 5), (1, 10), (0, 40)]), _row([(1, 50), (0, 50)])
F29_2 = _row([(1, 81), (0, 9), (1, 2), (0, 8)]), _row([(1, 90), (0, 10)])
F211_1 = _row([(1, 105)]), _row([(1, 30), (0, 75)])
F211_2 = _row([(1, 20), (0, 15), (1, 60), (0, 10)]), _row([(1, 35), (0, 70)])
F27 = _row([(1, 81), (0, 9), (1, 2), (0, 8)]), _row([(1, 90), (0, 10)])
F38 = _row([(1, 1499), (0, 501)]), _row([(1, 1999), (0, 1)])


def test_the_pitfalls_papers_worked_examples():
    assert np.isclose(rates.matthews_correlation(*F29_1), 0.70, atol=0.01)
    assert np.isclose(rates.matthews_correlation(*F29_2), 0.56, atol=0.02)
    assert np.isclose(rates.negative_predictive_value(*F29_1), 0.889, atol=0.001)
    assert np.isclose(rates.negative_predictive_value(*F29_2), 0.47, atol=0.01)
    assert np.isclose(rates.net_benefit(*F211_1, exchange_rate=1 / 9), 0.206, atol=0.001)
    assert np.isclose(rates.net_benefit(*F211_2, exchange_rate=1 / 9), 0.127, atol=0.001)
    assert np.isclose(rates.net_benefit(*F211_2), -0.381, atol=0.001)
    assert np.isclose(rates.net_benefit(*F211_1), -0.429, atol=0.001)
    assert np.isclose(rates.normalised_expected_cost(*F27), 0.30, atol=0.01)
    assert np.isclose(rates.matthews_correlation(*F38), 0.0386, atol=0.001)
    assert np.isclose(rates.cohens_kappa(*F38), 0.003, atol=0.001)


def test_volume_difference_and_expected_cost_by_hand():
    ref = np.zeros((14, 14), bool)
    pred = np.zeros_like(ref)
    ref[2:4, 2:4] = pred[3:5, 3:5] = True                   # same volume, shifted: AVDR 0
    assert rates.absolute_volume_difference_ratio(pred, ref) == 0.0
    pred[10, 10] = True                                      # 5 voxels vs 4
    assert rates.absolute_volume_difference_ratio(pred, ref) == 0.25
    assert np.isnan(rates.absolute_volume_difference_ratio(ref, np.zeros_like(ref)))
    # Default costs: NEC = FPR + FNR. FP = 4, FN = 3 (ref has 4, overlap 1), TN = 196 - 8 = 188.
    assert np.isclose(rates.normalised_expected_cost(pred, ref), 4 / 192 + 3 / 4)


def test_label_maps_and_rate_scores_give_the_same_numbers():
    rng = np.random.default_rng(3)
    ref, pred = rng.integers(0, 3, (20, 20)), rng.integers(0, 3, (20, 20))
    per_class = rates.markedness(pred, ref, labels=[1, 2])
    for label in (1, 2):
        scores = rates.rate_scores(metrics.confusion_matrix(pred == label, ref == label))
        assert per_class[label] == scores["markedness"]
        assert set(scores) == set(rates.RATE_NAMES)


def test_bad_settings_are_parameter_errors():
    mask = np.eye(4, dtype=bool)
    with pytest.raises(ParameterError, match="beta"):
        rates.fbeta(mask, mask, beta=0.0)
    with pytest.raises(ParameterError, match="costs"):
        rates.normalised_expected_cost(mask, ~mask, cost_fn=-1.0)


def test_options_reproduce_monai_where_the_defaults_differ():
    ref = np.zeros((8, 8), bool)
    ref[2:5, 2:5] = True
    empty = np.zeros_like(ref)
    assert np.isnan(rates.matthews_correlation(empty, ref, undefined_value=np.nan))
    assert np.isnan(rates.fowlkes_mallows(empty, ref, one_empty_value=np.nan))
    for pred, truth in _random_pairs():                       # the options change nothing elsewhere
        assert rates.matthews_correlation(pred, truth, undefined_value=np.nan) == rates.matthews_correlation(pred, truth)
