"""A deterministic synthetic brain with tumour-like lesions: the default data for CI and lessons.

The anatomy is defined in mm over the field of view (shape x spacing): the
head fills the same fraction of any field of view, and the same field of view
sampled on a finer grid has the same tissue volumes (the fine pattern of the
folds and lesion borders is drawn on the grid, so it differs). Layers, from
outside in:

* background (0) outside an ellipsoidal head;
* CSF (1): a thin shell under the skull plus two ventricles;
* grey matter (2): a cortex whose inner border is folded by a smooth random
  field, like gyri and sulci;
* white matter (3): the core;
* lesions (4): irregular blobs of varied size and contrast, centred in the
  white matter and free to reach into the grey matter, as tumours do.

The intensity is T1-like (WM bright, GM mid, CSF dark), each lesion has its
own contrast, and a smooth multiplicative bias field and Gaussian noise are
added, as in a real scan.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from labtools.errors import InvalidImageError
from labtools.io.image import Image

__all__ = ["phantom", "PHANTOM_CLASSES"]

PHANTOM_CLASSES = {0: "background", 1: "CSF", 2: "grey matter", 3: "white matter", 4: "lesion"}
_TISSUE_INTENSITY = {0: 0.0, 1: 0.15, 2: 0.5, 3: 0.8}


def phantom(shape=(96, 96, 72), *, n_lesions: int = 3, seed: int = 0, spacing=None,
            noise: float = 0.03, bias: float = 0.15) -> tuple[Image, np.ndarray]:
    """Make a synthetic brain-like image and its label map.

    Parameters
    ----------
    shape : tuple of int
        Grid size, 2 values for a 2D slice or 3 for a volume.
    n_lesions : int
        Number of lesions (label 4); they may touch, so the number of connected
        components can be smaller.
    seed : int
        Seed of every random choice: the same arguments give the same arrays.
    spacing : tuple of float, optional
        Voxel size in mm (default 2 mm per axis). The head fills about 85 % of
        the field of view (shape x spacing), so a larger spacing at the same
        shape gives a larger head, not a coarser one.
    noise : float
        Standard deviation of the additive Gaussian noise (white matter ~ 0.8).
    bias : float
        Amplitude of the smooth multiplicative bias field (0 = none).

    Returns
    -------
    image : Image
        float32 intensities with the given spacing.
    labels : numpy.ndarray
        uint8 classes, see ``PHANTOM_CLASSES``.

    Examples
    --------
    >>> img, labels = phantom((64, 64), n_lesions=2, seed=1)
    >>> img.shape, img.array.dtype, sorted(set(labels.ravel().tolist()))
    ((64, 64), dtype('float32'), [0, 1, 2, 3, 4])
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or min(shape) < 16:
        raise InvalidImageError(f"phantom shape must be 2 or 3 sizes of at least 16, got {shape}")
    if n_lesions < 0:
        raise InvalidImageError(f"n_lesions must be >= 0, got {n_lesions}")
    spacing = tuple(float(s) for s in (spacing or (2.0,) * len(shape)))
    if len(spacing) != len(shape):
        raise InvalidImageError(f"spacing {spacing} does not match the {len(shape)}D shape {shape}")
    rng = np.random.default_rng(seed)

    # Physical coordinates (mm) relative to the centre of the field of view.
    extent = np.array(shape) * np.array(spacing)
    coords = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing)],
                         indexing="ij", sparse=True)
    semi_axes = 0.42 * extent
    radius = np.sqrt(sum((c / a) ** 2 for c, a in zip(coords, semi_axes)))

    folds = _smooth_field(shape, spacing, rng, scale_mm=0.06 * extent.min())
    labels = np.zeros(shape, dtype=np.uint8)
    labels[radius < 1.0 + 0.02 * folds] = 1                  # CSF shell
    labels[radius < 0.93 + 0.02 * folds] = 2                 # cortex
    labels[radius < 0.72 + 0.12 * folds] = 3                 # white matter, folded border
    ventricle_axes = semi_axes * np.array([0.12, 0.3, 0.18][: len(shape)])
    for side in (-1, 1):
        offset = np.zeros(len(shape))
        offset[0] = side * 0.15 * semi_axes[0]
        inside = sum(((c - o) / a) ** 2 for c, o, a in zip(coords, offset, ventricle_axes)) < 1
        labels[inside] = 1

    intensity = np.vectorize(_TISSUE_INTENSITY.get, otypes=[np.float32])(labels)
    for _ in range(n_lesions):
        lesion = _lesion_mask(labels, coords, semi_axes, spacing, rng)
        contrast = rng.uniform(0.15, 0.6) * rng.choice([-1.0, 1.0])
        labels[lesion] = 4
        intensity[lesion] = np.clip(_TISSUE_INTENSITY[3] + contrast, 0.05, 1.5)

    # Partial-volume blur, then bias field and noise, as a scanner would.
    intensity = ndi.gaussian_filter(intensity, sigma=[0.6 * min(spacing) / s for s in spacing])
    if bias:
        field = _smooth_field(shape, spacing, rng, scale_mm=0.35 * extent.min())
        intensity *= (1.0 + bias * field / max(np.abs(field).max(), 1e-6)).astype(np.float32)
    intensity += rng.normal(0.0, noise, size=shape).astype(np.float32)
    image = Image(intensity.astype(np.float32), spacing=spacing,
                  meta={"dataset": "phantom", "classes": PHANTOM_CLASSES, "seed": seed})
    return image, labels


def _smooth_field(shape, spacing, rng, scale_mm: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian random field with correlation length ~scale_mm."""
    white = rng.standard_normal(shape)
    field = ndi.gaussian_filter(white, sigma=[scale_mm / s for s in spacing], mode="wrap")
    field -= field.mean()
    return field / max(field.std(), 1e-12)


def _lesion_mask(labels, coords, semi_axes, spacing, rng) -> np.ndarray:
    """An irregular blob centred in the white matter (it may grow into grey matter), 8-28 mm across."""
    candidates = np.argwhere(labels == 3)
    if len(candidates) == 0:
        return np.zeros(labels.shape, dtype=bool)
    centre_index = candidates[rng.integers(len(candidates))]
    centre = [np.squeeze(c).reshape(-1)[i] for c, i in zip(coords, centre_index)]
    radii = rng.uniform(4.0, 14.0) * rng.uniform(0.7, 1.3, size=len(coords))
    distance = np.sqrt(sum(((c - m) / r) ** 2 for c, m, r in zip(coords, centre, radii)))
    ragged = _smooth_field(labels.shape, spacing, rng, scale_mm=float(radii.mean()) / 2)
    blob = (distance < 1.0 + 0.25 * ragged) & (labels >= 2)
    # The ragged border can split off crumbs; a lesion is one connected piece.
    pieces, count = ndi.label(blob)
    if count > 1:
        blob = pieces == 1 + np.argmax(np.bincount(pieces.ravel())[1:])
    return blob
