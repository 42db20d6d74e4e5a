"""npe2 reader: ``.nii``/``.nii.gz`` through :func:`labtools.io.load`."""

from __future__ import annotations

from pathlib import Path

from labtools.io import load

from napari_plugin._layers import image_to_layer


def get_reader(path):
    """Return a reader function for NIfTI paths, else None (npe2 protocol)."""
    if isinstance(path, list):
        path = path[0] if len(path) == 1 else None
    if not isinstance(path, (str, Path)) or not str(path).lower().endswith((".nii", ".nii.gz")):
        return None
    return read_nifti_layers


def read_nifti_layers(path):
    """Read one NIfTI file into a list with one napari layer-data tuple."""
    paths = path if isinstance(path, list) else [path]
    layers = []
    for item in paths:
        image = load(item, allow_nonfinite=True)
        name = Path(item).name.removesuffix(".gz").removesuffix(".nii")
        layers.append(image_to_layer(image, name))
    return layers
