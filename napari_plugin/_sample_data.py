"""npe2 sample data: the labtools phantom and MNI152 with tissue labels."""

from __future__ import annotations

from labtools import datasets

from napari_plugin._layers import image_to_layer


def phantom_sample():
    """Phantom brain (3D) and its labels."""
    image, labels = datasets.phantom((96, 96, 72), n_lesions=3, seed=0)
    return [image_to_layer(image, "phantom", as_labels=False),
            image_to_layer(image.with_array(labels), "phantom labels", as_labels=True)]


def mni152_sample():
    """MNI152 T1 (2 mm) and its 4-class tissue map."""
    image, labels = datasets.mni152(2)
    return [image_to_layer(image, "MNI152 T1", as_labels=False),
            image_to_layer(image.with_array(labels), "MNI152 tissues", as_labels=True)]
