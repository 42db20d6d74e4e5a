"""Feature settings of the labeling dock: a preset, or ilastik's grid of filters × scales.

The grid is the Qt face of :mod:`labtools.features.grid` (the notebook widget edits the same
settings): one row per filter, one column per scale, a tick where the filter is computed at
that scale, and the unit of the scales (voxels, or mm from the image's spacing).
"""

from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGridLayout, QLabel, QLineEdit, QWidget

from labtools.errors import ParameterError
from labtools.features import FEATURE_PRESETS as PRESETS
from labtools.features import FEATURES, SIGMA_UNITS, classifier_settings, parse_scales, preset_grid

__all__ = ["FeatureSettings", "PRESETS"]

CUSTOM = "custom"


class FeatureSettings(QWidget):
    """Preset combo box; scales, unit and the filters × scales grid, editable for "custom".

    Signals
    -------
    changed
        Emitted when the user picks another preset or edits the custom settings.
    """

    changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.preset = QComboBox()
        self.preset.addItems([*PRESETS, CUSTOM])
        self.sigmas = QLineEdit()
        self.sigmas.setToolTip("Scales separated by commas (e.g. 0.7, 1.6, 3.5); press Enter to update the grid")
        self.unit = QComboBox()
        self.unit.addItems(SIGMA_UNITS)
        self.unit.setToolTip("voxel: scales in voxels; mm: scales in mm, through the image's spacing")
        self._grid_widget = QWidget()
        self._grid = QGridLayout(self._grid_widget)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self.cells: dict[tuple[str, float], QCheckBox] = {}
        self.planar: dict[float, QCheckBox] = {}  # scales computed in 2D, slice by slice
        self._scales: tuple[float, ...] = ()
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("features", self.preset)
        form.addRow("scales", self.sigmas)
        form.addRow("unit", self.unit)
        form.addRow(self._grid_widget)
        self._show(preset_grid(self.preset.currentText()), "voxel")
        self.preset.currentTextChanged.connect(self._on_preset)
        self.sigmas.editingFinished.connect(self._on_scales_edited)
        self.unit.currentTextChanged.connect(lambda _: self.changed.emit())

    @property
    def filters(self) -> dict[str, list[QCheckBox]]:
        """The grid's check boxes per filter (one per scale)."""
        return {name: [self.cells[(name, s)] for s in self._scales] for name in FEATURES}

    def values(self) -> dict:
        """``PixelClassifier`` settings: ``sigmas``, ``features`` (names or a grid), ``sigma_unit``.

        Raises
        ------
        ParameterError
            When the custom scales are not positive numbers or nothing is ticked.
        """
        name = self.preset.currentText()
        if name in PRESETS:
            sigmas, features = PRESETS[name]
            return {"sigmas": tuple(sigmas), "features": tuple(features), "sigma_unit": self.unit.currentText()}
        sigmas = parse_scales(self.sigmas.text())
        grid = {name: tuple(s for s in sigmas if (name, s) in self.cells and self.cells[(name, s)].isChecked())
                for name in FEATURES}
        in_plane = tuple(s for s in sigmas if s in self.planar and self.planar[s].isChecked())
        return classifier_settings(sigmas, grid, self.unit.currentText(), in_plane)

    def set_values(self, sigmas, features, unit: str = "voxel", in_plane=()) -> None:
        """Show given settings (e.g. of a loaded classifier): their preset, else "custom"."""
        sigmas = tuple(float(s) for s in sigmas)
        grid = ({name: tuple(float(s) for s in scales) for name, scales in features.items()}
                if isinstance(features, dict) else {name: sigmas for name in features})
        match = [name for name, value in PRESETS.items()
                 if not isinstance(features, dict) and value == (sigmas, tuple(features))]
        self.blockSignals(True)
        try:
            self.preset.setCurrentText(match[0] if match and not in_plane else CUSTOM)
            self._show(grid, unit, sigmas, in_plane)
        finally:
            self.blockSignals(False)

    # ------------------------------------------------------------------ internals
    def _on_preset(self, name: str) -> None:
        if name in PRESETS:
            self._show(preset_grid(name), self.unit.currentText())
        else:  # "custom" starts from what is shown and unlocks it
            self._set_editable(True)
        self.changed.emit()

    def _on_scales_edited(self) -> None:
        try:
            scales = parse_scales(self.sigmas.text())
        except ParameterError:
            self.changed.emit()  # the dock reports the message
            return
        if scales != self._scales:
            ticked = {name: tuple(s for s in self._scales if self.cells[(name, s)].isChecked())
                      for name in FEATURES}
            # A new scale starts with the filters ticked at most other scales.
            for name in FEATURES:
                if len(ticked[name]) * 2 >= max(1, len(self._scales)):
                    ticked[name] = ticked[name] + tuple(s for s in scales if s not in self._scales)
            planar = tuple(s for s in self._scales if self.planar[s].isChecked())
            self._show(ticked, self.unit.currentText(), scales, planar)
        self.changed.emit()

    def _show(self, grid, unit: str, scales=None, in_plane=()) -> None:
        scales = tuple(sorted({float(s) for at in grid.values() for s in at})) if scales is None else scales
        self._scales = scales
        self.sigmas.setText(", ".join(f"{s:g}" for s in scales))
        self.unit.blockSignals(True)
        self.unit.setCurrentText(unit)
        self.unit.blockSignals(False)
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.cells = {}
        for column, scale in enumerate(scales, start=1):
            self._grid.addWidget(QLabel(f"{scale:g}"), 0, column)
        for row, name in enumerate(FEATURES, start=1):
            self._grid.addWidget(QLabel(name), row, 0)
            for column, scale in enumerate(scales, start=1):
                box = QCheckBox()
                box.setToolTip(f"{name} at scale {scale:g}")
                box.setChecked(any(abs(scale - s) < 1e-9 for s in grid.get(name, ())))
                box.toggled.connect(lambda _checked: self.changed.emit())
                self._grid.addWidget(box, row, column)
                self.cells[(name, scale)] = box
        # ilastik's 2D/3D switch per scale: 2D filters each slice (along the last axis) on its own.
        row = len(FEATURES) + 1
        self._grid.addWidget(QLabel("2D"), row, 0)
        self.planar = {}
        for column, scale in enumerate(scales, start=1):
            box = QCheckBox()
            box.setToolTip(f"scale {scale:g} in 2D: each slice on its own (for slices far apart)")
            box.setChecked(any(abs(scale - s) < 1e-9 for s in in_plane))
            box.toggled.connect(lambda _checked: self.changed.emit())
            self._grid.addWidget(box, row, column)
            self.planar[scale] = box
        self._set_editable(self.preset.currentText() == CUSTOM)

    def _set_editable(self, editable: bool) -> None:
        # Presets are shown read-only so the user sees what they mean; "custom" unlocks them.
        self.sigmas.setEnabled(editable)
        self.unit.setEnabled(True)
        for box in [*self.cells.values(), *self.planar.values()]:
            box.setEnabled(editable)
