"""Feature settings of the labeling dock: a preset, or custom scales and filters."""

from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGridLayout, QLineEdit, QWidget

from labtools.errors import InvalidImageError
from labtools.features import FEATURE_PRESETS as PRESETS
from labtools.features import FEATURES

__all__ = ["FeatureSettings", "PRESETS"]

CUSTOM = "custom"


class FeatureSettings(QWidget):
    """Preset combo box, plus editable scales and filter check boxes for "custom".

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
        self.sigmas.setToolTip("Scales in voxels, separated by commas (e.g. 0.7, 1.6, 3.5)")
        self.filters = {name: QCheckBox(name) for name in FEATURES}
        grid = QGridLayout()
        for i, box in enumerate(self.filters.values()):
            grid.addWidget(box, i // 3, i % 3)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("features", self.preset)
        form.addRow("scales", self.sigmas)
        form.addRow("filters", grid)
        self._show(*PRESETS[self.preset.currentText()])
        self.preset.currentTextChanged.connect(self._on_preset)
        self.sigmas.editingFinished.connect(self.changed)
        for box in self.filters.values():
            box.toggled.connect(self.changed)

    def values(self) -> tuple[tuple[float, ...], tuple[str, ...]]:
        """The chosen ``(sigmas, features)``.

        Raises
        ------
        InvalidImageError
            When the custom scales are not positive numbers or no filter is ticked.
        """
        name = self.preset.currentText()
        if name in PRESETS:
            return PRESETS[name]
        try:
            sigmas = tuple(float(s) for s in self.sigmas.text().replace(";", ",").split(",") if s.strip())
        except ValueError:
            raise InvalidImageError(f"feature scales must be numbers separated by commas, got "
                                    f"{self.sigmas.text()!r}") from None
        if not sigmas or min(sigmas) <= 0:
            raise InvalidImageError(f"feature scales must be positive numbers, got {self.sigmas.text()!r}")
        features = tuple(name for name, box in self.filters.items() if box.isChecked())
        if not features:
            raise InvalidImageError("tick at least one feature filter")
        return sigmas, features

    def set_values(self, sigmas, features) -> None:
        """Show given settings (e.g. of a loaded classifier): their preset, else "custom"."""
        sigmas, features = tuple(float(s) for s in sigmas), tuple(features)
        match = [name for name, value in PRESETS.items() if value == (sigmas, features)]
        self.blockSignals(True)
        try:
            self.preset.setCurrentText(match[0] if match else CUSTOM)
            self._show(sigmas, features)
        finally:
            self.blockSignals(False)

    def _on_preset(self, name: str) -> None:
        if name in PRESETS:
            self._show(*PRESETS[name])
        self.changed.emit()

    def _show(self, sigmas, features) -> None:
        # Presets are shown read-only so the user sees what they mean; "custom" unlocks them.
        editable = self.preset.currentText() == CUSTOM
        self.sigmas.setText(", ".join(f"{s:g}" for s in sigmas))
        self.sigmas.setEnabled(editable)
        for name, box in self.filters.items():
            box.blockSignals(True)
            box.setChecked(name in features)
            box.blockSignals(False)
            box.setEnabled(editable)
