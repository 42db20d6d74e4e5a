"""Shared fixtures: real NIfTI files shipped by nibabel and dipy, small synthetic images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _nibabel_file(name: str) -> Path:
    from nibabel.testing import data_path

    return Path(data_path) / name


def _dipy_file(name: str) -> Path:
    import dipy.data

    return Path(dipy.data.__file__).parent / "files" / name


# Real headers with odd geometry: big-endian int16 with a tilted sform (anatomical),
# 4D with a 2.2 mm slice gap (example4d), anisotropic 4 x 4 x 5 mm voxels (aniso_vox).
REAL_FILES = {
    "anatomical.nii": lambda: _nibabel_file("anatomical.nii"),
    "example4d.nii.gz": lambda: _nibabel_file("example4d.nii.gz"),
    "aniso_vox.nii.gz": lambda: _dipy_file("aniso_vox.nii.gz"),
}


@pytest.fixture(params=sorted(REAL_FILES))
def real_nifti(request) -> Path:
    path = REAL_FILES[request.param]()
    assert path.is_file(), f"test data missing: {path}"
    return path


@pytest.fixture
def small_volume() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(12, 10, 8)).astype(np.float32)
