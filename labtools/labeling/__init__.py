"""Interactive labeling without a GUI: :class:`LabelingSession` and the pieces it owns.

- :mod:`~labtools.labeling.session`: the session (strokes, undo/redo, update, export);
- :mod:`~labtools.labeling.classes`: the class table (names, colours, exported values);
- :mod:`~labtools.labeling.strokes`: what a stroke may select, and the undo record;
- :mod:`~labtools.labeling.samples`: labelled voxels and their feature rows, stroke by stroke;
- :mod:`~labtools.labeling.feature_cache`: the feature bank, region first, the rest in the background;
- :mod:`~labtools.labeling.autosave` and :mod:`~labtools.labeling.stroke_log`: snapshot + crash-safe log;
- :mod:`~labtools.labeling.objects`: connected objects of a segmentation as a table;
- :mod:`~labtools.labeling.files`: autosave file names.
"""

from labtools.labeling.classes import ClassTable, LabelClass, label_file_for
from labtools.labeling.feature_cache import FeatureCache
from labtools.labeling.files import scribbles_path_for
from labtools.labeling.session import LabelingSession
from labtools.labeling.strokes import MAX_LABEL

__all__ = ["LabelingSession", "ClassTable", "LabelClass", "FeatureCache", "scribbles_path_for",
           "label_file_for", "MAX_LABEL"]
