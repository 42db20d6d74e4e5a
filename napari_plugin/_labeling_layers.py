"""Between napari layers and a LabelingSession: sessions from Image layers, strokes from paint events.

Pure functions over layers and arrays (no widgets), so the dock stays a thin
layer of buttons and the translations can be tested one by one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from napari.utils.notifications import show_info

from labtools.errors import InvalidImageError
from labtools.labeling import LabelingSession

from napari_plugin._layers import layer_to_image

__all__ = ["open_session", "layer_file", "strokes_from_paint", "visible_roi", "grid_kwargs"]

_NIFTI = (".nii", ".nii.gz")


def layer_file(layer) -> Path | None:
    """The NIfTI file an Image layer was read from, if it still exists.

    Only a file-backed session autosaves its scribbles next to the image
    (``<stem>_scribbles.nii.gz``) and restores them when it is reopened.
    """
    candidates = (getattr(layer.source, "path", None), (layer.metadata or {}).get("path"))
    for candidate in candidates:
        if candidate and str(candidate).lower().endswith(_NIFTI) and Path(candidate).is_file():
            path = Path(candidate)
            if not os.access(path.parent, os.W_OK):
                # A read-only dataset folder: label in memory rather than refuse to label.
                show_info(f"{path.parent} is not writable: the scribbles of {path.name} are not "
                          "autosaved (save them with the layer's File > Save).")
                return None
            return path
    return None


def open_session(layer, classifier) -> LabelingSession:
    """A session on the image of `layer`: from its file (autosave + restore) or in memory.

    Raises
    ------
    LabtoolsError
        For a layer that cannot be labelled (RGB, multiscale, not 2D/3D, NaN
        values) or an autosave file that cannot be restored.
    """
    if getattr(layer, "rgb", False):
        raise InvalidImageError(
            f"{layer.name}: RGB layers cannot be labelled here; the pixel classifier needs a "
            "grey-level (or channels-first) image. Convert it to grey levels first.")
    if getattr(layer, "multiscale", False):
        raise InvalidImageError(f"{layer.name}: multiscale layers cannot be labelled; open the "
                                "full-resolution image on its own.")
    if layer.ndim not in (2, 3):
        raise InvalidImageError(f"{layer.name}: the labeling dock works on 2D or 3D images, this "
                                f"layer has {layer.ndim} axes (shape {layer.data.shape}).")
    path = layer_file(layer)
    if path is not None:
        session = LabelingSession.open(path, classifier=classifier)
        if tuple(session.image.shape) == tuple(layer.data.shape):
            return session
        # One channel of a 4D file, or a layer that no longer matches its file: label what is
        # on screen, in memory (an autosave named after the file would mix them up).
    meta = {"metadata": layer.metadata, "scale": layer.scale, "translate": layer.translate}
    return LabelingSession(layer_to_image(np.asarray(layer.data), meta), classifier=classifier)


def grid_kwargs(layer) -> dict:
    """Scale, translate and metadata that put a new layer on the grid of `layer`."""
    metadata = {key: value for key, value in (layer.metadata or {}).items() if key in ("affine", "spacing")}
    return {"scale": tuple(layer.scale), "translate": tuple(layer.translate), "metadata": metadata}


def strokes_from_paint(atoms, shape) -> list[tuple[tuple[np.ndarray, ...], int]]:
    """Translate the atoms of one napari ``paint`` event into ``(index, label)`` strokes.

    napari emits one event per brush drag (or fill, polygon, ``data_setitem``)
    whose value is a list of history atoms: masked edits ``(slice_key, mask,
    old_values, new_value)`` or ``(indices, old_values, new_values)``
    triples. The voxels are gathered per painted label, so a drag becomes one
    stroke, i.e. one undo step of the session.

    Parameters
    ----------
    atoms : list
        The event's ``value``.
    shape : tuple of int
        Shape of the scribbles layer.

    Returns
    -------
    list of (tuple of numpy.ndarray, int)
        One ``(coordinates per axis, label)`` per distinct label, in paint order.
    """
    per_label: dict[int, list[np.ndarray]] = {}
    for atom in atoms:
        for flat, label in _atom_voxels(atom, shape):
            per_label.setdefault(int(label), []).append(flat)
    strokes = []
    for label, parts in per_label.items():
        flat = np.unique(np.concatenate(parts))
        strokes.append((np.unravel_index(flat, shape), label))
    return strokes


def _atom_voxels(atom, shape):
    """``(flat indices, label)`` pairs of one history atom."""
    if hasattr(atom, "slice_key"):  # napari's mask-based edit (brush, fill, polygon)
        region = atom.slice_key
        mask = np.ones(tuple(s.stop - s.start for s in region), bool) if atom.mask is None else atom.mask
        coords = [c + s.start for c, s in zip(np.nonzero(mask), region)]
        yield np.ravel_multi_index(coords, shape), atom.new_value
        return
    indices, _, values = atom  # data_setitem: a fancy index and scalar or per-voxel values
    coords = np.broadcast_arrays(*(np.asarray(i) for i in indices))
    flat = np.ravel_multi_index([c.ravel() for c in coords], shape)
    if np.ndim(values) == 0:
        yield flat, values
        return
    values = np.broadcast_to(np.asarray(values), coords[0].shape).ravel()
    for label in np.unique(values):
        yield flat[values == label], label


def visible_roi(layer, dims) -> tuple:
    """The region of `layer` on screen: the current plane (or the whole volume in 3D view).

    Parameters
    ----------
    layer : napari layer
        The image layer (its world-to-data transform maps the dims point).
    dims : napari.components.Dims
        The viewer's dims (``point`` in world coordinates, ``displayed`` axes).

    Returns
    -------
    tuple of slice or int
        One entry per layer axis: ``slice(None)`` along displayed axes, the
        index of the current plane along the others (what
        :meth:`LabelingSession.update` takes).
    """
    offset = dims.ndim - layer.ndim  # the viewer may have more axes than the layer
    displayed = {axis - offset for axis in dims.displayed}
    point = np.asarray(layer.world_to_data(dims.point[offset:]), dtype=float)
    roi = []
    for axis, n in enumerate(layer.data.shape):
        if axis in displayed:
            roi.append(slice(None))
        else:
            roi.append(int(np.clip(np.round(point[axis]), 0, n - 1)))
    return tuple(roi)
