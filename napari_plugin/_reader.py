"""npe2 reader: ``.nii``/``.nii.gz`` files and ``.ome.zarr``/``.zarr`` stores through :func:`labtools.io.load`.

A Zarr store opens lazily: the layer holds the Dask array, and napari reads
only the chunks of the slices it draws, so a whole-body CT opens at once.

A file labtools cannot read (corrupt, truncated, more than 4D, a ``.gz``
name on an uncompressed file) is reported as a napari error notification
carrying labtools' own message, and no layer is added. The reader then
returns npe2's "opened, but no layers" sentinel ``[(None,)]``: an empty list
or an exception would make napari report its own generic error (a
``ValueError`` from npe2, or a traceback and the reader-choice dialog in the
GUI) instead of ours.
"""

from __future__ import annotations

from pathlib import Path

from napari.utils.notifications import show_error, show_info

from labtools.errors import LabtoolsError
from labtools.io import ZARR_SUFFIXES, file_format, load

from napari_plugin._layers import image_to_layer, is_time_series

#: What npe2 and napari take as "the file was handled and holds no layer".
NO_LAYERS = [(None,)]


_SUFFIXES = (".nii", ".nii.gz", *ZARR_SUFFIXES)


def get_reader(path):
    """Return a reader function for NIfTI and Zarr paths, else None (npe2 protocol)."""
    if isinstance(path, list):
        path = path[0] if len(path) == 1 else None
    if not isinstance(path, (str, Path)) or not str(path).lower().rstrip("/").endswith(_SUFFIXES):
        return None
    return read_layers


def read_layers(path, stack: bool = False):
    """Read NIfTI files or Zarr stores into napari layer-data tuples.

    Parameters
    ----------
    path : str or list of str
        One file, or several (each becomes its own layers).
    stack : bool
        Passed by npe2; files are never stacked into one layer.

    Returns
    -------
    list of tuple
        ``(data, kwargs, layer_type)`` per layer; a 4D file gives one Image
        layer with a time axis when it is a series (the header's time unit,
        or more than 4 volumes), else one Image layer per channel. ``[(None,)]`` when no file could be read: the
        reason has been shown as a notification.
    """
    paths = path if isinstance(path, list) else [path]
    layers = []
    for item in paths:
        try:
            # NaN voxels are drawn by napari as they are; refusing them would hide the data.
            image = load(item, allow_nonfinite=True)
        except LabtoolsError as err:
            show_error(str(err))
            continue
        name = _layer_name(Path(item))
        if image.channel_axis is not None and is_time_series(image):
            show_info(f"{Path(item).name}: a series of {image.n_channels} volumes, opened as one "
                      "layer with a time slider")
        elif image.channel_axis is not None:
            show_info(f"{Path(item).name}: {image.n_channels} volumes along the 4th axis, "
                      f"opened as {image.n_channels} channel layers")
        layers.append(image_to_layer(image, name))
    return layers or NO_LAYERS


def _layer_name(path: Path) -> str:
    """The file name without its image suffix: ``ct.ome.zarr`` -> ``ct``."""
    return path.name[: -len(file_format(path))]
