"""Segment images with a trained network: whole images by sliding window, geometry kept."""

from __future__ import annotations

import numpy as np
import torch

from labtools.errors import TrainingError
from labtools.io import Image
from labtools.training.checkpoint import load_checkpoint
from labtools.training.data import as_channels_first, normalize_intensity
from labtools.training.devices import select_device
from labtools.training.validation import sliding_window_logits

__all__ = ["load_model", "predict", "segment"]


def load_model(checkpoint, *, device="cpu"):
    """Rebuild the network saved in a checkpoint; returns ``(model, config)`` in eval mode.

    ``config`` is the training configuration (``patch_size``, ``batch_size``,
    ...). The network must have been built with :func:`labtools.models.make_model`.
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


def predict(model, image, *, patch_size, batch_size: int = 4, probabilities: bool = False,
            amp: bool = True):
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
    """
    spatial_dims = len(patch_size)
    array = normalize_intensity(as_channels_first(image, spatial_dims))
    device = next(model.parameters()).device
    logits = sliding_window_logits(model, torch.from_numpy(array)[None].to(device), patch_size,
                                   batch_size=batch_size, amp=amp)
    if probabilities:
        return torch.softmax(logits, dim=1)[0].cpu().numpy()
    return logits.argmax(1)[0].cpu().numpy().astype(np.uint8)


def segment(model, image, *, patch_size, batch_size: int = 4, axis: int = -1) -> np.ndarray:
    """Classes of every voxel; a 2D network segments a 3D image slice by slice along `axis`.

    Examples
    --------
    >>> from labtools.models import make_model
    >>> net = make_model("tiny_unet", 2, 1, 3, channels=(4, 8)).eval()
    >>> segment(net, np.random.rand(20, 30, 4), patch_size=(16, 16)).shape
    (20, 30, 4)
    >>> segment(net, np.random.rand(5, 16, 24), patch_size=(16, 16), axis=0).shape
    (5, 16, 24)
    """
    array = image.array if isinstance(image, Image) else np.asarray(image)
    has_channels = isinstance(image, Image) and image.channel_axis is not None
    spatial_ndim = array.ndim - has_channels
    if spatial_ndim == len(patch_size):
        return predict(model, image, patch_size=patch_size, batch_size=batch_size)
    if spatial_ndim != len(patch_size) + 1:
        raise TrainingError(f"a {len(patch_size)}D network cannot segment an image of shape "
                            f"{array.shape}")
    axis = axis % spatial_ndim + has_channels  # an axis of the spatial grid, after the channels
    slices = [predict(model, np.take(array, k, axis=axis), patch_size=patch_size, batch_size=batch_size)
              for k in range(array.shape[axis])]
    return np.stack(slices, axis=axis - has_channels)
