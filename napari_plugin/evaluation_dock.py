"""Evaluation dock: a prediction Labels layer against a reference, per label, in mm and ml.

Every number comes from :func:`labtools.metrics.evaluate`, the function the
``labtools evaluate`` command and the course use, so a score in the dock is
the score anywhere else. The dock only picks the inputs, runs the metric in
a worker thread and shows the result; empty masks are spelled out with the
policy of ``docs/metrics.md`` (+inf: exactly one mask empty; NaN: both).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from napari.layers import Labels
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from labtools.errors import LabtoolsError
from labtools.metrics import evaluate
from labtools.metrics.batch import present_labels, write_csv

from napari_plugin._scroll import scrolling_layout

__all__ = ["EvaluationDock", "COLUMNS", "format_value"]

#: Table columns: (header, key in evaluate()'s result, kind of number).
COLUMNS = (
    ("Dice", "dice", "score"),
    ("IoU", "iou", "score"),
    ("HD95 mm", "hd95", "mm"),
    ("ASSD mm", "assd", "mm"),
    ("NSD", "nsd", "score"),
    ("ref ml", "volume_ref_ml", "ml"),
    ("pred ml", "volume_pred_ml", "ml"),
    ("lesions ref", "lesions_ref", "count"),
    ("found", "lesions_tp", "count"),
    ("FP", "lesions_fp", "count"),
)

_DIGITS = {"score": 4, "mm": 2, "ml": 3}


def format_value(value, kind: str) -> str:
    """The table text for one metric value, with empty-mask cases in words.

    Examples
    --------
    >>> format_value(0.91234, "score"), format_value(float("inf"), "mm"), format_value(float("nan"), "mm")
    ('0.9123', 'inf (one mask empty)', 'n/a (both empty)')
    """
    if kind == "count":
        return str(int(value))
    value = float(value)
    if math.isnan(value):
        return "n/a (both empty)"
    if math.isinf(value):
        return "inf (one mask empty)"
    return f"{value:.{_DIGITS[kind]}f}"


class EvaluationDock(QWidget):
    """Compare a prediction Labels layer with a reference Labels layer.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer whose Labels layers are offered (npe2 widget contract).

    Attributes
    ----------
    results : dict
        The last result of :func:`labtools.metrics.evaluate`, ``{label: {metric: value}}``.
    worker : napari.qt.threading.FunctionWorker or None
        The running (or last) computation.
    """

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.results: dict = {}
        self.worker = None
        self._inputs: dict = {}
        self._exact_spacing: tuple[float, ...] = ()

        self.pred_combo = QComboBox()
        self.ref_combo = QComboBox()
        self.spacing_edit = QLineEdit()
        self.spacing_edit.setToolTip("Voxel size in mm per axis (from the reference layer's scale)")
        self.tolerance_spin = QDoubleSpinBox()
        self.tolerance_spin.setRange(0.0, 100.0)
        self.tolerance_spin.setDecimals(2)
        self.tolerance_spin.setValue(1.0)
        self.tolerance_spin.setSuffix(" mm")
        self.labels_edit = QLineEdit()
        self.labels_edit.setPlaceholderText("all non-zero values")
        self.labels_edit.setToolTip("Comma-separated label values; empty: every non-zero value "
                                    "present in either layer")
        self.compute_button = QPushButton("Compute")
        self.export_button = QPushButton("Export CSV")
        self.export_button.setEnabled(False)
        self.status = QLabel("")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([header for header, _, _ in COLUMNS])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

        form = QFormLayout()
        form.addRow("prediction", self.pred_combo)
        form.addRow("reference", self.ref_combo)
        form.addRow("spacing (mm)", self.spacing_edit)
        form.addRow("NSD tolerance", self.tolerance_spin)
        form.addRow("labels", self.labels_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.compute_button)
        buttons.addWidget(self.export_button)
        layout = scrolling_layout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.table)

        self.ref_combo.currentTextChanged.connect(self._show_reference_spacing)
        self.compute_button.clicked.connect(self.compute)
        self.export_button.clicked.connect(self._ask_export_path)
        self.viewer.layers.events.inserted.connect(self._refresh_layers)
        self.viewer.layers.events.removed.connect(self._refresh_layers)
        self._refresh_layers()

    # ---- inputs --------------------------------------------------------------------------
    def _label_layer_names(self) -> list[str]:
        return [layer.name for layer in self.viewer.layers if isinstance(layer, Labels)]

    def _refresh_layers(self, event=None) -> None:
        """Offer the current Labels layers, keeping the user's choices when they still exist."""
        names = self._label_layer_names()
        previous = (self.pred_combo.currentText(), self.ref_combo.currentText())
        for combo in (self.pred_combo, self.ref_combo):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            combo.blockSignals(False)
        # Default guess: the reference was there first, the prediction is the newest layer.
        pred = previous[0] if previous[0] in names else (names[-1] if names else "")
        ref = previous[1] if previous[1] in names else (names[0] if names else "")
        self.pred_combo.setCurrentText(pred)
        self.ref_combo.setCurrentText(ref)
        if ref != previous[1]:
            self._show_reference_spacing(ref)

    def _show_reference_spacing(self, name: str) -> None:
        if name not in self.viewer.layers:
            return
        # Keep the exact scale: the text is rounded for reading, and NIfTI spacings are
        # float32 values such as 0.800000011920929.
        self._exact_spacing = tuple(float(s) for s in self.viewer.layers[name].scale)
        self.spacing_edit.setText(self._spacing_text(self._exact_spacing))

    @staticmethod
    def _spacing_text(spacing) -> str:
        return ", ".join(f"{s:.6g}" for s in spacing)

    def spacing(self) -> tuple[float, ...]:
        """The spacing in mm the metrics will use: the reference scale unless the user edited it."""
        text = self.spacing_edit.text()
        if self._exact_spacing and text == self._spacing_text(self._exact_spacing):
            return self._exact_spacing
        try:
            return tuple(float(part) for part in text.replace(",", " ").split())
        except ValueError:
            raise _InputError(f"spacing must be numbers in mm separated by commas, got {text!r}") from None

    def labels(self, pred: np.ndarray, ref: np.ndarray) -> list[int]:
        """The labels to score: the user's list, else every non-zero value in either map."""
        text = self.labels_edit.text().strip()
        if not text:
            return present_labels(pred, ref)
        try:
            return [int(part) for part in text.replace(",", " ").split()]
        except ValueError:
            raise _InputError(f"labels must be whole numbers separated by commas, got {text!r}") from None

    # ---- computation ---------------------------------------------------------------------
    def compute(self) -> None:
        """Start :func:`labtools.metrics.evaluate` on the chosen layers in a worker thread."""
        pred_name, ref_name = self.pred_combo.currentText(), self.ref_combo.currentText()
        if not pred_name or not ref_name:
            show_error("Choose a prediction and a reference Labels layer first.")
            return
        # Copies: the annotator may keep painting while the worker reads the arrays.
        pred = np.array(self.viewer.layers[pred_name].data)
        ref = np.array(self.viewer.layers[ref_name].data)
        try:
            spacing, labels = self.spacing(), self.labels(pred, ref)
        except _InputError as err:
            show_error(str(err))
            return
        self._inputs = {"prediction": pred_name, "reference": ref_name, "spacing": spacing,
                        "tolerance": self.tolerance_spin.value()}
        self.compute_button.setEnabled(False)
        self.status.setText(f"computing {len(labels)} label(s)…")
        # Passing "errored" in _connect replaces the worker's default handler, which
        # would re-raise every error (a traceback in napari) before ours runs.
        self.worker = create_worker(
            evaluate, pred, ref, spacing=spacing, labels=labels,
            tolerance=self._inputs["tolerance"],
            _connect={"returned": self._show_results, "errored": self._show_error,
                      "finished": lambda: self.compute_button.setEnabled(True)})

    def _show_results(self, results: dict) -> None:
        self.results = results
        self.table.setRowCount(len(results))
        self.table.setVerticalHeaderLabels([f"label {label}" for label in results])
        for row, scores in enumerate(results.values()):
            for column, (_, key, kind) in enumerate(COLUMNS):
                item = QTableWidgetItem(format_value(scores[key], kind))
                item.setData(Qt.ItemDataRole.UserRole, float(scores[key]))  # the exact value
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self._fit_columns()
        self.export_button.setEnabled(bool(results))
        inputs = self._inputs
        self.status.setText(f"{inputs['prediction']} vs {inputs['reference']}, spacing "
                            f"{self._spacing_text(inputs['spacing'])} mm, NSD tolerance "
                            f"{inputs['tolerance']:g} mm")
        if not results:
            show_info("Both layers are empty: no label to evaluate.")

    def _fit_columns(self, widest: int = 80) -> None:
        # Wrap long cells ("inf (one mask empty)") onto two lines rather than let two
        # of them push the lesion columns out of a narrow dock.
        self.table.resizeColumnsToContents()
        for column in range(self.table.columnCount()):
            self.table.setColumnWidth(column, min(self.table.columnWidth(column), widest))
        self.table.resizeRowsToContents()

    def _show_error(self, err: Exception) -> None:
        self.status.setText("")
        if isinstance(err, LabtoolsError):
            show_error(str(err))
            return
        raise err  # a bug, not a user error: let napari report it with its traceback

    # ---- export --------------------------------------------------------------------------
    def _ask_export_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export metrics", "metrics.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path) -> Path | None:
        """Write the last results, one row per label with every metric of ``evaluate``.

        Values are written in full precision; inf and NaN as ``inf`` and
        ``nan`` (Python's ``float()`` reads them back). Returns the path, or
        None when the file cannot be written (the reason is shown).
        """
        path = Path(path)
        inputs = self._inputs
        provenance = {"prediction": inputs.get("prediction"), "reference": inputs.get("reference"),
                      "spacing_mm": " ".join(repr(s) for s in inputs.get("spacing", ())),
                      "nsd_tolerance_mm": inputs.get("tolerance")}
        rows = [{**provenance, "label": label, **scores} for label, scores in self.results.items()]
        try:
            write_csv(path, rows)
        except OSError as err:
            show_error(f"{path}: cannot write the CSV ({err.strerror or err})")
            return None
        show_info(f"Saved {len(rows)} row(s) to {path}")
        return path


class _InputError(ValueError):
    """A value typed in the dock cannot be used (not a labtools error: nothing was computed)."""
