"""Interactive pixel classification (ilastik-style): scribbles -> random forest -> segmentation.

A :class:`PixelClassifier` learns, from a few labelled voxels ("scribbles",
0 = unlabelled, classes 1..K), a random forest on the multi-scale feature bank
of :mod:`labtools.features`, and predicts every voxel with its probability and
uncertainty. It is a plain scikit-learn estimator (``BaseEstimator``,
``ClassifierMixin``): parameters in ``__init__``, ``fit`` returns ``self``,
learned attributes end in ``_``, ``clone`` and ``get_params`` work, and it
holds no image data (a live session keeps the feature bank,
:mod:`labtools.labeling`).

Three options make a whole-volume segmentation faster, at a measured cost
(docs/pixel_classification.md): ``method="pyramid"`` computes the large
scales of the bank on coarse grids; ``n_features_to_select=k`` keeps the
k channels the forest found most useful; and
``prediction="coarse_to_fine"`` (the default) predicts a whole volume on
every 2nd voxel first and at full resolution only where that coarse answer
is not settled (:mod:`labtools.coarse_to_fine`).

Modules: :mod:`~labtools.pixel_classifier.estimator` (the estimator),
:mod:`~labtools.pixel_classifier.forest` (fast tree walks, uncertainty,
balanced sampling), :mod:`~labtools.pixel_classifier.files` (files that load
without running code).
"""

from labtools.pixel_classifier.estimator import PixelClassifier
from labtools.pixel_classifier.files import CLASSIFIER_SUFFIX, load_classifier, save_classifier
from labtools.pixel_classifier.forest import balanced_sample, uncertainty_from_proba

__all__ = ["PixelClassifier", "uncertainty_from_proba", "balanced_sample", "save_classifier",
           "load_classifier", "CLASSIFIER_SUFFIX"]
