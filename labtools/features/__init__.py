"""ilastik's pixel-feature bank: smoothing, edges and texture at several scales.

For each scale σ (in voxels, or in mm when ``spacing`` is given):

============  =================================================  ==========
name          filter                                             channels
============  =================================================  ==========
gaussian      Gaussian smoothing G(σ)                            1
log           Laplacian of Gaussian  Σ ∂²G/∂x_i²                 1
gradient      gradient magnitude of Gaussian  |∇G(σ)|            1
dog           difference of Gaussians  G(σ) − G(0.66σ)           1
structure     eigenvalues of the structure tensor                ndim
              G(0.5σ) * (∇G(σ) ∇G(σ)ᵀ), largest first
hessian       eigenvalues of the Hessian of Gaussian, largest    ndim
              first
============  =================================================  ==========

As in ilastik, scales below 0.5 (the default 0.3) only smooth: the default
seven scales give 61 channels for one 3D channel and 49 in 2D. Kernels are
truncated at 3.5σ. Derivatives are per mm when ``spacing`` is given, so
features mean the same thing on anisotropic voxels.

Why it is fast: at each scale the Gaussian derivatives up to order two are
built from shared separable 1D passes (19 passes in 3D instead of ~40 for
separate scipy calls), eigenvalues are computed in closed form (not
``numpy.linalg.eigvalsh``), scales run in parallel threads (scipy releases
the GIL), and ``roi=`` computes only a region plus the halo its kernels need.
``method="pyramid"`` goes further at a measured cost in exactness: large
scales on coarse grids (:mod:`labtools.features.pyramid`).

``features`` may also be a grid ``{filter: scales}`` (ilastik's feature dialog: a filter at only
some scales); :mod:`~labtools.features.grid` holds what the napari dock and the notebook widget
share to edit one.

Modules: :mod:`~labtools.features.bank` (``feature_stack``),
:mod:`~labtools.features.filters` (one scale), :mod:`~labtools.features.pyramid`
(coarse grids), :mod:`~labtools.features.eigen` (closed-form eigenvalues).
"""

from __future__ import annotations

from labtools.features.bank import (
    DEFAULT_SIGMAS,
    FEATURE_PRESETS,
    METHODS,
    feature_names,
    feature_stack,
    region_slices,
)
from labtools.features.eigen import eigenvalues_symmetric
from labtools.features.filters import FEATURES, TRUNCATE, check_features
from labtools.features.grid import SIGMA_UNITS, classifier_settings, parse_scales, preset_grid

__all__ = ["feature_stack", "feature_names", "region_slices", "FEATURES", "DEFAULT_SIGMAS", "TRUNCATE",
           "FEATURE_PRESETS", "METHODS", "eigenvalues_symmetric", "check_features", "preset_grid",
           "parse_scales", "classifier_settings", "SIGMA_UNITS"]
