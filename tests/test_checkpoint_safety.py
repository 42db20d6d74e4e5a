"""Checkpoints are exchanged between students and labs: loading one must never run code.

A crafted pickle named best.pt (its payload would create a file) is refused by every
way labtools reads checkpoints (load_checkpoint, load_model, predict on the CLI, resume),
with a clear error and no file created; labtools' own checkpoints, including those of
labtools 0.1 (NumPy RNG arrays, torch's version object), still load and resume.
"""

from __future__ import annotations

import os
import pickle
import random
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

from labtools import cli, datasets, io
from labtools.errors import UnsafeCheckpointError
from labtools.models import make_model
from labtools.training import fit, load_checkpoint, load_model
from labtools.training.checkpoint import set_rng_state

FAST = {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "patch_size": (32, 32), "live": None}


class _Payload:
    """Unpickling this calls os.system: the attack a shared checkpoint can carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _crafted(path: Path, marker: Path) -> Path:
    state = {"format": "labtools-checkpoint-1", "model": {}, "payload": _Payload(marker)}
    torch.save(state, path)
    return path


@pytest.fixture
def crafted(tmp_path):
    marker = tmp_path / f"pwned-{uuid.uuid4().hex[:6]}"
    run = tmp_path / "run"
    run.mkdir()
    _crafted(run / "best.pt", marker)
    _crafted(run / "last.pt", marker)
    return run, marker


def test_load_checkpoint_refuses_a_crafted_pickle_without_running_it(crafted):
    run, marker = crafted
    with pytest.raises(UnsafeCheckpointError, match="refused to read .*best.pt.*could run code"):
        load_checkpoint(run / "best.pt")
    with pytest.raises(UnsafeCheckpointError):
        load_model(run / "best.pt")
    assert not marker.exists()


def test_predict_and_resume_refuse_it_too(crafted, tmp_path, capsys):
    run, marker = crafted
    image, _ = datasets.phantom((32, 32), seed=0)
    io.save(image, tmp_path / "image.nii.gz")
    status = cli.main(["predict", str(run / "best.pt"), str(tmp_path / "image.nii.gz"),
                       "--out", str(tmp_path / "predictions"), "--quiet"])
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused to read" in err
    with pytest.raises(UnsafeCheckpointError):
        fit(make_model("tiny_unet", 2, 1, 5, channels=(4, 8)), [datasets.phantom((48, 48), seed=1)],
            out=run, resume=True, **FAST)
    assert not marker.exists()


def test_own_checkpoints_and_labtools_0_1_ones_still_load(tmp_path):
    torch.manual_seed(0)
    fit(make_model("tiny_unet", 2, 1, 5, channels=(4, 8)), [datasets.phantom((48, 48), seed=1)],
        out=tmp_path, **FAST)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 2 and isinstance(state["versions"]["torch"], str)
    # labtools 0.1 wrote NumPy's RNG state as an array and torch's version object as is.
    old = dict(state, rng={**state["rng"], "numpy": np.random.get_state()},
               versions={**state["versions"], "torch": torch.__version__})
    torch.save(old, tmp_path / "old.pt")
    again = load_checkpoint(tmp_path / "old.pt")
    assert isinstance(again["rng"]["numpy"][1], np.ndarray)
    # Both forms restore the generators exactly.
    for saved in (state["rng"], again["rng"]):
        set_rng_state(saved)
        first = (random.random(), np.random.random(), torch.rand(1).item())
        set_rng_state(saved)
        assert (random.random(), np.random.random(), torch.rand(1).item()) == first


def test_the_refusal_is_the_pickle_and_not_the_file_name(tmp_path):
    path = tmp_path / "notes.pt"
    with path.open("wb") as stream:
        pickle.dump({"format": "labtools-checkpoint-1", "f": _Payload(tmp_path / "x")}, stream)
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(path)
    assert not (tmp_path / "x").exists()
