"""Intensity normalisation, chosen by the plan and applied alike in training, validation and prediction.

Three schemes, as nnU-Net chooses them:

- ``"zscore"``: each image, each channel, to zero mean and unit standard
  deviation on its own (a scanner's intensity scale does not matter).
- ``"zscore_body"``: the same, but the statistics come from the body only
  (voxels that are non-zero in any channel) and the air outside is set to 0.
  MRI: when most of the volume is air, whole-image statistics describe the air.
- ``"ct"``: Hounsfield units mean something, so every image gets the same
  transform: clip to the 0.5 and 99.5 percentiles of the training foreground,
  subtract its mean and divide by its standard deviation (dataset statistics).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from labtools.errors import TrainingError

__all__ = ["Normalization", "SCHEMES", "normalize_intensity"]

SCHEMES = ("zscore", "zscore_body", "ct")


@dataclass(frozen=True)
class Normalization:
    """How to turn raw intensities into network inputs; call it on a (C, *spatial) array.

    Parameters
    ----------
    scheme : {"zscore", "zscore_body", "ct"}
        See the module's description.
    clip : list of (low, high), optional
        Per channel, for ``"ct"``: the training foreground's 0.5 and 99.5 percentiles.
    mean, std : list of float, optional
        Per channel, for ``"ct"``: the clipped training foreground's statistics.

    Examples
    --------
    >>> image = np.array([[0.0, 0.0, 2.0, 4.0]])          # two air voxels, two body voxels
    >>> Normalization("zscore_body")(image).tolist()
    [[0.0, 0.0, -1.0, 1.0]]
    >>> Normalization("ct", clip=[(-100.0, 100.0)], mean=[0.0], std=[50.0])(np.array([[-1000.0, 50.0]])).tolist()
    [[-2.0, 1.0]]
    """

    scheme: str = "zscore"
    clip: list | None = None
    mean: list | None = None
    std: list | None = None

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise TrainingError(f"unknown normalisation {self.scheme!r}; choose one of {', '.join(SCHEMES)}")
        if self.scheme == "ct" and (self.clip is None or self.mean is None or self.std is None):
            raise TrainingError("the 'ct' normalisation needs the dataset's clip range, mean and std "
                                "(labtools.training.plan computes them from the training foreground)")

    def __call__(self, image) -> np.ndarray:
        image = np.asarray(image, dtype=np.float32)
        axes = tuple(range(1, image.ndim))
        if self.scheme == "ct":
            low, high = (np.asarray(v, np.float32).reshape(-1, *[1] * len(axes)) for v in zip(*self.clip))
            mean = np.asarray(self.mean, np.float32).reshape(-1, *[1] * len(axes))
            std = np.asarray(self.std, np.float32).reshape(-1, *[1] * len(axes))
            return (np.clip(image, low, high) - mean) / np.maximum(std, 1e-8)
        if self.scheme == "zscore_body":
            body = (image != 0).any(axis=0)
            if body.any() and not body.all():
                inside = image[:, body]
                mean = inside.mean(axis=1).reshape(-1, *[1] * len(axes))
                std = inside.std(axis=1).reshape(-1, *[1] * len(axes))
                return np.where(body, (image - mean) / np.maximum(std, 1e-8), 0.0).astype(np.float32)
        return normalize_intensity(image)

    def to_dict(self) -> dict:
        """Plain JSON-able fields (stored in plans and checkpoints)."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, fields: dict | None) -> "Normalization":
        """The normalisation a plan or checkpoint recorded; whole-image z-score when none was."""
        if not fields:
            return cls()
        clip = fields.get("clip")
        return cls(fields.get("scheme", "zscore"), clip=[tuple(pair) for pair in clip] if clip else None,
                   mean=fields.get("mean"), std=fields.get("std"))


def normalize_intensity(image: np.ndarray) -> np.ndarray:
    """Per-channel z-score (zero mean, unit std), as float32; (C, *spatial) in and out.

    Examples
    --------
    >>> z = normalize_intensity(np.array([[1.0, 2.0, 3.0]]))
    >>> print(z.round(3))
    [[-1.225  0.     1.225]]
    """
    image = np.asarray(image, dtype=np.float32)
    axes = tuple(range(1, image.ndim))
    mean = image.mean(axis=axes, keepdims=True)
    std = image.std(axis=axes, keepdims=True)
    return (image - mean) / np.maximum(std, 1e-8)
