"""Curriculum learning for :func:`~labtools.training.fit`: easy things first, as people learn.

Three curricula from the lectures (seeds 003, the CLIPS project), each a
small object that ``fit(..., curriculum=...)`` consults at a few points; none
changes the training loop itself:

- :class:`PredefinedCurriculum` — a difficulty score per case (lesion size,
  contrast, ...) known in advance; training starts on the easiest cases and
  admits harder ones on a linear schedule ("baby steps", Bengio et al. 2009).
- :class:`SelfPaced` — the network decides: a patch counts in the loss only
  while its loss is under a threshold λ, and λ grows every epoch until every
  patch counts (Kumar et al. 2010).
- :class:`SmoothingCurriculum` — curriculum by smoothing (Sinha et al. 2020):
  the output of every convolution but the last is blurred by a Gaussian whose
  σ is annealed towards zero, so the network first learns coarse structure.

What fit calls: ``start(network, sampler)`` once, ``epoch(epoch, progress)``
before each epoch (progress in [0, 1] of the training), ``weights(losses)``
per step when ``per_sample`` (one loss per patch in, one weight per patch
out), and ``close()`` at the end.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from labtools.errors import TrainingError

__all__ = ["Curriculum", "PredefinedCurriculum", "SelfPaced", "SmoothingCurriculum"]


class Curriculum:
    """The hooks :func:`fit` calls; this base does nothing (the plain training)."""

    per_sample = False

    def start(self, network: torch.nn.Module, sampler) -> None:
        """Before the first epoch."""

    def epoch(self, epoch: int, progress: float) -> None:
        """Before each epoch; `progress` is the share of training done (0 at the start)."""

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        """One weight per patch from the patches' losses (only called when ``per_sample``)."""
        return torch.ones_like(losses)

    def close(self) -> None:
        """After training (also when it fails)."""

    def describe(self) -> dict:
        """What the checkpoints record about the curriculum."""
        return {"name": type(self).__name__}


class PredefinedCurriculum(Curriculum):
    """Easiest cases first: the share of cases in play grows linearly from `start` to all at `full_at`.

    Parameters
    ----------
    difficulty : sequence of float
        One score per training case, in the order given to ``fit``; lower is easier.
    start : float
        Share of the cases (the easiest) in play at the beginning (at least one case).
    full_at : float
        Share of the training after which every case is in play.

    Examples
    --------
    >>> curriculum = PredefinedCurriculum([3.0, 1.0, 2.0, 0.5], start=0.25, full_at=0.5)
    >>> [curriculum.cases_in_play(p) for p in (0.0, 0.25, 0.5, 1.0)]
    [[3], [3, 1, 2], [3, 1, 2, 0], [3, 1, 2, 0]]
    """

    def __init__(self, difficulty, *, start: float = 0.3, full_at: float = 0.6):
        self.difficulty = np.asarray(difficulty, dtype=float)
        if self.difficulty.ndim != 1 or not len(self.difficulty) or not np.isfinite(self.difficulty).all():
            raise TrainingError("difficulty must be one finite score per training case")
        if not (0 < start <= 1 and 0 < full_at <= 1):
            raise TrainingError(f"start and full_at must be in (0, 1], got {start} and {full_at}")
        self.start_share, self.full_at = start, full_at
        self.order = np.argsort(self.difficulty, kind="stable")
        self.sampler = None

    def cases_in_play(self, progress: float) -> list[int]:
        """Indices of the cases drawn from at `progress`, easiest first."""
        share = self.start_share + (1 - self.start_share) * min(1.0, progress / self.full_at)
        count = max(1, math.ceil(share * len(self.order) - 1e-9))
        return [int(i) for i in self.order[:count]]

    def start(self, network, sampler) -> None:
        if len(self.difficulty) != len(sampler.cases):
            raise TrainingError(f"the curriculum scores {len(self.difficulty)} cases, training has "
                                f"{len(sampler.cases)}")
        self.sampler = sampler

    def epoch(self, epoch: int, progress: float) -> None:
        self.sampler.eligible = self.cases_in_play(progress)

    def close(self) -> None:
        if self.sampler is not None:
            self.sampler.eligible = None

    def describe(self) -> dict:
        return {"name": "predefined", "start": self.start_share, "full_at": self.full_at,
                "difficulty": self.difficulty.tolist()}


class SelfPaced(Curriculum):
    """Self-paced learning: a patch's loss counts while it is at most λ; λ grows each epoch.

    λ starts at the `start_quantile` of the first batch's losses and is
    multiplied by `growth` at every new epoch, so harder patches enter as the
    network improves. A batch with every loss above λ keeps its easiest patch.

    Examples
    --------
    >>> spl = SelfPaced(start_quantile=0.5, growth=2.0)
    >>> spl.epoch(1, 0.0)
    >>> spl.weights(torch.tensor([0.1, 0.5, 1.0, 2.0])).tolist()    # λ = 0.75, the median
    [1.0, 1.0, 0.0, 0.0]
    >>> spl.epoch(2, 0.5)
    >>> spl.weights(torch.tensor([0.1, 0.5, 1.0, 2.0])).tolist()    # λ = 1.5
    [1.0, 1.0, 1.0, 0.0]
    """

    per_sample = True

    def __init__(self, *, start_quantile: float = 0.5, growth: float = 1.3):
        if not 0 < start_quantile <= 1 or growth < 1:
            raise TrainingError(f"start_quantile must be in (0, 1] and growth >= 1, got {start_quantile}, {growth}")
        self.start_quantile, self.growth = start_quantile, growth
        self.threshold: float | None = None
        self._epoch = 0

    def epoch(self, epoch: int, progress: float) -> None:
        if self.threshold is not None and epoch > self._epoch:
            self.threshold *= self.growth ** (epoch - self._epoch)
        self._epoch = epoch

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        losses = losses.detach()
        if self.threshold is None:
            self.threshold = float(torch.quantile(losses.float(), self.start_quantile))
        weights = (losses <= self.threshold).float()
        if not weights.any():
            weights[torch.argmin(losses)] = 1.0
        return weights

    def describe(self) -> dict:
        return {"name": "self_paced", "start_quantile": self.start_quantile, "growth": self.growth,
                "threshold": self.threshold}


class SmoothingCurriculum(Curriculum):
    """Curriculum by smoothing: blur every convolution's output (the last excepted) by a Gaussian of
    σ = ``sigma · decay^(epoch - 1)`` voxels; below 0.1 voxel the blur stops.

    Examples
    --------
    >>> from labtools.models import make_model
    >>> net = make_model("tiny_unet", 2, 1, 3, channels=(4, 8))
    >>> curriculum = SmoothingCurriculum(sigma=1.0, decay=0.5)
    >>> curriculum.start(net, sampler=None)
    >>> [curriculum.sigma_at(e) for e in (1, 2, 3, 5)]
    [1.0, 0.5, 0.25, 0.0]
    >>> curriculum.close()
    """

    def __init__(self, *, sigma: float = 1.0, decay: float = 0.9):
        if sigma <= 0 or not 0 < decay < 1:
            raise TrainingError(f"sigma must be positive and decay in (0, 1), got {sigma} and {decay}")
        self.sigma, self.decay = sigma, decay
        self.current = 0.0
        self._handles = []

    def sigma_at(self, epoch: int) -> float:
        sigma = self.sigma * self.decay ** (epoch - 1)
        return sigma if sigma >= 0.1 else 0.0

    def start(self, network, sampler) -> None:
        convolutions = [m for m in network.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))]
        # The last convolution makes the logits: blurring them would blur the segmentation itself.
        self._handles = [m.register_forward_hook(self._blur) for m in convolutions[:-1]]

    def epoch(self, epoch: int, progress: float) -> None:
        self.current = self.sigma_at(epoch)

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _blur(self, module, inputs, output):
        return gaussian_blur(output, self.current) if self.current > 0 else output

    def describe(self) -> dict:
        return {"name": "smoothing", "sigma": self.sigma, "decay": self.decay}


def gaussian_blur(features: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur (B, C, *spatial) feature maps channel by channel, axis by axis; kernel truncated at 2σ, edges repeated.

    Examples
    --------
    >>> x = torch.zeros(1, 1, 9); x[0, 0, 4] = 1.0
    >>> [round(v, 3) for v in gaussian_blur(x, 1.0)[0, 0, 2:7].tolist()]
    [0.054, 0.244, 0.403, 0.244, 0.054]
    """
    radius = max(1, math.ceil(2 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=features.dtype, device=features.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels, dims = features.shape[1], features.ndim - 2
    convolve = (F.conv1d, F.conv2d, F.conv3d)[dims - 1]
    for axis in range(dims):
        shape = [1] * dims
        shape[axis] = len(kernel)
        weight = kernel.reshape(1, 1, *shape).repeat(channels, 1, *[1] * dims)
        padding = [0, 0] * dims
        padding[2 * (dims - 1 - axis): 2 * (dims - 1 - axis) + 2] = [radius, radius]
        # "replicate": also for maps smaller than the kernel (the deepest levels of a U-Net).
        features = convolve(F.pad(features, padding, mode="replicate"), weight, groups=channels)
    return features
