"""Interactive labeling without a GUI: :class:`LabelingSession` and its helpers.

- :mod:`labtools.labeling.session`: the session (scribbles, undo/redo, autosave, prediction, export);
- :mod:`labtools.labeling.strokes`: what a stroke may select, and the undo record;
- :mod:`labtools.labeling.files`: autosave file names and change detection.
"""

from labtools.labeling.files import scribbles_path_for
from labtools.labeling.session import LabelingSession
from labtools.labeling.strokes import MAX_LABEL

__all__ = ["LabelingSession", "scribbles_path_for", "MAX_LABEL"]
