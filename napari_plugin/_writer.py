"""npe2 writer: a Labels layer to NIfTI, on the grid of the image it came from."""

from __future__ import annotations

from labtools.io import save

from napari_plugin._layers import layer_to_image


def write_labels(path: str, data, meta: dict) -> list[str]:
    """Save labels with the affine kept in the layer metadata (npe2 single-layer writer)."""
    image = layer_to_image(data, meta)
    return [str(save(image, path))]
