"""Shape and topology metrics: analytic cases, brute force, and the pitfalls paper's figures.

References: the worked examples of Reinke et al. (pitfalls, figures SN 2.12 for
boundary IoU and SN 2.14 for clDice, values as printed there and as
MetricsReloaded's test/test_metrics/test_pairwise_measures.py (Apache-2.0)
encodes them, masks rebuilt from that file), scipy's centre of mass,
scikit-image's Euler number, and brute-force distances for the boundary band.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.measure import euler_number

from labtools import metrics
from labtools.errors import ParameterError
from labtools.metrics import shape


def test_centre_of_mass_distance_in_mm():
    a = np.zeros((20, 20, 10), bool)
    a[2:6, 3:9, 1:5] = True
    b = np.roll(a, (3, -2, 1), axis=(0, 1, 2))
    assert shape.centre_of_mass_distance(a, b, (0.5, 1.0, 2.0)) == pytest.approx(np.sqrt(1.5**2 + 2**2 + 2**2))
    assert shape.centre_of_mass_distance(a, a) == 0.0
    com = np.array(ndimage.center_of_mass(a))
    assert np.allclose(com, [3.5, 5.5, 2.5])
    assert shape.centre_of_mass_distance(a, np.zeros_like(a)) == np.inf
    assert np.isnan(shape.centre_of_mass_distance(np.zeros_like(a), np.zeros_like(a)))


def _band_by_brute_force(mask, width, spacing):
    border = np.argwhere(mask & ~ndimage.binary_erosion(mask)) * spacing
    inside = np.argwhere(mask)
    nearest = np.sqrt(((inside[:, None, :] * spacing - border[None]) ** 2).sum(-1)).min(1)
    band = np.zeros_like(mask)
    band[tuple(inside[nearest < width].T)] = True
    return band


@pytest.mark.parametrize("width", [1.0, 2.0, 3.5])
def test_boundary_iou_equals_brute_force_bands(width):
    rng = np.random.default_rng(5)
    spacing = np.array([1.0, 1.5])
    for _ in range(4):
        ref = ndimage.binary_dilation(rng.random((30, 26)) < 0.01, iterations=4)
        pred = ndimage.binary_dilation(ref) if rng.random() < 0.5 else ndimage.binary_erosion(ref)
        a, b = _band_by_brute_force(pred, width, spacing), _band_by_brute_force(ref, width, spacing)
        assert shape.boundary_iou(pred, ref, width=width, spacing=spacing) == pytest.approx((a & b).sum() / (a | b).sum())


def test_the_pitfalls_papers_boundary_iou_and_cldice():
    ref212 = np.zeros((22, 22), bool)
    ref212[2:21, 2:21] = True
    pred212 = np.zeros_like(ref212)
    pred212[3:21, 2:21] = True
    assert shape.boundary_iou(pred212, ref212) == pytest.approx(0.6, abs=0.1)
    assert shape.boundary_iou(pred212, ref212, width=2.0) == pytest.approx(0.8, abs=0.1)
    ref214 = np.zeros((24, 24), bool)
    for rows, cols in [((1, 10), (7, 12)), ((10, 12), (3, 19)), ((12, 15), (3, 5)), ((12, 15), (15, 19)),
                       ((14, 20), (15, 17)), ((14, 15), (1, 5)), ((14, 17), (2, 3)), ((14, 19), (4, 5)),
                       ((17, 18), (4, 8)), ((14, 15), (15, 24)), ((12, 15), (22, 23)), ((14, 17), (21, 22)),
                       ((17, 20), (5, 6)), ((17, 22), (12, 13)), ((19, 20), (12, 17)), ((18, 19), (15, 20))]:
        ref214[slice(*rows), slice(*cols)] = True
    ref214[17, 19] = True
    pred1 = np.zeros_like(ref214)
    pred1[1:10, 7:12] = True
    pred1[10:12, 3:15] = True
    pred2 = ref214.copy()
    for rows, cols in [((10, 14), (3, 4)), ((10, 11), (3, 9)), ((10, 11), (10, 19)), ((1, 11), (7, 9)),
                       ((1, 11), (10, 12)), ((10, 14), (18, 19)), ((12, 14), (15, 17)), ((14, 19), (15, 16))]:
        pred2[slice(*rows), slice(*cols)] = False
    assert shape.centreline_dice(pred1, ref214) == pytest.approx(0.475, abs=0.01)
    assert shape.centreline_dice(pred2, ref214) == pytest.approx(0.78, abs=0.01)


def test_cldice_punishes_a_broken_vessel_more_than_dice():
    vessel = np.zeros((11, 60), bool)
    vessel[4:7, 3:57] = True
    broken = vessel.copy()
    broken[:, 20:23] = False
    assert metrics.dice(broken, vessel) > 0.94
    assert shape.centreline_dice(broken, vessel) < metrics.dice(broken, vessel)
    assert shape.betti_errors(broken, vessel) == {"b0": 1, "b1": 0}
    assert shape.centreline_dice(np.zeros_like(vessel), vessel) == 0.0


def _ball(shape_, centre, radius):
    grid = np.indices(shape_)
    return sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius**2


def test_betti_numbers_of_known_shapes_and_the_euler_characteristic():
    two_holes = np.zeros((12, 20), bool)
    two_holes[2:10, 2:18] = True
    two_holes[5, 5] = two_holes[6, 13] = False
    assert shape.betti_numbers(two_holes) == (1, 2)
    hollow = _ball((15, 15, 15), (7, 7, 7), 6) & ~_ball((15, 15, 15), (7, 7, 7), 3)
    assert shape.betti_numbers(hollow) == (1, 0, 1)
    torus = np.zeros((12, 12, 6), bool)
    torus[2:10, 2:10, 1:5] = True
    torus[5:7, 5:7, :] = False
    assert shape.betti_numbers(torus) == (1, 1, 0)
    double = np.zeros((12, 30, 6), bool)
    double[:, :12] = torus
    double[:, 15:27] = torus
    assert shape.betti_numbers(double) == (2, 2, 0)
    for mask in (hollow, torus, double):
        b0, b1, b2 = shape.betti_numbers(mask)
        assert b0 - b1 + b2 == euler_number(np.pad(mask, 1), connectivity=3)
    with pytest.raises(ParameterError, match="2D or 3D"):
        shape.betti_numbers(np.ones(5, bool))


def test_shape_metrics_take_label_maps_and_check_their_settings():
    labels = np.zeros((20, 20), int)
    labels[2:8, 2:8] = 1
    labels[10:18, 10:18] = 2
    moved = np.roll(labels, 1, axis=0)
    per_class = shape.centre_of_mass_distance(moved, labels, labels=[1, 2])
    assert per_class == {1: 1.0, 2: 1.0}
    with pytest.raises(ParameterError, match="width"):
        shape.boundary_iou(labels == 1, labels == 1, width=0)


def test_boundary_iou_in_3d_with_anisotropic_voxels_equals_brute_force():
    rng = np.random.default_rng(8)
    spacing = np.array([0.8, 1.0, 2.5])
    ref = ndimage.binary_dilation(rng.random((18, 16, 10)) < 0.01, iterations=2)
    pred = ndimage.binary_dilation(ref)
    for width in (1.0, 2.6):
        a, b = _band_by_brute_force(pred, width, spacing), _band_by_brute_force(ref, width, spacing)
        assert shape.boundary_iou(pred, ref, width=width, spacing=spacing) == pytest.approx((a & b).sum() / (a | b).sum())
    assert shape.boundary_iou(pred, np.zeros_like(ref)) == 0.0
    assert shape.boundary_iou(np.zeros_like(ref), np.zeros_like(ref), empty_value=1.0) == 1.0


def test_cldice_of_a_3d_tube_cut_in_two():
    tube = np.zeros((40, 9, 9), bool)
    tube[3:37, 3:6, 3:6] = True
    cut = tube.copy()
    cut[18:21] = False
    skeleton_kept = shape.centreline_dice(cut, tube)
    assert 0.8 < skeleton_kept < 1.0 and shape.centreline_dice(tube, tube) == 1.0
    assert shape.betti_errors(cut, tube) == {"b0": 1, "b1": 0, "b2": 0}


def test_centre_of_mass_options_reproduce_metrics_reloaded():
    a = np.zeros((8, 8), bool)
    a[1:3, 1:3] = True
    empty = np.zeros_like(a)
    assert shape.centre_of_mass_distance(a, empty, one_empty_value=-1.0) == -1.0
    assert shape.centre_of_mass_distance(empty, empty, empty_value=-1.0) == -1.0
