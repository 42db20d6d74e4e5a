"""Objects of a segmentation, as ilastik's object workflow lists them: one row per connected component.

For one class of a label map: each connected component with its size (voxels and ml), bounding
box, centre (voxel and world coordinates, mm), mean intensity and mean/max uncertainty. A
lesion count with volumes is what a clinician asks of a segmentation; the CSV opens in any
spreadsheet.

Examples
--------
>>> import numpy as np
>>> labels = np.zeros((6, 6), np.uint8); labels[0:2, 0:2] = 1; labels[4:6, 3:6] = 1
>>> rows = object_table(labels, 1, spacing=(2.0, 2.0))
>>> [(r["object"], r["voxels"], r["volume_ml"]) for r in rows]
[(1, 4, 0.016), (2, 6, 0.024)]
>>> rows[1]["bbox_min"], rows[1]["bbox_max"]
((4, 3), (5, 5))
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from labtools.errors import ParameterError

__all__ = ["object_table", "write_object_table", "OBJECT_COLUMNS"]

OBJECT_COLUMNS = ("value", "name", "object", "voxels", "volume_ml", "bbox_min", "bbox_max",
                  "centroid_voxel", "centroid_mm", "mean_intensity", "mean_uncertainty", "max_uncertainty")


def object_table(segmentation, value: int, *, image=None, uncertainty=None, spacing=None, affine=None,
                 name: str = "", connectivity: int = 1) -> list[dict]:
    """One row per connected component of ``segmentation == value``, in scan order.

    Parameters
    ----------
    segmentation : numpy.ndarray
        A label map (2D or 3D).
    value : int
        The class whose objects are listed.
    image, uncertainty : numpy.ndarray, optional
        Same shape: their mean (and the uncertainty's maximum) per object.
    spacing : sequence of float, optional
        Voxel size in mm (default 1); gives ``volume_ml``.
    affine : numpy.ndarray, optional
        Voxel-to-world matrix; gives ``centroid_mm`` (default: voxel centre × spacing).
    name : str
        The class name, copied into each row.
    connectivity : int
        1: faces (6-connected in 3D, ilastik's default); ``ndim``: also edges and corners.

    Returns
    -------
    list of dict
        Keys :data:`OBJECT_COLUMNS`; objects numbered 1.. in scan order (as ``scipy.ndimage.label``).
    """
    from scipy import ndimage as ndi

    segmentation = np.asarray(segmentation)
    ndim = segmentation.ndim
    if not 1 <= connectivity <= ndim:
        raise ParameterError(f"connectivity must be 1..{ndim} for a {ndim}D map, got {connectivity}")
    spacing = np.ones(ndim) if spacing is None else np.asarray(spacing, float)
    if spacing.shape != (ndim,):
        raise ParameterError(f"spacing needs {ndim} values, got {tuple(spacing)}")
    components, count = ndi.label(segmentation == value, ndi.generate_binary_structure(ndim, connectivity))
    if count == 0:
        return []
    index = np.arange(1, count + 1)
    voxels = np.bincount(components.ravel(), minlength=count + 1)[1:]
    centres = np.array(ndi.center_of_mass(np.ones_like(components, np.float32), components, index)).reshape(count, ndim)
    intensity = _means(image, components, index)
    mean_u = _means(uncertainty, components, index)
    max_u = (np.asarray(ndi.maximum(uncertainty, components, index), float) if uncertainty is not None
             else [None] * count)
    rows = []
    for number, box in enumerate(ndi.find_objects(components), start=1):
        centre = centres[number - 1]
        world = (affine @ np.append(centre, 1.0))[:ndim] if affine is not None and ndim == 3 else centre * spacing
        rows.append({"value": int(value), "name": name, "object": number, "voxels": int(voxels[number - 1]),
                     "volume_ml": round(float(voxels[number - 1] * np.prod(spacing) / 1000.0), 6),
                     "bbox_min": tuple(int(s.start) for s in box),
                     "bbox_max": tuple(int(s.stop - 1) for s in box),
                     "centroid_voxel": tuple(round(float(c), 3) for c in centre),
                     "centroid_mm": tuple(round(float(c), 3) for c in world),
                     "mean_intensity": intensity[number - 1], "mean_uncertainty": mean_u[number - 1],
                     "max_uncertainty": None if max_u[number - 1] is None else float(max_u[number - 1])})
    return rows


def write_object_table(rows, path) -> Path:
    """Write rows of :func:`object_table` as CSV (tuples as ``x y z``), atomically."""
    from labtools.io.atomic import atomic_replace

    path = Path(path)
    with atomic_replace(path, suffix=".csv") as temporary, open(temporary, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=OBJECT_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _cell(row[key]) for key in OBJECT_COLUMNS})
    return path


def _means(values, components, index):
    from scipy import ndimage as ndi

    if values is None:
        return [None] * len(index)
    return [float(v) for v in np.atleast_1d(ndi.mean(np.asarray(values, np.float64), components, index))]


def _cell(value):
    if isinstance(value, tuple):
        return " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value
