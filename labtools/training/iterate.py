"""fit_iter(): fit() as a generator of per-epoch records, for GUIs (napari's thread workers)."""

from __future__ import annotations

import queue
import threading

from labtools.training.callbacks import Callback
from labtools.training.loop import fit

__all__ = ["fit_iter"]

_FINISHED = object()


def fit_iter(model, train, val=None, **options):
    """Run :func:`fit` in a background thread and yield each epoch's record as it ends.

    Training waits at the end of each epoch until the next record is asked
    for, so closing the generator (or breaking out of the loop) stops it right
    after the epoch just yielded, with that epoch's checkpoint saved. Errors in training are raised
    in the consumer. Takes the same keywords as :func:`fit`; ``live`` defaults
    to None (the consumer shows progress).

    Examples
    --------
    >>> from labtools import datasets, models
    >>> pairs = [datasets.phantom((32, 32), seed=s) for s in range(2)]
    >>> net = models.make_model("tiny_unet", 2, 1, 5, channels=(4, 8))
    >>> for record in fit_iter(net, pairs[:1], pairs[1:], epochs=3, steps_per_epoch=2,
    ...                        batch_size=2, out=getfixture("tmp_path")):
    ...     if record["epoch"] == 2:
    ...         break                      # stops training after epoch 2
    >>> record["epoch"]
    2
    """
    records: queue.Queue = queue.Queue()   # training thread -> consumer: records, then the end
    replies: queue.Queue = queue.Queue()   # consumer -> training thread: "next" or "stop"

    class Forward(Callback):
        def on_epoch_end(self, record, history) -> bool:
            records.put(dict(record))
            # Wait for the consumer, as a generator would: closing it stops after this very epoch.
            return replies.get() == "stop"

    options = {"live": None, **options}
    options["callbacks"] = [*options.get("callbacks", ()), Forward()]

    def train_in_thread():
        try:
            fit(model, train, val, **options)
            records.put(_FINISHED)
        except BaseException as error:  # handed to the consumer, raised there
            records.put(error)

    thread = threading.Thread(target=train_in_thread, name="labtools-fit", daemon=True)
    thread.start()
    try:
        while (item := records.get()) is not _FINISHED:
            if isinstance(item, BaseException):
                raise item
            yield item
            replies.put("next")
    finally:
        replies.put("stop")  # read only if training waits at an epoch's end
        thread.join()
