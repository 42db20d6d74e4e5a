"""A whole-body-sized OME-Zarr volume opens lazily in napari (issue 18): a Dask layer, in about a second.

The store (512×512×800 int16, ~420 MB of voxels) is generated block by block
(labtools.datasets.ct_like); opening it must read only metadata and the slices drawn.
"""

from __future__ import annotations

import time

import dask
import dask.array as da
import numpy as np
import psutil
import pytest

from labtools import io
from labtools.datasets.ct_like import ct_like

pytestmark = pytest.mark.gui

OPEN_SECONDS = 2.0  # the acceptance: opens lazily within 2 s


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    image, classes = ct_like((512, 512, 800), chunks=(128, 128, 128))
    folder = tmp_path_factory.mktemp("zarr")
    with dask.config.set(scheduler="threads"):
        return io.save(image, folder / "ct.ome.zarr"), io.save(image.with_array(classes), folder / "ct_seg.ome.zarr")


def test_a_512x512x800_store_opens_lazily_in_napari(make_napari_viewer, big_store):
    image_path, _ = big_store
    viewer = make_napari_viewer()
    memory_before = psutil.Process().memory_info().rss
    start = time.perf_counter()
    (layer,) = viewer.open(str(image_path), plugin="labtools")
    seconds = time.perf_counter() - start
    grown = psutil.Process().memory_info().rss - memory_before
    assert isinstance(layer.data, da.Array) and layer.data.shape == (512, 512, 800)
    assert seconds <= OPEN_SECONDS, f"opening took {seconds:.2f} s"
    # The first slice drawn reads the chunks it crosses (28 of 128³ for a 512×800 plane), not the volume.
    assert grown < 0.75 * layer.data.nbytes, f"memory grew by {grown / 1e6:.0f} MB: the volume was read"
    np.testing.assert_allclose(layer.scale, (0.8, 0.8, 1.0))
    viewer.dims.set_point(0, 100.0)  # another slice (napari slices the first axis): drawn from its chunks
    assert layer._slice.image.view.shape[:2] == (512, 800)


def test_a_lazy_label_store_opens_as_labels(make_napari_viewer, big_store):
    _, labels_path = big_store
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(labels_path), plugin="labtools")
    assert layer._type_string == "labels" and isinstance(layer.data, da.Array)
