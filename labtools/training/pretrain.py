"""Self-supervised pretraining on unlabelled volumes, for the networks make_model builds.

Labels are scarce; images are not. Pretraining teaches a network about the
images before any label is used, with a task whose answers come from the
images themselves:

- ``"masked"`` (generation-based, as MONAI's SSL recipe and masked
  autoencoders): cubes covering about half of each patch are blanked out and
  the network reconstructs them; the loss is the mean squared error on the
  blanked voxels.
- ``"contrastive"`` (SimCLR-style): two randomly augmented views of each
  patch (flips, intensity scale and shift, noise) go through the network,
  its output map is averaged into one embedding per view, and
  :func:`~labtools.training.contrastive.info_nce` pulls the two views of a
  patch together and pushes other patches away.

The pretraining network is the downstream network's architecture with its
own output layer (one channel per image channel to reconstruct, or
``embedding`` channels). ``fit(..., init=out / "last.pt")`` then copies every
layer but that output layer (:mod:`labtools.training.transfer`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from labtools.errors import TrainingError
from labtools.training import checkpoint as ckpt
from labtools.training.callbacks import call, default_callbacks
from labtools.training.contrastive import info_nce
from labtools.training.data import as_channels_first
from labtools.training.devices import describe_device, seed_everything, select_device
from labtools.training.history import History
from labtools.training.normalization import Normalization
from labtools.training.schedule import learning_rate

__all__ = ["pretrain", "PRETRAIN_METHODS", "mask_patches", "two_views"]

PRETRAIN_METHODS = ("masked", "contrastive")


def pretrain(images, model, *, method: str = "masked", epochs: int = 20, steps_per_epoch: int = 20,
             batch_size: int = 4, patch_size=None, lr: float = 1e-3, mask_ratio: float = 0.5,
             embedding: int = 32, temperature: float = 0.1, normalization: Normalization | None = None,
             max_time: float | None = None, seed: int = 0, device="auto", out=None, live="auto") -> History:
    """Pretrain `model`'s architecture on unlabelled `images`; checkpoints and curves as :func:`fit` writes them.

    Parameters
    ----------
    images : sequence of Image or numpy.ndarray
        Unlabelled images (channels first for several channels), 2D or 3D as the network.
    model : torch.nn.Module
        The downstream network from :func:`labtools.models.make_model`; its
        architecture is pretrained (the object itself is not changed).
    method : {"masked", "contrastive"}
        See the module's description.
    epochs, steps_per_epoch, batch_size, lr, seed, device, live
        As for :func:`~labtools.training.fit`.
    patch_size : sequence of int, optional
        Default: 64 per axis in 3D, 128 in 2D, at most the smallest image.
    mask_ratio : float
        Share of each patch blanked out ("masked").
    embedding : int
        Output channels averaged into the embedding ("contrastive").
    temperature : float
        InfoNCE's τ ("contrastive").
    normalization : Normalization, optional
        Intensity normalisation, as the training that follows will use (default z-score per image).
    max_time : float, optional
        Seconds: no new epoch starts when the last one would not end within them.
    out : path, optional
        Folder for ``last.pt`` (the pretrained weights), ``history.csv`` and
        ``curves.png`` (default ``runs/pretrain-<date-time>``).

    Returns
    -------
    History
        ``train_loss`` per epoch (reconstruction MSE, or InfoNCE).

    Examples
    --------
    >>> from labtools import datasets, models
    >>> images = [datasets.phantom((32, 32), seed=s)[0] for s in range(2)]
    >>> net = models.make_model("tiny_unet", 2, 1, 5, channels=(4, 8))
    >>> history = pretrain(images, net, epochs=2, steps_per_epoch=2, batch_size=2, patch_size=(16, 16),
    ...                    out=getfixture("tmp_path"), live=None)
    >>> len(history), sorted(p.name for p in getfixture("tmp_path").iterdir())
    (2, ['curves.png', 'history.csv', 'last.pt'])
    """
    from labtools.models import model_from_spec, unwrap

    if method not in PRETRAIN_METHODS:
        raise TrainingError(f"unknown pretraining method {method!r}; choose one of {', '.join(PRETRAIN_METHODS)}")
    spec = getattr(unwrap(model), "labtools_spec", None)
    if not spec:
        raise TrainingError("pretrain needs a network built by labtools.models.make_model (it rebuilds its "
                            "architecture with a pretraining head)")
    if not 0 < mask_ratio < 1:
        raise TrainingError(f"mask_ratio must be between 0 and 1, got {mask_ratio}")
    dims, in_channels = spec["spatial_dims"], spec["in_channels"]
    head = in_channels if method == "masked" else embedding
    network = model_from_spec({**spec, "out_channels": max(head, 2)})
    normalization = normalization or Normalization()
    volumes = [_volume(image, dims, in_channels, normalization) for image in images]
    if not volumes:
        raise TrainingError("pretrain needs at least one image")
    patch_size = _patch_size(patch_size, volumes, dims, spec.get("divisor", 1))
    device = select_device(device)
    seed_everything(seed)
    network.to(device)
    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=1e-5)
    out = Path(out) if out is not None else Path("runs") / time.strftime("pretrain-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    config = {"pretrain": method, "epochs": epochs, "steps_per_epoch": steps_per_epoch, "batch_size": batch_size,
              "patch_size": list(patch_size), "lr": lr, "mask_ratio": mask_ratio, "embedding": embedding,
              "temperature": temperature, "seed": seed, "normalization": normalization.to_dict()}
    callbacks = default_callbacks(out, live)
    call(callbacks, "on_train_begin", {"out": out, "device": describe_device(device), "epochs": epochs,
                                       "steps_per_epoch": steps_per_epoch, "start_epoch": 0, "start_step": 0,
                                       "parameters": sum(p.numel() for p in network.parameters())})
    history, step, started, reason = History(), 0, time.perf_counter(), f"reached {epochs} epochs"
    try:
        for epoch in range(1, epochs + 1):
            network.train()
            epoch_start, losses = time.perf_counter(), []
            for _ in range(steps_per_epoch):
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate("cosine", lr, step / (epochs * steps_per_epoch))
                rng = np.random.default_rng([seed, step])
                patches = _random_patches(volumes, patch_size, batch_size, rng).to(device)
                loss = (_masked_loss(network, patches, mask_ratio, rng) if method == "masked"
                        else _contrastive_loss(network, patches, temperature, rng))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
                step += 1
                call(callbacks, "on_step_end", step)
            train_loss = float(np.mean(losses))
            if not math.isfinite(train_loss):
                raise TrainingError(f"the pretraining loss became {train_loss} in epoch {epoch}: lower lr={lr}")
            record = {"epoch": epoch, "step": step, "time": time.perf_counter() - started,
                      "train_loss": train_loss, "lr": optimizer.param_groups[0]["lr"],
                      "steps_per_s": steps_per_epoch / (time.perf_counter() - epoch_start)}
            history.append(record)
            ckpt.save_checkpoint(out / "last.pt", model=network, optimizer=optimizer, epoch=epoch, step=step,
                                 history=history, best=-train_loss, config=config)
            if call(callbacks, "on_epoch_end", record, history):
                reason = "stopped by a callback"
                break
            elapsed = time.perf_counter() - started
            if max_time is not None and elapsed + elapsed / epoch > max_time:
                reason = f"time budget of {max_time:g} s reached after {elapsed:.0f} s"
                break
    except BaseException as error:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise
    finally:
        call(callbacks, "on_train_end", history, reason)
    return history


def mask_patches(patches: torch.Tensor, ratio: float, rng: np.random.Generator, cells: int = 4):
    """Blank out about `ratio` of each patch in cubes (a `cells`-per-axis grid); returns (masked, mask).

    Examples
    --------
    >>> patches = torch.ones(2, 1, 8, 8)
    >>> masked, mask = mask_patches(patches, 0.5, np.random.default_rng(0))
    >>> mask.shape, float(mask.float().mean()), bool((masked[mask] == 0).all())
    (torch.Size([2, 1, 8, 8]), 0.5, True)
    """
    batch, _, *spatial = patches.shape
    grid = rng.random((batch, *[cells] * len(spatial))).reshape(batch, -1)
    keep = np.argsort(grid, axis=1) >= round(ratio * grid.shape[1])  # exactly ratio of the cells
    cell_mask = torch.from_numpy(~keep).reshape(batch, 1, *[cells] * len(spatial)).float()
    mask = torch.nn.functional.interpolate(cell_mask, size=tuple(spatial), mode="nearest").bool()
    mask = mask.to(patches.device)
    return patches.masked_fill(mask, 0.0), mask


def two_views(patches: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two random augmentations of each patch: axis flips, intensity scale and shift, Gaussian noise.

    Examples
    --------
    >>> a, b = two_views(torch.zeros(3, 1, 8, 8), np.random.default_rng(0))
    >>> a.shape == b.shape == (3, 1, 8, 8), bool(torch.equal(a, b))
    (True, False)
    """
    views = []
    for _ in range(2):
        view = patches.clone()
        for axis in range(2, patches.ndim):
            flip = torch.from_numpy(rng.random(len(view)) < 0.5)
            view[flip] = view[flip].flip(axis)
        scale = torch.from_numpy(rng.uniform(0.8, 1.2, (len(view),) + (1,) * (view.ndim - 1))).float()
        shift = torch.from_numpy(rng.uniform(-0.2, 0.2, (len(view),) + (1,) * (view.ndim - 1))).float()
        noise = torch.from_numpy(rng.normal(0.0, 0.1, view.shape)).float()
        views.append(view * scale.to(view.device) + shift.to(view.device) + noise.to(view.device))
    return views[0], views[1]


def _masked_loss(network, patches, ratio, rng) -> torch.Tensor:
    masked, mask = mask_patches(patches, ratio, rng)
    reconstruction = network(masked)[:, : patches.shape[1]]
    return ((reconstruction - patches) ** 2)[mask.expand_as(patches)].mean()


def _contrastive_loss(network, patches, temperature, rng) -> torch.Tensor:
    first, second = two_views(patches, rng)
    spatial = tuple(range(2, patches.ndim))
    return info_nce(network(first).mean(dim=spatial), network(second).mean(dim=spatial), temperature)


def _volume(image, dims: int, in_channels: int, normalization: Normalization) -> torch.Tensor:
    array = as_channels_first(image, dims)
    if array.shape[0] != in_channels:
        raise TrainingError(f"the network takes {in_channels} channel(s), an image has {array.shape[0]}")
    return torch.from_numpy(np.ascontiguousarray(normalization(array), dtype=np.float32))


def _patch_size(patch_size, volumes, dims: int, divisor: int) -> tuple[int, ...]:
    smallest = np.min([v.shape[1:] for v in volumes], axis=0)
    if patch_size is None:
        patch_size = [min(64 if dims == 3 else 128, int(n)) // divisor * divisor for n in smallest]
    patch_size = tuple(int(p) for p in patch_size)
    if len(patch_size) != dims or any(p < divisor or p % divisor for p in patch_size) or any(
            p > n for p, n in zip(patch_size, smallest)):
        raise TrainingError(f"patch_size {patch_size} must have {dims} sizes, multiples of {divisor}, "
                            f"no larger than the smallest image {tuple(int(n) for n in smallest)}")
    return patch_size


def _random_patches(volumes, patch_size, batch_size: int, rng: np.random.Generator) -> torch.Tensor:
    patches = []
    for _ in range(batch_size):
        volume = volumes[rng.integers(len(volumes))]
        corner = [int(rng.integers(0, n - p + 1)) for n, p in zip(volume.shape[1:], patch_size)]
        patches.append(volume[(slice(None), *(slice(c, c + p) for c, p in zip(corner, patch_size)))])
    return torch.stack(patches)
