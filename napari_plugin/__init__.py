"""napari face of labtools (npe2 plugin ``labtools``): NIfTI reader/writer, sample data, docks.

A thin layer over :mod:`labtools`: it converts :class:`labtools.io.Image`
objects to napari layer data and back, and holds no image logic of its own.
The user guide is ``docs/napari.md``.
"""

from __future__ import annotations

__all__ = ["NIFTI_PATTERNS", "prefer_labtools_reader"]

#: The file-name patterns the labtools reader claims (as in ``napari.yaml``).
NIFTI_PATTERNS = ("*.nii", "*.nii.gz")


def prefer_labtools_reader() -> dict[str, str]:
    """Make labtools napari's preferred reader for ``*.nii`` and ``*.nii.gz``.

    napari's built-in reader also claims these names and cannot read them,
    so without a preference ``viewer.open(path, plugin=None)`` fails with
    "multiple plugins" and the GUI asks which reader to use. This sets the
    same preference as ticking "remember this choice" in that dialog: it is
    written to napari's settings file and can be removed under
    Preferences > Plugins. Nothing calls it implicitly; importing the plugin
    changes no setting.

    Returns
    -------
    dict
        The new ``extension2reader`` mapping (other entries are kept).

    Examples
    --------
    >>> import napari_plugin
    >>> napari_plugin.prefer_labtools_reader()  # doctest: +SKIP
    {'*.nii': 'labtools', '*.nii.gz': 'labtools'}
    """
    from napari.settings import get_settings

    plugins = get_settings().plugins
    # Assign a new dict (not an in-place update) so napari's evented settings save it.
    plugins.extension2reader = {**plugins.extension2reader,
                                **{pattern: "labtools" for pattern in NIFTI_PATTERNS}}
    return dict(plugins.extension2reader)
