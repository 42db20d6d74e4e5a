"""live_curves: the notebook frontend of fit()'s live loss and Dice curves."""

from __future__ import annotations

__all__ = ["live_curves"]


def live_curves(**kwargs):
    """A :class:`~labtools.training.NotebookCurves` callback: loss and Dice redrawn in place.

    ``fit`` already shows these curves in a notebook (``live="auto"``); this
    is the explicit way, e.g. to change the redraw throttle or to keep a
    handle on the callback. The plotting itself is
    :mod:`labtools.training.live`'s.

    Parameters
    ----------
    **kwargs
        Passed to :class:`~labtools.training.NotebookCurves`: ``publish``
        (a ``publish(png, text)`` function; default the notebook's display),
        ``min_interval`` (seconds between redraws, default 1),
        ``max_share`` (largest share of the time spent drawing) and ``class_names``
        (``{class index: name}`` for the Dice legend).

    Returns
    -------
    NotebookCurves
        Pass it in ``callbacks=`` (with ``live=None``, so that fit does not
        add a second one).

    Examples
    --------
    In a notebook::

        from labtools.training import fit
        history = fit(net, train_pairs, val_pairs, epochs=20, live=None,
                      callbacks=[live_curves()])

    Without a notebook, any ``publish`` function receives the frames:

    >>> frames = []
    >>> curves = live_curves(publish=lambda png, text: frames.append(text), min_interval=0.0)
    >>> from labtools.training.history import History
    >>> curves.on_train_end(History([{"epoch": 1, "step": 4, "train_loss": 0.7}]), "done")
    >>> frames
    ['training finished: epoch 1, step 4, train_loss 0.7000']
    """
    # Imported here: labtools.training pulls in torch (seconds), which the other widgets never need.
    from labtools.training.callbacks import NotebookCurves

    return NotebookCurves(**kwargs)
