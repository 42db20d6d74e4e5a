"""A training plan from a dataset's fingerprint: nnU-Net's idea, as a few readable rules.

nnU-Net (Isensee et al., Nature Methods 2021) showed that a fixed recipe plus
rules derived from the dataset beat hand tuning. :func:`plan` applies such
rules: each choice comes with the reason it was made, and any choice can be
overridden without touching the others. ``labtools plan DATA`` prints a plan;
``labtools train`` follows it and saves it next to the checkpoints, where
``labtools predict`` finds its normalisation.

The rules, in order:

1. **Spacing**: the median voxel size of the training cases.
2. **Normalisation**: CT is clipped to the 0.5-99.5 percentiles of the
   foreground and z-scored with the dataset's foreground statistics (Hounsfield
   units are comparable between scans); MRI and other images are z-scored each
   on its own, inside the body when most of the volume is air.
3. **Patch and batch** from a budget of voxels per step: on a GPU, what its
   memory holds; on a CPU, what two cores process in about a tenth of a second.
   2D patches are whole slices when they fit; 3D patches shrink their longest
   axis (in mm) until two of them fit. The batch fills the rest of the budget.
4. **Network**: MONAI's residual U-Net, downsampling until the coarsest grid
   has about 4 voxels per axis (at most 5 times), features doubling from 16
   (CPU) or 32 (GPU) per level, up to 320.
5. **Sampling**: a third of the patches centred on foreground (half when a
   class covers less than 1 % of the voxels).
6. **Augmentation**: flips, rotation and scaling (in-plane only for thick
   slices), intensity, gamma, noise, bias field, simulated low resolution.
7. **Optimisation**: Dice + cross-entropy, AdamW with weight decay, linear
   warm-up then cosine decay fitted to the step count or the time budget;
   without a budget, early stop after 15 epochs without a better validation Dice.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from labtools.errors import TrainingError
from labtools.training.fingerprint import Fingerprint, fingerprint
from labtools.training.normalization import Normalization
from labtools.training.sampling import DEFAULT_AUGMENTATIONS

__all__ = ["Plan", "plan", "load_plan"]

PLAN_FILE = "plan.json"
_CPU_VOXELS_PER_STEP = {2: 2**17, 3: 225_000}  # ~0.1-0.2 s per step of the planned U-Net on 2 cores
_MAX_DOWNSAMPLINGS = 5
_MAX_FEATURES = 320
_BYTES_PER_VOXEL_PER_FEATURE = 80  # float32 activations kept for backward, measured order of magnitude


@dataclass
class Plan:
    """Every choice of a training run, and why it was made.

    Build one with :func:`plan`; ``reasons[name]`` says why each field has its value.

    Examples
    --------
    >>> from labtools import datasets
    >>> pairs = [datasets.phantom((64, 64), seed=s) for s in range(3)]
    >>> p = plan(pairs, dims=2, device="cpu")
    >>> p.patch_size, p.channels, p.normalization["scheme"]
    ((64, 64), (16, 32, 64, 128, 256), 'zscore')
    >>> plan(pairs, dims=2, device="cpu", batch_size=4).batch_size
    4
    """

    dims: int
    spacing: tuple
    modality: str
    normalization: dict
    patch_size: tuple
    batch_size: int
    model: str
    channels: tuple
    num_res_units: int
    fg_ratio: float
    augment: tuple
    in_plane: bool
    loss: str
    lr: float
    weight_decay: float
    schedule: str
    epochs: int
    steps_per_epoch: int
    patience: int
    reasons: dict = field(default_factory=dict)

    def fit_options(self, max_time: float | None = None) -> dict:
        """Keywords of :func:`labtools.training.fit` that this plan sets, for a run of
        `max_time` seconds (None: the planned epochs).

        With a time budget the schedule ends at the deadline, so the planned early stop is left
        out (the last, low-rate epochs are usually the best); a patience given explicitly stays.
        """
        patience = self.patience or None
        if max_time is not None and self.reasons.get("patience") != "given":
            patience = None
        return {"patch_size": self.patch_size, "batch_size": self.batch_size, "fg_ratio": self.fg_ratio,
                "augment": self.augment, "in_plane": self.in_plane, "loss": self.loss, "lr": self.lr,
                "weight_decay": self.weight_decay, "schedule": self.schedule, "epochs": self.epochs,
                "steps_per_epoch": self.steps_per_epoch, "patience": patience, "max_time": max_time,
                "normalization": Normalization.from_dict(self.normalization), "plan": self.to_dict()}

    def make_model(self, in_channels: int, n_classes: int):
        """The planned network (untrained), from :func:`labtools.models.make_model`."""
        from labtools.models import make_model

        options = {"num_res_units": self.num_res_units} if self.model == "unet" else {}
        return make_model(self.model, self.dims, in_channels, n_classes, channels=self.channels, **options)

    def describe(self) -> str:
        """The plan as text: one line per choice, with its reason."""
        rows = []
        for item in fields(self):
            if item.name == "reasons":
                continue
            value = getattr(self, item.name)
            if item.name == "normalization":
                value = value["scheme"] + (f" (clip {_rounded(value['clip'])}, mean {_rounded(value['mean'])}, "
                                           f"std {_rounded(value['std'])})" if value["scheme"] == "ct" else "")
            elif isinstance(value, (tuple, list)):
                value = ", ".join(str(v) for v in value) if item.name == "augment" else _rounded(value)
            rows.append((item.name, str(value), self.reasons.get(item.name, "")))
        width = 26
        lines = []
        for name, value, reason in rows:
            if len(value) > width:  # a long value gets a line of its own, the reason below it
                lines += [f"{name:<16}{value}", f"{'':<16}{'':<{width}}  {reason}"]
            else:
                lines.append(f"{name:<16}{value:<{width}}  {reason}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-able fields (tuples as lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, values: dict) -> "Plan":
        known = {item.name for item in fields(cls)}
        values = {key: tuple(value) if isinstance(value, list) and key != "normalization" else value
                  for key, value in values.items() if key in known}
        return cls(**values)

    def save(self, folder) -> Path:
        """Write ``plan.json`` into `folder`; returns its path."""
        path = Path(folder) / PLAN_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def load_plan(path) -> Plan:
    """Read a plan saved by :meth:`Plan.save` (a ``plan.json`` or its folder)."""
    path = Path(path)
    path = path / PLAN_FILE if path.is_dir() else path
    try:
        return Plan.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as error:
        raise TrainingError(f"cannot read the plan {path}: {error}") from error


def plan(data, *, dims: int, device="auto", modality: str | None = None, memory_gb: float | None = None,
         **overrides) -> Plan:
    """Plan a training run for `data`; any plan field given as a keyword overrides that choice.

    Parameters
    ----------
    data : TrainingData, Fingerprint or sequence of (image, labels)
        The training set (:func:`labtools.training.sources.load_source` gives a
        TrainingData; a fingerprint is used as it is).
    dims : {2, 3}
        The network's dimensionality.
    device : str
        Where training will run ("auto", "cpu", "cuda", ...): sets the budget.
    modality : {"CT", "MRI", "other"}, optional
        Overrides what the dataset says or the intensities suggest.
    memory_gb : float, optional
        GPU memory to plan for (default: half of the device's memory).
    **overrides
        Plan fields to set (``batch_size=4``, ``channels=(8, 16, 32)``, ...):
        only that choice changes, with reason "given".

    Returns
    -------
    Plan

    Examples
    --------
    >>> import numpy as np
    >>> ct = np.full((40, 48, 48), -1000.0); ct[10:30, 10:38, 10:38] = 50.0
    >>> labels = (ct > 0).astype(int)
    >>> p = plan([(ct, labels)], dims=3, device="cpu")
    >>> p.modality, p.normalization["scheme"], p.patch_size
    ('CT', 'ct', (40, 48, 48))
    """
    from labtools.training.devices import select_device

    unknown = sorted(set(overrides) - {item.name for item in fields(Plan)} - {"reasons"})
    if unknown:
        raise TrainingError(f"unknown plan option {', '.join(unknown)}; the plan's choices are "
                            f"{', '.join(item.name for item in fields(Plan) if item.name != 'reasons')}")
    if dims not in (2, 3):
        raise TrainingError(f"dims must be 2 or 3, got {dims}")
    print_ = data if isinstance(data, Fingerprint) else _fingerprint_of(data, modality)
    target = str(select_device(device).type) if device is not None else "cpu"
    choices, reasons = {"dims": dims}, {"dims": "given"}

    def choose(name, value, reason):
        choices[name], reasons[name] = value, reason

    spacing = print_.spacing[-dims:]
    choose("spacing", tuple(round(s, 4) for s in spacing), "median voxel size of the training cases")
    choose("modality", print_.modality, print_.modality_reason)
    choose("normalization", *_normalization(print_))
    budget, why_budget = _voxel_budget(target, dims, memory_gb, overrides.get("channels"))
    shape = print_.median_shape[-dims:]
    patch, why_patch = _patch(shape, spacing, budget, dims)
    downsamplings = _downsamplings(patch)
    channels = _channels(downsamplings, target)
    choose("channels", channels, f"{downsamplings} downsamplings leave ~4 voxels per axis of the patch; "
           f"features from {channels[0]} ({'GPU' if target == 'cuda' else 'CPU'}), doubling per level")
    divisor = 2 ** (len(overrides.get("channels", channels)) - 1)
    patch = tuple(int(math.ceil(p / divisor) * divisor) for p in patch)
    choose("patch_size", patch, why_patch + f", rounded up to a multiple of {divisor}")
    batch_cap = 32 if dims == 2 else 8
    batch = int(min(max(budget // int(np.prod(patch)), 2), batch_cap))
    choose("batch_size", batch, f"{why_budget} / patch voxels, between 2 and {batch_cap}")
    choose("model", "unet", "MONAI's residual U-Net")
    choose("num_res_units", 1 if target == "cpu" else 2,
           "1 residual unit per level on a CPU (more steps in the time), 2 on a GPU")
    rare = [k for k, share in print_.class_frequencies.items() if k >= 1 and share < 0.01]
    choose("fg_ratio", 0.5 if rare else 0.33,
           f"class{'es' * (len(rare) > 1)} {', '.join(map(str, rare))} below 1 % of voxels" if rare
           else "nnU-Net's share of patches centred on foreground")
    anisotropy = max(spacing) / min(spacing)
    choose("in_plane", dims == 3 and anisotropy > 3,
           f"spacing ratio {anisotropy:.1f} {'>' if anisotropy > 3 else '<='} 3: "
           + ("rotate in-plane only (thick slices)" if dims == 3 and anisotropy > 3 else "rotate about every axis"))
    choose("augment", DEFAULT_AUGMENTATIONS, "spatial and intensity changes seen in scanners "
           "(elastic deformation left out: slower than a CPU step)")
    choose("loss", "dice_ce", "Dice + cross-entropy (nnU-Net): Dice for small classes, CE for stable gradients")
    choose("lr", 1e-2, "AdamW's peak rate, after the warm-up (measured on MNI152: 1e-2 beat 2e-3 and 2e-2)")
    choose("weight_decay", 1e-4, "AdamW's decoupled weight decay, against overfitting (MNI152: 1e-4 beat 3e-5)")
    choose("schedule", "cosine", "linear warm-up (5 %), cosine decay to 1 % of the rate, fitted to "
           "the epochs or to --max-time")
    steps = 2000 if target == "cpu" else 25_000
    per_epoch = 50 if target == "cpu" else 250
    choose("steps_per_epoch", per_epoch, "steps between two whole-image validations (and checkpoints)")
    choose("epochs", steps // per_epoch, f"{steps} steps without --max-time")
    choose("patience", 15, "without --max-time: stop after 15 epochs without a better validation Dice")
    for name, value in overrides.items():
        choices[name] = tuple(value) if isinstance(value, list) else value
        reasons[name] = "given"
    return Plan(**choices, reasons=reasons)


def _fingerprint_of(data, modality):
    from labtools.training.sources import TrainingData

    if isinstance(data, TrainingData):
        return fingerprint(data.train, spacings=data.spacings, modality=modality,
                           dataset_modality=data.modality)
    return fingerprint(data, modality=modality)


def _normalization(print_: Fingerprint) -> tuple[dict, str]:
    if print_.modality == "CT":
        stats = [print_.foreground[c] for c in range(print_.n_channels)]
        scheme = Normalization("ct", clip=[(s["p0_5"], s["p99_5"]) for s in stats],
                               mean=[s["mean"] for s in stats], std=[s["std"] for s in stats])
        return scheme.to_dict(), ("CT: clip to the foreground's 0.5-99.5 percentiles, z-score with the "
                                  "dataset's foreground mean and std")
    if print_.body_fraction < 0.75:
        return {"scheme": "zscore_body"}, (f"z-score each image inside the body ({print_.body_fraction:.0%} "
                                           "of the voxels are non-zero); air set to 0")
    return {"scheme": "zscore"}, "z-score each image on its own (no air around the body to leave out)"


def _voxel_budget(target: str, dims: int, memory_gb, channels) -> tuple[int, str]:
    if target != "cuda":
        return _CPU_VOXELS_PER_STEP[dims], f"CPU budget of {_CPU_VOXELS_PER_STEP[dims]:,} voxels per step"
    import torch

    if memory_gb is None:
        memory_gb = torch.cuda.get_device_properties(0).total_memory / 2**30 / 2
    first = channels[0] if channels else 32
    voxels = int(memory_gb * 2**30 / (_BYTES_PER_VOXEL_PER_FEATURE * first))
    return voxels, f"{memory_gb:.0f} GB of GPU memory ({voxels:,} voxels per step)"


def _patch(shape, spacing, budget: int, dims: int) -> tuple[tuple, str]:
    patch = [int(s) for s in shape]
    per_patch = budget // 2  # room for a batch of two at least
    if dims == 2 and np.prod(patch) <= per_patch:
        return tuple(patch), "the whole median slice"
    # Shrink the axis that is longest in mm, so the patch stays as isotropic as the anatomy.
    while np.prod(patch) > per_patch:
        axis = int(np.argmax([p * s for p, s in zip(patch, spacing)]))
        patch[axis] = max(int(patch[axis] * 0.9), 8)
    return tuple(patch), f"the median shape {tuple(shape)} shrunk (longest axis in mm first) to fit two per step"


def _downsamplings(patch) -> int:
    return int(min(_MAX_DOWNSAMPLINGS, max(1, math.floor(math.log2(min(patch) / 4)))))


def _channels(downsamplings: int, target: str) -> tuple[int, ...]:
    first = 32 if target == "cuda" else 16
    return tuple(min(first * 2**level, _MAX_FEATURES) for level in range(downsamplings + 1))


def _rounded(values):
    if isinstance(values, (list, tuple)):
        return "(" + ", ".join(str(_rounded(v)) for v in values) + ")"
    return f"{values:.4g}" if isinstance(values, float) else str(values)
