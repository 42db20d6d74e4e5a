"""BraTS 2023's lesion-wise Dice and HD95, with its matching rules as the challenge applies them.

The BraTS 2023-2024 segmentation challenges rank by lesion-wise scores
(Saluja et al., "BraTS 2023 lesion-wise performance metrics"; the challenge's
``brats_metrics.py``):

1. reference lesions are 26-connected components; lesions that come within
   ``2 * dilation`` voxels of each other (their dilations, 18-connected
   structure, ``dilation`` iterations, touch) count as one lesion;
2. a predicted component (26-connected) belongs to every reference lesion
   whose dilation it touches; each lesion is scored (Dice, HD95) against the
   union of its predicted components; a lesion with none is missed;
3. predicted components that belong to no lesion are false positives;
4. lesions of at most ``min_volume_mm3`` are left out (neither scored nor
   counted), though the predictions touching them are not false positives;
5. lesion-wise score = Σ lesion scores / (lesions kept + false positives), with
   a missed lesion scoring Dice 0 and each false positive Dice 0 and HD95
   ``worst_hd95`` (374 mm); an infinite HD95 also becomes ``worst_hd95``;
   with no lesion and no false positive, Dice 1 and HD95 0.

HD95 is DeepMind's surfel-weighted robust Hausdorff distance (``hausdorff(...,
mode="surfel")``), as the challenge computes it. Challenge settings: glioma
(GLI), SSA and pediatric (PED) ``dilation=3, min_volume_mm3=50``; meningioma
(MEN) ``1, 50``; metastases (MET) ``1, 2``.

Examples
--------
>>> import numpy as np
>>> ref = np.zeros((30, 30, 10), bool); ref[5:12, 5:12, 2:8] = True
>>> pred = np.zeros_like(ref); pred[5:12, 5:12, 2:8] = True; pred[20:24, 20:24, 2:6] = True
>>> scores = brats_lesion_wise(pred, ref)
>>> scores["tp"], scores["fp"], scores["fn"], scores["lesion_wise_dice"], scores["lesion_wise_hd95"]
(1, 1, 0, 0.5, 187.0)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from labtools.errors import ParameterError
from labtools.metrics._checks import as_binary_pair, as_spacing, per_label

__all__ = ["brats_lesion_wise", "BRATS_SETTINGS"]

#: (dilation, min_volume_mm3) per BraTS 2023 challenge, as its evaluation code sets them.
BRATS_SETTINGS = {"GLI": (3, 50), "SSA": (3, 50), "PED": (3, 50), "MEN": (1, 50), "MET": (1, 2)}


@per_label
def brats_lesion_wise(pred, ref, spacing=None, *, dilation: int = 3, min_volume_mm3: float = 50.0,
                      worst_hd95: float = 374.0) -> dict:
    """BraTS 2023 lesion-wise Dice and HD95 of one tissue (module docstring for the rules).

    Parameters
    ----------
    pred, ref : array_like
        Binary masks of one tissue (whole tumour, tumour core or enhancing tumour).
    spacing : sequence of float, optional
        Voxel size in mm (BraTS images are 1 mm).
    dilation : int
        Iterations of the 18-connected dilation that merges close lesions and
        catches nearby predictions (``BRATS_SETTINGS``).
    min_volume_mm3 : float
        Reference lesions of at most this volume are left out.
    worst_hd95 : float
        HD95 of a false positive, or of a missed lesion (mm).

    Returns
    -------
    dict
        ``lesion_wise_dice``, ``lesion_wise_hd95``, ``tp`` (lesions found, kept
        ones), ``fn``, ``fp`` and ``lesions``: one dict per kept lesion (volume,
        predicted components, dice, hd95).
    """
    from labtools.metrics.overlap import dice
    from labtools.metrics.surface import hausdorff

    if int(dilation) != dilation or dilation < 0:
        raise ParameterError(f"dilation must be a whole number of iterations >= 0, got {dilation!r}")
    pred, ref = as_binary_pair(pred, ref)
    spacing = as_spacing(spacing, pred.ndim)
    full = np.ones((3,) * pred.ndim, bool)
    grow = ndi.generate_binary_structure(pred.ndim, 2)
    predicted, _ = ndi.label(pred, full)
    lesions = _merged_lesions(ref, full, grow, int(dilation))
    voxel_mm3 = float(np.prod(spacing))
    kept, claimed, missed = [], set(), 0
    for lesion_id in range(1, lesions.max() + 1):
        lesion = lesions == lesion_id
        reach = ndi.binary_dilation(lesion, grow, iterations=int(dilation)) if dilation else lesion
        touching = sorted(set(np.unique(predicted[reach]).tolist()) - {0})
        claimed.update(touching)
        volume = float(lesion.sum()) * voxel_mm3
        if volume <= min_volume_mm3:
            continue                                              # too small to score (rule 4)
        found = np.isin(predicted, touching) if touching else np.zeros_like(lesion)
        distance = hausdorff(found, lesion, spacing, percentile=95, mode="surfel") if touching else np.inf
        kept.append({"volume_mm3": volume, "predicted": touching, "dice": dice(found, lesion),
                     "hd95": min(distance, worst_hd95)})
        missed += not touching
    false_positives = len(set(range(1, predicted.max() + 1)) - claimed)
    count = len(kept) + false_positives
    if count == 0:
        lesion_dice, lesion_hd95 = 1.0, 0.0
    else:
        lesion_dice = sum(item["dice"] for item in kept) / count
        lesion_hd95 = (sum(item["hd95"] for item in kept) + false_positives * worst_hd95) / count
    return {"lesion_wise_dice": float(lesion_dice), "lesion_wise_hd95": float(lesion_hd95),
            "tp": len(kept) - missed, "fn": missed, "fp": false_positives, "lesions": kept}


def _merged_lesions(ref: np.ndarray, full: np.ndarray, grow: np.ndarray, dilation: int) -> np.ndarray:
    """Reference lesions, those whose dilations touch merged into one (rule 1)."""
    if dilation == 0:
        return ndi.label(ref, full)[0]
    merged, _ = ndi.label(ndi.binary_dilation(ref, grow, iterations=dilation), full)
    return np.where(ref, merged, 0)
