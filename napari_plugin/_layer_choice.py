"""Combo boxes that offer the viewer's layers of one kind (the docks' image and labels pickers)."""

from __future__ import annotations

__all__ = ["refill_layer_choice"]


def refill_layer_choice(combo, viewer, kind) -> list[str]:
    """Fill `combo` with the names of the viewer's `kind` layers, keeping the current choice if it is still there.

    Signals are blocked while refilling, so an unchanged choice does not look
    like a new one to whatever listens to the combo box.
    """
    current = combo.currentText()
    names = [layer.name for layer in viewer.layers if isinstance(layer, kind)]
    combo.blockSignals(True)
    try:
        combo.clear()
        combo.addItems(names)
        if current in names:
            combo.setCurrentText(current)
    finally:
        combo.blockSignals(False)
    return names
