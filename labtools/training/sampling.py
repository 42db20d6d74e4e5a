"""Random training patches, centred on labelled foreground with a set probability, then augmented.

Draws depend only on (seed, rank, step): a resumed run, or a rerun, sees the
same patches at the same step without saving any sampler state.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from labtools.errors import TrainingError
from labtools.training.data import UNLABELLED, Case

__all__ = ["PatchSampler", "default_patch_size", "make_augmentation", "AUGMENTATIONS",
           "DEFAULT_AUGMENTATIONS"]


def default_patch_size(cases: list[Case], divisor: int, spatial_dims: int) -> tuple[int, ...]:
    """The largest case's size per axis, capped (128 in 2D, 96 in 3D), rounded up to `divisor`.

    Examples
    --------
    >>> import torch
    >>> case = Case(torch.zeros(1, 100, 30), torch.zeros(100, 30, dtype=torch.int16), "a")
    >>> default_patch_size([case], divisor=8, spatial_dims=2)
    (104, 32)
    """
    cap = 128 if spatial_dims == 2 else 96
    largest = np.max([c.shape for c in cases], axis=0)
    return tuple(int(-(-min(size, cap) // divisor) * divisor) for size in largest)


AUGMENTATIONS = ("flip", "rotate_scale", "elastic", "intensity", "gamma", "noise", "bias_field",
                 "low_resolution")
# elastic deformation is left out by default: on a CPU it costs more than the network's step.
DEFAULT_AUGMENTATIONS = ("flip", "rotate_scale", "intensity", "gamma", "noise", "bias_field",
                         "low_resolution")
# Probability that a batch gets each transform (flip: per axis; intensity: scale and shift each).
PROBABILITIES = {"flip": 0.5, "rotate_scale": 0.3, "elastic": 0.2, "intensity": 0.5, "gamma": 0.3,
                 "noise": 0.15, "bias_field": 0.15, "low_resolution": 0.25}


def make_augmentation(spatial_dims: int, names=DEFAULT_AUGMENTATIONS, *, in_plane: bool = False):
    """MONAI random transforms for medical images, by name (see ``AUGMENTATIONS``).

    ``flip`` mirrors every axis; ``rotate_scale`` rotates (up to 30 degrees
    about each axis; about the last axis only when `in_plane`, for thick
    slices) and scales by 0.85-1.25; ``elastic`` deforms smoothly; ``intensity``
    scales and shifts intensities by up to 10 %; ``gamma`` changes contrast
    (gamma 0.7-1.5); ``noise`` adds Gaussian noise; ``bias_field`` multiplies
    by a smooth MRI-like field; ``low_resolution`` downsamples by up to 2 and
    back up (a thicker-slice scanner). Probabilities follow nnU-Net's.

    The batch goes through as one multi-channel image, so each step draws one
    set of random parameters for the whole batch: about 7x cheaper than
    per-sample transforms (MONAI's metadata tracking dominates), and over the
    steps every variant is seen. Labels go through spatial transforms with
    nearest-neighbour interpolation; voxels coming from outside the patch are
    ``UNLABELLED`` (see :meth:`PatchSampler.batch`).

    Examples
    --------
    >>> augment = make_augmentation(2, ["flip", "gamma"])
    >>> [type(t).__name__ for t in augment.transforms]
    ['RandFlipd', 'RandFlipd', 'RandAdjustContrastd']
    """
    from monai import transforms as mt

    unknown = sorted(set(names) - set(AUGMENTATIONS))
    if unknown:
        raise TrainingError(f"unknown augmentation {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)}")
    keys = ("image", "label")
    angle = np.deg2rad(30.0)
    rotate = (angle,) if spatial_dims == 2 else ((0.0, 0.0, angle) if in_plane else (angle,) * 3)
    p = PROBABILITIES
    chosen = {
        "flip": [mt.RandFlipd(keys, prob=p["flip"], spatial_axis=axis) for axis in range(spatial_dims)],
        "rotate_scale": [mt.RandAffined(keys, prob=p["rotate_scale"], rotate_range=rotate,
                                        scale_range=(-0.15, 0.25), mode=("bilinear", "nearest"),
                                        padding_mode="zeros")],
        "elastic": [(mt.Rand2DElasticd if spatial_dims == 2 else mt.Rand3DElasticd)(
            keys, prob=p["elastic"], mode=("bilinear", "nearest"), padding_mode="zeros",
            **({"spacing": (20, 20), "magnitude_range": (1, 2)} if spatial_dims == 2
               else {"sigma_range": (5, 8), "magnitude_range": (50, 150)}))],
        "intensity": [mt.RandScaleIntensityd("image", factors=0.1, prob=p["intensity"]),
                      mt.RandShiftIntensityd("image", offsets=0.1, prob=p["intensity"])],
        "gamma": [mt.RandAdjustContrastd("image", prob=p["gamma"], gamma=(0.7, 1.5))],
        "noise": [mt.RandGaussianNoised("image", prob=p["noise"], std=0.1)],
        "bias_field": [mt.RandBiasFieldd("image", prob=p["bias_field"], coeff_range=(0.0, 0.2))],
        "low_resolution": [mt.RandSimulateLowResolutiond(
            "image", prob=p["low_resolution"], zoom_range=(0.5, 1.0),
            upsample_mode="bilinear" if spatial_dims == 2 else "trilinear")],
    }
    return mt.Compose([t for name in AUGMENTATIONS if name in names for t in chosen[name]])


class PatchSampler:
    """Batches of (image, labels) patches drawn from cached cases.

    With probability ``fg_ratio`` a patch is centred on a random foreground
    voxel (label >= 1), otherwise on any voxel; with sparse labels the centre
    is always a labelled voxel, so no patch is without a training signal.
    Cases smaller than the patch are padded (image with its minimum, labels
    with ``UNLABELLED`` so the padding is not learnt as background).

    Examples
    --------
    >>> import torch
    >>> labels = torch.zeros(32, 32, dtype=torch.int16); labels[10:14, 10:14] = 1
    >>> sampler = PatchSampler([Case(torch.randn(1, 32, 32), labels, "a")], patch_size=(16, 16),
    ...                        batch_size=4, fg_ratio=1.0, augment=False)
    >>> images, targets = sampler.batch(step=0)
    >>> images.shape, targets.shape, bool((targets == 1).any(dim=(1, 2)).all())
    (torch.Size([4, 1, 16, 16]), torch.Size([4, 16, 16]), True)
    """

    def __init__(self, cases: list[Case], patch_size, batch_size: int, *, fg_ratio: float = 0.5,
                 augment=True, seed: int = 0, rank: int = 0, device="cpu", in_plane: bool = False):
        if not 0.0 <= fg_ratio <= 1.0:
            raise TrainingError(f"fg_ratio must be between 0 and 1, got {fg_ratio}")
        if batch_size < 1:
            raise TrainingError(f"batch_size must be at least 1, got {batch_size}")
        self.patch_size = tuple(int(p) for p in patch_size)
        self.batch_size, self.fg_ratio, self.seed, self.rank = batch_size, fg_ratio, seed, rank
        self.device = torch.device(device)
        self.eligible: list[int] | None = None  # cases drawn from (a curriculum's choice); None: all
        self.sparse = any(case.sparse for case in cases)  # before padding adds unlabelled voxels
        self._extent = [case.shape for case in cases]     # where random centres may fall
        self.cases = [_pad_to(case, self.patch_size) for case in cases]
        names = _augmentation_names(augment)
        # Padding, and rotations that bring in voxels from outside the patch, add unlabelled
        # voxels even to dense labels: the loss must then ignore them.
        self.has_unlabelled = (self.sparse or any(p.shape != c.shape for p, c in zip(self.cases, cases))
                               or bool({"rotate_scale", "elastic"} & set(names)))
        # Candidate centres as flat indices, kept on the CPU: choosing one never waits for the GPU.
        if self.sparse:
            self._pool = [np.flatnonzero((c.labels != UNLABELLED).numpy().ravel()) for c in self.cases]
        else:
            self._pool = [np.flatnonzero((c.labels >= 1).numpy().ravel()) for c in self.cases]
        self._augment = make_augmentation(len(self.patch_size), names, in_plane=in_plane) if names else None
        if self._augment is not None:
            from monai.data import get_track_meta, set_track_meta

            self._track_meta = (get_track_meta, set_track_meta)

    def to(self, device) -> "PatchSampler":
        """Keep the cached cases on `device` (a GPU when they fit: no copy per step)."""
        self.cases = [case.to(device) for case in self.cases]
        return self

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch of `step`: images (B, C, *patch) float32, labels (B, *patch) int64."""
        rng = np.random.default_rng([self.seed, self.rank, step])
        images, labels = [], []
        for _ in range(self.batch_size):
            index = (int(rng.integers(len(self.cases))) if self.eligible is None
                     else int(self.eligible[rng.integers(len(self.eligible))]))
            case = self.cases[index]
            start = self._corner(rng, index)
            window = tuple(slice(s, s + p) for s, p in zip(start, self.patch_size))
            images.append(case.image[(slice(None), *window)])
            labels.append(case.labels[window])
        images = torch.stack(images).to(self.device, non_blocking=True)
        labels = torch.stack(labels).to(self.device, non_blocking=True).long()
        if self._augment is not None:
            images, labels = self._augmented(images, labels, seed=int(rng.integers(2**31)))
        return images, labels

    def _corner(self, rng: np.random.Generator, index: int) -> tuple[int, ...]:
        """Lower corner of a patch around a random centre, kept inside the case."""
        shape, pool = self.cases[index].shape, self._pool[index]
        if self.sparse or (len(pool) and rng.random() < self.fg_ratio):
            centre = np.unravel_index(pool[rng.integers(len(pool))], shape)
        else:
            centre = [rng.integers(size) for size in self._extent[index]]
        return tuple(int(min(max(c - p // 2, 0), s - p))
                     for c, p, s in zip(centre, self.patch_size, shape))

    def _augmented(self, images: torch.Tensor, labels: torch.Tensor, seed: int):
        batch, channels = images.shape[:2]
        get_track_meta, set_track_meta = self._track_meta
        self._augment.set_random_state(seed=seed)
        tracking = get_track_meta()
        set_track_meta(False)  # plain tensors in and out: no metadata bookkeeping per transform
        try:
            # Labels shifted by one: what spatial transforms pad with (0) comes back as UNLABELLED.
            out = self._augment({"image": images.reshape(batch * channels, *self.patch_size),
                                 "label": (labels + 1).float()})
        finally:
            set_track_meta(tracking)
        # MONAI returns MetaTensors; plain tensors keep the training step free of metadata work.
        images, labels = _plain(out["image"]), _plain(out["label"]).round().long() - 1
        return images.reshape(batch, channels, *self.patch_size).contiguous(), labels.contiguous()


def _augmentation_names(augment) -> tuple[str, ...]:
    """`augment` as names: True = the default set, False/None = none, or names as given."""
    if augment is True:
        return DEFAULT_AUGMENTATIONS
    if not augment:
        return ()
    if isinstance(augment, str):
        return tuple(name.strip() for name in augment.split(",") if name.strip())
    return tuple(augment)


def _plain(tensor) -> torch.Tensor:
    """A MetaTensor's plain data (no metadata tracking in the training step)."""
    return tensor.as_tensor() if hasattr(tensor, "as_tensor") else tensor


def _pad_to(case: Case, patch_size) -> Case:
    """Pad `case` at the far end of each axis that is shorter than the patch."""
    missing = [max(p - s, 0) for p, s in zip(patch_size, case.shape)]
    if not any(missing):
        return case
    pad = [amount for m in reversed(missing) for amount in (0, m)]  # F.pad lists the last axis first
    image = F.pad(case.image, pad, value=float(case.image.min()))
    labels = F.pad(case.labels[None].float(), pad, value=UNLABELLED)[0].to(case.labels.dtype)
    return Case(image, labels, case.name)
