"""Lesion-wise metrics (PET TMTV, BraTS, autoPET): detection counts, volumes in ml, FROC.

Lesions are connected components (``connectivity`` 1 = faces only, up to
``ndim`` = full, the default: 26 neighbours in 3D, 8 in 2D). A reference
lesion is detected when the prediction covers more than ``overlap`` of its
voxels (default 0: any voxel). Predicted components that touch no reference
lesion are false positives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy import ndimage as ndi

from labtools.errors import InvalidImageError
from labtools.metrics._checks import as_binary_pair, as_spacing, per_label
from labtools.metrics._crop import crop_to_union

__all__ = ["LesionReport", "lesion_detection", "volume_ml", "FROC", "froc"]


def volume_ml(mask, spacing=None) -> float:
    """Volume of a mask in millilitres: voxel count x voxel volume (mm^3) / 1000.

    Summed over all lesions this is the total metabolic tumour volume (TMTV)
    of a PET segmentation.

    Examples
    --------
    >>> import numpy as np
    >>> volume_ml(np.ones((10, 10, 4), bool), spacing=(2.0, 2.0, 3.0))
    4.8
    """
    mask = np.asarray(mask)
    spacing = as_spacing(spacing, mask.ndim)
    return float(np.count_nonzero(mask) * np.prod(spacing) / 1000.0)


@dataclass
class LesionReport:
    """Lesion-wise comparison of one prediction with its reference."""

    n_ref: int
    n_pred: int
    tp: int
    fn: int
    fp: int
    lesion_dice: np.ndarray = field(repr=False)
    fp_volume_ml: float
    fn_volume_ml: float
    volume_pred_ml: float
    volume_ref_ml: float

    @property
    def lesion_wise_dice(self) -> float:
        """BraTS-2023 lesion-wise Dice: per-lesion Dice summed, false positives scoring 0.

        ``sum(lesion_dice) / (n_ref + fp)``; NaN when there is nothing at all.
        """
        total = self.n_ref + self.fp
        return float(self.lesion_dice.sum() / total) if total else float("nan")

    @property
    def sensitivity(self) -> float:
        """Share of reference lesions detected (NaN without reference lesions)."""
        return self.tp / self.n_ref if self.n_ref else float("nan")

    def as_dict(self) -> dict:
        """Flat dictionary of the scalar results (for tables and CSV rows)."""
        return {
            "lesions_ref": self.n_ref, "lesions_pred": self.n_pred, "lesions_tp": self.tp,
            "lesions_fn": self.fn, "lesions_fp": self.fp, "lesion_wise_dice": self.lesion_wise_dice,
            "fp_volume_ml": self.fp_volume_ml, "fn_volume_ml": self.fn_volume_ml,
        }


@per_label
def lesion_detection(pred, ref, spacing=None, *, connectivity: int | None = None,
                     overlap: float = 0.0) -> LesionReport:
    """Match predicted and reference lesions (connected components) and measure them.

    Parameters
    ----------
    pred, ref : array_like
        Binary masks of the same shape.
    spacing : sequence of float, optional
        Voxel size in mm (volumes are in ml).
    connectivity : int, optional
        Neighbourhood of a connected component, 1..ndim; default ndim (full).
    overlap : float
        A reference lesion counts as detected when the prediction covers
        more than this fraction of its voxels (0: any voxel).

    Returns
    -------
    LesionReport
        Counts (TP/FN/FP lesions), per-lesion Dice, and volumes in ml. As in
        autoPET: FP volume is 0 when the prediction is empty; FN volume is NaN
        when the reference is empty.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((20, 20), bool); ref[2:5, 2:5] = True; ref[12:16, 12:16] = True
    >>> pred = np.zeros_like(ref); pred[2:5, 2:6] = True; pred[8:10, 0:2] = True
    >>> report = lesion_detection(pred, ref, spacing=(1.0, 1.0))
    >>> report.tp, report.fn, report.fp
    (1, 1, 1)
    >>> round(report.fn_volume_ml * 1000), round(report.fp_volume_ml * 1000)  # mm^2 here
    (16, 4)
    """
    pred, ref = as_binary_pair(pred, ref)
    spacing = as_spacing(spacing, pred.ndim)
    if not 0.0 <= overlap < 1.0:
        raise InvalidImageError(f"overlap must be a fraction in [0, 1), got {overlap}")
    connectivity = pred.ndim if connectivity is None else connectivity
    if not 1 <= connectivity <= pred.ndim:
        raise InvalidImageError(f"connectivity must be 1..{pred.ndim} for {pred.ndim}D masks, got {connectivity}")
    structure = ndi.generate_binary_structure(pred.ndim, connectivity)
    if pred.any() or ref.any():
        pred, ref = crop_to_union(pred, ref)  # components and volumes are unchanged
    ref_labels, n_ref = ndi.label(ref, structure)
    pred_labels, n_pred = ndi.label(pred, structure)
    voxel_ml = float(np.prod(spacing)) / 1000.0

    ref_sizes = np.bincount(ref_labels.ravel(), minlength=n_ref + 1)
    pred_sizes = np.bincount(pred_labels.ravel(), minlength=n_pred + 1)
    # Voxel counts of every (reference lesion, predicted component) pair that overlap.
    both = (ref_labels > 0) & (pred_labels > 0)
    pairs = np.zeros((n_ref + 1, n_pred + 1), dtype=np.int64)
    np.add.at(pairs, (ref_labels[both], pred_labels[both]), 1)

    covered = pairs[1:, 1:].sum(axis=1)
    detected = covered > overlap * ref_sizes[1:]
    touching = pairs[1:, 1:] > 0  # (ref lesion, pred component) touch
    lesion_dice = np.zeros(n_ref)
    for lesion in np.flatnonzero(detected):
        partners = touching[lesion]
        pred_voxels = pred_sizes[1:][partners].sum()
        lesion_dice[lesion] = 2 * covered[lesion] / (ref_sizes[lesion + 1] + pred_voxels)
    false_positive = ~touching.any(axis=0)
    return LesionReport(
        n_ref=n_ref, n_pred=n_pred,
        tp=int(detected.sum()), fn=int(n_ref - detected.sum()), fp=int(false_positive.sum()),
        lesion_dice=lesion_dice,
        fp_volume_ml=float(pred_sizes[1:][false_positive].sum() * voxel_ml),
        fn_volume_ml=float(ref_sizes[1:][covered == 0].sum() * voxel_ml) if n_ref else float("nan"),
        volume_pred_ml=float(pred_sizes[1:].sum() * voxel_ml),
        volume_ref_ml=float(ref_sizes[1:].sum() * voxel_ml),
    )


class FROC(NamedTuple):
    """Free-response ROC: false positives per image vs sensitivity, and its score."""

    fps_per_image: np.ndarray
    sensitivity: np.ndarray
    score: float


def froc(fp_probs, tp_probs, num_targets: int, num_images: int,
         fp_rates=(0.25, 0.5, 1, 2, 4, 8)) -> FROC:
    """FROC curve and score from detection probabilities (CAMELYON16 / MONAI convention).

    Parameters
    ----------
    fp_probs : array_like
        Probabilities of the false-positive detections, all images together.
    tp_probs : array_like
        Probability of each reference lesion's detection (0 where it was missed).
    num_targets : int
        Number of reference lesions over all images.
    num_images : int
        Number of images.
    fp_rates : sequence of float
        False positives per image at which sensitivity is averaged for the score.

    Returns
    -------
    FROC
        Equals ``monai.metrics.compute_froc_curve_data`` and
        ``compute_froc_score``; like them, thresholds are the distinct
        probabilities except the lowest one.

    Examples
    --------
    >>> result = froc([0.9, 0.3], [0.95, 0.8, 0.0], num_targets=3, num_images=2)
    >>> result.sensitivity.round(3).tolist(), result.fps_per_image.tolist()
    ([0.667, 0.667, 0.333, 0.333, 0.0], [1.0, 0.5, 0.5, 0.0, 0.0])
    """
    fp_probs = np.asarray(fp_probs, dtype=float).ravel()
    tp_probs = np.asarray(tp_probs, dtype=float).ravel()
    if num_targets <= 0 or num_images <= 0:
        raise InvalidImageError("froc needs num_targets > 0 and num_images > 0")
    thresholds = np.unique(np.concatenate([fp_probs, tp_probs]))[1:]
    fps = np.array([(fp_probs >= t).sum() for t in thresholds] + [0]) / num_images
    sensitivity = np.array([(tp_probs >= t).sum() for t in thresholds] + [0]) / num_targets
    score = float(np.mean(np.interp(fp_rates, fps[::-1], sensitivity[::-1])))
    return FROC(fps, sensitivity, score)
