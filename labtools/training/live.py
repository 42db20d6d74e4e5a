"""Live loss curves: one renderer (matplotlib, no GUI), a throttle, and pluggable publishers.

The notebook publisher shows one output and replaces it in place (a Jupyter
display handle): no flicker, no pile of images, and the final frame stays in
the saved notebook. Any other frontend can pass its own ``publish(png, text)``.
"""

from __future__ import annotations

import base64
import io
import time

__all__ = ["CurvesFigure", "LiveCurves", "notebook_publisher", "in_notebook"]


class CurvesFigure:
    """Loss (train, validation) and validation Dice per epoch, drawn into PNG bytes.

    The figure is built once and its lines are updated, which keeps a redraw
    at a few tens of milliseconds.

    Examples
    --------
    >>> from labtools.training.history import History
    >>> png = CurvesFigure().png(History([{"epoch": 1, "train_loss": 1.0, "val_dice": 0.5},
    ...                                   {"epoch": 2, "train_loss": 0.6, "val_dice": 0.7}]))
    >>> png[:4]
    b'\\x89PNG'
    """

    def __init__(self, dpi: int = 80):
        from matplotlib.figure import Figure  # the object API: no pyplot, no GUI backend

        self.dpi = dpi
        # A fixed layout: constrained layout would re-measure every text at every redraw.
        self.figure = Figure(figsize=(9, 3.2), dpi=dpi)
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.2)
        self.loss_axes, self.dice_axes = self.figure.subplots(1, 2)
        self.loss_axes.set(xlabel="epoch", ylabel="loss", title="loss")
        self.dice_axes.set(xlabel="epoch", ylabel="Dice", title="validation Dice", ylim=(0, 1))
        self.lines: dict[str, object] = {}

    def png(self, history) -> bytes:
        """Redraw from `history` and return the PNG image."""
        epochs = history.column("epoch")
        for name in history.columns:
            if name == "train_loss" or name == "val_loss":
                self._line(self.loss_axes, name, epochs, history.column(name), lw=2)
            elif name.startswith("val_dice"):
                mean = name == "val_dice"
                label = "mean (foreground)" if mean else f"class {name.rsplit('_', 1)[-1]}"
                self._line(self.dice_axes, name, epochs, history.column(name), label=label,
                           lw=2.5 if mean else 1, alpha=1 if mean else 0.6)
        self.loss_axes.relim()
        self.loss_axes.autoscale_view()
        self.dice_axes.set_xlim(self.loss_axes.get_xlim())
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=self.dpi)
        return buffer.getvalue()

    def _line(self, axes, name, x, y, label=None, **style):
        if name not in self.lines:
            (self.lines[name],) = axes.plot([], [], label=label or name.replace("_", " "), **style)
            # A fixed corner: "best" would search the data for a free spot at every redraw.
            axes.legend(loc="upper right" if axes is self.loss_axes else "lower right",
                        fontsize="small")
        self.lines[name].set_data(x, y)


class LiveCurves:
    """Redraw the curves after an epoch, at most once per `min_interval` seconds.

    The interval also grows to keep drawing below `max_share` of the wall time
    (drawing takes ~30-60 ms; a run of short epochs would otherwise spend more
    on pictures than on training). The final frame is always drawn.

    Parameters
    ----------
    publish : callable
        ``publish(png_bytes, text)``, e.g. :func:`notebook_publisher`'s result.
    min_interval : float
        Seconds between redraws at least.
    max_share : float
        Largest fraction of the wall time spent drawing.
    """

    def __init__(self, publish, *, min_interval: float = 1.0, max_share: float = 0.01):
        self.publish, self.min_interval, self.max_share = publish, min_interval, max_share
        self.figure = None
        self.last_draw = -float("inf")
        self.draw_seconds = 0.0
        self.draws = 0

    def update(self, history, *, final: bool = False) -> bool:
        """Draw if it is time (or `final`); returns whether it drew."""
        now = time.perf_counter()
        interval = max(self.min_interval, self.draw_seconds / self.max_share)
        if not len(history) or (not final and now - self.last_draw < interval):
            return False
        self.figure = self.figure or CurvesFigure()
        png = self.figure.png(history)
        self.publish(png, _summary(history[-1], final))
        self.last_draw = time.perf_counter()
        self.draw_seconds = self.last_draw - now
        self.draws += 1
        return True


def _summary(record: dict, final: bool) -> str:
    parts = [f"epoch {record.get('epoch')}", f"step {record.get('step')}"]
    for key in ("train_loss", "val_loss", "val_dice"):
        if isinstance(record.get(key), float):
            parts.append(f"{key} {record[key]:.4f}")
    return ("training finished: " if final else "training: ") + ", ".join(parts)


def in_notebook() -> bool:
    """Whether code runs in a Jupyter kernel (JupyterLab, Notebook, VS Code), not a terminal."""
    import sys

    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def notebook_publisher():
    """A ``publish(png, text)`` that shows one image in the notebook and replaces it in place.

    Uses a Jupyter display id (``update_display_data`` messages), which
    JupyterLab, Notebook 7, VS Code and nbclient all honour.
    """
    from IPython.display import display

    handle = None

    def publish(png: bytes, text: str) -> None:
        nonlocal handle
        bundle = {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": text}
        if handle is None:
            handle = display(bundle, raw=True, display_id=True)
        else:
            handle.update(bundle, raw=True)

    return publish
