"""The notebook face of labtools: ipywidgets that show images, labels, metrics and training.

Every widget is an ``ipywidgets`` widget: make it the last expression of a
cell and it is shown. Pictures are rendered in Python
(:mod:`labtools.widgets.render`, numpy and Pillow) and sent as PNG, so the
widgets work offline, in JupyterLab, Notebook 7 and VS Code, and in tests
without a browser. Every widget can also be driven from code (set a slider's
``value``, call ``paint``), which is how tests and instructors use them.

- :class:`SliceViewer`: browse a 2D/3D image with a label overlay.
- :class:`ScribbleCanvas`: paint scribbles, watch a pixel classifier predict.
- :class:`FeatureGrid`: the classifier's features, ilastik's filters × scales grid.
- :class:`MetricExplorer`: perturb a mask, watch Dice, HD95, NSD... react.
- :func:`live_curves`: fit()'s live loss and Dice curves.
- :func:`view3d`: three planes in ipyniivue (WebGL, offline) or a SliceViewer.
- :func:`perturb` and the :mod:`~labtools.widgets.render` functions: the
  GUI-free parts, usable without ipywidgets.

This is the only part of labtools that imports ipywidgets, anywidget or
ipyniivue, and nothing else in labtools imports it (import-linter checks
both, see pyproject.toml). The names load on first use, so that
``labtools.widgets.render`` and ``labtools.widgets.perturb`` work where no
widget library is installed.

Examples
--------
>>> import numpy as np
>>> from labtools import widgets
>>> reference = np.zeros((32, 32), bool); reference[8:24, 8:24] = True
>>> explorer = widgets.MetricExplorer(reference)
>>> explorer.grow_slider.value = 2
>>> round(explorer.values["dice"], 3)   # 16x16 square against the square dilated by a disk of radius 2
0.795
"""

from __future__ import annotations

import importlib

# GUI-free, so imported now; this also makes `labtools.widgets.perturb` the function, not the module.
from labtools.widgets.perturb import perturb

# The widgets: public name -> module that defines it (PEP 562 lazy loading, as in labtools/__init__.py).
_EXPORTS = {
    "SliceViewer": "slice_viewer",
    "ScribbleCanvas": "scribble",
    "MetricExplorer": "metric_explorer",
    "live_curves": "curves",
    "view3d": "volume_view",
    "FeatureGrid": "feature_grid",
}

__all__ = ["FeatureGrid", "MetricExplorer", "ScribbleCanvas", "SliceViewer", "live_curves", "perturb", "view3d"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"labtools.widgets.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'labtools.widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
