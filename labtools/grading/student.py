"""The tester's side of the student process: start it inside the walls, ask, time out, restart.

A :class:`StudentProcess` runs one submission's code in a sandboxed child
(``_child.py``) and answers requests with plain data
(:mod:`labtools.grading.wire`). Every request has a wall-clock limit; a child
that hangs, exhausts a limit or dies is killed (with everything it started) and
the request fails with :class:`SandboxFailure`, whose message says why in words.
:meth:`StudentProcess.restart` then starts a fresh child and replays the cells
that ran before, so one endless loop costs one test, not the whole notebook.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from labtools.grading import wire
from labtools.grading.walls import kill_tree

__all__ = ["Limits", "StudentProcess", "SandboxFailure", "CHILD_SCRIPT"]

CHILD_SCRIPT = Path(__file__).with_name("_child.py")
_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's student process.

    ``wall_seconds`` bounds each request (a cell, or one call from a test);
    ``cpu_seconds`` the whole process; ``memory_mb`` its address space (numpy
    alone maps about 220 MB, torch about 1 GB); ``startup_seconds`` starting it
    and importing the modules the submission imports; ``processes`` the
    RLIMIT_NPROC of the sandbox (stops fork bombs).
    """

    cpu_seconds: float = 60.0
    wall_seconds: float = 30.0
    memory_mb: int = 2048
    startup_seconds: float = 60.0
    file_mb: int = 16
    output_mb: int = 32
    processes: int = 64


class SandboxFailure(BaseException):
    """The student process stopped answering: time limit, memory, crash. ``reason`` in words.

    A BaseException, like KeyboardInterrupt: an instructor's ``except Exception:`` in a
    test must not swallow it and go on talking to a dead process.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class StudentProcess:
    """One submission's sandboxed process, driven by requests.

    Parameters
    ----------
    walls : labtools.grading.walls.Walls
        How to start the child (bubblewrap, or no walls with ``--unsafe``).
    limits : Limits
    modules : iterable of str
        Modules to import before student code runs (the submission's imports).
    forbidden : iterable of str
        Modules student code may not import.
    files : dict of str to bytes, optional
        The assignment's public files (data, images), written into the working
        folder before any student code runs.

    Examples
    --------
    >>> from labtools.grading.walls import choose_walls
    >>> with StudentProcess(choose_walls(unsafe=True)) as student:
    ...     student.run("def double(x):\\n    return 2 * x", "cell 1")
    ...     student.request("call", id=student.get("double").id, args=[21])
    42
    """

    def __init__(self, walls, limits: Limits = Limits(), modules=(), forbidden=("labtools",),
                 files=None):
        self.walls, self.limits = walls, limits
        self.modules, self.forbidden = sorted(set(modules)), list(forbidden)
        self.files = dict(files or {})  # name -> bytes, put in the working folder first
        self.process = None
        self.history: list[tuple[str, str]] = []  # the cells that ran, to replay after a restart
        self._workdir = None

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        # Without walls, as root, the child switches to nobody in a network namespace of its
        # own; bubblewrap maps the user itself. The working folder matters only without walls
        # (bubblewrap gives the child an empty tmpfs).
        uid = 65534 if self.walls.kind == "unsafe" and os.geteuid() == 0 else None
        self._workdir = tempfile.mkdtemp(prefix="labtools-student-")
        if uid is not None:
            os.chown(self._workdir, uid, uid)
        command = self.walls.command(sys.executable, str(CHILD_SCRIPT))
        self._errors = open(os.devnull, "wb")
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors,
            start_new_session=True, cwd=self._workdir,
            env={**_ENV, "HOME": self._workdir, "TMPDIR": self._workdir})
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=_read_lines, args=(self.process.stdout, self._lines,
                                                   self.limits.output_mb << 20), daemon=True).start()
        limits = dict(vars(self.limits))
        setup = {"limits": limits, "modules": self.modules, "forbidden": self.forbidden,
                 "uid": uid, "files": {name: base64.b64encode(data).decode("ascii")
                                       for name, data in self.files.items()}, "read_roots": self.walls.trees(sys.executable)
                 if self.walls.kind != "unsafe" else []}
        self._send(setup)
        self._answer(self.limits.startup_seconds, "starting")

    def restart(self) -> None:
        """A fresh process with the cells that ran before; a cell that now fails is dropped."""
        for _ in range(len(self.history) + 1):
            self.close()
            self.start()
            try:
                for source, label in self.history:
                    self._send({"op": "run", "source": source, "label": label})
                    self._answer(self.limits.wall_seconds, "run")
                return
            except SandboxFailure:
                self.history.remove((source, label))
        raise SandboxFailure("the sandbox could not be restarted")

    def close(self) -> None:
        if self.process is None:
            return
        _kill(self.process)
        self._errors.close()
        self.process = None
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # -- requests ---------------------------------------------------------------------------
    def run(self, source: str, label: str):
        """Run a cell; returns None, or the :class:`~labtools.grading.wire.RemoteException` it raised."""
        ok, value = self._request({"op": "run", "source": source, "label": label})
        self.history.append((source, label))
        return None if ok else value

    def get(self, name: str):
        """The value of a global (plain data, or a Handle); raises NameError when undefined."""
        return self.request("get", name=name)

    def request(self, op: str, **fields):
        """Send one request; the decoded answer, or raise what the student code raised."""
        ok, value = self._request({"op": op, **fields})
        if ok:
            return value
        raise RemoteRaised(value)

    def _request(self, message: dict):
        if self.process is None:
            self.restart()
        self._send(message)
        answer = self._answer(self.limits.wall_seconds, message.get("op"))
        output = answer.get("out")
        if isinstance(output, str) and message.get("op") != "run":
            # What a student function prints while a test calls it is part of the test's
            # output (otter compares it, as a doctest would).
            sys.stdout.write(output)
        try:
            if answer.get("ok") is True:
                return True, wire.decode(answer.get("value"))
            error = wire.decode(answer.get("error"))
        except wire.WireError as err:
            raise SandboxFailure(f"its answer could not be read ({err})") from None
        if not isinstance(error, wire.RemoteException):
            raise SandboxFailure("its answer could not be read (malformed error)")
        return False, error

    def _send(self, message: dict) -> None:
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the reader notices the death and says why

    def _answer(self, seconds: float, doing) -> dict:
        try:
            line = self._lines.get(timeout=seconds)
        except queue.Empty:
            self.close()
            raise SandboxFailure(_timeout_reason(doing, seconds)) from None
        if line is None:
            reason = self._death_reason(doing)
            self.close()
            raise SandboxFailure(reason)
        try:
            answer = json.loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError):
            answer = None
        if not isinstance(answer, dict):
            self.close()
            raise SandboxFailure("its answer could not be read (too large, or not an answer)")
        return answer

    def _death_reason(self, doing) -> str:
        try:
            status = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            status = None
        if doing == "starting":
            return (f"the sandbox did not start (exit status {status}); the modules the "
                    "submission imports may not be installed for the grader")
        if status in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
            return f"CPU time limit: it used more than {self.limits.cpu_seconds:g} s of CPU time"
        if status in (-signal.SIGKILL, 128 + signal.SIGKILL):
            return (f"it was killed, most likely for using more than {self.limits.memory_mb} MB "
                    "of memory or too many processes")
        if status is not None and status < 0:
            return f"the process crashed ({signal.Signals(-status).name})"
        return (f"the process ended (exit status {status}); graded code must return its result, "
                "not end the program")


class RemoteRaised(Exception):
    """Student code raised: ``error`` is the :class:`~labtools.grading.wire.RemoteException`."""

    def __init__(self, error):
        super().__init__(f"{error.type_name}: {error.message}")
        self.error = error


def _timeout_reason(doing, seconds: float) -> str:
    if doing == "starting":
        return (f"the sandbox did not start within {seconds:g} s (the modules the code imports "
                "took too long to load)")
    return (f"time limit: it ran for more than {seconds:g} s (an endless loop, or far too slow)")


def _read_lines(stream, lines: queue.Queue, cap: int) -> None:
    try:
        while True:
            line = stream.readline(cap)
            if not line:
                break
            lines.put(line if line.endswith(b"\n") else b"too large")
    except (OSError, ValueError):
        pass
    lines.put(None)


def _kill(process) -> None:
    """Kill the child and everything it started, then close its pipes."""
    kill_tree(process)
    for stream in (process.stdout, process.stdin):
        try:
            stream.close()
        except OSError:
            pass

