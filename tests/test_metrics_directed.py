"""Directed Hausdorff, the one-way average surface distance, taxicab and chessboard distances against MONAI 1.6.

MONAI's ``compute_hausdorff_distance(directed=True)`` and
``compute_average_surface_distance(symmetric=False)`` measure from the
prediction's boundary to the reference's, as labtools does; both directions
together give the symmetric metrics, which is also checked.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance
from scipy import ndimage

from labtools import metrics
from labtools.errors import ParameterError


def _monai(function, pred, ref, spacing, **options) -> float:
    as_tensor = lambda m: torch.from_numpy(np.asarray(m, np.float32)[None, None])  # noqa: E731
    return float(function(as_tensor(pred), as_tensor(ref), include_background=True, spacing=spacing,
                          **options).item())


def _cases():
    rng = np.random.default_rng(11)
    for shape, spacing in [((40, 36), (0.8, 1.5)), ((24, 20, 16), (1.0, 1.0, 2.5))]:
        for _ in range(3):
            ref = ndimage.binary_dilation(rng.random(shape) < 0.01, iterations=3)
            pred = ndimage.binary_dilation(ref, iterations=1) if rng.random() < 0.5 else ndimage.binary_erosion(ref)
            pred = pred | (rng.random(shape) < 0.002)                     # a few stray voxels
            yield pred, ref, spacing


@pytest.mark.parametrize("percentile", [100, 95])
def test_directed_hausdorff_equals_monai_directed(percentile):
    for pred, ref, spacing in _cases():
        ours = metrics.directed_hausdorff(pred, ref, spacing, percentile=percentile)
        theirs = _monai(compute_hausdorff_distance, pred, ref, spacing, directed=True,
                        percentile=None if percentile == 100 else percentile)
        assert np.isclose(ours, theirs, rtol=1e-5)
        both = max(ours, metrics.directed_hausdorff(ref, pred, spacing, percentile=percentile))
        assert np.isclose(both, metrics.hausdorff(pred, ref, spacing, percentile=percentile))


def test_average_surface_distance_equals_monai_one_way():
    for pred, ref, spacing in _cases():
        ours = metrics.average_surface_distance(pred, ref, spacing)
        assert np.isclose(ours, _monai(compute_average_surface_distance, pred, ref, spacing, symmetric=False),
                          rtol=1e-5)
        assert ours != metrics.average_surface_distance(ref, pred, spacing)      # it is one direction


def test_empty_masks_follow_the_distance_policy():
    ref = np.zeros((10, 10), bool)
    ref[3:6, 3:6] = True
    empty = np.zeros_like(ref)
    assert metrics.directed_hausdorff(empty, ref) == np.inf
    assert metrics.average_surface_distance(ref, empty) == np.inf
    assert np.isnan(metrics.directed_hausdorff(empty, empty))
    assert metrics.average_surface_distance(empty, empty, empty_value=0.0) == 0.0


@pytest.mark.parametrize("distance_metric", ["taxicab", "chessboard"])
def test_taxicab_and_chessboard_equal_monai_in_voxels_and_scale_with_spacing(distance_metric):
    for pred, ref, spacing in _cases():
        for percentile in (None, 95):
            ours = metrics.hausdorff(pred, ref, percentile=percentile or 100, distance_metric=distance_metric)
            theirs = _monai(compute_hausdorff_distance, pred, ref, None, percentile=percentile,
                            distance_metric=distance_metric)
            assert np.isclose(ours, theirs, rtol=1e-5)
        assert np.isclose(metrics.assd(pred, ref, distance_metric=distance_metric),
                          _monai(compute_average_surface_distance, pred, ref, None, symmetric=True,
                                 distance_metric=distance_metric), rtol=1e-5)
    # In mm: a shift of 2 voxels along an axis of 2.5 mm and 1 voxel along one of 1 mm.
    a = np.zeros((12, 12, 12), bool)
    a[3:7, 3:7, 3:7] = True
    b = np.roll(a, (1, 2), axis=(0, 2))
    expected = {"taxicab": 1.0 + 2 * 2.5, "chessboard": 2 * 2.5, "euclidean": np.hypot(1.0, 5.0)}
    for name, value in expected.items():
        assert metrics.directed_hausdorff(b, a, (1.0, 1.0, 2.5), distance_metric=name) == pytest.approx(value)
    with pytest.raises(ParameterError, match="distance_metric"):
        metrics.hausdorff(a, b, distance_metric="manhattan")


def test_surfel_mode_equals_deepminds_robust_hausdorff():
    import surface_distance as deepmind

    for pred, ref, spacing in _cases():
        theirs = deepmind.compute_surface_distances(ref, pred, spacing)
        for percentile in (95, 100, 50):
            ours = metrics.hausdorff(pred, ref, spacing, percentile=percentile, mode="surfel")
            assert ours == pytest.approx(deepmind.compute_robust_hausdorff(theirs, percentile), rel=1e-6)
    with pytest.raises(ParameterError, match="surfel"):
        metrics.hausdorff(pred, ref, spacing, mode="surfel", distance_metric="taxicab")


def test_surfel_mode_refuses_distances_computed_without_surfels():
    pred, ref, spacing = next(_cases())
    voxels_only = metrics.surface_distances(pred, ref, spacing, surfels=False)
    with pytest.raises(ParameterError, match="surfel"):
        metrics.hausdorff(distances=voxels_only, mode="surfel")
