"""A dataset's fingerprint: what the plan's rules read (nnU-Net's first step).

Spacings, shapes, intensities inside the labelled foreground, how much of each
image is body (non-zero), class frequencies and the modality, read once from
the training pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labtools.errors import TrainingError
from labtools.io import Image
from labtools.training.data import as_channels_first

__all__ = ["Fingerprint", "fingerprint", "MODALITIES"]

MODALITIES = ("CT", "MRI", "other")
_MRI_WORDS = ("MR", "T1", "T2", "FLAIR", "ADC", "DWI", "PD", "BOLD")
_SAMPLES_PER_CASE = 10_000  # foreground voxels kept per case for the percentiles


@dataclass
class Fingerprint:
    """What a plan needs to know about a dataset.

    Attributes
    ----------
    n_cases : int
        Training pairs.
    shapes : list of tuple
        Spatial shape of each pair (2D slices when the data are slices).
    spacing : tuple of float
        Median voxel size per axis of the pairs (mm; 1.0 where unknown).
    modality : {"CT", "MRI", "other"}
    modality_reason : str
        Where the modality came from (a flag, the dataset, the intensities).
    n_channels : int
    foreground : dict
        Per channel: ``mean``, ``std``, ``p0_5``, ``p99_5`` of the intensities
        of labelled foreground voxels (classes >= 1).
    body_fraction : float
        Mean share of voxels that are non-zero in some channel.
    class_frequencies : dict of int to float
        Share of the labelled voxels in each class.
    """

    n_cases: int
    shapes: list
    spacing: tuple
    modality: str
    modality_reason: str
    n_channels: int
    foreground: dict
    body_fraction: float
    class_frequencies: dict

    @property
    def median_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in np.median(np.array(self.shapes), axis=0))


def fingerprint(pairs, *, spacings=None, modality: str | None = None,
                dataset_modality: str | None = None, seed: int = 0) -> Fingerprint:
    """Read a dataset's fingerprint from its (image, labels) training pairs.

    Parameters
    ----------
    pairs : sequence of (image, labels)
        Images as :class:`~labtools.io.Image` or arrays, (*spatial) or channels
        first; labels 0..K-1, with -1 for unlabelled voxels.
    spacings : sequence of tuple, optional
        Voxel sizes of the pairs, when the images are plain arrays (an Image
        carries its own).
    modality : {"CT", "MRI", "other"}, optional
        Given by the user: wins over everything else.
    dataset_modality : str, optional
        What the dataset says (a Decathlon ``dataset.json``'s "modality").
    seed : int
        For the sample of foreground voxels.

    Examples
    --------
    >>> hu = np.full((20, 20), -1000.0); hu[5:15, 5:15] = 40.0
    >>> labels = np.zeros((20, 20), int); labels[5:15, 5:15] = 1
    >>> print_ = fingerprint([(hu, labels)])
    >>> print_.modality, print_.class_frequencies
    ('CT', {0: 0.75, 1: 0.25})
    """
    pairs = list(pairs)
    if not pairs:
        raise TrainingError("cannot plan from an empty training set")
    rng = np.random.default_rng(seed)
    shapes, voxel_sizes, samples, body, counts = [], [], [], [], {}
    for index, (image, labels) in enumerate(pairs):
        labels = np.asarray(labels)
        array = _channels_first(image, labels.ndim)
        shapes.append(labels.shape)
        voxel_sizes.append(_spacing(image, spacings, index, labels.ndim))
        foreground = labels >= 1
        values = array[:, foreground]
        if values.shape[1] > _SAMPLES_PER_CASE:
            values = values[:, rng.choice(values.shape[1], _SAMPLES_PER_CASE, replace=False)]
        samples.append(values)
        body.append(float((array != 0).any(axis=0).mean()))
        classes, number = np.unique(labels[labels >= 0], return_counts=True)
        for k, n in zip(classes.tolist(), number.tolist()):
            counts[int(k)] = counts.get(int(k), 0) + n
    values = np.concatenate(samples, axis=1)
    n_channels = values.shape[0]
    foreground = {channel: _statistics(values[channel]) for channel in range(n_channels)}
    total = sum(counts.values())
    chosen, reason = _modality(modality, dataset_modality, foreground, pairs)
    return Fingerprint(
        n_cases=len(pairs), shapes=shapes, spacing=tuple(float(v) for v in np.median(voxel_sizes, axis=0)),
        modality=chosen, modality_reason=reason, n_channels=n_channels, foreground=foreground,
        body_fraction=float(np.mean(body)),
        class_frequencies={k: round(n / total, 6) for k, n in sorted(counts.items())})


def _channels_first(image, spatial_dims: int) -> np.ndarray:
    return as_channels_first(image, spatial_dims).astype(np.float32, copy=False)


def _spacing(image, spacings, index: int, spatial_dims: int) -> tuple:
    if spacings is not None:
        spacing = spacings[index] if isinstance(spacings[0], (list, tuple)) else spacings
    elif isinstance(image, Image) and image.spacing is not None:
        spacing = image.spacing
    else:
        spacing = (1.0,) * spatial_dims
    return tuple(float(v) for v in spacing)[-spatial_dims:]


def _statistics(values: np.ndarray) -> dict:
    if values.size == 0:
        return {"mean": 0.0, "std": 1.0, "p0_5": 0.0, "p99_5": 0.0}
    low, high = np.percentile(values, [0.5, 99.5])
    return {"mean": float(values.mean()), "std": float(values.std()), "p0_5": float(low), "p99_5": float(high)}


def _modality(flag, from_dataset, foreground, pairs) -> tuple[str, str]:
    if flag is not None:
        if flag not in MODALITIES:
            raise TrainingError(f"modality must be one of {', '.join(MODALITIES)}, got {flag!r}")
        return flag, "given"
    if from_dataset:
        words = from_dataset.upper()
        if "CT" in words.split() or words == "CT":
            return "CT", f"the dataset says {from_dataset!r}"
        if any(word in words for word in _MRI_WORDS):
            return "MRI", f"the dataset says {from_dataset!r}"
    # Hounsfield units: air is -1000, so CT images reach far below zero where MRI never does.
    lowest = min(float(_channels_first(image, np.asarray(labels).ndim).min()) for image, labels in pairs)
    if lowest <= -500:
        return "CT", f"intensities reach {lowest:.0f} (air in Hounsfield units)"
    return "other", "no modality given; intensities are not Hounsfield units"
