"""recommend(): Metrics Reloaded's questions turned into labtools calls that exist and apply."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from labtools import metrics
from labtools.errors import ParameterError
from labtools.metrics import recommendation as recommend_module

FLAGS = ("small_structures", "boundary_matters", "tubular", "empty_possible", "probabilities",
         "volume_matters", "costs_differ", "unequal_class_sizes")


def test_every_recommended_metric_is_a_labtools_function():
    for task in recommend_module.TASKS:
        for values in itertools.product((False, True), repeat=len(FLAGS)):
            advice = recommend_module.recommend(task, **dict(zip(FLAGS, values)))
            assert advice.items, (task, values)
            for item in advice:
                assert callable(getattr(metrics, item.metric)), item.metric
                assert item.reason and f"{item.metric}(" in item.call
            assert len(set(advice.metrics)) == len(advice.metrics)   # no metric twice


def test_the_rules_follow_the_fingerprint():
    plain = recommend_module.recommend("semantic")
    assert plain.metrics == ["dice", "nsd"]
    boundary = recommend_module.recommend("semantic", boundary_matters=True, tolerance_mm=2.0)
    assert "hd95" in boundary.metrics and "tolerance=2," in next(i.call for i in boundary if i.metric == "nsd")
    assert not any("TAU" in note for note in boundary.notes)
    vessels = recommend_module.recommend("semantic", tubular=True)
    assert {"centreline_dice", "betti_errors"} <= set(vessels.metrics)
    assert "fbeta" in recommend_module.recommend("semantic", costs_differ=True).metrics
    assert recommend_module.recommend("detection").metrics == ["lesion_detection", "froc"]
    assert "expected_calibration_error" in recommend_module.recommend("semantic", probabilities=True).metrics
    imbalanced = recommend_module.recommend("semantic", unequal_class_sizes=True)
    assert any("accuracy" in note for note in imbalanced.notes)
    assert not any("accuracy" in note for note in plain.notes)
    text = str(recommend_module.recommend("instance", small_structures=True, empty_possible=True))
    assert text.startswith("Metrics for an instance task (small_structures, empty_possible):")
    assert "| dice |" in recommend_module.recommend("semantic")._repr_markdown_()


def test_what_evaluate_can_compute_goes_straight_into_it():
    advice = recommend_module.recommend("semantic", boundary_matters=True, costs_differ=True, tolerance_mm=1.0)
    wanted = [m for m in advice.metrics if m in metrics.AVAILABLE_METRICS]
    ref = np.zeros((20, 20), bool)
    ref[5:15, 5:15] = True
    scores = metrics.evaluate(np.roll(ref, 1, axis=0), ref, metrics=wanted, tolerance=1.0)
    assert list(scores) == wanted == ["dice", "nsd", "hd95", "fbeta"]


def test_an_unknown_task_is_a_parameter_error():
    with pytest.raises(ParameterError, match="task must be one of"):
        recommend_module.recommend("classification")
