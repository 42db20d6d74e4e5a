"""Segmentation losses in torch: cross-entropy, Dice, generalized Dice, focal, Tversky.

Every loss takes raw network outputs ``logits`` of shape (B, C, *spatial), with
2 or 3 spatial axes and C >= 2 classes, and an integer label map ``target`` of
shape (B, *spatial) or (B, 1, *spatial) with values in [0, C). Probabilities are
``softmax(logits)`` over C. All losses are differentiable, and with default
arguments each equals the MONAI loss named in its docstring to 1e-6 (table in
``docs/losses.md``). For one foreground class give two channels, e.g.
``torch.cat([torch.zeros_like(x), x], dim=1)`` for a sigmoid logit ``x``.
:func:`unet_weight_map` (numpy) builds Ronneberger's per-pixel weights for
:func:`weighted_cross_entropy`.

Examples
--------
>>> import torch
>>> from labtools import losses
>>> logits = torch.zeros(1, 2, 4, 4)                    # p = 0.5 for both classes
>>> target = torch.zeros(1, 4, 4, dtype=torch.long); target[:, :2] = 1
>>> round(float(losses.cross_entropy(logits, target)), 4)  # log 2
0.6931
>>> round(float(losses.dice_loss(logits, target)), 4)      # Dice 2*4 / (8 + 8) per class
0.5
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from labtools.errors import InvalidImageError, ShapeMismatchError

__all__ = [
    "cross_entropy",
    "weighted_cross_entropy",
    "unet_weight_map",
    "dice_loss",
    "generalized_dice_loss",
    "focal_loss",
    "tversky_loss",
    "dice_ce_loss",
]


# --- shared helpers ------------------------------------------------------------------------

def _check_inputs(logits, target, ignore_index=None) -> torch.Tensor:
    """Validate `logits` and `target`; return the target as int64 class indices (B, *spatial).

    Voxels equal to `ignore_index` (if given) may hold any value outside [0, C).
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        kind = logits.dtype if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise InvalidImageError(f"logits must be a floating-point torch.Tensor, got {kind}; pass the "
                                "raw network output (before softmax), or torch.as_tensor(x).float().")
    if logits.ndim not in (4, 5) or logits.shape[1] < 2:
        raise InvalidImageError(
            f"logits must have shape (B, C, H, W) or (B, C, D, H, W) with C >= 2 classes, got "
            f"{tuple(logits.shape)}. Add a batch axis with logits[None]; for one foreground class "
            "use two channels: torch.cat([torch.zeros_like(x), x], dim=1).")
    n_bad = int((~torch.isfinite(logits)).sum())
    if n_bad:
        raise InvalidImageError(f"logits hold {n_bad} NaN or infinite values of {logits.numel()}; "
                                "check the input images for NaN, or lower the learning rate.")
    target = torch.as_tensor(target, device=logits.device)
    if target.is_floating_point() or target.is_complex():
        raise InvalidImageError(
            f"target must hold integer class indices, got dtype {target.dtype}. Use target.long() "
            "for whole-number labels, or target.argmax(1) for a one-hot or probability map.")
    expected = (logits.shape[0], *logits.shape[2:])
    given = tuple(target.shape)
    if target.ndim == logits.ndim and target.shape[1] == 1:
        target = target[:, 0]
    if tuple(target.shape) != expected:
        hint = " For a one-hot target pass target.argmax(1)." if given == tuple(logits.shape) else ""
        raise ShapeMismatchError(
            f"target shape {given} does not fit logits {tuple(logits.shape)}: expected "
            f"{expected} or {(expected[0], 1, *expected[1:])}.{hint}")
    n_classes = logits.shape[1]
    labelled = target if ignore_index is None else target[target != ignore_index]
    if labelled.numel() == 0:
        return target.long()
    low, high = int(labelled.min()), int(labelled.max())
    if low < 0 or high >= n_classes:
        raise InvalidImageError(
            f"target values must be class indices in [0, {n_classes - 1}] for C = {n_classes} "
            f"logit channels, found values from {low} to {high}. Remap the labels, or give the "
            "network one output channel per class.")
    return target.long()


def _labels_and_mask(logits, target, ignore_index, check: bool):
    """Class indices (B, *spatial) with ignored voxels set to 0, and the mask of labelled voxels.

    The mask is None when nothing is ignored. ``check=False`` skips the
    validation, which reads values back from the GPU and so waits for it: the
    training loop validates its labels once, before the first step.
    """
    if check:
        labels = _check_inputs(logits, target, ignore_index)
    else:
        labels = torch.as_tensor(target, device=logits.device)
        labels = (labels[:, 0] if labels.ndim == logits.ndim else labels).long()
    if ignore_index is None:
        return labels, None
    mask = labels != ignore_index
    return torch.where(mask, labels, 0), mask


def _one_hot(labels: torch.Tensor, n_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """(B, *spatial) class indices -> (B, C, *spatial) one-hot of the given dtype."""
    return F.one_hot(labels, n_classes).movedim(-1, 1).to(dtype)


def _probs_and_onehot(logits, target, include_background: bool, ignore_index=None, check=True):
    """Softmax probabilities and one-hot target, both (B, C, *spatial), channel 0 dropped if asked.

    Ignored voxels are zero in both, so they add nothing to any sum.
    """
    labels, mask = _labels_and_mask(logits, target, ignore_index, check)
    probs = torch.softmax(logits, dim=1)  # softmax over all classes, before dropping background
    onehot = _one_hot(labels, logits.shape[1], logits.dtype)
    if mask is not None:
        probs, onehot = probs * mask.unsqueeze(1), onehot * mask.unsqueeze(1)
    if not include_background:
        probs, onehot = probs[:, 1:], onehot[:, 1:]
    return probs, onehot


def _sum_dims(x: torch.Tensor, batch: bool) -> list[int]:
    """Axes summed over: the spatial ones, and the batch axis too for batch Dice."""
    return ([0] if batch else []) + list(range(2, x.ndim))


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise InvalidImageError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-log softmax(logits)[target] per voxel, (B, *spatial); log_softmax keeps it finite."""
    return -F.log_softmax(logits, dim=1).gather(1, labels.unsqueeze(1)).squeeze(1)


# --- cross-entropy and the U-Net weight map ------------------------------------------------

def cross_entropy(logits, target, *, reduction: str = "mean", ignore_index: int | None = None,
                  check: bool = True) -> torch.Tensor:
    """Cross-entropy  CE = -log p_t  with p = softmax(logits) and t the target class.

    Equals ``torch.nn.functional.cross_entropy(logits, target)`` (the CE term of
    ``monai.losses.DiceCELoss``). ``reduction="none"`` gives the (B, *spatial) map.
    Voxels whose target is ``ignore_index`` (unlabelled voxels of sparse
    annotations) add nothing and get no gradient; the mean runs over the others
    as ``torch.nn.functional.cross_entropy(..., ignore_index=...)`` (but is 0,
    not NaN, when every voxel is ignored). ``check=False`` skips validating the
    target (see :func:`dice_loss`).

    Examples
    --------
    >>> import torch
    >>> logits = torch.tensor([2.0, 0.0]).view(1, 2, 1, 1).expand(1, 2, 3, 3)
    >>> round(float(cross_entropy(logits, torch.zeros(1, 3, 3, dtype=torch.long))), 4)  # log(1 + e^-2)
    0.1269
    """
    labels, mask = _labels_and_mask(logits, target, ignore_index, check)
    nll = _nll(logits, labels)
    if mask is None:
        return _reduce(nll, reduction)
    nll = nll * mask
    if reduction == "mean":
        return nll.sum() / mask.sum().clamp(min=1)
    return _reduce(nll, reduction)


def weighted_cross_entropy(logits, target, weight_map, *, reduction: str = "mean") -> torch.Tensor:
    """Per-voxel weighted cross-entropy  sum_x w(x) CE(x) / N,  N = number of voxels (B * spatial).

    The mean divides by the voxel count, not by sum(w): a weight map of ones gives
    :func:`cross_entropy`, and larger weights (``w0`` of :func:`unet_weight_map`)
    really weigh more. ``weight_map`` is (B, *spatial) or (B, 1, *spatial),
    finite and >= 0 (a tensor or numpy array, treated as a constant). MONAI has no twin.

    Examples
    --------
    >>> import torch
    >>> logits, target = torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long)
    >>> w = torch.tensor([[[1.0, 1.0], [1.0, 5.0]]])        # mean weight 2
    >>> round(float(weighted_cross_entropy(logits, target, w)), 4)  # 2 * log 2
    1.3863
    """
    labels = _check_inputs(logits, target)
    weights = torch.as_tensor(weight_map, device=logits.device).to(logits.dtype).detach()
    given = tuple(weights.shape)
    if weights.ndim == logits.ndim and weights.shape[1] == 1:
        weights = weights[:, 0]
    if weights.shape != labels.shape:
        raise ShapeMismatchError(f"weight_map shape {given} does not fit logits "
                                 f"{tuple(logits.shape)}: expected {tuple(labels.shape)}.")
    if not torch.isfinite(weights).all() or (weights < 0).any():
        raise InvalidImageError("weight_map must hold finite values >= 0.")
    return _reduce(weights * _nll(logits, labels), reduction)


def unet_weight_map(labels, *, w0: float = 10.0, sigma: float = 5.0, spacing=None,
                    class_weights="balanced") -> np.ndarray:
    """Ronneberger et al. (2015) weight map  w(x) = w_c(x) + w0 exp(-(d1(x) + d2(x))^2 / (2 sigma^2)).

    d1 and d2 are the distances from a background pixel (label 0) to the nearest
    and second-nearest object, objects being the connected components (full
    connectivity: 8 in 2D, 26 in 3D) of each non-zero label, measured to the
    object's nearest pixel centre by ``scipy.ndimage.distance_transform_edt``.
    The border term is 0 on objects and everywhere when there are fewer than two
    objects. With ``spacing`` (mm per axis) distances and ``sigma`` are in mm,
    otherwise in pixels. Cost: one distance transform per object. No MONAI twin.

    Parameters
    ----------
    labels : numpy.ndarray
        One 2D or 3D integer label map (not batched); 0 is background.
    w0, sigma : float
        Border weight and width (the paper's 10 and 5 pixels).
    spacing : sequence of float, optional
        Voxel size per axis.
    class_weights : "balanced", None or dict
        ``"balanced"``: w_c = N / (K * N_c) for the K labels present (N pixels,
        N_c of label c; scikit-learn's "balanced", so w_c averages to 1 over the
        image); None: w_c = 1; a dict {label: weight} sets them yourself.

    Returns
    -------
    numpy.ndarray
        float32, same shape as `labels`. Feed it to :func:`weighted_cross_entropy`.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((5, 7), dtype=np.uint8); labels[:, :3] = 1; labels[:, 4:] = 1
    >>> w = unet_weight_map(labels, class_weights=None)    # gap column 3: d1 = d2 = 1
    >>> round(float(w[2, 3]), 4), float(w[2, 0])           # 1 + 10 exp(-4 / 50), object: 1
    (10.2312, 1.0)
    """
    labels = np.asarray(labels)
    if labels.ndim not in (2, 3) or labels.dtype.kind not in "iub":
        raise InvalidImageError(f"labels must be one 2D or 3D integer label map, got shape "
                                f"{labels.shape} and dtype {labels.dtype}; pass images one by one.")
    if labels.size and labels.min() < 0:
        raise InvalidImageError("labels must be >= 0 (0 is background).")
    if spacing is not None:
        spacing = tuple(float(s) for s in np.atleast_1d(spacing))
        if len(spacing) != labels.ndim or min(spacing) <= 0:
            raise InvalidImageError(f"spacing must be {labels.ndim} positive voxel sizes, got {spacing}")
    weights = _class_weight_map(labels, class_weights)
    d1 = np.full(labels.shape, np.inf)
    d2 = np.full(labels.shape, np.inf)
    structure = np.ones((3,) * labels.ndim, dtype=bool)
    for value in np.unique(labels[labels > 0]):
        components, count = ndimage.label(labels == value, structure=structure)
        for k in range(1, count + 1):
            d = ndimage.distance_transform_edt(components != k, sampling=spacing)
            d2 = np.minimum(d2, np.maximum(d1, d))  # keep the two smallest distances
            d1 = np.minimum(d1, d)
    if np.isfinite(d2).any():  # at least two objects
        border = w0 * np.exp(-((d1 + d2) ** 2) / (2.0 * sigma**2))
        weights = weights + np.where(labels == 0, border, 0.0)
    return weights.astype(np.float32)


def _class_weight_map(labels: np.ndarray, class_weights) -> np.ndarray:
    values, counts = np.unique(labels, return_counts=True)
    if class_weights is None:
        return np.ones(labels.shape)
    if isinstance(class_weights, str) and class_weights == "balanced":
        table = dict(zip(values.tolist(), (labels.size / (len(values) * counts)).tolist()))
    elif isinstance(class_weights, dict):
        table = class_weights
        missing = sorted(set(values.tolist()) - set(table))
        if missing:
            raise InvalidImageError(f"class_weights has no weight for labels {missing}.")
    else:
        raise InvalidImageError("class_weights must be 'balanced', None or a dict {label: weight}, "
                                f"got {class_weights!r}")
    lookup = np.zeros(int(values.max()) + 1)
    lookup[values] = [table[v] for v in values.tolist()]
    return lookup[labels]


# --- overlap losses ------------------------------------------------------------------------

def dice_loss(logits, target, *, include_background: bool = True, squared: bool = False,
              batch: bool = False, smooth_nr: float = 1e-5, smooth_dr: float = 1e-5,
              reduction: str = "mean", ignore_index: int | None = None,
              check: bool = True) -> torch.Tensor:
    """Soft Dice loss  1 - (2 sum p g + smooth_nr) / (sum p + sum g + smooth_dr)  per sample, class.

    Sums run over the voxels (and the batch too when ``batch=True``: batch Dice);
    ``squared=True`` uses Milletari's (V-Net) sum p^2 + sum g^2 in the
    denominator. ``"mean"`` averages the (B, C) values, ``"none"`` returns them
    ((C,) with ``batch=True``); ``include_background=False`` drops class 0.
    Equals ``monai.losses.DiceLoss(softmax=True, to_onehot_y=True)`` to 1e-6, with
    the same keywords (``squared`` is MONAI's ``squared_pred``). Voxels whose
    target is ``ignore_index`` are left out of every sum (nnU-Net's ignore
    label): they get no gradient. ``check=False`` skips validating the inputs,
    which makes the CPU wait for the GPU; use it only on labels checked before.

    Examples
    --------
    >>> import torch
    >>> target = torch.zeros(1, 4, 4, dtype=torch.long); target[:, :2] = 1
    >>> logits = 20.0 * torch.nn.functional.one_hot(target, 2).movedim(-1, 1).float()
    >>> round(float(dice_loss(logits, target)), 4)              # near-perfect prediction
    0.0
    """
    probs, onehot = _probs_and_onehot(logits, target, include_background, ignore_index, check)
    dims = _sum_dims(probs, batch)
    intersection = (probs * onehot).sum(dims)
    pred_size = (probs**2).sum(dims) if squared else probs.sum(dims)
    dice = (2 * intersection + smooth_nr) / (pred_size + onehot.sum(dims) + smooth_dr)  # g^2 = g
    return _reduce(1 - dice, reduction)


def generalized_dice_loss(logits, target, *, include_background: bool = True, batch: bool = False,
                          smooth_nr: float = 1e-5, smooth_dr: float = 1e-5,
                          reduction: str = "mean") -> torch.Tensor:
    """Generalized Dice loss (Sudre et al. 2017), Dice with class weights w_c = 1 / (sum g_c)^2.

    1 - (2 sum_c w_c sum p g + smooth_nr) / (sum_c w_c sum (p + g) + smooth_dr):
    the weights make rare classes count as much as large ones; a class
    absent from the target (infinite weight) gets the largest weight of the
    others. Weights and sums are per sample (``"none"``: shape (B,)), or over the
    whole batch with ``batch=True``. Equals
    ``monai.losses.GeneralizedDiceLoss(softmax=True, to_onehot_y=True)`` to 1e-6
    (MONAI computes w_c in float32: differences of ~1e-9 in float64).

    Examples
    --------
    >>> import torch
    >>> target = torch.zeros(1, 4, 4, dtype=torch.long); target[:, :2] = 1
    >>> round(float(generalized_dice_loss(torch.zeros(1, 2, 4, 4), target)), 4)
    0.5
    """
    probs, onehot = _probs_and_onehot(logits, target, include_background)
    dims = _sum_dims(probs, batch)
    counts = onehot.sum(dims)  # (B, C) or (C,)
    weights = 1.0 / counts**2
    absent = torch.isinf(weights)
    weights = torch.where(absent, 0.0, weights)
    weights = torch.where(absent, weights.amax(dim=-1, keepdim=True), weights)
    numerator = 2 * (weights * (probs * onehot).sum(dims)).sum(-1) + smooth_nr
    denominator = (weights * (probs.sum(dims) + counts)).sum(-1) + smooth_dr
    return _reduce(1 - numerator / denominator, reduction)


def tversky_loss(logits, target, *, alpha: float = 0.5, beta: float = 0.5,
                 include_background: bool = True, batch: bool = False, smooth_nr: float = 1e-5,
                 smooth_dr: float = 1e-5, reduction: str = "mean") -> torch.Tensor:
    """Tversky loss (Salehi et al. 2017)  1 - (TP + s_nr) / (TP + alpha FP + beta FN + s_dr).

    Soft counts TP = sum p g, FP = sum p (1 - g), FN = sum (1 - p) g per sample
    and class; ``beta > alpha`` penalises misses more (the paper uses 0.3, 0.7).
    alpha = beta = 0.5 is Dice with a different smoothing. Reductions as in
    :func:`dice_loss`. Equals ``monai.losses.TverskyLoss(softmax=True,
    to_onehot_y=True)`` to 1e-6 (same alpha, beta keywords).

    Examples
    --------
    >>> import torch
    >>> target = torch.zeros(1, 4, 4, dtype=torch.long); target[:, :2] = 1
    >>> round(float(tversky_loss(torch.zeros(1, 2, 4, 4), target, alpha=0.3, beta=0.7)), 4)
    0.5
    """
    probs, onehot = _probs_and_onehot(logits, target, include_background)
    dims = _sum_dims(probs, batch)
    tp = (probs * onehot).sum(dims)
    fp = (probs * (1 - onehot)).sum(dims)
    fn = ((1 - probs) * onehot).sum(dims)
    return _reduce(1 - (tp + smooth_nr) / (tp + alpha * fp + beta * fn + smooth_dr), reduction)


def focal_loss(logits, target, *, gamma: float = 2.0, alpha=None,
               reduction: str = "mean") -> torch.Tensor:
    """Focal loss (Lin et al. 2017)  FL = -alpha_c g_c (1 - p_c)^gamma log p_c  per voxel and class.

    ``gamma = 0`` gives cross-entropy; larger gamma down-weights well-classified
    voxels. ``alpha``: optional per-class weights (length C). ``"mean"`` divides
    the sum by B * C * voxels (as MONAI, so it is CE / C at gamma = 0); ``"none"``
    returns the (B, C, *spatial) terms; ``"sum"`` is their plain sum (MONAI's
    "sum" instead adds per-sample, per-class spatial means). Equals
    ``monai.losses.FocalLoss(use_softmax=True, to_onehot_y=True)`` to 1e-6 (MONAI
    computes in float32; its default ``use_softmax=False`` is a sigmoid loss).

    Examples
    --------
    >>> import torch
    >>> target = torch.zeros(1, 4, 4, dtype=torch.long)
    >>> round(float(focal_loss(torch.zeros(1, 2, 4, 4), target)), 4)  # 0.5^2 log 2 / 2
    0.0866
    """
    labels = _check_inputs(logits, target)
    log_probs = F.log_softmax(logits, dim=1)
    onehot = _one_hot(labels, logits.shape[1], logits.dtype)
    terms = -onehot * (1 - log_probs.exp()) ** gamma * log_probs
    if alpha is not None:
        alpha = torch.as_tensor(alpha, dtype=logits.dtype, device=logits.device).flatten()
        if alpha.numel() != logits.shape[1]:
            raise InvalidImageError(f"alpha needs one weight per class ({logits.shape[1]}), "
                                    f"got {alpha.numel()}.")
        terms = terms * alpha.view(1, -1, *([1] * (logits.ndim - 2)))
    return _reduce(terms, reduction)


def dice_ce_loss(logits, target, *, include_background: bool = True, batch: bool = False,
                 squared: bool = False, lambda_dice: float = 1.0, lambda_ce: float = 1.0,
                 ignore_index: int | None = None, check: bool = True) -> torch.Tensor:
    """lambda_ce * CE + lambda_dice * Dice loss: :func:`cross_entropy` + :func:`dice_loss` (means).

    CE always covers every class; ``include_background`` and ``batch`` apply to
    the Dice term. Equals ``monai.losses.DiceCELoss(softmax=True, to_onehot_y=True)``
    to 1e-6 (same keywords). ``dice_ce_loss(..., include_background=False,
    batch=True)`` is nnU-Net v2's default ``DC_and_CE_loss`` (CE - soft Dice,
    ``do_bg=False``, batch Dice, smooth 1e-5) plus the constant 1: same gradients;
    nnU-Net's deep-supervision weighting and ignore label are not included, and
    its plans choose batch Dice per configuration. ``ignore_index`` and ``check``
    apply to both terms (see :func:`cross_entropy`, :func:`dice_loss`).

    Examples
    --------
    >>> import torch
    >>> target = torch.zeros(1, 4, 4, dtype=torch.long); target[:, :2] = 1
    >>> round(float(dice_ce_loss(torch.zeros(1, 2, 4, 4), target)), 4)  # log 2 + 0.5
    1.1931
    """
    ce = cross_entropy(logits, target, ignore_index=ignore_index, check=check)
    dice = dice_loss(logits, target, include_background=include_background, batch=batch,
                     squared=squared, ignore_index=ignore_index, check=False)  # CE checked it
    return lambda_ce * ce + lambda_dice * dice
