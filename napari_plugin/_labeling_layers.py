"""Between napari layers and a LabelingSession: sessions from Image layers, strokes from paint events.

Pure functions over layers and arrays (no widgets), so the dock stays a thin
layer of buttons and the translations can be tested one by one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from labtools import io
from labtools.errors import InvalidImageError
from labtools.io import ZARR_SUFFIXES
from labtools.io.image import is_lazy_array
from labtools.labeling import LabelingSession, scribbles_path_for

from napari_plugin._layers import layer_to_image

__all__ = ["open_session", "layer_file", "strokes_from_paint", "visible_roi", "grid_kwargs", "time_index"]

_NIFTI = (".nii", ".nii.gz")


def layer_file(layer) -> Path | None:
    """The NIfTI file or Zarr store an Image layer was read from, if it still exists."""
    candidates = (getattr(layer.source, "path", None), (layer.metadata or {}).get("path"))
    for candidate in candidates:
        if not candidate:
            continue
        name = str(candidate).lower().rstrip("/")
        if (name.endswith(_NIFTI) and Path(candidate).is_file()) or (
                name.endswith(ZARR_SUFFIXES) and Path(candidate).is_dir()):
            return Path(candidate)
    return None


def open_session(layer, classifier, time_index: int = 0) -> tuple[LabelingSession, str | None]:
    """A session on the image of `layer`, and why it does not autosave (None when it does).

    - a layer read from a NIfTI file or a Zarr store: the file, autosaved next to it
      (``<stem>_scribbles.nii.gz``); a Zarr store stays lazy: features are computed for the
      regions looked at and block by block, never for the whole volume at once;
    - one channel of a multi-channel file: the whole file, its channels used together as
      features (as ilastik does), autosaved next to it;
    - a time series (one layer with a time axis): the volume at `time_index`, autosaved as
      ``<stem>_t<index>_scribbles.nii.gz``;
    - anything else (sample data, a layer made in the console, a read-only folder): in memory.

    Raises
    ------
    LabtoolsError
        For a layer that cannot be labelled (RGB, multiscale, not 2D/3D, NaN values) or an
        autosave file that cannot be restored.
    """
    if getattr(layer, "rgb", False):
        raise InvalidImageError(
            f"{layer.name}: RGB layers cannot be labelled here; the pixel classifier needs a "
            "grey-level (or channels-first) image. Convert it to grey levels first.")
    if getattr(layer, "multiscale", False):
        raise InvalidImageError(f"{layer.name}: multiscale layers cannot be labelled; open the "
                                "full-resolution image on its own.")
    time_axis = (layer.metadata or {}).get("time_axis")
    spatial_ndim = layer.ndim - (time_axis is not None)
    if spatial_ndim not in (2, 3):
        raise InvalidImageError(f"{layer.name}: the labeling dock works on 2D or 3D images (or a time "
                                f"series of them), this layer has {layer.ndim} axes (shape {layer.data.shape}).")
    path = layer_file(layer)
    if path is not None and not os.access(path.parent, os.W_OK):
        return _in_memory(layer, classifier, time_index), (
            f"{path.parent} is not writable: the scribbles of {path.name} are kept in memory only "
            "(save them with the scribbles layer's File > Save).")
    if path is None:
        return _in_memory(layer, classifier, time_index), (
            f"{layer.name} was not read from a NIfTI file or Zarr store: its scribbles are kept in memory only "
            "(save them with the scribbles layer's File > Save).")
    image = io.load(path)
    if time_axis is not None:
        volume = io.Image(np.ascontiguousarray(image.array[time_index]), affine=image.affine)
        autosave = scribbles_path_for(path).with_name(
            scribbles_path_for(path).name.replace("_scribbles", f"_t{time_index:03d}_scribbles"))
        return LabelingSession(volume, classifier=classifier, autosave_path=autosave), None
    if tuple(image.spatial_shape) != tuple(layer.data.shape[-spatial_ndim:]):
        return _in_memory(layer, classifier, time_index), (
            f"{layer.name} no longer matches {path.name} (another shape): its scribbles are kept in "
            "memory only.")
    return LabelingSession(image, classifier=classifier, autosave_path=scribbles_path_for(path)), None


def _in_memory(layer, classifier, time_index: int) -> LabelingSession:
    data = layer.data if is_lazy_array(layer.data) else np.asarray(layer.data)  # a Dask layer stays lazy
    if (layer.metadata or {}).get("time_axis") is not None:
        data = data[time_index]
    ndim = data.ndim
    meta = {"metadata": layer.metadata, "scale": tuple(layer.scale)[-ndim:],
            "translate": tuple(layer.translate)[-ndim:]}
    return LabelingSession(layer_to_image(data, meta), classifier=classifier)


def grid_kwargs(layer) -> dict:
    """Scale, translate and metadata that put a new (spatial) layer on the grid of `layer`."""
    ndim = layer.ndim - ((layer.metadata or {}).get("time_axis") is not None)
    metadata = {key: value for key, value in (layer.metadata or {}).items() if key in ("affine", "spacing")}
    return {"scale": tuple(layer.scale)[-ndim:], "translate": tuple(layer.translate)[-ndim:],
            "metadata": metadata}


def strokes_from_paint(atoms, shape) -> list[tuple[tuple[np.ndarray, ...], int, np.ndarray]]:
    """Translate the atoms of one napari ``paint`` event into ``(index, label, previous)`` strokes.

    napari emits one event per brush drag (or fill, polygon, ``data_setitem``)
    after writing the layer; its value is a list of history atoms: masked
    edits ``(slice_key, mask, old_values, new_value)`` or ``(indices,
    old_values, new_values)`` triples. The voxels are gathered per painted
    label, so a drag becomes one stroke (one undo step of the session), with
    the values they held before (the first one, for a voxel painted twice).

    Parameters
    ----------
    atoms : list
        The event's ``value``.
    shape : tuple of int
        Shape of the scribbles layer.

    Returns
    -------
    list of (tuple of numpy.ndarray, int, numpy.ndarray)
        One ``(coordinates per axis, label, previous values)`` per distinct
        label, in paint order.
    """
    per_label: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for atom in atoms:
        for flat, label, old in _atom_voxels(atom, shape):
            per_label.setdefault(int(label), []).append((flat, old))
    strokes = []
    for label, parts in per_label.items():
        flat = np.concatenate([p[0] for p in parts])
        old = np.concatenate([np.broadcast_to(p[1], p[0].shape) for p in parts])
        flat, first = np.unique(flat, return_index=True)
        strokes.append((np.unravel_index(flat, shape), label, old[first]))
    return strokes


def _atom_voxels(atom, shape):
    """``(flat indices, label, old values)`` of one history atom."""
    if hasattr(atom, "slice_key"):  # napari's mask-based edit (brush, fill, polygon)
        region = atom.slice_key
        old = np.asarray(atom.old_values)
        if atom.mask is None:  # every voxel of the box changed; old_values is the box
            mask = np.ones(tuple(s.stop - s.start for s in region), bool)
            old = old.ravel()
        else:
            mask = atom.mask
        coords = [c + s.start for c, s in zip(np.nonzero(mask), region)]
        yield np.ravel_multi_index(coords, shape), atom.new_value, old
        return
    indices, old, values = atom  # data_setitem: a fancy index and scalar or per-voxel values
    coords = np.broadcast_arrays(*(np.asarray(i) for i in indices))
    flat = np.ravel_multi_index([c.ravel() for c in coords], shape)
    old = np.broadcast_to(np.asarray(old), coords[0].shape).ravel()
    if np.ndim(values) == 0:
        yield flat, values, old
        return
    values = np.broadcast_to(np.asarray(values), coords[0].shape).ravel()
    for label in np.unique(values):
        yield flat[values == label], label, old[values == label]


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


def time_index(layer, dims) -> int:
    """The time point on screen of a time-series layer (0 for other layers)."""
    if (layer.metadata or {}).get("time_axis") is None:
        return 0
    offset = dims.ndim - layer.ndim
    point = np.asarray(layer.world_to_data(dims.point[offset:]), dtype=float)
    return int(np.clip(np.round(point[0]), 0, layer.data.shape[0] - 1))
