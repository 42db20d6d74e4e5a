"""Input validation shared by every metric: clear errors instead of silent nonsense."""

from __future__ import annotations

import functools
import inspect

import numpy as np

from labtools.errors import InvalidImageError, ShapeMismatchError


def as_binary_pair(pred, ref) -> tuple[np.ndarray, np.ndarray]:
    """Two boolean masks of the same 2D/3D shape, or a labtools error saying what is wrong."""
    pred, ref = _as_mask(pred, "pred"), _as_mask(ref, "ref")
    if pred.shape != ref.shape:
        raise ShapeMismatchError(
            f"pred and ref differ in shape: {pred.shape} vs {ref.shape}; both masks must be on the "
            "same voxel grid (resample one onto the other first)."
        )
    return pred, ref


def _as_mask(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim not in (2, 3):
        raise InvalidImageError(f"{name} must be a 2D or 3D mask, got shape {array.shape}")
    if array.dtype == bool:
        return array
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidImageError(f"{name} holds NaN or infinite values; a mask holds 0 and 1 only.")
    if array.dtype.kind not in "iuf" or not np.isin(array, (0, 1)).all():
        values = np.unique(array)[:6].tolist() if array.dtype.kind in "iuf" else array.dtype
        raise InvalidImageError(
            f"{name} is not a binary mask (values {values}...). Pass labels=[...] to evaluate a "
            "label map class by class, or threshold probabilities first (e.g. prob > 0.5)."
        )
    return array.astype(bool)


def as_spacing(spacing, ndim: int) -> tuple[float, ...]:
    """Voxel size per axis in mm (None means 1 mm), validated against the mask's dimension."""
    if spacing is None:
        return (1.0,) * ndim
    values = np.atleast_1d(np.asarray(spacing, dtype=float))
    if values.size == 1:
        values = np.repeat(values, ndim)
    if values.size != ndim or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise InvalidImageError(
            f"spacing must be {ndim} positive voxel sizes in mm (one per axis of the {ndim}D masks), "
            f"got {tuple(np.atleast_1d(spacing).tolist())}"
        )
    return tuple(float(v) for v in values)


def as_label_maps(pred, ref) -> tuple[np.ndarray, np.ndarray]:
    """Two integer label maps of the same shape."""
    pred, ref = np.asarray(pred), np.asarray(ref)
    for name, array in (("pred", pred), ("ref", ref)):
        if array.ndim not in (2, 3):
            raise InvalidImageError(f"{name} must be a 2D or 3D label map, got shape {array.shape}")
        if array.dtype.kind == "f" and not np.array_equal(array, np.round(array)):
            raise InvalidImageError(f"{name} holds non-integer values; a label map holds class numbers.")
    if pred.shape != ref.shape:
        raise ShapeMismatchError(f"pred and ref differ in shape: {pred.shape} vs {ref.shape}")
    return pred, ref


def per_label(metric):
    """Let a binary-mask metric take label maps: ``metric(pred, ref, ..., labels=[1, 2])``.

    With ``labels`` the metric runs on ``pred == label`` and ``ref == label``
    for each label and returns ``{label: result}``; without, it is unchanged.
    """
    @functools.wraps(metric)
    def wrapper(pred=None, ref=None, *args, labels=None, **kwargs):
        if labels is None:
            return metric(pred, ref, *args, **kwargs)
        if kwargs.get("distances") is not None:
            raise InvalidImageError("labels= needs the label maps, not precomputed distances")
        pred, ref = as_label_maps(pred, ref)
        return {int(label): metric(pred == label, ref == label, *args, **kwargs) for label in labels}

    wrapper.__doc__ = (metric.__doc__ or "") + _LABELS_NOTE
    signature = inspect.signature(metric)
    parameters = list(signature.parameters.values())
    labels = inspect.Parameter("labels", inspect.Parameter.KEYWORD_ONLY, default=None)
    # Keyword-only parameters go before a **kwargs one.
    at = next((i for i, p in enumerate(parameters) if p.kind is inspect.Parameter.VAR_KEYWORD), len(parameters))
    wrapper.__signature__ = signature.replace(parameters=[*parameters[:at], labels, *parameters[at:]])
    return wrapper


_LABELS_NOTE = """
    Label maps: pass ``labels=[...]`` to score each class of two integer label
    maps (``map == label``); the result is then ``{label: value}``.
"""
