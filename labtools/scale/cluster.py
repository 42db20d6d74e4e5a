"""Which Dask cluster a run uses: an address, the client already open, or a new local cluster."""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager

from labtools.errors import ParameterError

__all__ = ["dask_client", "SYNCHRONOUS"]

#: ``scheduler=SYNCHRONOUS`` runs the cases one after another in this process, without Dask.
SYNCHRONOUS = "synchronous"


@contextmanager
def dask_client(scheduler=None, *, workers: int | None = None):
    """A ``dask.distributed.Client`` for the duration of a ``with`` block (None for SYNCHRONOUS).

    Parameters
    ----------
    scheduler : str, optional
        ``"tcp://host:8786"`` (any running ``dask.distributed`` scheduler:
        a SLURM allocation with dask-jobqueue, a dask-gateway cluster, ...),
        ``"local"`` (a new local cluster), or ``"synchronous"`` (no Dask:
        one case after another in this process). Default: the
        ``DASK_SCHEDULER_ADDRESS`` environment variable, else the client
        already open in this process, else a new local cluster.
    workers : int, optional
        Worker processes of a new local cluster (default: one per core). Each
        worker runs one case at a time and gets an equal share of the memory
        (Dask pauses and then restarts a worker that exceeds it).

    Yields
    ------
    distributed.Client or None
        The client; a local cluster it started is shut down when the block ends
        (a cluster reached by address, or an existing client, is left running).

    Examples
    --------
    >>> with dask_client("synchronous") as client:
    ...     client is None
    True
    """
    if scheduler == SYNCHRONOUS:
        yield None
        return
    import dask
    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address and address != "local":
        try:
            client = Client(address, timeout=dask.config.get("distributed.comm.timeouts.connect"))
        except OSError as err:
            raise ParameterError(f"no Dask scheduler answers at {address} ({err}); start one "
                                 "(`dask scheduler`, dask-jobqueue, dask-gateway) or leave --scheduler out "
                                 "for a local cluster") from None
        with client:
            yield client
        return
    if address is None:
        current = _current_client()
        if current is not None:
            yield current
            return
    if workers is not None and workers < 1:
        raise ParameterError(f"workers must be at least 1, got {workers}")
    # Servers listen on 127.0.0.1 only; the dashboard takes any free port (several runs may coexist).
    with LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=_dashboard_address(), silence_logs=logging.ERROR,
                      memory_limit="auto") as cluster, Client(cluster) as client:
        yield client


def _current_client():
    from distributed import get_client

    try:
        return get_client()
    except ValueError:  # no client in this process
        return None


def _dashboard_address():
    try:
        import bokeh  # noqa: F401  (the dashboard needs it)
    except ImportError:
        return None
    return "127.0.0.1:0"
