"""Static figures with matplotlib: orthogonal slices with a label overlay.

Used by the demo and by reports; the interactive viewers live in the faces
(napari plugin, notebook widgets).
"""

from __future__ import annotations

import numpy as np

from labtools.io.image import Image

__all__ = ["plot_planes", "label_colormap", "show_labels", "label_legend", "plot_reliability"]


def label_colormap(n_labels: int, classes=None):
    """A matplotlib colormap of label values 0..n-1: 0 transparent, the others labtools' colours.

    The colours are those of napari's layers and the notebook widgets for the same values
    (:func:`labtools.colors.label_colors`), or of a class table's classes.

    Parameters
    ----------
    n_labels : int
        Largest label value + 1.
    classes : labtools.labeling.ClassTable, optional
        Colours per label value.

    Examples
    --------
    >>> cmap = label_colormap(5)
    >>> float(cmap(0)[3]), cmap.N
    (0.0, 5)
    >>> [round(c * 255) for c in cmap(1)[:3]]   # label 1 is red everywhere
    [228, 26, 28]
    """
    from matplotlib.colors import ListedColormap

    from labtools.colors import label_colors

    n_labels = max(int(n_labels), 1)
    colours = np.ones((n_labels, 4))
    colours[:, :3] = label_colors(n_labels) / 255.0
    if classes is not None:
        for value, rgb in classes.value_colors().items():
            if 0 < value < n_labels:
                colours[value, :3] = np.asarray(rgb) / 255.0
        for value in classes.hidden_values():        # the background class, whatever its value
            if value < n_labels:
                colours[value] = (0, 0, 0, 0)
    colours[0] = (0, 0, 0, 0)
    return ListedColormap(colours)


def plot_planes(axes, image: Image, labels=None, *, title: str = "", alpha: float = 0.4,
                background: int = 0, classes=None):
    """Draw the middle slice of each plane (3D) or the image (2D) into `axes`.

    Parameters
    ----------
    axes : sequence of matplotlib Axes
        One Axes per plane: 3 for a 3D image, 1 for 2D.
    image : Image
        Single-channel image (the first channel is shown otherwise).
    labels : numpy.ndarray, optional
        Integer label map drawn on top (0 transparent).
    title : str
        Written above the first panel.
    background : int
        Label value left undrawn (0, or 1 for MNI152's 1-based classes).
    alpha : float
        Opacity of the label overlay.
    classes : labtools.labeling.ClassTable, optional
        Colours and names of the label values (a legend is added), as in napari and the notebook.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from labtools.datasets import phantom
    >>> img, lab = phantom((24, 24, 20), seed=0)
    >>> fig, axes = plt.subplots(1, 3)
    >>> plot_planes(axes, img, lab, title="phantom")
    >>> plt.close(fig)
    """
    array = image.array[0] if image.channel_axis == 0 else image.array
    if array.ndim == 2:
        planes = [(array, labels, image.spacing)]
    else:
        centre = [n // 2 for n in array.shape]
        planes = []
        for axis in (2, 1, 0):  # axial, coronal, sagittal for RAS-like voxel order
            index = [slice(None)] * 3
            index[axis] = centre[axis]
            spacing = [s for i, s in enumerate(image.spacing) if i != axis]
            planes.append((array[tuple(index)],
                           None if labels is None else labels[tuple(index)], spacing))
    n_labels = int(labels.max()) + 1 if labels is not None and labels.size else 1
    cmap = label_colormap(n_labels, classes)
    lo, hi = np.percentile(array, [1, 99.5])
    for ax, (slice_, label_slice, spacing) in zip(axes, planes):
        # Transpose so that the first voxel axis runs left-right; aspect keeps mm square.
        ax.imshow(slice_.T, cmap="gray", origin="lower", vmin=lo, vmax=hi,
                  aspect=spacing[1] / spacing[0], interpolation="nearest")
        if label_slice is not None:
            show_labels(ax, label_slice, {}, background=background, alpha=alpha, classes=classes,
                        legend=False, aspect=spacing[1] / spacing[0])
        ax.set_axis_off()
    if title:
        axes[0].set_title(title, loc="left", fontsize=10)
    if classes is not None and labels is not None:
        label_legend(axes[-1], classes.names(), np.unique(labels), cmap=cmap, background=background)


def show_labels(ax, labels2d, names: dict, *, image2d=None, background: int = 0, alpha: float = 1.0,
                classes=None, legend: bool = True, **imshow_options):
    """Draw a 2D label map in labtools' colours, the background transparent, with a legend of names.

    The same colours as napari's layers and the notebook widgets; the legend
    names the classes present (``{value: name}``, e.g. ``datasets.PHANTOM_CLASSES``),
    never "class 0-4".

    Parameters
    ----------
    ax : matplotlib Axes
    labels2d : array_like
        Integer labels; drawn transposed with ``origin="lower"`` (first axis left to
        right), as the lessons show slices.
    names : dict
        ``{label value: class name}``.
    image2d : array_like, optional
        Grey image drawn underneath (same shape).
    background : int
        Label value left transparent (0; 1 for MNI152's tissue map).
    alpha : float
        Opacity of the labels (1 without an image, e.g. 0.5 on top of one).
    classes : labtools.labeling.ClassTable, optional
        Colours per value from a class table.
    legend : bool
        Add the legend of the names of the classes drawn (not the transparent background).
    **imshow_options
        Passed to ``ax.imshow`` (e.g. ``aspect``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> show_labels(ax, np.array([[0, 1], [2, 1]]), {0: "background", 1: "CSF", 2: "grey matter"})
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['CSF', 'grey matter']
    >>> plt.close(fig)
    """
    labels2d = np.asarray(labels2d)
    n_labels = max(int(labels2d.max()) + 1 if labels2d.size else 1, max(names, default=0) + 1)
    cmap = label_colormap(n_labels, classes)
    if image2d is not None:
        ax.imshow(np.asarray(image2d).T, cmap="gray", origin="lower", interpolation="nearest",
                  **imshow_options)
    ax.imshow(np.ma.masked_equal(labels2d.T, background), cmap=cmap, vmin=0, vmax=n_labels - 1,
              origin="lower", interpolation="nearest", alpha=alpha, **imshow_options)
    if legend:
        label_legend(ax, names, np.unique(labels2d), cmap=cmap, background=background)


def label_legend(ax, names: dict, present=None, *, cmap=None, background: int = 0, **legend_options):
    """A legend of class names with their colours on `ax` (classes in `present` only, if given).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> label_legend(ax, {1: "tumour", 2: "oedema"})
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['tumour', 'oedema']
    >>> plt.close(fig)
    """
    from matplotlib.patches import Patch

    wanted = None if present is None else {int(v) for v in np.asarray(present).ravel()}
    cmap = cmap or label_colormap(max(names, default=0) + 1)
    handles = [Patch(color=cmap(value), label=name) for value, name in sorted(names.items())
               if value != background and (wanted is None or value in wanted) and value < cmap.N]
    if handles:
        options = {"loc": "lower right", "fontsize": 7, "framealpha": 0.6, **legend_options}
        ax.legend(handles=handles, **options)


def plot_reliability(ax, curve, *, label: str | None = None, histogram: bool = True):
    """Draw a reliability diagram: observed foreground frequency against predicted probability.

    Parameters
    ----------
    ax : matplotlib Axes
    curve : labtools.metrics.ReliabilityCurve
        From :func:`labtools.metrics.reliability_curve`.
    label : str, optional
        Legend entry of the curve (e.g. the model's name and its ECE).
    histogram : bool
        Shade the share of voxels in each bin behind the curve.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from labtools import metrics
    >>> curve = metrics.reliability_curve(np.array([[0.1, 0.15, 0.9, 0.85]]), np.array([[0, 1, 1, 1]]), n_bins=2)
    >>> fig, ax = plt.subplots()
    >>> plot_reliability(ax, curve, label="forest")
    >>> [line.get_label() for line in ax.get_lines()]
    ['perfectly calibrated', 'forest']
    >>> plt.close(fig)
    """
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    ax.plot(curve.confidence, curve.frequency, "o-", label=label or "model")
    if histogram:
        widths = np.diff(curve.edges)
        shares = np.zeros(len(widths))
        index = np.clip(np.searchsorted(curve.edges[1:-1], curve.confidence, side="left"), 0, len(widths) - 1)
        shares[index] = curve.count / curve.count.sum()
        ax.bar(curve.edges[:-1], shares, width=widths, align="edge", color="0.85", zorder=0,
               label="share of voxels")
    ax.set(xlabel="predicted probability", ylabel="observed foreground frequency", xlim=(0, 1), ylim=(0, 1))
    ax.legend(fontsize=8, loc="upper left")
