"""Where training runs: device choice, seeding, and torch.distributed (DDP) set-up."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from labtools.errors import TrainingError

__all__ = ["select_device", "describe_device", "seed_everything", "DistributedContext"]


def select_device(request="auto") -> torch.device:
    """``"auto"`` picks CUDA, else Apple's MPS, else the CPU; anything else is passed to torch.

    Examples
    --------
    >>> select_device("cpu")
    device(type='cpu')
    """
    if isinstance(request, torch.device):
        return request
    if request == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        device = torch.device(request)
    except RuntimeError as err:
        raise TrainingError(f"unknown device {request!r}: use 'auto', 'cpu', 'cuda', 'cuda:1' or 'mps'") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError("device 'cuda' was requested but torch sees no CUDA GPU "
                            f"(torch {torch.__version__}); use device='auto' or 'cpu'")
    return device


def describe_device(device: torch.device) -> str:
    """A human name: ``cuda:0 (NVIDIA H100 80GB HBM3)`` or ``cpu (2 threads)``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (all GPUs included).

    Examples
    --------
    >>> seed_everything(0); a = torch.rand(1)
    >>> seed_everything(0); bool(torch.rand(1) == a)
    True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class DistributedContext:
    """One process of a ``torchrun`` job (or the only process when not launched by torchrun).

    torchrun sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; each process then
    trains on its own GPU (NCCL) or on the CPU (gloo), and DistributedDataParallel
    averages the gradients, so the processes keep identical weights.
    """

    def __init__(self, device_request="auto"):
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.started_here = False
        device = select_device(device_request)
        if self.world_size > 1:
            import torch.distributed as dist

            if device.type == "cuda":
                device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
                torch.cuda.set_device(device)
            if not dist.is_initialized():
                dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
                self.started_here = True
        self.device = device

    @property
    def is_main(self) -> bool:
        """Only the main process validates, saves checkpoints and reports."""
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model as DistributedDataParallel when there are several processes."""
        if self.world_size == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def agree(self, flag: bool) -> bool:
        """The main process's `flag`, on every process (so all stop at the same epoch)."""
        if self.world_size == 1:
            return flag
        import torch.distributed as dist

        tensor = torch.tensor([int(flag)], device=self.device)
        dist.broadcast(tensor, src=0)
        return bool(tensor.item())

    def mean(self, value: float) -> float:
        """The mean of `value` over the processes (the value itself with one process)."""
        if self.world_size == 1:
            return value
        import torch.distributed as dist

        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size

    def close(self, finished: bool = True) -> None:
        """Leave the process group (if this context joined it).

        After a normal end, the processes first wait for each other: one that
        tears its group down while another still finishes its epoch can abort
        in gloo's threads ("terminate called without an active exception").
        After an error there is no waiting: the others may be gone.
        """
        if self.started_here:
            import torch.distributed as dist

            if finished:
                dist.barrier()
            dist.destroy_process_group()
