"""Anatomical orientation: axis labels from the affine, and the radiological axial view.

NIfTI files store voxels in any order; napari shows the last two data axes as rows and columns
of the screen, so an image in RAS order appears as a sagittal slice on its side. The NIfTI
affine says where each voxel axis points; from it:

- each axis gets a label saying which way its index runs (``"R→L"`` … ``"I→S"``), shown on the
  viewer's sliders;
- :func:`radiological_view` slices along the inferior–superior axis and turns the camera so that
  anterior is up and the patient's right is on the left of the screen (the radiological
  convention of PACS viewers, ITK-SNAP and 3D Slicer's axial view). The data are not resampled.
"""

from __future__ import annotations

import numpy as np

__all__ = ["axis_labels", "axis_codes", "radiological_view"]

_OPPOSITE = {"R": "L", "L": "R", "A": "P", "P": "A", "S": "I", "I": "S"}


def axis_codes(affine) -> tuple[str, ...]:
    """Where each voxel axis points (nibabel's ``aff2axcodes``: ``("R", "A", "S")`` for RAS)."""
    import nibabel as nib

    return tuple(nib.aff2axcodes(np.asarray(affine, float)))


def axis_labels(affine) -> tuple[str, ...]:
    """Slider labels: the direction each index runs, e.g. ``("L→R", "P→A", "I→S")`` for RAS.

    Examples
    --------
    >>> axis_labels(np.diag([-1.0, 1.0, 1.0, 1.0]))
    ('R→L', 'P→A', 'I→S')
    """
    return tuple(f"{_OPPOSITE[code]}→{code}" for code in axis_codes(affine))


def radiological_view(viewer, layer) -> bool:
    """Show `layer`'s axial slices in radiological convention; False when its affine cannot tell.

    Needs a 3D (or time + 3D) layer with the NIfTI affine in ``metadata["affine"]``.
    """
    affine = (layer.metadata or {}).get("affine")
    spatial = layer.ndim - ((layer.metadata or {}).get("time_axis") is not None)
    if affine is None or spatial != 3:
        return False
    codes = axis_codes(affine)
    offset = viewer.dims.ndim - 3  # viewer axes before the spatial ones (time)
    axial = offset + next(i for i, c in enumerate(codes) if c in "SI")
    rows = offset + next(i for i, c in enumerate(codes) if c in "AP")
    cols = offset + next(i for i, c in enumerate(codes) if c in "RL")
    others = [axis for axis in range(viewer.dims.ndim) if axis not in (axial, rows, cols)]
    viewer.dims.order = (*others, axial, rows, cols)
    # Anterior up: a row index that grows towards anterior runs up the screen. Patient's right on
    # the left: a column index that grows towards the right runs leftwards.
    vertical = "up" if codes[rows - offset] == "A" else "down"
    horizontal = "left" if codes[cols - offset] == "R" else "right"
    scene = getattr(viewer, "scene", None)  # napari >= 0.9 moved the camera to viewer.scene
    camera = scene.camera if scene is not None else viewer.camera
    camera.orientation2d = (vertical, horizontal)
    return True
