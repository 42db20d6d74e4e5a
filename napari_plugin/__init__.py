"""napari face of labtools: NIfTI reader/writer and sample data (npe2 plugin ``labtools``).

A thin layer over :mod:`labtools`: it converts :class:`labtools.io.Image`
objects to napari layer data and back, and holds no image logic of its own.
"""

__all__: list[str] = []
