"""Segmenting image files with a saved classifier: one case of ``labtools classify``, run on a Dask worker."""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["classify_file"]


def classify_file(model_path, source, target, *, trust: bool = False, blockwise: bool | None = None,
                  chunks=None) -> dict:
    """Segment the image in `source` and write its classes to `target`, with the image's geometry.

    Parameters
    ----------
    model_path : str or pathlib.Path
        Classifier file (:meth:`PixelClassifier.save`); loaded once per process.
    source, target : str or pathlib.Path
        Image to read and segmentation to write (format from the suffix; a
        ``.ome.zarr`` target is written chunk by chunk).
    trust : bool
        Also read a labtools 0.1 pickle (runs code from the file).
    blockwise : bool, optional
        Predict block by block (:meth:`PixelClassifier.predict_blockwise`):
        memory stays at a few blocks whatever the volume. Default: when the
        image is read lazily (a Zarr store).
    chunks : int or sequence of int, optional
        Block edge for blockwise prediction.

    Returns
    -------
    dict
        ``{"output": target}`` (what the run's journal records).
    """
    import dask

    from labtools import io
    from labtools.scale.journal import file_stamp

    classifier = _classifier(str(model_path), trust, file_stamp(model_path))
    image = io.load(source)
    if blockwise or (blockwise is None and image.is_lazy):
        segmentation = classifier.predict_blockwise(image, chunks=chunks)
        # Blocks run in this process's threads, also inside a Dask worker (no nested cluster).
        with dask.config.set(scheduler="threads"):
            io.save(image.with_array(segmentation), target)
    else:
        io.save(image.with_array(classifier.predict(image)), target)
    return {"output": str(target)}



@functools.lru_cache(maxsize=2)
def _classifier(path: str, trust: bool, stamp: tuple):
    """One load per worker process and file version (`stamp` changes when the file does)."""
    from labtools.pixel_classifier.estimator import PixelClassifier

    return PixelClassifier.load(Path(path), trust=trust)
