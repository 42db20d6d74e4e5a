"""ScribbleCanvas: paint scribbles with the mouse and watch the pixel classifier's prediction."""

from __future__ import annotations

import base64
import html
import time

import ipywidgets as widgets
import numpy as np
from scipy import ndimage
from skimage.draw import line
from skimage.morphology import disk

from labtools.errors import InvalidImageError, LabtoolsError
from labtools.labeling import LabelingSession
from labtools.widgets._common import legend_html
from labtools.widgets.paint_canvas import PaintCanvas
from labtools.widgets.render import (
    heatmap,
    label_colors,
    overlay,
    plane,
    plane_aspect,
    plane_to_voxels,
    rgb_hex,
    to_png,
    window,
)

__all__ = ["ScribbleCanvas"]

_ERASE = 0
_VIEWS = ("prediction", "uncertainty")


class ScribbleCanvas(widgets.VBox):
    """Label a slice with the mouse; a pixel classifier predicts the rest as you go.

    Drives a :class:`~labtools.labeling.LabelingSession`: every stroke is
    :meth:`~labtools.labeling.LabelingSession.add_stroke`, followed by
    :meth:`~labtools.labeling.LabelingSession.update` on the slice on screen,
    whose prediction (or uncertainty) is drawn under the scribbles. Undo,
    redo, autosave and export are the session's.

    The canvas (:class:`~labtools.widgets.paint_canvas.PaintCanvas`) sends each
    finished stroke to :meth:`handle_message`, which calls :meth:`paint`:
    code, tests and instructors can call :meth:`paint` directly and get
    exactly what a mouse stroke does. Errors (e.g. a prediction asked for
    with a single class painted) are shown in :attr:`status`, not raised.

    Parameters
    ----------
    session : LabelingSession
        The image, scribbles and classifier.
    axis : int
        For 3D images: the voxel axis the slices are perpendicular to.
    index : int, optional
        The first slice shown (default: the middle one).
    size : int
        Length in screen pixels of the canvas's longer side.
    classes : dict or sequence of str, optional
        Class names: ``{label: name}``, or names for labels 1, 2, ...
        Default: "class 1", "class 2" and any class already painted.

    Attributes
    ----------
    canvas : PaintCanvas
    class_picker : ipywidgets.ToggleButtons
        The label to paint (0 = erase).
    brush_slider : ipywidgets.IntSlider
        Brush radius in pixels (0 = one pixel wide).
    view_toggle : ipywidgets.ToggleButtons
        "prediction" or "uncertainty".
    opacity_slider : ipywidgets.FloatSlider
    slice_slider : ipywidgets.IntSlider or None
        3D only.
    undo_button, redo_button, suggest_button : ipywidgets.Button
    status : ipywidgets.HTML
        What happened last, with the time the refresh took.

    Examples
    --------
    >>> import numpy as np
    >>> from labtools import datasets
    >>> from labtools.labeling import LabelingSession
    >>> from labtools.pixel_classifier import PixelClassifier
    >>> image, truth = datasets.phantom((32, 32), n_lesions=0, seed=0)
    >>> session = LabelingSession(image, classifier=PixelClassifier(n_estimators=10, n_jobs=1))
    >>> canvas = ScribbleCanvas(session, classes=["csf", "grey", "white", "outside"])
    >>> canvas.paint([(0, 0), (0, 31)], label=4)         # a line along the top row, radius 1
    64
    >>> canvas.prediction_rgb() is None                   # one class: no prediction yet
    True
    >>> "two classes" in canvas.status.value
    True
    >>> canvas.paint([(16, 10), (16, 20)], label=3, radius=0)
    11
    >>> canvas.prediction_rgb().shape
    (32, 32, 3)
    """

    def __init__(self, session: LabelingSession, *, axis: int = 0, index: int | None = None,
                 size: int = 400, classes=None):
        if not isinstance(session, LabelingSession):
            raise InvalidImageError("ScribbleCanvas drives a labtools.labeling.LabelingSession; "
                                    f"got {type(session).__name__}. Make one with "
                                    "LabelingSession(image).")
        self.session = session
        image = session.image
        array = image.array[0] if image.channel_axis == 0 else image.array  # show channel 0
        self._shape = tuple(image.spatial_shape)
        self._grey = window(array)
        self._spacing = image.spacing
        self.size = int(size)
        self._axis = None if len(self._shape) == 2 else _checked_axis(axis)
        self._prediction = self._uncertainty = None
        self._names = _class_names(classes, session)
        for scribble, name in self._names.items():  # the session's class table holds the names
            if session.classes.by_scribble(scribble).name != name:
                session.rename_class(scribble, name)

        self.canvas = PaintCanvas()
        self.class_picker = widgets.ToggleButtons(
            options=[(f"{k}: {name}", k) for k, name in self._names.items()] + [("erase", _ERASE)],
            description="paint")
        self.brush_slider = widgets.IntSlider(value=1, min=0, max=10, description="brush radius",
                                              style={"description_width": "initial"})
        self.view_toggle = widgets.ToggleButtons(options=_VIEWS, description="show")
        self.opacity_slider = widgets.FloatSlider(value=0.4, min=0.0, max=1.0, step=0.05,
                                                  description="opacity")
        self.undo_button = widgets.Button(description="undo", icon="undo")
        self.redo_button = widgets.Button(description="redo", icon="repeat")
        self.suggest_button = widgets.Button(description="suggest next slice", icon="lightbulb-o",
                                             disabled=self._axis is None,
                                             layout=widgets.Layout(width="auto"))
        self.slice_slider = None
        if self._axis is not None:
            n = self._shape[self._axis]
            start = n // 2 if index is None else int(index)
            if not 0 <= start < n:
                raise InvalidImageError(f"slice {start} is outside axis {self._axis} (0..{n - 1})")
            # Not continuous: every new slice costs a prediction.
            self.slice_slider = widgets.IntSlider(value=start, min=0, max=n - 1, description="slice",
                                                  continuous_update=False)
        self.legend = widgets.HTML(legend_html(self._names, self._scribble_colors()))
        self.status = widgets.HTML()
        self._wire()
        buttons = widgets.HBox([self.undo_button, self.redo_button, self.suggest_button])
        super().__init__(children=[
            self.class_picker, widgets.HBox([self.brush_slider, self.opacity_slider]),
            self.view_toggle, *([self.slice_slider] if self.slice_slider is not None else []),
            self.canvas, self.legend, buttons, self.status])
        self._sync_brush()
        if len(session.class_counts()) >= 2 or not session.needs_fit:
            self._predict("opened")
        else:
            self.status.value = ("Paint with the mouse: pick a class, drag over the image. "
                                 "A prediction appears once two classes are painted.")
        self._redraw()

    # ------------------------------------------------------------------ public
    @property
    def axis(self):
        """The voxel axis the slices are perpendicular to (None for 2D)."""
        return self._axis

    @property
    def index(self):
        """The slice on screen (None for 2D); setting it moves the slider and predicts that slice."""
        return None if self.slice_slider is None else self.slice_slider.value

    @index.setter
    def index(self, value: int) -> None:
        if self.slice_slider is None:
            raise InvalidImageError("a 2D image has no slices")
        if not 0 <= value <= self.slice_slider.max:
            raise InvalidImageError(f"slice {value} is outside axis {self._axis} "
                                    f"(0..{self.slice_slider.max})")
        self.slice_slider.value = int(value)

    def paint(self, points, label: int | None = None, radius: int | None = None) -> int:
        """Paint a stroke through `points` on the slice on screen, then refit and redraw.

        Parameters
        ----------
        points : sequence of (row, col)
            The stroke's polyline in pixels of the slice picture (see
            :func:`~labtools.widgets.render.plane`); fractions are floored and
            points off the picture are moved to its edge.
        label : int, optional
            The class to paint (0 erases); default the class picker's.
        radius : int, optional
            Brush radius in pixels; default the brush slider's.

        Returns
        -------
        int
            Number of voxels whose scribble changed (0 when the stroke could
            not be painted; :attr:`status` says why).
        """
        label = self.class_picker.value if label is None else label
        radius = self.brush_slider.value if radius is None else radius
        try:
            rows, cols = np.nonzero(self._stroke_mask(points, radius))
            voxels = plane_to_voxels(self._shape, self._axis, self.index, rows, cols)
            changed = self.session.add_stroke(voxels, label)
        except LabtoolsError as err:
            self.status.value = _message("stroke not painted", err)
            return 0
        what = "erased" if label == _ERASE else f"painted class {label}"
        self._predict(f"{what}: {changed} voxels")
        self._redraw()
        return changed

    def handle_message(self, content: dict, buffers=None) -> None:
        """Handle a message from the canvas (a finished stroke); unknown messages are ignored."""
        if not isinstance(content, dict) or content.get("type") != "stroke":
            return
        points = content.get("points") or []
        if len(points):
            self.paint(points, label=content.get("label"), radius=content.get("radius"))

    def undo(self) -> bool:
        """Undo the last stroke (the session's undo), refit and redraw; False if nothing to undo."""
        return self._history_step(self.session.undo, "undid the last stroke", "nothing to undo")

    def redo(self) -> bool:
        """Redo the last undone stroke, refit and redraw; False if nothing to redo."""
        return self._history_step(self.session.redo, "redid a stroke", "nothing to redo")

    def suggest(self) -> int | None:
        """Go to the slice whose prediction is least certain (the classifier's ``suggest``).

        Returns the slice, or None (2D, or no fitted classifier yet; see :attr:`status`).
        """
        classifier = self.session.classifier
        if self._axis is None or classifier is None or not hasattr(classifier, "classes_"):
            self.status.value = "suggest: paint two classes in a 3D image first"
            return None
        start = time.perf_counter()
        try:
            best = classifier.suggest(self.session.image, n=1, axis=self._axis)[0]
        except LabtoolsError as err:
            self.status.value = _message("suggest failed", err)
            return None
        seconds = time.perf_counter() - start
        self.index = best
        self.status.value += f" (slice {best} suggested in {seconds:.2f} s: least certain)"
        return best

    def refresh(self) -> None:
        """Refit if needed, predict the slice on screen and redraw (after changes made elsewhere)."""
        self._predict("refreshed")
        self._redraw()

    def rgb(self) -> np.ndarray:
        """The picture on the canvas: image, prediction or uncertainty, scribbles on top."""
        grey = plane(self._grey, self._axis, self.index)
        if self.view_toggle.value == "uncertainty" and self._uncertainty is not None:
            base = heatmap(grey, self._uncertainty, opacity=self.opacity_slider.value)
        else:
            base = self.prediction_rgb()
            base = overlay(grey) if base is None else base
        scribbles = plane(self.session.scribbles, self._axis, self.index)
        return overlay(base, scribbles, opacity=1.0, colors=self._scribble_colors())

    def prediction_rgb(self) -> np.ndarray | None:
        """The slice with the prediction overlaid (no scribbles), or None before the first prediction."""
        if self._prediction is None:
            return None
        grey = plane(self._grey, self._axis, self.index)
        # The background class stays transparent, whatever its value (MNI152's is 1).
        shown = np.where(np.isin(self._prediction, list(self.session.classes.hidden_values())), 0,
                         self._prediction)
        return overlay(grey, shown, opacity=self.opacity_slider.value,
                       colors=value_colors(self.session.classes, int(self._prediction.max())))

    # ------------------------------------------------------------------ internals
    def _scribble_colors(self) -> np.ndarray:
        return scribble_colors(self.session.classes)

    def _wire(self) -> None:
        self.canvas.on_msg(lambda widget, content, buffers: self.handle_message(content, buffers))
        self.class_picker.observe(lambda change: self._sync_brush(), names="value")
        self.brush_slider.observe(lambda change: self._sync_brush(), names="value")
        for control in (self.view_toggle, self.opacity_slider):
            control.observe(lambda change: self._redraw(), names="value")
        self.undo_button.on_click(lambda button: self.undo())
        self.redo_button.on_click(lambda button: self.redo())
        self.suggest_button.on_click(lambda button: self.suggest())
        if self.slice_slider is not None:
            self.slice_slider.observe(lambda change: self.refresh(), names="value")

    def _sync_brush(self) -> None:
        label = self.class_picker.value
        self.canvas.label, self.canvas.radius = label, self.brush_slider.value
        self.canvas.color = "#ffffff" if label == _ERASE else rgb_hex(self._scribble_colors()[label])

    def _stroke_mask(self, points, radius) -> np.ndarray:
        rows, cols = plane(self._grey, self._axis, self.index).shape
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
            raise InvalidImageError(f"a stroke is a sequence of (row, col) points; got an array of "
                                    f"shape {points.shape}")
        if isinstance(radius, bool) or int(radius) != radius or radius < 0:
            raise InvalidImageError(f"the brush radius must be a whole number of pixels >= 0, "
                                    f"got {radius!r}")
        pixels = np.floor(points).astype(np.int64)
        pixels = np.clip(pixels, 0, [rows - 1, cols - 1])  # a stroke may leave the canvas
        mask = np.zeros((rows, cols), bool)
        mask[pixels[0, 0], pixels[0, 1]] = True
        for (r0, c0), (r1, c1) in zip(pixels[:-1], pixels[1:]):
            mask[line(r0, c0, r1, c1)] = True
        if radius:
            mask = ndimage.binary_dilation(mask, structure=disk(int(radius)).astype(bool))
        return mask

    def _predict(self, what: str) -> None:
        roi = None if self._axis is None else tuple(
            self.index if a == self._axis else slice(None) for a in range(3))
        start = time.perf_counter()
        try:
            prediction, uncertainty = self.session.update(roi=roi)
        except LabtoolsError as err:
            self._prediction = self._uncertainty = None
            self.status.value = _message(f"{what}; no prediction", err)
            return
        seconds = time.perf_counter() - start
        # update() keeps the sliced axis (length 1): its slice 0 is the slice on screen.
        at = None if self._axis is None else 0
        self._prediction = plane(prediction, self._axis, at)
        self._uncertainty = plane(uncertainty, self._axis, at)
        where = "the image" if self._axis is None else f"slice {self.index}"
        self.status.value = f"{what}; refit and predicted {where} in {seconds:.2f} s"

    def _history_step(self, step, done: str, nothing: str) -> bool:
        if not step():
            self.status.value = nothing
            return False
        self._predict(done)
        self._redraw()
        return True

    def _redraw(self) -> None:
        rgb = self.rgb()
        self.canvas.rows, self.canvas.cols = rgb.shape[:2]
        png = to_png(rgb, aspect=plane_aspect(self._spacing, self._axis), size=self.size)
        self.canvas.src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _checked_axis(axis) -> int:
    if axis not in (0, 1, 2, -1, -2, -3):
        raise InvalidImageError(f"axis must be 0, 1 or 2 for a 3D image, got {axis!r}")
    return int(axis) % 3


def scribble_colors(table) -> np.ndarray:
    """(256, 3) colours of scribble classes from a class table (others: the default palette)."""
    colors = label_colors(256)
    for scribble, rgb in table.scribble_colors().items():
        colors[scribble] = rgb
    return colors


def value_colors(table, top: int) -> np.ndarray:
    """(top + 1, 3) colours of label values 0..top from a class table (0 is left transparent)."""
    colors = label_colors(max(top, 1) + 1)
    for value, rgb in table.value_colors().items():
        if 0 < value < len(colors):
            colors[value] = rgb
    return colors


def _class_names(classes, session: LabelingSession) -> dict:
    if classes is None:
        top = max([2, *session.class_counts()])
        return {k: session.classes.by_scribble(k).name for k in range(1, top + 1)}
    names = dict(classes) if isinstance(classes, dict) else {
        k: name for k, name in enumerate(classes, start=1)}
    bad = [k for k in names if isinstance(k, bool) or not isinstance(k, (int, np.integer))
           or not 1 <= k <= 255]
    if bad or not names:
        raise InvalidImageError(f"classes must name labels 1..255 (0 is the eraser), got {classes!r}")
    return {int(k): str(v) for k, v in sorted(names.items())}


def _message(what: str, err: Exception) -> str:
    return f"<span style='color:#b00'>{html.escape(what)}: {html.escape(str(err))}</span>"
