"""Checkpoints: everything needed to resume a run exactly, or to predict with its model."""

from __future__ import annotations

import os
import pickle
import platform
import random
import shutil
from pathlib import Path

import numpy as np
import torch

try:
    from numpy._core.multiarray import _reconstruct  # NumPy 2
except ImportError:  # NumPy 1.26
    from numpy.core.multiarray import _reconstruct

from labtools.errors import CorruptFileError, MissingFileError, TrainingError, UnsafeCheckpointError
from labtools.io.atomic import atomic_replace
from labtools.models import unwrap

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "library_versions",
           "check_resumable", "link_as"]


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape a model's numbers (plain strings)."""
    import monai

    import labtools

    return {"python": platform.python_version(), "labtools": labtools.__version__,
            "torch": str(torch.__version__), "monai": monai.__version__, "numpy": np.__version__}


def rng_state() -> dict:
    """The state of every random generator training draws from (Python, NumPy, torch, CUDA).

    Only tensors, numbers, strings and containers, so that :func:`load_checkpoint` can
    read it with ``weights_only=True`` (NumPy's key array is stored as a tensor).
    """
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(position),
                       int(has_gauss), float(cached)),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(state["python"])
    kind, keys, position, has_gauss, cached = state["numpy"]
    keys = keys.numpy() if isinstance(keys, torch.Tensor) else np.asarray(keys)
    np.random.set_state((kind, keys.astype(np.uint32), position, has_gauss, cached))
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
    """Read a checkpoint written by :func:`save_checkpoint` (on the CPU), safely.

    Checkpoints are exchanged between students and labs, and a pickle can run
    code when it is loaded. This is the one place labtools reads them (resume,
    ``predict``, ``load_model``, the notebook and the napari dock), with
    ``torch.load(weights_only=True)``: only tensors, numbers, strings and
    containers are built (plus NumPy arrays of numeric dtypes, which checkpoints
    of labtools 0.1 hold); anything else is refused before any of it runs.

    Raises
    ------
    MissingFileError
        No such file.
    UnsafeCheckpointError
        The file holds other objects (a crafted pickle, or a checkpoint of
        another program).
    CorruptFileError
        The file is not a labtools checkpoint (or is truncated).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"checkpoint {path} does not exist")
    try:
        with torch.serialization.safe_globals(_OLD_CHECKPOINT_TYPES):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f"refused to read {path}: it holds objects other than tensors, numbers and strings, "
            f"which could run code when loaded ({_first_line(err)}). labtools checkpoints never "
            "do; if you made this file yourself with another program, load it there") from None
    except Exception as err:  # torch raises RuntimeError, EOFError, ...
        raise CorruptFileError(f"cannot read checkpoint {path}: {err}") from err
    if not isinstance(state, dict) or state.get("format") != "labtools-checkpoint-1":
        raise CorruptFileError(f"{path} is not a labtools checkpoint (written by labtools.training.fit)")
    return state


def _first_line(error: Exception) -> str:
    """The part of torch's message that names what was refused ("Unsupported global: ...")."""
    text = str(error)
    found = [line.strip() for line in text.splitlines() if "Unsupported global" in line]
    return (found[0] if found else text.splitlines()[0] if text else type(error).__name__)[:300]


# What labtools 0.1 checkpoints hold besides tensors and containers: NumPy's RNG key array
# (arrays of numeric dtypes are rebuilt from bytes, no code runs) and torch's version string.
_OLD_CHECKPOINT_TYPES = [np.ndarray, np.dtype, np.dtypes.UInt32DType, _reconstruct,
                         torch.torch_version.TorchVersion]


def check_resumable(state: dict, model: torch.nn.Module) -> None:
    """Refuse to resume into a model whose architecture differs from the checkpoint's."""
    expected = state.get("model_spec")
    given = getattr(unwrap(model), "labtools_spec", None)
    if expected is not None and given is not None and expected != given:
        raise TrainingError(f"the checkpoint was trained with model {expected}, not {given}; "
                            "resume with the same model, or start a new run in another --out folder")
