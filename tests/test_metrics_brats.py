"""BraTS 2023 lesion-wise scores: the challenge's rules on hand-built cases, HD95 from DeepMind.

Each case is built so that the rules (merging close lesions, predictions that
touch a lesion's dilation, the volume threshold, the 374 mm penalty) decide
the answer; the expected scores come from the rules applied by hand and from
DeepMind's ``compute_robust_hausdorff`` (the surface-distance package the
challenge uses).
"""

from __future__ import annotations

import numpy as np
import pytest
import surface_distance as deepmind

from labtools import metrics
from labtools.errors import ParameterError


def _robust_hd95(pred, ref, spacing=(1.0, 1.0, 1.0)):
    return deepmind.compute_robust_hausdorff(deepmind.compute_surface_distances(ref, pred, spacing), 95)


def test_close_lesions_merge_and_nearby_predictions_count():
    ref = np.zeros((40, 40, 20), bool)
    ref[5:12, 5:12, 5:12] = True
    ref[16:23, 5:12, 5:12] = True                  # 4 voxels from the first: dilations (3 each) touch
    pred = np.zeros_like(ref)
    pred[5:12, 5:12, 5:12] = True                  # finds the first part only
    pred[25:28, 5:8, 5:8] = True                   # 2 voxels beyond the second part: inside its dilation
    scores = metrics.brats_lesion_wise(pred, ref)
    assert (scores["tp"], scores["fn"], scores["fp"]) == (1, 0, 0)
    (lesion,) = scores["lesions"]
    assert lesion["predicted"] == [1, 2]
    assert lesion["dice"] == pytest.approx(metrics.dice(pred, ref))
    assert lesion["hd95"] == pytest.approx(_robust_hd95(pred, ref))
    assert scores["lesion_wise_dice"] == pytest.approx(lesion["dice"])
    # Without the merge (dilation 1, as for metastases) the parts are two lesions, the far blob an FP.
    met = metrics.brats_lesion_wise(pred, ref, dilation=1, min_volume_mm3=2)
    assert (met["tp"], met["fn"], met["fp"]) == (1, 1, 1)
    assert met["lesion_wise_dice"] == pytest.approx((1.0 + 0.0) / 3)
    assert met["lesion_wise_hd95"] == pytest.approx((0.0 + 374.0 + 374.0) / 3)


def test_small_lesions_are_left_out_but_do_not_make_false_positives():
    spacing = (1.0, 1.0, 2.0)
    ref = np.zeros((30, 30, 12), bool)
    ref[3:10, 3:10, 2:8] = True                    # 294 voxels x 2 mm^3
    ref[20:23, 20:23, 5:7] = True                  # 18 voxels = 36 mm^3 <= 50: left out
    pred = np.zeros_like(ref)
    pred[4:10, 3:10, 2:8] = True
    pred[20:22, 20:22, 5:6] = True                 # touches the small lesion: not an FP either
    scores = metrics.brats_lesion_wise(pred, ref, spacing)
    assert (scores["tp"], scores["fn"], scores["fp"]) == (1, 0, 0)
    big = np.zeros_like(ref)
    big[3:10, 3:10, 2:8] = True
    found = pred.copy()
    found[20:22, 20:22, 5:6] = False
    assert scores["lesion_wise_dice"] == pytest.approx(metrics.dice(found, big))
    assert scores["lesion_wise_hd95"] == pytest.approx(_robust_hd95(found, big, spacing))
    assert metrics.brats_lesion_wise(pred, ref, spacing, min_volume_mm3=10)["fn"] == 0     # now kept, found


def test_empty_cases_and_settings():
    empty = np.zeros((20, 20, 10), bool)
    assert metrics.brats_lesion_wise(empty, empty)["lesion_wise_dice"] == 1.0
    lesion = empty.copy()
    lesion[5:12, 5:12, 2:8] = True
    missed = metrics.brats_lesion_wise(empty, lesion)
    assert (missed["lesion_wise_dice"], missed["lesion_wise_hd95"], missed["fn"]) == (0.0, 374.0, 1)
    assert metrics.BRATS_SETTINGS["MET"] == (1, 2)
    with pytest.raises(ParameterError, match="dilation"):
        metrics.brats_lesion_wise(lesion, lesion, dilation=1.5)
