"""Checkpoints: everything needed to resume a run exactly, or to predict with its model."""

from __future__ import annotations

import os
import platform
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from labtools.errors import CorruptFileError, MissingFileError, TrainingError
from labtools.io.atomic import atomic_replace
from labtools.models import unwrap

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "library_versions",
           "check_resumable", "link_as"]


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape a model's numbers."""
    import monai

    import labtools

    return {"python": platform.python_version(), "labtools": labtools.__version__,
            "torch": torch.__version__, "monai": monai.__version__, "numpy": np.__version__}


def rng_state() -> dict:
    """The state of every random generator training draws from (Python, NumPy, torch, CUDA)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path, *, model, optimizer, epoch: int, step: int, history, best: float,
                    config: dict) -> Path:
    """Write a checkpoint atomically: a crash while writing leaves the previous one intact.

    Stores the uncompiled model's weights (on the CPU) and how to rebuild it,
    the optimizer, the epoch and step reached, the history, the random
    generators' state, the training configuration and the library versions.
    """
    path = Path(path)
    module = unwrap(model)
    state = {
        "format": "labtools-checkpoint-1",
        "model": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "model_spec": getattr(module, "labtools_spec", None),
        "model_class": f"{type(module).__module__}.{type(module).__qualname__}",
        "optimizer": optimizer.state_dict(),
        "epoch": epoch, "step": step, "best": best,
        "history": list(history),
        "rng": rng_state(),
        "config": config,
        "versions": library_versions(),
    }
    with atomic_replace(path, suffix=".pt") as temporary:
        torch.save(state, temporary)
    return path


def link_as(source, target) -> Path:
    """Give `source` a second name, `target`, atomically (a copy where links are not supported).

    :func:`save_checkpoint` replaces files rather than rewriting them, so the
    two names part ways as soon as `source` is saved again.
    """
    source, target = Path(source), Path(target)
    with atomic_replace(target, suffix=".pt") as temporary:
        temporary.unlink()  # os.link wants a free name
        try:
            os.link(source, temporary)
        except OSError:  # file systems without hard links
            shutil.copyfile(source, temporary)
    return target


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (on the CPU).

    Raises
    ------
    MissingFileError
        No such file.
    CorruptFileError
        The file is not a labtools checkpoint (or is truncated).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"checkpoint {path} does not exist")
    try:
        # Our checkpoints hold numpy RNG arrays and plain containers; weights_only=False is needed
        # for them, so only load checkpoints you trust (as with any pickle).
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        raise CorruptFileError(f"cannot read checkpoint {path}: {err}") from err
    if not isinstance(state, dict) or state.get("format") != "labtools-checkpoint-1":
        raise CorruptFileError(f"{path} is not a labtools checkpoint (written by labtools.training.fit)")
    return state


def check_resumable(state: dict, model: torch.nn.Module) -> None:
    """Refuse to resume into a model whose architecture differs from the checkpoint's."""
    expected = state.get("model_spec")
    given = getattr(unwrap(model), "labtools_spec", None)
    if expected is not None and given is not None and expected != given:
        raise TrainingError(f"the checkpoint was trained with model {expected}, not {given}; "
                            "resume with the same model, or start a new run in another --out folder")
