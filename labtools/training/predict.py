"""Segment images with a trained network: whole images by sliding window, geometry kept."""

from __future__ import annotations

import functools

import numpy as np
import torch

from labtools.errors import TrainingError
from labtools.io import Image
from labtools.training.checkpoint import load_checkpoint
from labtools.training.data import as_channels_first
from labtools.training.devices import select_device
from labtools.training.normalization import Normalization
from labtools.training.resample import needs_resampling, resample_array, resampled_shape
from labtools.training.validation import sliding_window_logits

__all__ = ["load_model", "predict", "segment", "inference_options", "segment_file"]


def load_model(checkpoint, *, device="cpu"):
    """Rebuild the network saved in a checkpoint; returns ``(model, config)`` in eval mode.

    ``config`` is the training configuration (``patch_size``, ``batch_size``,
    ``normalization``, the ``plan``, ...): give it to :func:`segment` as
    ``**inference_options(config)``. The network must have been built with
    :func:`labtools.models.make_model`.
    """
    from labtools.models import model_from_spec

    state = load_checkpoint(checkpoint)
    if not state.get("model_spec"):
        raise TrainingError(f"{checkpoint} holds a {state.get('model_class')} not built by "
                            "labtools.models.make_model; build the network yourself and load "
                            "state['model'] from labtools.training.load_checkpoint")
    model = model_from_spec(state["model_spec"])
    model.load_state_dict(state["model"])
    return model.to(select_device(device)).eval(), state["config"]


def inference_options(config: dict) -> dict:
    """What prediction must repeat from training: patch size, batch size, normalisation, spacing.

    Examples
    --------
    >>> inference_options({"patch_size": [16, 16], "batch_size": 8, "normalization": {"scheme": "zscore_body"}})
    {'patch_size': (16, 16), 'batch_size': 8, 'normalization': Normalization(scheme='zscore_body', clip=None, mean=None, std=None), 'target_spacing': None}
    """
    spacing = (config.get("plan") or {}).get("spacing")
    return {"patch_size": tuple(config["patch_size"]), "batch_size": int(config.get("batch_size", 4)),
            # checkpoints from before the plan have no entry: they were trained on per-image z-scores
            "normalization": Normalization.from_dict(config.get("normalization")),
            "target_spacing": tuple(spacing) if spacing else None}


def predict(model, image, *, patch_size, batch_size: int = 4, probabilities: bool = False,
            amp: bool = True, normalization: Normalization | None = None, target_spacing=None,
            spacing=None):
    """Class of every voxel (or the class probabilities) of `image`, by sliding window.

    Parameters
    ----------
    model : torch.nn.Module
        A trained network (:func:`load_model`); runs on the device of its weights.
    image : Image or numpy.ndarray
        (*spatial) or channels first; normalised as in training.
    patch_size : sequence of int
        Window size, usually the training patch size.
    probabilities : bool
        Return softmax probabilities (K, *spatial) float32 instead of classes.
    normalization : Normalization, optional
        As in training (the checkpoint's ``config["normalization"]``); default z-score.
    target_spacing : sequence of float, optional
        The plan's spacing: an image whose voxel size differs by more than 10 %
        is resampled to it, segmented, and its probabilities resampled back,
        so the result always has the image's shape.
    spacing : sequence of float, optional
        The image's voxel size (default: the Image's own).

    Returns
    -------
    numpy.ndarray
        uint8 classes of the image's spatial shape (or probabilities).

    Examples
    --------
    >>> from labtools.models import make_model
    >>> net = make_model("tiny_unet", 2, 1, 3, channels=(4, 8)).eval()
    >>> predict(net, np.random.rand(20, 30), patch_size=(16, 16)).shape
    (20, 30)
    >>> predict(net, Image(np.random.rand(20, 30), spacing=(0.5, 0.5)), patch_size=(16, 16),
    ...         target_spacing=(1.0, 1.0)).shape
    (20, 30)
    """
    spatial_dims = len(patch_size)
    array = as_channels_first(image, spatial_dims)
    spacing = spacing if spacing is not None else getattr(image, "spacing", None)
    grid = array.shape[1:]
    resampled = target_spacing is not None and needs_resampling(spacing, target_spacing)
    if resampled:  # segment on the grid the network was trained on
        array = resample_array(array, resampled_shape(grid, spacing, target_spacing))
    array = (normalization or Normalization())(array)
    device = next(model.parameters()).device
    logits = sliding_window_logits(model, torch.from_numpy(np.ascontiguousarray(array))[None].to(device),
                                   patch_size, batch_size=batch_size, amp=amp)
    if not (probabilities or resampled):
        return logits.argmax(1)[0].cpu().numpy().astype(np.uint8)
    softmax = torch.softmax(logits, dim=1)[0].cpu().numpy()
    if resampled:  # back to the image's own grid, then decide
        softmax = resample_array(softmax, grid)
    return softmax if probabilities else softmax.argmax(0).astype(np.uint8)


def segment(model, image, *, patch_size, batch_size: int = 4, axis: int = -1,
            normalization: Normalization | None = None, target_spacing=None) -> np.ndarray:
    """Classes of every voxel; a 2D network segments a 3D image slice by slice along `axis`.

    `target_spacing` as in :func:`predict` (for a 2D network: in-plane).

    Examples
    --------
    >>> from labtools.models import make_model
    >>> net = make_model("tiny_unet", 2, 1, 3, channels=(4, 8)).eval()
    >>> segment(net, np.random.rand(20, 30, 4), patch_size=(16, 16)).shape
    (20, 30, 4)
    >>> segment(net, np.random.rand(5, 16, 24), patch_size=(16, 16), axis=0).shape
    (5, 16, 24)
    >>> segment(net, Image(np.random.rand(20, 30, 4), spacing=(0.5, 0.5, 4.0)), patch_size=(16, 16),
    ...         target_spacing=(1.0, 1.0)).shape
    (20, 30, 4)
    """
    array = image.array if isinstance(image, Image) else np.asarray(image)
    has_channels = isinstance(image, Image) and image.channel_axis is not None
    spatial_ndim = array.ndim - has_channels
    spacing = image.spacing if isinstance(image, Image) else None
    options = {"patch_size": patch_size, "batch_size": batch_size, "normalization": normalization,
               "target_spacing": target_spacing}
    channels_first = array if has_channels else array[None]
    if spatial_ndim == len(patch_size):
        return predict(model, channels_first, spacing=spacing, **options)
    if spatial_ndim != len(patch_size) + 1:
        raise TrainingError(f"a {len(patch_size)}D network cannot segment an image of shape "
                            f"{array.shape}")
    axis = axis % spatial_ndim
    in_plane = None if spacing is None else tuple(s for k, s in enumerate(spacing) if k != axis)
    slices = [predict(model, np.take(channels_first, k, axis=axis + 1), spacing=in_plane, **options)
              for k in range(channels_first.shape[axis + 1])]
    return np.stack(slices, axis=axis)


def segment_file(checkpoint, source, target, *, device="cpu", blockwise: bool | None = None,
                 chunks=None) -> dict:
    """Segment the image in `source` with a checkpoint and write the classes to `target` (one case of
    ``labtools predict``, run on a Dask worker; the network is loaded once per process).

    A lazy image (a Zarr store), or ``blockwise=True``, is segmented block by
    block (:func:`labtools.training.blockwise.segment_blockwise`) and written
    chunk by chunk. Returns ``{"output": target}``.
    """
    import dask

    from labtools import io
    from labtools.scale.journal import file_stamp
    from labtools.training.blockwise import segment_blockwise

    model, config = _model(str(checkpoint), str(device), file_stamp(checkpoint))
    image = io.load(source)
    options = inference_options(config)
    if blockwise or (blockwise is None and image.is_lazy):
        labels = segment_blockwise(model, image, chunks=chunks, **options)
        with dask.config.set(scheduler="threads"):
            io.save(image.with_array(labels, channel_axis=None), target)
    else:
        io.save(image.with_array(segment(model, image, **options), channel_axis=None), target)
    return {"output": str(target)}



@functools.lru_cache(maxsize=2)
def _model(checkpoint: str, device: str, stamp: tuple):
    return load_model(checkpoint, device=device)
