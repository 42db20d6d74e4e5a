"""Live training curves for the Training dock: one pyqtgraph plot, one point per epoch and curve."""

from __future__ import annotations

import math

import pyqtgraph as pg
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

__all__ = ["CurvesPlot", "CURVES"]

# history column -> (legend label, pen colour). Losses and Dice share one axis: both live
# around 0..1 after the first epochs, and one plot keeps the dock short.
CURVES = {"train_loss": ("training loss", "#4c9be8"),
          "val_loss": ("validation loss", "#f28e2b"),
          "val_dice": ("validation Dice", "#59a14f")}


class CurvesPlot(QWidget):
    """Training loss, validation loss and validation Dice against the epoch.

    :meth:`add` appends one epoch's record (a :func:`labtools.training.fit_iter`
    record); a field the record lacks (no validation data) or a NaN Dice (no
    foreground yet) adds no point to that curve.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="k")
        self.plot.setMinimumHeight(180)
        self.plot.setLabel("bottom", "epoch")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.curves = {key: self.plot.plot([], [], pen=pg.mkPen(colour, width=2),
                                           symbol="o", symbolSize=5, symbolBrush=colour)
                       for key, (_, colour) in CURVES.items()}
        self._points = {key: ([], []) for key in CURVES}
        # The legend sits above the plot, never on the curves (they start where a legend would).
        legend = QLabel("&nbsp;&nbsp;".join(f'<span style="color:{colour}">&#9679; {name}</span>'
                                            for name, colour in CURVES.values()))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(legend)
        layout.addWidget(self.plot)

    def clear(self) -> None:
        """Forget every point (a new run starts)."""
        for key, curve in self.curves.items():
            self._points[key] = ([], [])
            curve.setData([], [])

    def add(self, record: dict) -> None:
        """Append the epoch `record` to each curve it has a finite value for."""
        for key, curve in self.curves.items():
            value = record.get(key)
            if value is None or not math.isfinite(value):
                continue
            epochs, values = self._points[key]
            epochs.append(record["epoch"])
            values.append(float(value))
            curve.setData(epochs, values)

    def points(self, key: str) -> tuple[list, list]:
        """(epochs, values) drawn for the curve `key` (a copy)."""
        epochs, values = self._points[key]
        return list(epochs), list(values)
