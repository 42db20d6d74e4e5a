"""Instance matching, detection F1, panoptic quality and lesion-wise scores.

References: a brute-force panoptic quality written from Kirillov et al. (2019)
(every object pair's IoU from explicit masks, matches where IoU > 0.5, which
are unique), analytic cases worked out by hand, labtools' own per-mask
metrics on isolated object pairs, and scipy's labelling for connectivity.
(panoptica, the PQ reference on PyPI, requires numpy < 2.3 and cannot be
installed next to this project's numpy 2.4.)
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from labtools import metrics
from labtools.errors import ParameterError
from labtools.metrics import instances


def _brute_force_pq(pred, ref):
    structure = np.ones((3,) * pred.ndim)
    p_labels, n_p = ndimage.label(pred, structure)
    r_labels, n_r = ndimage.label(ref, structure)
    ious = []
    matched_p, matched_r = set(), set()
    for i in range(1, n_p + 1):
        for j in range(1, n_r + 1):
            a, b = p_labels == i, r_labels == j
            iou = (a & b).sum() / (a | b).sum()
            if iou > 0.5:
                ious.append(iou)
                matched_p.add(i)
                matched_r.add(j)
    tp, fp, fn = len(ious), n_p - len(matched_p), n_r - len(matched_r)
    if tp == 0:
        return 0.0, tp, fp, fn
    return sum(ious) / (tp + fp / 2 + fn / 2), tp, fp, fn


def _blobs(shape, seed):
    """Reference blobs; the prediction shifts them (grown for odd seeds), drops some, adds specks."""
    rng = np.random.default_rng(seed)
    ref = ndimage.binary_dilation(rng.random(shape) < 0.004, iterations=2)
    pred = np.roll(ndimage.binary_dilation(ref) if seed % 2 else ref, 1, axis=0)
    labels, count = ndimage.label(pred, np.ones((3,) * len(shape)))
    pred &= ~np.isin(labels, rng.choice(np.arange(1, count + 1), count // 4, replace=False))
    return pred | ndimage.binary_dilation(rng.random(shape) < 0.0005), ref


@pytest.mark.parametrize("shape", [(60, 50), (30, 28, 14)])
def test_panoptic_quality_equals_the_brute_force_definition(shape):
    for seed in range(4):
        pred, ref = _blobs(shape, seed)
        pq, tp, fp, fn = _brute_force_pq(pred, ref)
        ours = metrics.panoptic_quality(pred, ref, strict=True)          # Kirillov: IoU > 0.5
        assert (ours["tp"], ours["fp"], ours["fn"]) == (tp, fp, fn)
        assert ours["pq"] == pytest.approx(pq)
        assert ours["rq"] == pytest.approx(tp / (tp + fp / 2 + fn / 2))
        assert metrics.detection_f1(pred, ref, strict=True) == pytest.approx(2 * tp / (2 * tp + fp + fn))


def test_the_matching_rule_is_explicit_and_changes_the_answer():
    ref = np.zeros((12, 12), bool)
    ref[2:10, 2:10] = True                                           # 64 voxels
    pred = np.zeros((12, 12), np.uint8)
    pred[2:6, 2:5] = 1                                               # confident, small: IoU 12/64
    pred[5:10, 2:10] = 2                                             # less confident, large: IoU 40/64
    greedy = metrics.match_instances(pred, ref, threshold=0.1, rule="greedy_by_score", scores={1: 0.9, 2: 0.4})
    hungarian = metrics.match_instances(pred, ref, threshold=0.1)
    assert [(p, r) for p, r, _ in greedy.pairs] == [(1, 1)] and greedy.unmatched_pred == [2]
    assert hungarian.pairs == [(2, 1, pytest.approx(40 / 64))] and hungarian.unmatched_pred == [1]
    with pytest.raises(ParameterError, match="score for every"):
        metrics.match_instances(pred, ref, rule="greedy_by_score", scores={1: 0.9})
    with pytest.raises(ParameterError, match="rule must be"):
        metrics.match_instances(pred, ref, rule="hungarian")
    with pytest.raises(ParameterError, match="threshold"):
        metrics.match_instances(pred, ref, threshold=1.5)


def test_objects_come_from_connectivity_or_from_an_instance_map():
    corner = np.zeros((6, 6), bool)
    corner[1:3, 1:3] = corner[3:5, 3:5] = True                        # touching at a corner only
    assert metrics.label_instances(corner).max() == 1
    assert metrics.label_instances(corner, connectivity=1).max() == 2
    touching = np.zeros((6, 6), np.uint16)
    touching[1:5, 1:3], touching[1:5, 3:5] = 7, 9                     # two cells sharing an edge
    match = metrics.match_instances(touching, touching)
    assert [(p, r) for p, r, _ in match.pairs] == [(7, 7), (9, 9)]


def test_lesion_wise_scores_follow_brats_and_equal_the_per_mask_metrics():
    spacing = (1.0, 1.0, 2.5)
    ref = np.zeros((30, 30, 12), bool)
    ref[3:9, 3:9, 2:6] = True                                          # found, shifted
    ref[20:26, 20:26, 6:10] = True                                     # missed
    pred = np.zeros_like(ref)
    pred[4:10, 3:9, 2:6] = True
    pred[15:18, 3:6, 8:10] = True                                      # invented
    scores = metrics.instance_scores(pred, ref, spacing)
    (pair,) = scores["objects"]
    a, b = pred[:12, :12], ref[:12, :12]
    assert pair["dice"] == pytest.approx(metrics.dice(a, b))
    assert pair["hd95"] == pytest.approx(metrics.hd95(a, b, spacing))
    assert (scores["tp"], scores["fn"], scores["fp"]) == (1, 1, 1)
    assert scores["lesion_wise_dice"] == pytest.approx(pair["dice"] / 3)    # BraTS: / (TP + FN + FP)
    assert scores["lesion_wise_hd95"] == np.inf


def test_empty_masks():
    empty = np.zeros((8, 8), bool)
    one = empty.copy()
    one[2:4, 2:4] = True
    assert np.isnan(metrics.panoptic_quality(empty, empty)["pq"])
    assert metrics.panoptic_quality(empty, one)["pq"] == 0.0
    assert metrics.panoptic_quality(one, empty)["fp"] == 1
    assert np.isnan(metrics.detection_f1(empty, empty))
    assert np.isnan(metrics.instance_scores(empty, empty)["lesion_wise_dice"])


def test_detection_average_precision_equals_scikit_learn_scaled_to_all_references():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(2)
    for shape in [(60, 50), (30, 28, 14)]:
        for seed in range(3):
            pred_mask, ref = _blobs(shape, seed)
            pred = metrics.label_instances(pred_mask)
            scores = {int(k): float(s) for k, s in zip(range(1, pred.max() + 1), rng.random(pred.max()))}
            match = metrics.match_instances(pred, ref, threshold=0.3, rule="greedy_by_score", scores=scores)
            hit = {p for p, _, _ in match.pairs}
            ids = sorted(scores)
            if not hit:
                assert metrics.detection_average_precision(pred, ref, scores, threshold=0.3) == 0.0
                continue
            # scikit-learn's AP over the detections, whose recall counts found objects only:
            # scaled by (found / all reference objects) it is AP over every reference object.
            sk = average_precision_score([k in hit for k in ids], [scores[k] for k in ids])
            expected = sk * match.tp / (match.tp + match.fn)
            assert metrics.detection_average_precision(pred, ref, scores, threshold=0.3) == pytest.approx(expected)


def test_per_class_object_scores_from_label_maps():
    ref = np.zeros((20, 30), np.uint8)
    ref[2:6, 2:6] = 1
    ref[10:14, 2:6] = 1                      # two objects of class 1
    ref[2:8, 20:26] = 2                      # one of class 2
    pred = ref.copy()
    pred[10:14, 2:6] = 0                     # one class-1 object missed
    per_class = metrics.panoptic_quality(pred, ref, labels=[1, 2])
    assert per_class[1] == metrics.panoptic_quality(pred == 1, ref == 1)
    assert (per_class[1]["tp"], per_class[1]["fn"], per_class[2]["pq"]) == (1, 1, 1.0)
    assert metrics.detection_f1(pred, ref, labels=[1, 2]) == {1: pytest.approx(2 / 3), 2: 1.0}
