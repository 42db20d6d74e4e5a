"""labtools.metrics against MONAI (many seeds, anisotropic spacing) and analytic cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import ndimage as ndi

from labtools import metrics
from labtools.errors import InvalidImageError, ShapeMismatchError

import monai.metrics as monai_metrics  # noqa: E402  (the reference implementation)
import torch  # noqa: E402

SEEDS = range(8)


def random_pair(seed: int, shape):
    """Two overlapping smooth random masks, and a random anisotropic spacing."""
    rng = np.random.default_rng(seed)
    base = ndi.gaussian_filter(rng.random(shape), 2)
    noise = ndi.gaussian_filter(rng.random(shape), 2)
    ref = base > np.quantile(base, 0.7)
    pred = base + 0.4 * (noise - noise.mean()) > np.quantile(base, 0.7)
    spacing = tuple(float(s) for s in rng.choice([0.5, 0.8, 1.0, 1.5, 2.5], size=len(shape)))
    return pred, ref, spacing


def _tensor(mask):
    return torch.from_numpy(mask[None, None].astype(np.float32))


def _monai(metric, pred, ref, **kwargs) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(metric(_tensor(pred), _tensor(ref), **kwargs).item())


# --- overlap metrics equal MONAI ---------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(40, 36), (24, 22, 20)])
def test_overlap_metrics_equal_monai(seed, shape):
    pred, ref, _ = random_pair(seed, shape)
    tp, fp, tn, fn = monai_metrics.get_confusion_matrix(_tensor(pred), _tensor(ref))[0, 0].tolist()
    assert metrics.confusion_matrix(pred, ref) == (tp, fp, fn, tn)
    assert metrics.dice(pred, ref) == pytest.approx(_monai(monai_metrics.DiceMetric(), pred, ref), rel=1e-6)
    assert metrics.iou(pred, ref) == pytest.approx(_monai(monai_metrics.MeanIoU(), pred, ref), rel=1e-6)
    cm = monai_metrics.get_confusion_matrix(_tensor(pred), _tensor(ref))
    for ours, name in [(metrics.precision, "precision"), (metrics.recall, "recall"),
                       (metrics.specificity, "specificity"), (metrics.accuracy, "accuracy"),
                       (metrics.f1, "f1 score")]:
        expected = float(monai_metrics.compute_confusion_matrix_metric(name, cm).item())
        assert ours(pred, ref) == pytest.approx(expected, rel=1e-6), name


def test_volume_similarity_by_definition():
    pred, ref, _ = random_pair(0, (30, 30))
    c = metrics.confusion_matrix(pred, ref)
    expected = 1 - abs(c.fn - c.fp) / (2 * c.tp + c.fp + c.fn)
    assert metrics.volume_similarity(pred, ref) == pytest.approx(expected)
    assert metrics.f1(pred, ref) == metrics.dice(pred, ref)  # precision/recall harmonic mean = Dice


# --- distance metrics equal MONAI -------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", [(48, 40), (28, 26, 22)])
def test_distance_metrics_equal_monai(seed, shape):
    pred, ref, spacing = random_pair(seed, shape)
    d = metrics.surface_distances(pred, ref, spacing, surfel_bound=2.0)
    expected_hd = _monai(monai_metrics.HausdorffDistanceMetric(), pred, ref, spacing=spacing)
    expected_hd95 = _monai(monai_metrics.HausdorffDistanceMetric(percentile=95), pred, ref, spacing=spacing)
    expected_assd = _monai(monai_metrics.SurfaceDistanceMetric(symmetric=True), pred, ref, spacing=spacing)
    assert metrics.hausdorff(distances=d) == pytest.approx(expected_hd, rel=1e-5)
    assert metrics.hd95(distances=d) == pytest.approx(expected_hd95, rel=1e-5)
    assert metrics.assd(distances=d) == pytest.approx(expected_assd, rel=1e-5)
    for tolerance in (0.0, 1.0, 2.0):
        surfel = monai_metrics.SurfaceDiceMetric([tolerance], use_subvoxels=True)
        voxel = monai_metrics.SurfaceDiceMetric([tolerance])
        assert metrics.nsd(tolerance=tolerance, distances=d) == pytest.approx(
            _monai(surfel, pred, ref, spacing=spacing), rel=1e-5, abs=1e-7)
        assert metrics.nsd(pred, ref, tolerance, spacing, mode="voxel") == pytest.approx(
            _monai(voxel, pred, ref, spacing=spacing), rel=1e-5)


@pytest.mark.parametrize("seed", SEEDS)
def test_evaluate_equals_the_single_metrics(seed):
    pred, ref, spacing = random_pair(seed, (26, 24, 20))
    result = metrics.evaluate(pred, ref, spacing=spacing, tolerance=1.5)
    assert result["dice"] == metrics.dice(pred, ref)
    assert result["hd95"] == metrics.hd95(pred, ref, spacing)
    assert result["assd"] == metrics.assd(pred, ref, spacing)
    assert result["nsd"] == pytest.approx(metrics.nsd(pred, ref, 1.5, spacing), rel=1e-12)
    assert result["volume_ref_ml"] == pytest.approx(metrics.volume_ml(ref, spacing))
    assert set(result) == set(metrics.METRIC_NAMES)


def test_evaluate_label_maps_class_by_class():
    _, a, spacing = random_pair(1, (30, 30, 12))
    _, b, _ = random_pair(2, (30, 30, 12))
    ref = a.astype(np.uint8) + 2 * (b & ~a)
    pred = np.roll(ref, 1, axis=0)
    result = metrics.evaluate(pred, ref, spacing=spacing, labels=[1, 2])
    assert set(result) == {1, 2}
    for label in (1, 2):
        assert result[label]["dice"] == metrics.dice(pred == label, ref == label)
        assert result[label]["hausdorff"] == metrics.hausdorff(pred == label, ref == label, spacing)


# --- analytic cases -------------------------------------------------------------------------

@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.8, 1.2, 2.5)])
def test_concentric_cubes(spacing):
    outer = np.zeros((40, 40, 40), bool)
    outer[10:30, 10:30, 10:30] = True
    inner = np.zeros_like(outer)
    inner[12:28, 12:28, 12:28] = True  # inset by 2 voxels on every side
    s = np.array(spacing)
    # The farthest boundary voxels are the corners: 2 voxels off along each axis.
    assert metrics.hausdorff(inner, outer, spacing) == pytest.approx(2 * np.linalg.norm(s))
    # Every inner boundary voxel has an outer one exactly 2 voxels away along its face normal.
    ref_to_pred = metrics.surface_distances(inner, outer, spacing).voxel_pred_to_ref
    assert ref_to_pred.min() == pytest.approx(2 * s.min())


@pytest.mark.parametrize("shift, axis", [(1, 0), (3, 2), (5, 1)])
def test_shifted_cube_hausdorff_is_the_shift(shift, axis):
    a = np.zeros((30, 30, 30), bool)
    a[8:20, 8:20, 8:20] = True
    spacing = (0.7, 1.1, 2.5)
    b = np.roll(a, shift, axis=axis)
    assert metrics.hausdorff(a, b, spacing) == pytest.approx(shift * spacing[axis])


def test_concentric_spheres_distance_and_nsd():
    grid = np.indices((48, 48, 48)) - 23.5
    radius = np.sqrt((grid ** 2).sum(axis=0))
    small, large = radius < 10, radius < 14
    hd = metrics.hausdorff(small, large)
    assert abs(hd - 4.0) <= 1.0  # radii differ by 4 voxels, up to voxelisation
    assert metrics.nsd(small, large, tolerance=hd + 0.5) == 1.0
    assert metrics.nsd(small, large, tolerance=2.0) < 0.2
    # Marching-cubes surfels of a voxelised sphere add up to 4 pi r^2 give or take the staircase.
    d = metrics.surface_distances(large, large)
    assert d.surfel_area_ref.sum() == pytest.approx(4 * np.pi * 14 ** 2, rel=0.10)


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.5, 2.0)])
def test_square_contour_length_is_exact(spacing):
    """A square of n x n pixels: 4 straight sides of n - 1 steps and 4 corner cuts of half a diagonal."""
    n = 7
    square = np.zeros((12, 12), bool)
    square[2:2 + n, 3:3 + n] = True
    sx, sy = spacing
    expected = 2 * (n - 1) * sx + 2 * (n - 1) * sy + 4 * 0.5 * np.hypot(sx, sy)
    d = metrics.surface_distances(square, square, spacing)
    assert d.surfel_area_ref.sum() == pytest.approx(expected)


def test_identical_masks_score_perfectly():
    pred, ref, spacing = random_pair(3, (30, 30, 10))
    result = metrics.evaluate(ref, ref, spacing=spacing)
    assert result["dice"] == 1.0 and result["hausdorff"] == 0.0 and result["nsd"] == 1.0
    assert result["assd"] == 0.0 and result["volume_similarity"] == 1.0


def test_pooled_and_mean_of_means_options():
    pred, ref, spacing = random_pair(5, (40, 40))
    d = metrics.surface_distances(pred, ref, spacing)
    pooled = np.concatenate([d.voxel_pred_to_ref, d.voxel_ref_to_pred])
    assert metrics.hd95(distances=d, mode="pooled") == pytest.approx(np.percentile(pooled, 95))
    expected = (d.voxel_pred_to_ref.mean() + d.voxel_ref_to_pred.mean()) / 2
    assert metrics.assd(distances=d, mode="mean_of_means") == pytest.approx(expected)


# --- empty-mask policy (docs/metrics.md) ------------------------------------------------------

def test_both_empty_is_nan_or_empty_value():
    empty = np.zeros((10, 10), bool)
    for name in ("dice", "iou", "volume_similarity", "hausdorff", "hd95", "assd"):
        assert np.isnan(getattr(metrics, name)(empty, empty)), name
    assert np.isnan(metrics.nsd(empty, empty, 1.0))
    assert metrics.dice(empty, empty, empty_value=1.0) == 1.0
    assert metrics.hausdorff(empty, empty, empty_value=0.0) == 0.0


@pytest.mark.parametrize("which", ["pred", "ref"])
def test_one_empty_is_worst_not_nan(which):
    mask = np.zeros((10, 10), bool)
    mask[3:6, 3:6] = True
    empty = np.zeros_like(mask)
    pred, ref = (empty, mask) if which == "pred" else (mask, empty)
    assert metrics.dice(pred, ref) == 0.0 and metrics.iou(pred, ref) == 0.0
    assert metrics.precision(pred, ref) == 0.0 and metrics.recall(pred, ref) == 0.0
    assert metrics.hausdorff(pred, ref) == np.inf and metrics.assd(pred, ref) == np.inf
    assert metrics.nsd(pred, ref, 1.0) == 0.0
    result = metrics.evaluate(pred, ref)
    assert result["hd95"] == np.inf and result["nsd"] == 0.0 and result["dice"] == 0.0


# --- lesion-wise ------------------------------------------------------------------------------

def _cubes(shape, corners, size):
    mask = np.zeros(shape, bool)
    for corner in corners:
        mask[tuple(slice(c, c + size) for c in corner)] = True
    return mask


def test_lesion_detection_counts_and_volumes():
    ref = _cubes((40, 40, 40), [(2, 2, 2), (20, 20, 20), (30, 2, 30)], 4)   # 3 lesions of 64 voxels
    pred = _cubes((40, 40, 40), [(3, 3, 3), (10, 30, 10)], 4)              # hits the 1st, 1 FP
    spacing = (1.0, 1.0, 2.0)
    report = metrics.lesion_detection(pred, ref, spacing)
    assert (report.n_ref, report.n_pred, report.tp, report.fn, report.fp) == (3, 2, 1, 2, 1)
    voxel_ml = 2.0 / 1000
    assert report.fn_volume_ml == pytest.approx(2 * 64 * voxel_ml)
    assert report.fp_volume_ml == pytest.approx(64 * voxel_ml)
    # The detected lesion overlaps its partner in 3x3x3 voxels: Dice = 2*27 / (64 + 64).
    assert report.lesion_dice[0] == pytest.approx(54 / 128)
    assert report.lesion_wise_dice == pytest.approx((54 / 128) / 4)  # 3 lesions + 1 FP
    assert report.volume_ref_ml == pytest.approx(metrics.volume_ml(ref, spacing))


def test_lesion_overlap_threshold_and_connectivity():
    ref = _cubes((20, 20), [(2, 2)], 4)            # 16 pixels
    pred = _cubes((20, 20), [(2, 2)], 2)           # covers 4 of them (25 %)
    assert metrics.lesion_detection(pred, ref).tp == 1
    assert metrics.lesion_detection(pred, ref, overlap=0.5).tp == 0
    diagonal = np.zeros((6, 6), bool)
    diagonal[1, 1] = diagonal[2, 2] = True
    assert metrics.lesion_detection(diagonal, diagonal).n_ref == 1             # full connectivity
    assert metrics.lesion_detection(diagonal, diagonal, connectivity=1).n_ref == 2


def test_autopet_empty_conventions():
    empty = np.zeros((10, 10, 10), bool)
    lesion = _cubes((10, 10, 10), [(2, 2, 2)], 3)
    assert metrics.lesion_detection(empty, lesion).fp_volume_ml == 0.0     # empty prediction: no FP
    assert np.isnan(metrics.lesion_detection(lesion, empty).fn_volume_ml)  # empty reference: FN undefined


def test_froc_equals_monai():
    rng = np.random.default_rng(0)
    for _ in range(5):
        fp_probs, tp_probs = rng.random(20).round(2), rng.random(10).round(2)
        tp_probs[rng.random(10) < 0.2] = 0.0  # missed lesions
        fps, sens = monai_metrics.compute_froc_curve_data(fp_probs, tp_probs, 10, 4)
        result = metrics.froc(fp_probs, tp_probs, num_targets=10, num_images=4)
        np.testing.assert_allclose(result.fps_per_image, fps)
        np.testing.assert_allclose(result.sensitivity, sens)
        assert result.score == pytest.approx(monai_metrics.compute_froc_score(fps, sens))


# --- bad input --------------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    a = np.zeros((10, 10), bool)
    with pytest.raises(ShapeMismatchError, match=r"\(10, 10\) vs \(10, 11\)"):
        metrics.dice(a, np.zeros((10, 11), bool))
    with pytest.raises(InvalidImageError, match="not a binary mask.*labels="):
        metrics.dice(a, np.full((10, 10), 2))
    with pytest.raises(InvalidImageError, match="NaN"):
        metrics.hausdorff(np.full((10, 10), np.nan), a)
    with pytest.raises(InvalidImageError, match="spacing must be 2"):
        metrics.hausdorff(a, a, spacing=(1.0, 1.0, 2.0))
    with pytest.raises(InvalidImageError, match="spacing"):
        metrics.assd(a, a, spacing=(1.0, -1.0))
    with pytest.raises(InvalidImageError, match="tolerance"):
        metrics.nsd(a, a, tolerance=-1)
    with pytest.raises(InvalidImageError, match="mode"):
        metrics.hausdorff(a, a, mode="median")
    with pytest.raises(InvalidImageError, match="2D or 3D"):
        metrics.dice(np.zeros(5), np.zeros(5))


@pytest.mark.parametrize("name", ["dice", "iou", "precision", "recall", "specificity", "accuracy",
                                  "volume_similarity", "hausdorff", "hd95", "assd"])
def test_every_metric_takes_label_maps(name):
    _, a, spacing = random_pair(1, (30, 30, 12))
    _, b, _ = random_pair(2, (30, 30, 12))
    ref = a.astype(np.uint8) + 2 * (b & ~a)
    pred = np.roll(ref, 1, axis=1)
    metric = getattr(metrics, name)
    kwargs = {"spacing": spacing} if name in ("hausdorff", "hd95", "assd") else {}
    result = metric(pred, ref, labels=[1, 2], **kwargs)
    assert set(result) == {1, 2}
    for label in (1, 2):
        assert result[label] == metric(pred == label, ref == label, **kwargs)
    assert metrics.nsd(pred, ref, 1.0, spacing, labels=[2])[2] == metrics.nsd(pred == 2, ref == 2, 1.0, spacing)
    assert metrics.lesion_detection(pred, ref, labels=[1])[1].n_ref == metrics.lesion_detection(
        pred == 1, ref == 1).n_ref
