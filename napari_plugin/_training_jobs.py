"""The Training dock's long work, written as plain generators/functions for napari thread workers.

Nothing here touches Qt or layers: the dock copies what it needs from the
layers on the GUI thread, runs these in a worker, and gets back events.
Errors that labtools raises on purpose (bad labels, a used output folder)
come back as a ``("failed", message)`` event instead of an exception, so the
dock shows the message in a notification rather than napari's traceback.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labtools import io
from labtools.errors import LabtoolsError

__all__ = ["TrainingJob", "train", "apply", "free_device_memory"]


@dataclass
class TrainingJob:
    """What to train: the data (one image + labels, or a folder), the plan's overrides, and run options.

    Exactly one of `folder` or (`image`, `labels`) is given. The network and
    its training follow :func:`labtools.training.planning.plan` for the data;
    `overrides` replace single choices of the plan (``batch_size``, ``lr``,
    ``model``, ...); `options` go to :func:`labtools.training.fit_iter`
    unchanged (``out``, ``max_time``).
    """

    dims: int
    options: dict
    overrides: dict = field(default_factory=dict)
    image: io.Image | None = None
    labels: np.ndarray | None = None
    scribbles: bool = False
    axis: int = -1
    n_classes: int | None = None
    folder: str | None = None
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    def data(self):
        """Training and validation pairs (a :class:`~labtools.training.sources.TrainingData`)."""
        if self.folder is not None:
            from labtools.training.sources import load_source

            return load_source(self.folder, self.dims)
        from labtools.training.split import split_one_image

        return split_one_image(self.image, self.labels, dims=self.dims, axis=self.axis,
                               scribbles=self.scribbles, n_classes=self.n_classes)


def train(job: TrainingJob):
    """Generator of events: ``("started", info)``, ``("epoch", record)`` ..., then ``("ended", info)``.

    Send ``"stop"`` into the generator (``worker.send("stop")``) to end
    training right after the epoch in progress: the :func:`fit_iter`
    generator is closed, which saves that epoch and stops the loop. (A
    ``worker.quit()`` alone would leave it suspended: fit's thread would wait
    at the epoch's end and ``curves.png`` would never be drawn.) On a
    labtools error the last event is ``("failed", message)``. The network is
    built here, in the worker thread, and released when training ends.
    """
    import torch

    from labtools.training import fit_iter
    from labtools.training.devices import describe_device, select_device
    from labtools.training.planning import plan
    from labtools.training.resample import resample_data

    model = records = None
    epochs_done = 0
    try:
        data = job.data()
        device = select_device(job.options.get("device", "auto"))
        chosen = plan(data, dims=job.dims, device=str(device), **job.overrides)
        data, resampled = resample_data(data, chosen.spacing)
        torch.manual_seed(job.seed)  # the same seed, the same initial weights
        model = chosen.make_model(data.in_channels, data.n_classes)
        info = {"train": len(data.train), "val": len(data.val), "classes": data.n_classes,
                "notes": [*job.notes, *data.notes, *([resampled] if resampled else [])],
                "device": describe_device(device),
                "plan": chosen.describe(), "epochs": chosen.epochs}
        if (yield "started", info) != "stop":  # Stop may come while the data are prepared
            options = {**chosen.fit_options(max_time=job.options.get("max_time")), **job.options}
            if not data.val:
                options["patience"] = None  # early stopping watches a validation Dice
            records = fit_iter(model, data.train, data.val or None, **options)
            for record in records:
                epochs_done = record["epoch"]
                if (yield "epoch", record) == "stop":
                    break
    except LabtoolsError as err:
        yield "failed", str(err)
    except torch.OutOfMemoryError:
        yield "failed", ("out of memory: lower the batch size, the patch size or the channels "
                         "(the finished epochs are saved)")
    finally:
        if records is not None:
            records.close()  # waits for fit to save the epoch and draw curves.png
        del model, records
        free_device_memory()
    yield "ended", {"epochs": epochs_done, "out": str(job.options.get("out", ""))}


def apply(checkpoint: Path, image: io.Image, *, axis: int = -1, offset: int = 0) -> np.ndarray:
    """Segment `image` with the network saved in `checkpoint`; the classes plus `offset`.

    A 2D network segments a 3D image slice by slice along `axis` (the axis it
    was trained on). `offset` = 1 turns network classes 0..K-1 back into
    scribble classes 1..K. Returns ``("done", labels)`` or ``("failed", message)``.
    """
    from labtools.training import load_model, segment
    from labtools.training.predict import inference_options

    model = None
    try:
        model, config = load_model(checkpoint, device="auto")
        result = segment(model, image.array, axis=axis, **inference_options(config))
        return "done", (result.astype(np.int32) + offset)
    except LabtoolsError as err:
        return "failed", str(err)
    finally:
        del model
        free_device_memory()


def free_device_memory() -> None:
    """Give cached GPU memory back once the network's last reference is gone (no-op on the CPU)."""
    import torch

    gc.collect()  # the network may sit in a reference cycle (optimizer, closures)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
