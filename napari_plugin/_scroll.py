"""Docks that scroll: three docks side by side must fit a 1280×800 screen."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

__all__ = ["scrolling_layout"]


def scrolling_layout(dock: QWidget) -> QVBoxLayout:
    """A vertical layout for `dock`'s content, inside a scroll area that fills the dock.

    Without it a dock asks for the height of all its rows, and napari grows
    the window past the screen instead of scrolling.
    """
    content = QWidget()
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
    area.setWidget(content)
    outer = QVBoxLayout(dock)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(area)
    return QVBoxLayout(content)
