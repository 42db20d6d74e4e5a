"""labtools: a workbench for medical-image segmentation.

One package behind three faces: course notebooks, a napari plugin and a
grader. Submodules load on first use, so ``import labtools`` stays fast and
pulls in neither torch nor any GUI toolkit:

>>> import labtools
>>> image, labels = labtools.datasets.phantom((32, 32), seed=0)
>>> labtools.__version__
'0.1.0'
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Public submodules, imported lazily (PEP 562) on first attribute access.
_SUBMODULES = frozenset({
    "cli", "datasets", "errors", "features", "grading", "io", "labeling", "losses", "metrics", "models",
    "pixel_classifier", "training", "upsampling", "widgets",
})

__all__ = ["__version__", *sorted(_SUBMODULES)]


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"labtools.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'labtools' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)
