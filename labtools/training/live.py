"""Live loss curves: one renderer (matplotlib, no GUI), a throttle, and pluggable publishers.

The notebook publisher shows one output and replaces it in place (a Jupyter
display handle): no flicker, no pile of images, and the final frame stays in
the saved notebook. Any other frontend can pass its own ``publish(png, text)``.
"""

from __future__ import annotations

import base64
import io
import math
import time

__all__ = ["CurvesFigure", "LiveCurves", "notebook_publisher", "in_notebook"]


class CurvesFigure:
    """Loss (train, validation) and validation Dice per epoch, drawn into PNG bytes.

    Drawing axes, ticks and legends is what costs (~100 ms, mostly text
    layout); the lines themselves cost little. So the axes are drawn once and
    kept as a background, with limits that grow in steps (epochs: the planned
    number when known, else doubling; loss: the first epochs' maximum, raised
    when exceeded). A redraw then
    restores the background and draws only the lines: a few milliseconds.

    Examples
    --------
    >>> from labtools.training.history import History
    >>> png = CurvesFigure().png(History([{"epoch": 1, "train_loss": 1.0, "val_dice": 0.5},
    ...                                   {"epoch": 2, "train_loss": 0.6, "val_dice": 0.7}]))
    >>> png[:4]
    b'\\x89PNG'
    """

    def __init__(self, dpi: int = 80, *, epochs: int | None = None, class_names: dict | None = None):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure  # the object API: no pyplot, no GUI backend

        # A fixed layout: constrained layout would re-measure every text at every redraw.
        self.figure = Figure(figsize=(9, 3.2), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.2)
        self.loss_axes, self.dice_axes = self.figure.subplots(1, 2)
        self.loss_axes.set(xlabel="epoch", ylabel="loss", title="loss")
        self.dice_axes.set(xlabel="epoch", ylabel="Dice", title="validation Dice", ylim=(0, 1))
        self.lines: dict[str, object] = {}
        self.background = None
        self.limits = None
        self.planned_epochs = epochs  # the x axis spans the whole run from the start
        self.class_names = dict(class_names or {})  # {class index: name} for the Dice legend

    def png(self, history) -> bytes:
        """Redraw from `history` and return the PNG image."""
        epochs = history.column("epoch")
        for name in history.columns:
            if name == "train_loss" or name == "val_loss":
                self._line(self.loss_axes, name, epochs, history.column(name), lw=2)
            elif name.startswith("val_dice"):
                mean = name == "val_dice"
                k = name.rsplit("_", 1)[-1]
                label = "mean (foreground)" if mean else self.class_names.get(int(k), f"class {k}")
                self._line(self.dice_axes, name, epochs, history.column(name), label=label,
                           lw=2.5 if mean else 1, alpha=1 if mean else 0.6)
        x_limit = self.limits[0] if self.limits else self.planned_epochs
        limits = (_grown(max(epochs, default=1), x_limit),
                  _grown(_largest_loss(history), self.limits and self.limits[1], doubling=False),
                  len(self.lines))
        if limits != self.limits or self.background is None:
            self._draw_background(limits)
        self.canvas.restore_region(self.background)
        for line in self.lines.values():
            line.axes.draw_artist(line)
        return _encode_png(self.canvas)

    def _draw_background(self, limits) -> None:
        for axes in (self.loss_axes, self.dice_axes):
            axes.set_xlim(0.5, limits[0] + 0.5)
        self.loss_axes.set_ylim(0, limits[1])
        self.canvas.draw()  # everything except the lines, which are "animated"
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)
        self.limits = limits

    def _line(self, axes, name, x, y, label=None, **style):
        if name not in self.lines:
            (self.lines[name],) = axes.plot([], [], label=label or name.replace("_", " "),
                                            animated=True, **style)
            # A fixed corner: "best" would search the data for a free spot at every redraw.
            axes.legend(loc="upper right" if axes is self.loss_axes else "lower right",
                        fontsize="small")
        self.lines[name].set_data(x, y)


def _largest_loss(history) -> float:
    values = [v for name in ("train_loss", "val_loss") for v in history.column(name)
              if isinstance(v, (int, float)) and math.isfinite(v)]
    return max(values, default=1.0)


def _grown(value: float, current, doubling: bool = True) -> float:
    """An axis limit that holds `value`: the current one if it does, else a new round one."""
    if current is not None and value <= current:
        return current
    if doubling:
        return float(2 ** math.ceil(math.log2(max(value, 4))))
    magnitude = 10 ** math.floor(math.log10(max(value, 1e-12)))
    return math.ceil(1.1 * value / magnitude) * magnitude  # 10 % headroom, one significant digit


def _encode_png(canvas) -> bytes:
    """The canvas as PNG, fast: light zlib compression (lines on white compress well anyway)."""
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1) \
        .save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


class LiveCurves:
    """Redraw the curves after an epoch, at most once per `min_interval` seconds.

    The interval also grows to keep drawing below `max_share` of the wall time
    (a redraw takes a few ms, one that changes the axes ~100 ms; a run of
    short epochs would otherwise spend more on pictures than on training). The final frame is always drawn.

    Parameters
    ----------
    publish : callable
        ``publish(png_bytes, text)``, e.g. :func:`notebook_publisher`'s result.
    min_interval : float
        Seconds between redraws at least.
    max_share : float
        Largest fraction of the wall time spent drawing.
    class_names : dict, optional
        ``{class index: name}``: the Dice legend names the classes ("lesion", not "class 4").
    """

    def __init__(self, publish, *, min_interval: float = 1.0, max_share: float = 0.01,
                 epochs: int | None = None, class_names: dict | None = None):
        self.publish, self.min_interval, self.max_share = publish, min_interval, max_share
        self.epochs = epochs  # planned epochs, if known: sets the x axis once
        self.class_names = class_names
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
        self.figure = self.figure or CurvesFigure(epochs=self.epochs, class_names=self.class_names)
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
