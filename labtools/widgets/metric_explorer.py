"""MetricExplorer: move, grow or shrink a mask and watch Dice, IoU and the distances react."""

from __future__ import annotations

import html
import math

import ipywidgets as widgets
import numpy as np
from scipy import ndimage

from labtools import io, metrics
from labtools.errors import InvalidImageError, ShapeMismatchError
from labtools.widgets._common import legend_html, png_image
from labtools.widgets.perturb import perturb
from labtools.widgets.render import overlay, plane, plane_aspect, to_png

__all__ = ["MetricExplorer", "METRICS"]

# name shown, unit, and which way is better; keys are those of .values
METRICS = {
    "dice": ("Dice", "", "higher"),
    "iou": ("IoU", "", "higher"),
    "hausdorff": ("Hausdorff (HD)", "mm", "lower"),
    "hd95": ("HD95", "mm", "lower"),
    "assd": ("ASSD", "mm", "lower"),
    "nsd": ("NSD", "", "higher"),
}
# Picture: where the masks agree, what the prediction misses, what it adds.
_AGREEMENT_COLORS = np.array([(0, 0, 0), (77, 175, 74), (55, 126, 184), (228, 26, 28)], np.uint8)
_AGREEMENT_NAMES = {1: "both (TP)", 2: "reference only (FN, missed)", 3: "prediction only (FP, extra)"}


# Wide enough for "grow / shrink": ipywidgets' default label width cuts it to "grow / shr...".
_LABEL_STYLE = {"description_width": "7em"}

class MetricExplorer(widgets.VBox):
    """Sliders that perturb a prediction, and the metrics of the result, updated live.

    The prediction (default: a copy of the reference) is shifted, grown or
    shrunk (:func:`~labtools.widgets.perturb.perturb`) and compared with the
    reference by :mod:`labtools.metrics` with the voxel spacing, so distances
    are in mm. A 3D volume is scored as a whole; the picture shows the axial
    slice (voxel axis 2) through the middle of the reference.

    Parameters
    ----------
    reference : array_like or labtools.io.Image
        2D or 3D binary mask (an Image also gives the spacing).
    prediction : array_like or Image, optional
        The mask to perturb; default the reference itself.
    spacing : tuple of float, optional
        Voxel size in mm per axis (overrides the Image's); default 1 mm.
    tolerance : float
        NSD tolerance in mm.
    size : int
        Length in screen pixels of the picture's longer side.

    Attributes
    ----------
    values : dict
        The current metrics: ``dice``, ``iou``, ``hausdorff``, ``hd95``,
        ``assd`` (mm) and ``nsd``.
    prediction : numpy.ndarray
        The current perturbed prediction (bool).
    shift_sliders : list of ipywidgets.IntSlider
        Shift along each voxel axis, in voxels ("shift axis 0", ...).
    grow_slider : ipywidgets.IntSlider
        Dilate (> 0) or erode (< 0) by a ball of that many voxels.
    blob_checkbox : ipywidgets.Checkbox
        Add a false-positive ball far from the reference.
    blob : tuple
        That ball, as ``(centre, radius)`` in voxels (for :func:`perturb`'s ``blob=``).
    table : ipywidgets.HTML
        The metrics as an HTML table.
    image_widget : ipywidgets.Image

    Examples
    --------
    >>> import numpy as np
    >>> reference = np.zeros((40, 40), bool); reference[10:30, 12:28] = True
    >>> explorer = MetricExplorer(reference, spacing=(0.5, 0.5))
    >>> explorer.values["dice"], explorer.values["hausdorff"]
    (1.0, 0.0)
    >>> explorer.shift_sliders[1].value = 2          # what dragging the slider does
    >>> explorer.values["hausdorff"]                  # 2 voxels of 0.5 mm
    1.0
    >>> explorer.grow_slider.description
    'grow / shrink'
    """

    def __init__(self, reference, prediction=None, *, spacing=None, tolerance: float = 1.0,
                 size: int = 400):
        self.reference, self.spacing = _mask_and_spacing(reference, spacing, "reference")
        if prediction is None:
            self._base = self.reference.copy()
        else:
            self._base, _ = _mask_and_spacing(prediction, self.spacing, "prediction")
            if self._base.shape != self.reference.shape:
                raise ShapeMismatchError(f"prediction has shape {self._base.shape}, the reference "
                                         f"{self.reference.shape}")
        if not tolerance >= 0:
            raise InvalidImageError(f"the NSD tolerance must be >= 0 mm, got {tolerance}")
        self.tolerance, self.size = float(tolerance), int(size)
        self._slice = _middle_slice(self.reference)
        self.blob = _far_blob(self.reference)
        self.values: dict = {}
        self.prediction = self._base
        self.shift_sliders = [
            widgets.IntSlider(value=0, min=-limit, max=limit, description=f"shift axis {axis}",
                              continuous_update=False, style=_LABEL_STYLE)
            for axis, limit in enumerate(max(1, min(10, n // 4)) for n in self.reference.shape)]
        self.grow_slider = widgets.IntSlider(value=0, min=-5, max=5, description="grow / shrink",
                                             continuous_update=False, style=_LABEL_STYLE)
        self.blob_checkbox = widgets.Checkbox(value=False, description="add a false-positive blob")
        self.image_widget = png_image(b"")
        self.table = widgets.HTML()
        for control in (*self.shift_sliders, self.grow_slider, self.blob_checkbox):
            control.observe(lambda change: self.update(), names="value")
        where = "" if self.reference.ndim == 2 else f" (axial slice {self._slice} of {self.reference.shape[2]})"
        picture = widgets.VBox([self.image_widget,
                                widgets.HTML(legend_html(_AGREEMENT_NAMES, _AGREEMENT_COLORS) + where)])
        controls = widgets.VBox([*self.shift_sliders, self.grow_slider, self.blob_checkbox, self.table])
        super().__init__(children=[widgets.HBox([picture, controls])])
        self.update()

    @property
    def shift(self) -> tuple[int, ...]:
        """The shift sliders' values, one per axis."""
        return tuple(slider.value for slider in self.shift_sliders)

    def update(self) -> dict:
        """Recompute the prediction, the metrics and the picture from the controls; returns :attr:`values`."""
        blob = self.blob if self.blob_checkbox.value else None
        self.prediction = perturb(self._base, shift=self.shift, grow=self.grow_slider.value, blob=blob)
        self.values = _metrics(self.prediction, self.reference, self.spacing, self.tolerance)
        self.table.value = _table(self.values, self.tolerance, int(self.prediction.sum()),
                                  int(self.reference.sum()))
        self.image_widget.value = to_png(self.rgb(), aspect=self._aspect(), size=self.size)
        return self.values

    def rgb(self) -> np.ndarray:
        """The picture: agreement (green), missed (blue) and extra (red) voxels on the shown slice."""
        pred = plane(self.prediction, 2, self._slice)
        ref = plane(self.reference, 2, self._slice)
        agreement = np.select([pred & ref, ref, pred], [1, 2, 3], 0)
        return overlay(np.full(pred.shape, 0.15), agreement, opacity=1.0, colors=_AGREEMENT_COLORS)

    def _aspect(self) -> float:
        return plane_aspect(self.spacing, None if self.reference.ndim == 2 else 2)


def _mask_and_spacing(mask, spacing, name: str):
    if isinstance(mask, io.Image):
        spacing = mask.spacing if spacing is None else spacing
        mask = mask.array
    array = np.asarray(mask)
    if array.ndim not in (2, 3):
        raise InvalidImageError(f"{name} must be a 2D or 3D mask, got shape {array.shape}")
    if array.dtype != bool and array.size and not np.isin(array, (0, 1)).all():
        raise InvalidImageError(f"{name} must be binary (bool or 0/1); for a label map pass one "
                                "class, e.g. labels == 2")
    spacing = (1.0,) * array.ndim if spacing is None else tuple(float(s) for s in spacing)
    if len(spacing) != array.ndim or min(spacing) <= 0:
        raise InvalidImageError(f"spacing must hold {array.ndim} positive voxel sizes in mm, got {spacing}")
    return array.astype(bool), spacing


def _middle_slice(reference: np.ndarray):
    """The axial slice through the middle of the reference (the volume's middle if it is empty)."""
    if reference.ndim == 2:
        return None
    present = np.flatnonzero(reference.any(axis=(0, 1)))
    if present.size == 0:
        return reference.shape[2] // 2
    return int((present[0] + present[-1]) // 2)


def _far_blob(reference: np.ndarray):
    """A ball far from the reference, ~1/20 of the grid wide, on the shown slice: a stray false positive."""
    radius = max(1, round(min(reference.shape) / 20))
    if not reference.any():
        return tuple(n // 2 for n in reference.shape), radius
    distance = ndimage.distance_transform_edt(~reference)
    if reference.ndim == 3:  # the shown slice, so that the blob is visible
        distance = distance[..., _middle_slice(reference)]
    inner = distance[radius:-radius, radius:-radius]  # keep the whole ball inside the grid
    if inner.size == 0:
        inner, radius = distance, 0
    row, col = np.unravel_index(int(np.argmax(inner)), inner.shape)
    centre = (int(row) + radius, int(col) + radius)
    if reference.ndim == 3:
        centre += (_middle_slice(reference),)
    return centre, radius


def _metrics(pred: np.ndarray, ref: np.ndarray, spacing, tolerance: float) -> dict:
    # One distance computation serves all four boundary metrics.
    distances = metrics.surface_distances(pred, ref, spacing)
    return {
        "dice": metrics.dice(pred, ref),
        "iou": metrics.iou(pred, ref),
        "hausdorff": metrics.hausdorff(spacing=spacing, distances=distances),
        "hd95": metrics.hd95(spacing=spacing, distances=distances),
        "assd": metrics.assd(spacing=spacing, distances=distances),
        "nsd": metrics.nsd(tolerance=tolerance, spacing=spacing, distances=distances),
    }


def _table(values: dict, tolerance: float, n_pred: int, n_ref: int) -> str:
    rows = []
    for key, (name, unit, better) in METRICS.items():
        label = f"{name} (τ = {tolerance:g} mm)" if key == "nsd" else name
        rows.append(f"<tr><td>{html.escape(label)}</td><td style='text-align:right'>"
                    f"{_format(values[key])}</td><td>{unit}</td><td>{better} is better</td></tr>")
    return ("<table><tr><th>metric</th><th>value</th><th></th><th></th></tr>" + "".join(rows)
            + f"</table><small>prediction {n_pred} voxels, reference {n_ref} voxels</small>")


def _format(value: float) -> str:
    if math.isnan(value):
        return "n/a (both empty)"
    if math.isinf(value):
        return "∞ (one mask empty)"
    return f"{value:.3f}"
