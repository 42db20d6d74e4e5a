"""Run a submission's graded functions in a sandboxed child process and collect the answers.

One child per submission runs the functions one after another and reports
each function's answers as it finishes. When a function hangs, exhausts a
limit or kills its process, the parent records why and starts a fresh child
for the functions that remain, so one bad function never costs the others.

Layers (docs/grading.md, "Threat model"): a fresh ``python -I`` process in a
new session with a minimal environment, in a new temporary folder; resource
limits (CPU, address space, file size, processes); as root a new network
namespace and an unprivileged user; an audit hook refusing processes,
sockets, ctypes and files outside its folder; a wall-clock limit enforced by
killing the whole process group. Answers come back as JSON only
(:mod:`labtools.grading.wire`); references and expected values never enter the child.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from labtools.grading import wire
from labtools.grading.spec import Limits

__all__ = ["Job", "Outcome", "run_jobs", "SANDBOX_UID"]

CHILD_SCRIPT = Path(__file__).with_name("_child.py")
SANDBOX_UID = 65534  # nobody / nogroup on Debian and Ubuntu
_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Job:
    """One graded function to run: its code snippets and its cases, already JSON-encoded."""

    name: str
    snippets: tuple
    cases_json: str
    n_cases: int


@dataclass
class Outcome:
    """What the child reported for one function, or why it reported nothing (``failure``).

    ``cases`` holds one ``(ok, value_or_error, where, kind)`` per case.
    """

    name: str
    cases: list = field(default_factory=list)
    failure: str | None = None
    load_error: tuple | None = None
    violations: list = field(default_factory=list)
    patched: list = field(default_factory=list)


class _ChildDied(Exception):
    def __init__(self, reason: str, during: str | None):
        super().__init__(reason)
        self.reason, self.during = reason, during


def run_jobs(jobs, *, limits: Limits = Limits(), modules=(), forbidden=("labtools",),
             layers: list | None = None) -> dict[str, Outcome]:
    """Run `jobs` (one submission) in sandboxed children; one :class:`Outcome` per job.

    `modules` are imported in the child before it drops privileges; `layers`,
    when given, receives the isolation layers the child reported.

    Examples
    --------
    >>> from labtools.grading.extract import Snippet
    >>> job = Job("double", (Snippet("cell 1", "def double(x):\\n    return 2 * x\\n"),),
    ...           "[[1], [2.5]]", 2)
    >>> outcome = run_jobs([job])["double"]
    >>> outcome.failure, [case[1] for case in outcome.cases]
    (None, [2, 5.0])
    """
    outcomes: dict[str, Outcome] = {}
    remaining = list(jobs)
    while remaining:
        before = len(outcomes)
        try:
            _run_child(remaining, limits, modules, forbidden, outcomes, layers)
        except _ChildDied as died:
            culprits = [died.during] if died.during else [job.name for job in remaining]
            for name in culprits:
                outcomes.setdefault(name, Outcome(name, failure=died.reason))
        remaining = [job for job in remaining if job.name not in outcomes]
        if len(outcomes) == before:  # no progress: never loop forever
            for job in remaining:
                outcomes[job.name] = Outcome(job.name, failure="the sandbox stopped without an answer")
            break
    return outcomes


def _request(jobs, limits: Limits, modules, forbidden, tmp: str) -> bytes:
    uid = SANDBOX_UID if os.geteuid() == 0 else None
    head = json.dumps({"limits": vars(limits), "modules": sorted(set(modules)),
                       "forbidden": list(forbidden), "tmp": tmp, "uid": uid, "gid": uid})
    parts = [json.dumps({"name": job.name, "snippets": [vars(s) for s in job.snippets]})[:-1]
             + f', "cases": {job.cases_json}}}' for job in jobs]
    return (head[:-1] + ', "jobs": [' + ", ".join(parts) + "]}").encode("utf-8")


def _run_child(jobs, limits, modules, forbidden, outcomes, layers) -> None:
    tmp = tempfile.mkdtemp(prefix="labtools-sandbox-")
    if os.geteuid() == 0:
        os.chown(tmp, SANDBOX_UID, SANDBOX_UID)
    errors = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-I", str(CHILD_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=errors, cwd=tmp, env={**_ENV, "HOME": tmp, "TMPDIR": tmp}, start_new_session=True)
    try:
        _talk(process, jobs, limits, modules, forbidden, tmp, outcomes, layers, errors)
    finally:
        _kill(process)
        errors.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _talk(process, jobs, limits, modules, forbidden, tmp, outcomes, layers, errors) -> None:
    lines: queue.Queue = queue.Queue()
    cap = limits.output_mb * 1024 * 1024 + 1024
    threading.Thread(target=_read_lines, args=(process.stdout, lines, cap), daemon=True).start()
    try:
        process.stdin.write(_request(jobs, limits, modules, forbidden, tmp))
        process.stdin.close()
    except BrokenPipeError:
        pass
    by_name = {job.name: job for job in jobs}
    running, timeout = None, limits.startup_seconds
    while True:
        deadline = time.monotonic() + timeout
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise _ChildDied(_timeout_reason(running, limits), running) from None
        if line is None:
            if running is None and len(outcomes) >= len(jobs):
                return
            raise _ChildDied(_death_reason(process, errors, running, limits), running)
        message = _parse(line)
        if message is None:
            raise _ChildDied("its answer could not be read (malformed output from the sandbox)",
                             running or _next(jobs, outcomes))
        event = message.get("event")
        if event == "ready" and layers is not None:
            layers[:] = [str(layer) for layer in message.get("layers", [])][:10]
        elif event == "start" and message.get("name") in by_name:
            running, timeout = message["name"], limits.wall_seconds
        elif event == "result" and message.get("name") == running:
            outcomes[running] = _outcome(message, by_name[running])
            running, timeout = None, limits.wall_seconds
            if all(job.name in outcomes for job in jobs):
                return
        elif event != "ready":
            raise _ChildDied("its answer could not be read (unexpected message from the sandbox)",
                             running or _next(jobs, outcomes))


def _next(jobs, outcomes) -> str | None:
    return next((job.name for job in jobs if job.name not in outcomes), None)


def _read_lines(stream, lines: queue.Queue, cap: int) -> None:
    try:
        while True:
            line = stream.readline(cap)
            if not line:
                break
            lines.put(line if line.endswith(b"\n") else b"\x00too large")
    except (OSError, ValueError):
        pass
    lines.put(None)


def _parse(line: bytes):
    try:
        message = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return message if isinstance(message, dict) else None


def _outcome(message: dict, job: Job) -> Outcome:
    outcome = Outcome(job.name)
    outcome.violations = [str(v)[:300] for v in _list(message.get("violations"))][:5]
    outcome.patched = [str(v)[:100] for v in _list(message.get("patched"))][:5]
    if message.get("too_large"):
        outcome.failure = "its answers were too large to send back (more than the output limit)"
        return outcome
    load_error = message.get("load_error")
    if load_error is not None:
        parts = _list(load_error) + [None, None, None]
        outcome.load_error = (str(parts[0])[:500], _text(parts[1]), _text(parts[2]))
        return outcome
    cases = _list(message.get("cases"))
    if len(cases) != job.n_cases:
        outcome.failure = "its answers could not be read (wrong number of answers)"
        return outcome
    outcome.cases = [_case(case) for case in cases]
    return outcome


def _case(case) -> tuple:
    if not isinstance(case, dict):
        return (False, "the answer could not be read", None, "malformed")
    if case.get("ok") is True:
        try:
            return (True, wire.decode(case.get("value")), None, None)
        except wire.WireError as err:
            return (False, f"the answer could not be read: {err}", None, "malformed")
    return (False, str(case.get("error"))[:500], _text(case.get("where")), _text(case.get("kind")))


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _text(value):
    return str(value)[:200] if value is not None else None


def _timeout_reason(running, limits: Limits) -> str:
    if running is None:
        return (f"the sandbox did not start within {limits.startup_seconds:g} s (the modules the "
                "code imports took too long to load)")
    return (f"time limit: it ran for more than {limits.wall_seconds:g} s on the test cases "
            "(an endless loop, or far too slow)")


def _death_reason(process, errors, running, limits: Limits) -> str:
    try:
        status = process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        status = None
    errors.seek(0, os.SEEK_END)
    errors.seek(max(0, errors.tell() - 4096))
    tail = errors.read().decode("utf-8", "replace")
    if "MemoryError" in tail:
        return f"memory limit: it needed more than {limits.memory_mb} MB"
    if status == -signal.SIGXCPU or status == -signal.SIGKILL:
        return (f"CPU time limit: it used more than {limits.cpu_seconds:g} s of CPU time "
                "(or was killed for memory)")
    if status is not None and status < 0:
        return f"the process crashed ({signal.Signals(-status).name})"
    what = f"while running {running}" if running else "before running any function"
    return (f"the process ended {what} (exit status {status}); graded code must return its "
            "result, not exit the program")


def _kill(process) -> None:
    """Kill the child's whole process group (anything it started dies with it)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
    for stream in (process.stdout, process.stdin):
        try:
            stream.close()
        except OSError:
            pass
