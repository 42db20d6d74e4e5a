"""Many cases as Dask tasks: results as they finish, recorded at once, failures reported, reruns resumed."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from labtools.scale.cluster import SYNCHRONOUS, dask_client

__all__ = ["Case", "CaseResult", "run_cases"]


@dataclass(frozen=True)
class Case:
    """One unit of work: ``function(*args)`` for the case `name`; `key` is the content hash of its inputs."""

    name: str
    key: str
    args: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class CaseResult:
    """What became of a case: its `result`, or the `error` (a message) that stopped it.

    ``resumed`` is True when the result came from the journal of an earlier run.
    """

    case: Case
    result: Any = None
    error: str = ""
    resumed: bool = False


def run_cases(function: Callable, cases, *, scheduler=None, workers: int | None = None, journal=None,
              desc: str = "cases", progress: bool = True, still_valid: Callable[[Any], bool] | None = None,
              ) -> Iterator[CaseResult]:
    """Run ``function(*case.args)`` for every case as a Dask task; yield each result as it finishes.

    Parameters
    ----------
    function : callable
        A module-level function, or a ``functools.partial`` of one (it is sent
        to the workers); its result must be JSON-serialisable (it goes into
        the journal).
    cases : sequence of Case
    scheduler, workers
        Where to run (:func:`labtools.scale.dask_client`); a single case to run
        runs in this process unless a scheduler is named.
    journal : CaseJournal, optional
        Finished cases recorded there are yielded first (``resumed=True``)
        and not run again; each newly finished case is recorded as it
        arrives, so killing the run (or a worker) loses no finished result.
    desc : str
        Progress-bar label.
    progress : bool
        Show a progress bar (with the Dask dashboard's link).
    still_valid : callable, optional
        ``still_valid(result)`` is False when a recorded result can no longer
        be used (e.g. its output file was deleted): the case runs again.

    Yields
    ------
    CaseResult
        In order of completion. An exception in a case (a
        :class:`~labtools.errors.LabtoolsError`, anything else, or a worker
        that died three times on it) becomes its ``error``; the rest go on.

    Examples
    --------
    >>> import math
    >>> cases = [Case(name, key=name, args=(n,)) for name, n in [("a", 2), ("b", -1)]]
    >>> [(r.case.name, r.result, r.error) for r in run_cases(math.sqrt, cases, scheduler="synchronous",
    ...                                                      progress=False)]
    [('a', 1.4142135623730951, ''), ('b', None, 'ValueError: math domain error')]
    """
    from tqdm.auto import tqdm

    cases = list(cases)
    finished = journal.finished() if journal is not None else {}
    to_run = []
    for case in cases:
        if case.key in finished and (still_valid is None or still_valid(finished[case.key])):
            yield CaseResult(case, finished[case.key], resumed=True)
        else:
            to_run.append(case)
    if not to_run:
        return
    if progress and len(to_run) < len(cases):
        print(f"{desc}: {len(cases) - len(to_run)} of {len(cases)} cases already done, running the other "
              f"{len(to_run)}", file=sys.stderr)
    if scheduler is None and len(to_run) == 1:
        scheduler = SYNCHRONOUS
    bar = tqdm(total=len(to_run), desc=desc, unit="case", disable=not progress, file=sys.stderr)
    with dask_client(scheduler, workers=workers) as client:
        if client is not None and progress and client.dashboard_link:
            bar.write(f"{desc}: Dask dashboard at {client.dashboard_link}", file=sys.stderr)
        outcomes = _in_process(function, to_run) if client is None else _on_dask(client, function, to_run)
        for outcome in outcomes:
            if not outcome.error and journal is not None:
                journal.record(outcome.case.key, outcome.case.name, outcome.result)
            if outcome.error:
                bar.write(f"failed {outcome.case.name}: {outcome.error}", file=sys.stderr)
            bar.update()
            yield outcome
    bar.close()


def _in_process(function, cases) -> Iterator[CaseResult]:
    for case in cases:  # one at a time, so that each result streams out as it finishes
        (ok, value), = _run_batch(function, [case.args])
        yield CaseResult(case, value) if ok else CaseResult(case, error=value)


#: Cases per Dask task at most. Short cases (a 64³ evaluation takes ~25 ms) are sent in batches so
#: that the scheduler's per-task cost (~ms) and the round trips do not dominate; a batch is small
#: enough that a lost worker costs little, and results still stream batch by batch.
MAX_BATCH = 16


def _batches(cases, n_workers: int) -> list[list[Case]]:
    """Split `cases` into batches: about 8 per worker, at most MAX_BATCH cases each.

    Examples
    --------
    >>> [len(b) for b in _batches(list(range(40)), 2)]
    [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    >>> max(len(b) for b in _batches(list(range(1000)), 2))
    16
    """
    size = max(1, min(MAX_BATCH, len(cases) // (8 * max(n_workers, 1))))
    return [cases[start:start + size] for start in range(0, len(cases), size)]


def _run_batch(function, arguments) -> list[tuple[bool, Any]]:
    """Run one batch on a worker: ``(True, result)`` or ``(False, message)`` per case."""
    outcomes = []
    for args in arguments:
        try:
            outcomes.append((True, function(*args)))
        except Exception as err:  # this case failed; the others in the batch go on
            outcomes.append((False, _message(err)))
    return outcomes


def _on_dask(client, function, cases) -> Iterator[CaseResult]:
    from distributed import as_completed

    batches = _batches(cases, len(client.scheduler_info().get("workers", {})))
    # pure=False: a rerun of a case must run (its inputs' hash is already in the key).
    name = getattr(function, "__name__", None) or function.func.__name__  # a functools.partial
    futures = {client.submit(_run_batch, function, [case.args for case in batch], pure=False,
                             key=f"{name}-{batch[0].key}-{len(batch)}"): batch
               for batch in batches}
    for future in as_completed(futures):
        batch = futures.pop(future)
        try:
            outcomes = future.result()
        except Exception as err:  # the task itself failed: a worker died repeatedly on it
            outcomes = [(False, _message(err))] * len(batch)
        finally:
            future.release()
        for case, (ok, value) in zip(batch, outcomes):
            yield CaseResult(case, value) if ok else CaseResult(case, error=value)


def _message(err: Exception) -> str:
    from labtools.errors import LabtoolsError

    if isinstance(err, LabtoolsError):
        return str(err)
    if type(err).__name__ == "KilledWorker":
        return ("the worker running this case died repeatedly (out of memory?); "
                f"run it alone to see why ({err})")
    return f"{type(err).__name__}: {err}"
