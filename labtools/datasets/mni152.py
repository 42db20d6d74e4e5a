"""Real T1 MRI with a 4-class tissue map, from nilearn's bundled MNI152 template (offline)."""

from __future__ import annotations

import numpy as np

from labtools.errors import InvalidImageError
from labtools.io.image import Image

__all__ = ["mni152", "MNI152_CLASSES"]

MNI152_CLASSES = {1: "background", 2: "CSF/other", 3: "grey matter", 4: "white matter"}


def mni152(resolution: int = 2) -> tuple[Image, np.ndarray]:
    """The MNI152 2009 T1 template and a tissue label map derived from its priors.

    Labels are 1 background (outside the brain mask), then inside the mask
    the argmax of (1 - p_GM - p_WM, p_GM, p_WM): 2 CSF/other, 3 grey matter,
    4 white matter. Classes start at 1 so the map can serve directly as
    dense "scribbles" (where 0 means unlabelled). It is a population average,
    not a patient: sharp, noise-free and symmetric.

    Parameters
    ----------
    resolution : {1, 2}
        Voxel size in mm: 1 gives 197x233x189 voxels, 2 gives 99x117x95.

    Returns
    -------
    image : Image
        float32 T1 intensities in [0, 1], RAS affine of the template.
    labels : numpy.ndarray
        uint8 classes 1..4, see ``MNI152_CLASSES``.

    Examples
    --------
    >>> img, labels = mni152(2)
    >>> img.shape, sorted(np.unique(labels).tolist())
    ((99, 117, 95), [1, 2, 3, 4])
    """
    if resolution not in (1, 2):
        raise InvalidImageError(f"mni152 resolution must be 1 or 2 (mm), got {resolution!r}")
    # nilearn ships these files inside its wheel: no download happens here.
    from nilearn import datasets as nilearn_datasets

    template = nilearn_datasets.load_mni152_template(resolution=resolution)
    grey = nilearn_datasets.load_mni152_gm_template(resolution=resolution).get_fdata()
    white = nilearn_datasets.load_mni152_wm_template(resolution=resolution).get_fdata()
    mask = nilearn_datasets.load_mni152_brain_mask(resolution=resolution).get_fdata() > 0.5

    priors = np.stack([np.clip(1.0 - grey - white, 0.0, 1.0), grey, white])
    labels = np.ones(template.shape, dtype=np.uint8)
    labels[mask] = 2 + np.argmax(priors[:, mask], axis=0).astype(np.uint8)
    image = Image(template.get_fdata(dtype=np.float32), affine=template.affine,
                  meta={"dataset": f"mni152-{resolution}mm", "classes": MNI152_CLASSES})
    return image, labels
