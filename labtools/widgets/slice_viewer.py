"""SliceViewer: browse a 2D or 3D image with a label overlay in a notebook."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np

from labtools.errors import InvalidImageError
from labtools.widgets._common import image_and_spacing, label_array, legend_html, png_image
from labtools.widgets.render import label_colors, overlay, plane, plane_aspect, to_png, window

__all__ = ["SliceViewer", "PLANES"]

# Voxel axis of each view for RAS-like volumes (labtools keeps the file's axis order).
PLANES = {"axial": 2, "coronal": 1, "sagittal": 0}
ALL_PLANES = "all three"


class SliceViewer(widgets.VBox):
    """An image with coloured labels on top; 3D volumes get a plane menu and slice sliders.

    The picture is rendered in Python (:mod:`labtools.widgets.render`) and
    shown as a PNG, so it works offline, in any Jupyter frontend, and in tests
    without a browser. Pixels keep their physical aspect ratio (from the
    spacing). Orientation: see :func:`labtools.widgets.render.plane`.

    Parameters
    ----------
    image : numpy.ndarray or labtools.io.Image
        2D or 3D intensities; an Image also gives the spacing.
    labels : array_like or Image, optional
        Integer labels of the same shape (0 transparent).
    spacing : tuple of float, optional
        Voxel size in mm per axis (overrides the Image's); default 1 mm.
    axis : int or str, optional
        For 3D: the voxel axis shown first, or ``"axial"`` (2), ``"coronal"``
        (1), ``"sagittal"`` (0), or ``"all three"`` side by side. Default axial.
    opacity : float
        Initial opacity of the labels (a slider changes it).
    colors : array_like, optional
        (n, 3) uint8 label colours; default :func:`~labtools.widgets.render.label_colors`.
    size : int
        Length in screen pixels of each picture's longer side.
    title : str, optional
        A heading above the viewer.
    names : dict, optional
        ``{label: name}`` for the legend; default the label numbers.

    Attributes
    ----------
    plane_dropdown : ipywidgets.Dropdown or None
        Plane menu (3D only).
    sliders : dict
        ``{voxel axis: IntSlider}`` of the slice sliders (3D only).
    opacity_slider : ipywidgets.FloatSlider
    legend : ipywidgets.HTML

    Examples
    --------
    >>> from labtools import datasets
    >>> image, labels = datasets.phantom((24, 24, 16), seed=0)
    >>> viewer = SliceViewer(image, labels, title="phantom")   # last expression of a cell: shown
    >>> viewer.axis, viewer.index
    (2, 8)
    >>> viewer.index = 3                  # what moving the slider does
    >>> viewer.rgb().shape               # axial plane: 24 rows (axis 1) x 24 columns (axis 0)
    (24, 24, 3)
    >>> viewer.axis = "coronal"; viewer.axis
    1
    """

    def __init__(self, image, labels=None, *, spacing=None, axis=None, opacity: float = 0.4,
                 colors=None, size: int = 400, title: str | None = None, names: dict | None = None):
        array, self.spacing = image_and_spacing(image, spacing)
        self.shape = array.shape
        self.size = int(size)
        # One window for the whole volume, so brightness does not jump from slice to slice.
        self._grey = window(array)
        self._colors = None if colors is None else np.asarray(colors)
        self._names = dict(names or {})
        self._labels = None
        self._rendered: dict = {}
        self.opacity_slider = widgets.FloatSlider(value=opacity, min=0.0, max=1.0, step=0.05,
                                                  description="opacity", continuous_update=True)
        self.legend = widgets.HTML()
        self._images: dict = {}
        self.sliders: dict = {}
        self.plane_dropdown = None
        self._panels = widgets.HBox()
        self._all = False
        self._axis = None
        if array.ndim == 3:
            self._build_3d_controls()
        else:
            self._images[None] = png_image(b"")
        header = [widgets.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        controls = [self.plane_dropdown] if self.plane_dropdown is not None else []
        super().__init__(children=[*header, *controls, self._panels, self.opacity_slider, self.legend])
        self.opacity_slider.observe(lambda change: self._render_all(), names="value")
        if array.ndim == 3:
            self.axis = "axial" if axis is None else axis
        else:
            self._show_panels()
        self.set_labels(labels)

    # ------------------------------------------------------------------ public
    @property
    def axis(self):
        """The voxel axis that :attr:`index` and :meth:`rgb` refer to (None for 2D).

        Set it to 0/1/2, ``"sagittal"``/``"coronal"``/``"axial"`` or
        ``"all three"`` (which keeps the axis and shows the three planes).
        """
        return self._axis

    @axis.setter
    def axis(self, value) -> None:
        if self.plane_dropdown is None:
            raise InvalidImageError("a 2D image has no planes to choose from")
        if value in (ALL_PLANES, "all"):
            self._all, name = True, ALL_PLANES
        else:
            self._axis, self._all = _axis_of(value), False
            name = next(n for n, a in PLANES.items() if a == self._axis)
        if self.plane_dropdown.value != name:
            self.plane_dropdown.value = name  # its observer calls back here with the name
            return
        self._show_panels()

    @property
    def show_all(self) -> bool:
        """Whether the three planes are shown side by side."""
        return self._all

    @property
    def index(self):
        """The slice shown along :attr:`axis` (None for 2D); setting it moves the slider."""
        return None if self._axis is None else self.sliders[self._axis].value

    @index.setter
    def index(self, value: int) -> None:
        if self._axis is None:
            raise InvalidImageError("a 2D image has no slices")
        slider = self.sliders[self._axis]
        if not slider.min <= value <= slider.max:
            raise InvalidImageError(f"slice {value} is outside axis {self._axis} (0..{slider.max})")
        slider.value = value

    @property
    def image_widget(self) -> widgets.Image:
        """The ipywidgets.Image of the plane along :attr:`axis`."""
        return self._images[self._axis]

    def rgb(self, axis=None) -> np.ndarray:
        """The RGB array last rendered for `axis` (default :attr:`axis`), before PNG scaling."""
        key = self._axis if axis is None else (None if self._axis is None else _axis_of(axis))
        return self._rendered[key]

    def set_labels(self, labels) -> None:
        """Show other labels (same shape as the image; None removes them) and redraw."""
        self._labels = None if labels is None else label_array(labels, self.shape)
        present = [] if self._labels is None else [int(v) for v in np.unique(self._labels) if v > 0]
        colors = self._colors
        if colors is None and present:
            colors = label_colors(max(present) + 1)
        self._label_colors = colors
        self.legend.value = legend_html({k: self._names.get(k, str(k)) for k in present}, colors)
        self._render_all()

    # ------------------------------------------------------------------ internals
    def _build_3d_controls(self) -> None:
        self.plane_dropdown = widgets.Dropdown(options=[*PLANES, ALL_PLANES], description="plane")
        self._axis = PLANES["axial"]  # what index and rgb() refer to while all three are shown
        for name, axis in PLANES.items():
            n = self.shape[axis]
            slider = widgets.IntSlider(value=n // 2, min=0, max=n - 1, description=f"{name} slice",
                                       continuous_update=True)
            slider.observe(lambda change, axis=axis: self._render(axis), names="value")
            self.sliders[axis] = slider
            self._images[axis] = png_image(b"")
        self.plane_dropdown.observe(lambda change: setattr(self, "axis", change["new"]), names="value")

    def _show_panels(self) -> None:
        if self._axis is None:
            self._panels.children = [self._images[None]]
            return
        axes = list(PLANES.values()) if self._all else [self._axis]
        self._panels.children = [widgets.VBox([self._images[a], self.sliders[a]]) for a in axes]

    def _render_all(self) -> None:
        for axis in self._images:
            self._render(axis)

    def _render(self, axis) -> None:
        index = None if axis is None else self.sliders[axis].value
        grey = plane(self._grey, axis, index)
        labels = None if self._labels is None else plane(self._labels, axis, index)
        rgb = overlay(grey, labels, opacity=self.opacity_slider.value, colors=self._label_colors)
        self._rendered[axis] = rgb
        self._images[axis].value = to_png(rgb, aspect=plane_aspect(self.spacing, axis), size=self.size)


def _axis_of(value) -> int:
    if isinstance(value, str):
        if value not in PLANES:
            raise InvalidImageError(f"unknown plane {value!r}; use one of {[*PLANES, ALL_PLANES]} "
                                    "or a voxel axis 0, 1, 2")
        return PLANES[value]
    if value not in (0, 1, 2, -1, -2, -3):
        raise InvalidImageError(f"axis must be 0, 1 or 2 (or a plane name), got {value!r}")
    return int(value) % 3
