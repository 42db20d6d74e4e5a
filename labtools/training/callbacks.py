"""Callbacks: how fit() reports progress. One small interface, several frontends.

A callback is any object with some of these methods (missing ones are skipped):

``on_train_begin(run)``
    ``run`` is a dict: ``out``, ``device``, ``epochs``, ``steps_per_epoch``,
    ``start_epoch``, ``start_step``, ``parameters``.
``on_step_end(step)``
    After each optimizer step (no loss value: reading it would make the CPU
    wait for the GPU at every step).
``on_epoch_end(record, history) -> bool``
    After validation; return True to ask training to stop.
``on_train_end(history, reason)``
    Always called, also after an error; ``reason`` says why training ended.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["Callback", "CSVLogger", "CurvesFile", "TerminalProgress", "NotebookCurves",
           "default_callbacks", "call"]


class Callback:
    """Base class with do-nothing methods; subclass it or write a class with the same methods."""

    def on_train_begin(self, run: dict) -> None:
        pass

    def on_step_end(self, step: int) -> None:
        pass

    def on_epoch_end(self, record: dict, history) -> bool:
        return False

    def on_train_end(self, history, reason: str) -> None:
        pass


def call(callbacks, method: str, *args) -> bool:
    """Call `method` on every callback that has it; True if any asked to stop."""
    stop = False
    for callback in callbacks:
        function = getattr(callback, method, None)
        if function is not None:
            stop = bool(function(*args)) or stop
    return stop


class CSVLogger(Callback):
    """Rewrite ``history.csv`` after every epoch (a killed run keeps every finished epoch)."""

    def __init__(self, path):
        self.path = Path(path)

    def on_epoch_end(self, record, history) -> bool:
        history.to_csv(self.path)
        return False


class CurvesFile(Callback):
    """Write ``curves.png`` when training ends."""

    def __init__(self, path):
        self.path = Path(path)

    def on_train_end(self, history, reason) -> None:
        from labtools.training.live import CurvesFigure

        if len(history):
            self.path.write_bytes(CurvesFigure(dpi=100).png(history))


class TerminalProgress(Callback):
    """A tqdm bar over the steps, and one line per epoch above it."""

    def __init__(self, file=None):
        self.file = file or sys.stderr
        self.bar = None

    def on_train_begin(self, run) -> None:
        from tqdm.auto import tqdm

        print(f"{run['parameters']:,} parameters; writing to {run['out']}", file=self.file)
        total = run["epochs"] * run["steps_per_epoch"]
        self.bar = tqdm(total=total, initial=run["start_step"], unit="step", file=self.file,
                        dynamic_ncols=True, desc="fit")

    def on_step_end(self, step) -> None:
        self.bar.update(1)

    def on_epoch_end(self, record, history) -> bool:
        self.bar.write(epoch_line(record), file=self.file)
        return False

    def on_train_end(self, history, reason) -> None:
        if self.bar is not None:
            self.bar.close()
        print(f"training ended: {reason}", file=self.file)


class NotebookCurves(Callback):
    """Live curves in a Jupyter notebook: one output, replaced in place, at most once a second."""

    def __init__(self, publish=None, **throttle):
        from labtools.training.live import LiveCurves, notebook_publisher

        self.live = LiveCurves(publish or notebook_publisher(), **throttle)

    def on_train_begin(self, run) -> None:
        self.live.epochs = run["epochs"]

    def on_epoch_end(self, record, history) -> bool:
        self.live.update(history)
        return False

    def on_train_end(self, history, reason) -> None:
        self.live.update(history, final=True)


def epoch_line(record: dict) -> str:
    """One line of the terminal log.

    Examples
    --------
    >>> epoch_line({"epoch": 3, "step": 150, "time": 12.5, "train_loss": 0.4123, "val_dice": 0.8})
    'epoch 3  step 150  12s  train_loss 0.4123  val_dice 0.8000'
    """
    parts = [f"epoch {record['epoch']}", f"step {record['step']}", f"{record['time']:.0f}s"]
    parts += [f"{key} {record[key]:.4f}" for key in ("train_loss", "val_loss", "val_dice")
              if isinstance(record.get(key), float)]
    return "  ".join(parts)


def default_callbacks(out: Path, live) -> list:
    """history.csv and curves.png always; then the live frontend: "auto", "notebook", "terminal" or None.

    "auto" picks the notebook inside Jupyter and the terminal elsewhere.
    """
    from labtools.training.live import in_notebook

    callbacks = [CSVLogger(out / "history.csv"), CurvesFile(out / "curves.png")]
    if live == "auto":
        live = "notebook" if in_notebook() else "terminal"
    if live == "notebook":
        callbacks.append(NotebookCurves())
    elif live == "terminal":
        callbacks.append(TerminalProgress())
    elif live not in (None, False, "none"):
        from labtools.errors import TrainingError

        raise TrainingError(f"live must be 'auto', 'notebook', 'terminal' or None, got {live!r}")
    return callbacks
