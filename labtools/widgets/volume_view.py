"""view3d: a volume with its labels in three planes, in the best viewer that works offline.

The module's name differs from the function's, so that ``labtools.widgets.view3d`` is
always the function.
"""

from __future__ import annotations

import importlib.util
import tempfile
import warnings
from pathlib import Path

import numpy as np

from labtools import io
from labtools.errors import InvalidImageError, LabtoolsError
from labtools.widgets._common import image_and_spacing, label_array
from labtools.widgets.render import label_colors
from labtools.widgets.slice_viewer import SliceViewer

__all__ = ["view3d", "niivue_label_colormap", "BACKENDS"]

BACKENDS = ("auto", "niivue", "slices", "itk")


def view3d(image, labels=None, *, spacing=None, backend: str = "auto", height: int = 400,
           opacity: float = 0.5):
    """Show a volume (and labels) in axial, coronal and sagittal planes.

    Backends:

    ``"niivue"``
        `ipyniivue <https://github.com/niivue/ipyniivue>`_ (WebGL, bundled
        with the package, works offline): the image and labels are written
        as NIfTI files with the image's affine to a new temporary folder and
        loaded with the label colours of :func:`~labtools.widgets.render.label_colors`.
        Returns the ``ipyniivue.NiiVue`` widget, whose own API (crosshair,
        colour maps, drawing) is then available.
    ``"slices"``
        A :class:`~labtools.widgets.SliceViewer` with the three planes side by
        side (rendered in Python, works everywhere, also for 2D images).
    ``"itk"``
        itkwidgets, only if installed. It cannot render offline in JupyterLab 4
        (0.32 has no JupyterLab 4 extension, the 1.0 alphas load their viewer
        from a CDN), so it is an opt-in extra: ``pip install "labtools[itk]"``.
    ``"auto"``
        "niivue" when ipyniivue is importable and the image is 3D, else "slices".

    Parameters
    ----------
    image : numpy.ndarray or labtools.io.Image
        The volume (an Image keeps its affine).
    labels : array_like or Image, optional
        Integer labels of the same shape.
    spacing : tuple of float, optional
        Voxel size in mm for a bare array (or to override the Image's).
    backend : {"auto", "niivue", "slices", "itk"}
    height : int
        Height of the viewer in screen pixels.
    opacity : float
        Opacity of the labels.

    Returns
    -------
    ipywidgets.Widget
        ``ipyniivue.NiiVue``, :class:`SliceViewer` or the itkwidgets viewer.

    Raises
    ------
    LabtoolsError
        ``backend="itk"`` without itkwidgets installed (with the install command).
    InvalidImageError, ShapeMismatchError
        For an unknown backend, a 2D image with "niivue", or labels of another shape.

    Examples
    --------
    >>> from labtools import datasets
    >>> image, labels = datasets.phantom((24, 24, 16), seed=0)
    >>> viewer = view3d(image, labels, backend="slices")
    >>> type(viewer).__name__, viewer.show_all
    ('SliceViewer', True)
    """
    if backend not in BACKENDS:
        raise InvalidImageError(f"backend must be one of {BACKENDS}, got {backend!r}")
    array, spacing = image_and_spacing(image, spacing)
    labels = None if labels is None else label_array(labels, array.shape)
    if backend == "auto":
        backend = "niivue" if array.ndim == 3 and _importable("ipyniivue") else "slices"
    if backend == "slices":
        return SliceViewer(array, labels, spacing=spacing, axis="all three" if array.ndim == 3 else None,
                           opacity=opacity, size=height)
    if array.ndim != 3:
        raise InvalidImageError(f"the {backend!r} backend shows 3D volumes; this image has shape "
                                f"{array.shape}. Use backend='slices' or SliceViewer for 2D.")
    if isinstance(image, io.Image) and tuple(image.spacing) == spacing:
        volume = image.with_array(array)  # keeps the affine (orientation, origin)
    else:
        volume = io.Image(array, spacing=spacing)
    if backend == "itk":
        return _itk_view(volume, labels)
    return _niivue_view(volume, labels, height=height, opacity=opacity)


def _importable(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _niivue_view(volume: io.Image, labels, *, height: int, opacity: float):
    from ipyniivue import NiiVue

    folder = Path(tempfile.mkdtemp(prefix="labtools-view3d-"))  # NiiVue reads the files when shown
    entries = [{"path": io.save(volume, folder / "image.nii.gz"), "colormap": "gray"}]
    if labels is not None:
        path = io.save(volume.with_array(labels), folder / "labels.nii.gz")
        entries.append({"path": path, "opacity": float(opacity)})
    viewer = NiiVue(height=int(height))
    viewer.load_volumes(entries)
    if labels is not None:
        viewer.volumes[1].set_colormap_label(niivue_label_colormap(int(labels.max()) + 1))
    return viewer


def niivue_label_colormap(n: int) -> dict:
    """NiiVue's label colour table for labels ``0..n-1`` (0 transparent), in labtools' colours.

    Examples
    --------
    >>> table = niivue_label_colormap(3)
    >>> table["R"], table["A"], table["labels"]
    ([0, 228, 77], [0, 255, 255], ['background', '1', '2'])
    """
    colors = label_colors(max(int(n), 2))
    return {
        "R": [int(c) for c in colors[:, 0]], "G": [int(c) for c in colors[:, 1]],
        "B": [int(c) for c in colors[:, 2]], "A": [0] + [255] * (len(colors) - 1),
        "I": list(range(len(colors))),
        "labels": ["background"] + [str(k) for k in range(1, len(colors))],
    }


def _itk_view(volume: io.Image, labels):
    if not _importable("itkwidgets"):
        raise LabtoolsError(
            "backend='itk' needs itkwidgets, which is not installed. Install it with "
            "pip install \"labtools[itk]\" -- but note that it cannot render offline in "
            "JupyterLab 4 (itkwidgets 0.32 has no JupyterLab 4 extension; the 1.0 alphas load "
            "their viewer from a CDN). Use backend='niivue' (offline, three planes) instead.")
    import itkwidgets

    warnings.warn("itkwidgets may show nothing in JupyterLab 4 or offline; backend='niivue' "
                  "always renders.", UserWarning, stacklevel=3)
    label_image = None if labels is None else np.ascontiguousarray(labels)
    return itkwidgets.view(image=np.ascontiguousarray(volume.array), label_image=label_image)
