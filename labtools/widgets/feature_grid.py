"""Choose the pixel classifier's features in a notebook: ilastik's grid of filters × scales.

The notebook face of :mod:`labtools.features.grid`, the same settings the napari dock edits.
"""

from __future__ import annotations

import ipywidgets as widgets
from sklearn.base import clone

from labtools.errors import LabtoolsError, ParameterError
from labtools.features import FEATURE_PRESETS, FEATURES, SIGMA_UNITS, classifier_settings, parse_scales, preset_grid

__all__ = ["FeatureGrid"]

CUSTOM = "custom"


class FeatureGrid(widgets.VBox):
    """A preset, or ticks in a filters × scales grid, and the unit of the scales.

    Parameters
    ----------
    session : LabelingSession, optional
        "apply" gives it a classifier with these features (its other settings kept).

    Examples
    --------
    >>> grid = FeatureGrid()
    >>> grid.preset.value = "custom"
    >>> grid.scales.value = "1, 3.5"
    >>> grid.cell("hessian", 1.0).value = False
    >>> settings = grid.values()
    >>> settings["features"]["hessian"], settings["sigma_unit"]
    ((3.5,), 'voxel')
    """

    def __init__(self, session=None) -> None:
        self.session = session
        self.preset = widgets.Dropdown(options=[*FEATURE_PRESETS, CUSTOM], description="features")
        self.scales = widgets.Text(description="scales", continuous_update=False)
        self.unit = widgets.ToggleButtons(options=SIGMA_UNITS, description="unit")
        self.table = widgets.GridBox(layout=widgets.Layout(grid_gap="2px"))
        self.apply_button = widgets.Button(description="apply", disabled=session is None)
        self.status = widgets.HTML()
        self._cells: dict[tuple[str, float], widgets.Checkbox] = {}
        self._planar: dict[float, widgets.Checkbox] = {}  # scales computed in 2D, slice by slice
        self._updating = False
        self._show(preset_grid(self.preset.value))
        self.preset.observe(self._on_preset, names="value")
        self.scales.observe(self._on_scales, names="value")
        self.apply_button.on_click(lambda _: self.apply())
        super().__init__([self.preset, self.scales, self.unit, self.table, self.apply_button, self.status])

    def cell(self, feature: str, scale: float) -> widgets.Checkbox:
        """The check box of `feature` at `scale` (`feature` "2D": that scale computed slice by slice)."""
        if feature == "2D":
            return self._planar[float(scale)]
        return self._cells[(feature, float(scale))]

    def values(self) -> dict:
        """``PixelClassifier`` settings: ``sigmas``, ``features`` (names or a grid), ``sigma_unit``."""
        if self.preset.value != CUSTOM:
            sigmas, features = FEATURE_PRESETS[self.preset.value]
            return {"sigmas": tuple(sigmas), "features": tuple(features), "sigma_unit": self.unit.value}
        sigmas = parse_scales(self.scales.value)
        grid = {name: tuple(s for s in sigmas if (name, s) in self._cells and self._cells[(name, s)].value)
                for name in FEATURES}
        in_plane = tuple(s for s in sigmas if s in self._planar and self._planar[s].value)
        return classifier_settings(sigmas, grid, self.unit.value, in_plane)

    def apply(self) -> bool:
        """Give the session a classifier with these features; False (and why in `status`) if not."""
        if self.session is None:
            return False
        try:
            classifier = clone(self.session.classifier).set_params(**self.values())
            self.session.set_classifier(classifier)
        except (LabtoolsError, ParameterError) as err:
            self.status.value = f"<span style='color:#b00'>{err}</span>"
            return False
        self.status.value = "features applied: the next update refits on the current scribbles"
        return True

    def _on_preset(self, change) -> None:
        if change["new"] != CUSTOM:
            self._planar = {}  # presets compute every scale in 3D
            self._show(preset_grid(change["new"]))
        else:
            self._set_editable(True)

    def _on_scales(self, change) -> None:
        if self._updating:
            return
        try:
            scales = parse_scales(change["new"])
        except ParameterError as err:
            self.status.value = f"<span style='color:#b00'>{err}</span>"
            return
        old = sorted({s for _, s in self._cells})
        if scales != tuple(old):
            grid = {name: tuple(s for s in old if self._cells[(name, s)].value)
                    + tuple(s for s in scales if s not in old) for name in FEATURES}
            self._show(grid, scales)

    def _show(self, grid, scales=None) -> None:
        scales = tuple(sorted({float(s) for at in grid.values() for s in at})) if scales is None else scales
        self._updating = True  # the scales box shows the grid's scales without rebuilding it again
        try:
            self.scales.value = ", ".join(f"{s:g}" for s in scales)
        finally:
            self._updating = False
        self._cells = {(name, s): widgets.Checkbox(value=any(abs(s - t) < 1e-9 for t in grid.get(name, ())),
                                                   indent=False, layout=widgets.Layout(width="auto"),
                                                   description="", tooltip=f"{name} at {s:g}")
                       for name in FEATURES for s in scales}
        header = [widgets.Label("")] + [widgets.Label(f"{s:g}") for s in scales]
        rows = [item for name in FEATURES
                for item in [widgets.Label(name)] + [self._cells[(name, s)] for s in scales]]
        old_planar = {s for s, box in self._planar.items() if box.value}
        self._planar = {s: widgets.Checkbox(value=s in old_planar, indent=False, description="",
                                            layout=widgets.Layout(width="auto"),
                                            tooltip=f"scale {s:g} in 2D: each slice on its own")
                        for s in scales}
        rows += [widgets.Label("2D")] + [self._planar[s] for s in scales]
        self.table.children = header + rows
        self.table.layout.grid_template_columns = f"110px repeat({len(scales)}, 48px)"
        self._set_editable(self.preset.value == CUSTOM)

    def _set_editable(self, editable: bool) -> None:
        self.scales.disabled = not editable
        for box in [*self._cells.values(), *self._planar.values()]:
            box.disabled = not editable

