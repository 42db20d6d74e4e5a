"""Datasets: a synthetic phantom, the real MNI152 template, Decathlon tasks.

Each returns images as :class:`labtools.io.Image` and labels as integer arrays.
``phantom`` and ``mni152`` work offline; Decathlon tasks are downloaded on
request into :func:`data_dir`. One card per dataset lives in ``datasets/``.

Examples
--------
>>> from labtools import datasets
>>> image, labels = datasets.phantom((32, 32), n_lesions=1, seed=0)
>>> image.spacing
(2.0, 2.0)
"""

from labtools.datasets.ct_like import CT_LIKE_CLASSES, ct_like
from labtools.datasets.decathlon import DECATHLON_TASKS, Decathlon, decathlon
from labtools.datasets.mni152 import MNI152_CLASSES, mni152
from labtools.datasets.phantom import PHANTOM_CLASSES, phantom
from labtools.datasets.registry import REGISTRY, DatasetInfo, data_dir

__all__ = [
    "phantom", "mni152", "ct_like", "CT_LIKE_CLASSES", "decathlon", "Decathlon", "data_dir", "REGISTRY", "DatasetInfo",
    "PHANTOM_CLASSES", "MNI152_CLASSES", "DECATHLON_TASKS",
]
