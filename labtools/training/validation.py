"""Validation: whole-volume sliding-window inference, then loss and per-class Dice."""

from __future__ import annotations

import math

import numpy as np
import torch

from labtools import metrics
from labtools.training.data import UNLABELLED, Case

__all__ = ["sliding_window_logits", "volume_logits", "validate"]


def sliding_window_logits(model, image: torch.Tensor, patch_size, *, batch_size: int = 4,
                          overlap: float = 0.25, amp: bool = True) -> torch.Tensor:
    """Logits (1, K, *spatial) of a whole image (1, C, *spatial), patch by patch.

    MONAI's ``sliding_window_inference`` with Gaussian blending of the
    overlapping patches (nnU-Net's choice: patch borders see less context).
    Runs under bf16 autocast on CUDA when ``amp``; returns float32.

    Examples
    --------
    >>> import torch
    >>> from labtools.models import make_model
    >>> net = make_model("tiny_unet", 2, 1, 3, channels=(4, 8))
    >>> sliding_window_logits(net, torch.zeros(1, 1, 40, 50), (16, 16)).shape
    torch.Size([1, 3, 40, 50])
    """
    from monai.inferers import sliding_window_inference

    device = image.device
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16,
                                         enabled=amp and device.type == "cuda"):
        logits = sliding_window_inference(image, roi_size=tuple(patch_size), sw_batch_size=batch_size,
                                          predictor=model, overlap=overlap, mode="gaussian")
    return torch.as_tensor(logits).float()


def volume_logits(model, image: torch.Tensor, patch_size, *, batch_size: int = 4,
                  amp: bool = True) -> torch.Tensor:
    """Logits (1, K, *spatial) of a whole image (1, C, *spatial); a 2D network on a 3D
    image (one more spatial axis than the patch) goes slice by slice along the last axis.

    Examples
    --------
    >>> import torch
    >>> from labtools.models import make_model
    >>> net = make_model("tiny_unet", 2, 1, 3, channels=(4, 8))
    >>> volume_logits(net, torch.zeros(1, 1, 20, 24, 5), (16, 16)).shape
    torch.Size([1, 3, 20, 24, 5])
    """
    if image.ndim == len(patch_size) + 2:
        return sliding_window_logits(model, image, patch_size, batch_size=batch_size, amp=amp)
    slices = image[0].movedim(-1, 0)  # (D, C, *plane): the slices as one batch
    logits = sliding_window_logits(model, slices, patch_size, batch_size=batch_size, amp=amp)
    return logits.movedim(0, -1)[None]


def validate(model, cases: list[Case], patch_size, *, loss_fn, n_classes: int, device,
             batch_size: int = 4, amp: bool = True) -> dict:
    """Mean loss and Dice per class over `cases` (whole volumes), as one history record's fields.

    A case may have one more spatial axis than the network (a 2D network is
    validated on whole volumes, slice by slice: :func:`volume_logits`).
    Dice is :func:`labtools.metrics.dice` of the argmax prediction per class
    and case, over labelled voxels; a class absent from both prediction and
    reference of a case (NaN by the empty-mask convention) is left out of
    that class's mean. ``val_dice`` averages the foreground classes (1..K-1).
    """
    was_training = model.training
    model.eval()
    losses, dice = [], [[] for _ in range(n_classes)]
    for case in cases:
        image = case.image[None].to(device)
        logits = volume_logits(model, image, patch_size, batch_size=batch_size, amp=amp)
        labels = case.labels[None].to(device).long()
        losses.append(float(loss_fn(logits, labels)))
        prediction = logits.argmax(1)[0].cpu().numpy()
        reference = case.labels.cpu().numpy()
        labelled = reference != UNLABELLED  # unlabelled voxels (never == k) count for neither mask
        for k in range(n_classes):
            dice[k].append(metrics.dice((prediction == k) & labelled, reference == k))
    model.train(was_training)
    per_class = [_nanmean(values) for values in dice]
    record = {"val_loss": float(np.mean(losses)), "val_dice": _nanmean(per_class[1:])}
    record.update({f"val_dice_{k}": value for k, value in enumerate(per_class)})
    return record


def _nanmean(values) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan
