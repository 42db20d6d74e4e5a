"""The feature grid that the napari dock and the notebook widget edit: filters × scales, σ unit.

ilastik's feature dialog is a table: one row per filter, one column per scale, a tick where the
filter is computed at that scale. In labtools the same choice is the ``features`` argument of
:func:`~labtools.features.feature_stack` and of the pixel classifier given as a mapping
``{filter: scales}``; this module holds what both user interfaces share: the presets as grids,
parsing typed scales, and the classifier settings of a grid.

Examples
--------
>>> grid = preset_grid("intensity and edges")
>>> sorted(grid), grid["gaussian"]
(['dog', 'gaussian', 'gradient'], (0.7, 1.6, 3.5, 5.0))
>>> parse_scales("0.7, 1.6; 3.5")
(0.7, 1.6, 3.5)
>>> classifier_settings((1.0, 3.5), {"gaussian": (1.0, 3.5), "hessian": (3.5,)}, "mm")["sigma_unit"]
'mm'
"""

from __future__ import annotations

from labtools.errors import ParameterError
from labtools.features.bank import FEATURE_PRESETS
from labtools.features.filters import FEATURES, check_features

__all__ = ["preset_grid", "parse_scales", "classifier_settings", "SIGMA_UNITS", "FEATURES"]

SIGMA_UNITS = ("voxel", "mm")


def preset_grid(name: str) -> dict[str, tuple[float, ...]]:
    """A preset of :data:`~labtools.features.FEATURE_PRESETS` as a grid (every filter at every scale)."""
    if name not in FEATURE_PRESETS:
        raise ParameterError(f"unknown feature preset {name!r}; choose from {list(FEATURE_PRESETS)}")
    sigmas, features = FEATURE_PRESETS[name]
    return {feature: tuple(sigmas) for feature in features}


def parse_scales(text: str) -> tuple[float, ...]:
    """Scales typed by a user ("0.7, 1.6; 3.5"): positive numbers, sorted, without repeats."""
    try:
        scales = tuple(float(s) for s in str(text).replace(";", ",").split(",") if s.strip())
    except ValueError:
        raise ParameterError(f"feature scales must be numbers separated by commas, got {text!r}") from None
    if not scales or min(scales) <= 0:
        raise ParameterError(f"feature scales must be positive numbers, got {text!r}")
    return tuple(sorted(set(scales)))


def classifier_settings(sigmas, grid, unit: str = "voxel", in_plane=()) -> dict:
    """``PixelClassifier`` keyword arguments for a grid: ``sigmas``, ``features``, ``sigma_unit``, ``in_plane``.

    A grid that ticks every filter at every scale becomes a plain list of filters; `in_plane`
    lists the scales computed in 2D (slice by slice).
    """
    if unit not in SIGMA_UNITS:
        raise ParameterError(f"the scale unit must be one of {SIGMA_UNITS}, got {unit!r}")
    sigmas = tuple(float(s) for s in sigmas)
    grid = {name: tuple(float(s) for s in scales) for name, scales in grid.items() if len(scales)}
    if not grid:
        raise ParameterError("tick at least one feature filter at one scale")
    check_features(sigmas, grid)
    in_plane = tuple(float(s) for s in in_plane if any(abs(float(s) - t) < 1e-9 for t in sigmas))
    order = [name for name in FEATURES if name in grid]
    if all(set(grid[name]) == set(sigmas) for name in order):
        return {"sigmas": sigmas, "features": tuple(order), "sigma_unit": unit, "in_plane": in_plane}
    return {"sigmas": sigmas, "features": {name: grid[name] for name in order}, "sigma_unit": unit,
            "in_plane": in_plane}
