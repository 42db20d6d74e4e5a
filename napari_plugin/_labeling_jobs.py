"""Background work of the labeling dock: one job at a time, waiting requests coalesced.

Every classifier call of the dock (refit + slice prediction, whole-volume
prediction, slice suggestion, export, save) runs here, in a napari
``thread_worker``, so the Qt event loop keeps answering while it works.

Why one at a time: the jobs share one classifier (a refit replaces some of
its trees while a prediction would read them), and two CPU-bound jobs side by
side would only slow each other down. Why coalesce: while a refit runs the
user keeps painting; only the newest request of each kind matters, so a
waiting request is replaced by a newer one of the same kind instead of
queueing one refit per stroke.
"""

from __future__ import annotations

from typing import Callable

from napari.qt.threading import create_worker
from qtpy.QtCore import QObject, Signal

__all__ = ["JobQueue"]


class JobQueue(QObject):
    """Run submitted functions in worker threads, one at a time, newest request per kind.

    Parameters
    ----------
    on_error : callable
        ``on_error(exception)``, called in the GUI thread when a job raises.
    parent : QObject, optional
        Qt parent.

    Signals
    -------
    idle
        Emitted when the last job has finished and nothing is waiting.
    """

    idle = Signal()

    def __init__(self, on_error: Callable[[BaseException], None], parent=None) -> None:
        super().__init__(parent)
        self._on_error = on_error
        self._pending: dict[str, tuple[Callable, Callable | None]] = {}
        self._running: str | None = None
        self._worker = None

    @property
    def busy(self) -> bool:
        """Whether a job runs or waits."""
        return self._running is not None or bool(self._pending)

    @property
    def running(self) -> str | None:
        """The kind of the job that runs now, or None."""
        return self._running

    def is_waiting(self, kind: str) -> bool:
        """Whether a job of this kind waits for its turn."""
        return kind in self._pending

    def submit(self, kind: str, func: Callable[[], object],
               on_done: Callable[[object], None] | None = None) -> None:
        """Run ``func()`` in a worker thread, then ``on_done(result)`` in the GUI thread.

        A job of the same `kind` that is still waiting is replaced (its
        place in the queue is kept); a running one is not interrupted.
        """
        self._pending[kind] = (func, on_done)
        self._start_next()

    def discard(self, kind: str | None = None) -> None:
        """Forget waiting jobs (of one kind, or all); a running job goes on."""
        if kind is None:
            self._pending.clear()
        else:
            self._pending.pop(kind, None)

    def shutdown(self, timeout: float = 120.0) -> None:
        """Forget waiting jobs, detach the running one and wait until its thread is done.

        Call it after making the running job stop (``LabelingSession.close``);
        its result is dropped, so nothing calls back into a widget being
        deleted (what crashed napari when its window closed mid-refit).
        """
        import time

        self._pending.clear()
        worker, self._worker, self._running = self._worker, None, None
        if worker is None:
            return
        for signal in (worker.returned, worker.errored, worker.finished):
            try:
                signal.disconnect()
            except (TypeError, RuntimeError):  # nothing connected (any more)
                pass
        deadline = time.monotonic() + timeout
        while worker.is_running and time.monotonic() < deadline:
            time.sleep(0.01)

    def _start_next(self) -> None:
        if self._running is not None:
            return
        if not self._pending:
            self.idle.emit()
            return
        kind = next(iter(self._pending))
        func, on_done = self._pending.pop(kind)
        connect = {"errored": self._on_error, "finished": self._finished}
        if on_done is not None:
            connect["returned"] = on_done
        self._running = kind
        # Keep a reference: a worker that is garbage-collected mid-run loses its signals.
        self._worker = create_worker(func, _connect=connect, _start_thread=True)

    def _finished(self) -> None:
        self._running, self._worker = None, None
        self._start_next()
