"""`labtools train` / `labtools predict`: the acceptance run, kill -9 and resume, DDP, affines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from labtools import cli, datasets, io
from labtools.training import History, load_checkpoint

# A small, fast configuration of the phantom task for the mechanics tests.
SMALL = ["--data", "phantom", "--dims", "2", "--model", "tiny_unet", "--channels", "4,8",
         "--patch-size", "64,64", "--batch-size", "2", "--steps-per-epoch", "4", "--quiet"]


def labtools_command(*args):
    return [sys.executable, "-m", "labtools.cli", *args]


def strip_timing(history):
    return [{k: v for k, v in r.items() if k not in ("time", "steps_per_s")} for r in history]


@pytest.mark.slow
def test_acceptance_phantom_2d_reaches_dice_085_within_60_seconds(tmp_path):
    out = tmp_path / "run"
    started = time.perf_counter()
    result = subprocess.run(labtools_command("train", "--data", "phantom", "--dims", "2",
                                             "--max-time", "60", "--out", str(out), "--quiet"),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    history = History.from_csv(out / "history.csv")
    assert history[-1]["time"] <= 60
    assert max(history.column("val_dice")) >= 0.85, history.column("val_dice")
    assert time.perf_counter() - started < 120  # 60 s of training plus start-up and data


@pytest.mark.slow
def test_acceptance_mni152_2d_reaches_tissue_dice_080_within_120_seconds(tmp_path):
    # Real MRI (the MNI152 template at 2 mm): the left hemisphere's axial slices train, the whole
    # right hemisphere validates; val_dice is the mean Dice of CSF, grey and white matter.
    out = tmp_path / "run"
    result = subprocess.run(labtools_command("train", "--data", "mni152", "--dims", "2",
                                             "--max-time", "120", "--out", str(out), "--quiet"),
                            capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr
    history = History.from_csv(out / "history.csv")
    assert 120 - (history[-1]["time"] - history[-2]["time"]) <= history[-1]["time"] <= 120
    assert max(history.column("val_dice")) >= 0.80, history.column("val_dice")
    assert "zscore_body" in result.stdout  # the plan was printed and followed


def test_kill_9_then_resume_continues_from_the_last_checkpoint(tmp_path):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    subprocess.run(labtools_command("train", *SMALL, "--epochs", "6", "--out", str(whole)),
                   check=True, capture_output=True, timeout=300)

    process = subprocess.Popen(labtools_command("train", *SMALL, "--epochs", "6", "--out", str(parts)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if (parts / "last.pt").exists() and load_checkpoint(parts / "last.pt")["epoch"] >= 2:
            break
        time.sleep(0.05)
    assert process.poll() is None, "training ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = load_checkpoint(parts / "last.pt")
    assert 2 <= killed_at["epoch"] < 6

    result = subprocess.run(labtools_command("train", *SMALL, "--epochs", "6", "--out", str(parts),
                                             "--resume"), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    expected, resumed = load_checkpoint(whole / "last.pt"), load_checkpoint(parts / "last.pt")
    assert resumed["step"] == expected["step"] == 24
    assert strip_timing(resumed["history"]) == strip_timing(expected["history"])
    for name, tensor in expected["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name
    for generator in ("torch", "numpy", "python"):  # the random state after the last epoch
        assert str(resumed["rng"][generator]) == str(expected["rng"][generator])
    assert len(History.from_csv(parts / "history.csv")) == 6


def test_predict_writes_segmentations_with_the_input_affine(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", *SMALL, "--epochs", "1", "--out", str(run)]) == 0
    image, _ = datasets.phantom((48, 40, 16), seed=3)
    affine = np.array([[0, -1.5, 0, 10], [2.0, 0, 0, -4], [0, 0, 3.0, 7], [0, 0, 0, 1]])
    source = io.save(io.Image(image.array, affine=affine), tmp_path / "scan.nii.gz")
    status = cli.main(["predict", str(run / "best.pt"), str(source), str(tmp_path / "missing.nii.gz"),
                       "--out", str(tmp_path / "pred"), "--quiet"])
    assert status == 1  # one image missing: reported, the other one still segmented
    assert "missing.nii.gz" in capsys.readouterr().err
    result = io.load(tmp_path / "pred" / "scan_seg.nii.gz")
    assert result.shape == image.shape  # a 2D network, slice by slice along the last axis
    np.testing.assert_allclose(result.affine, affine, atol=1e-6)
    assert set(np.unique(result.array)) <= set(range(5))


@pytest.mark.parametrize("arguments, message", [
    (["train", "--data", "nowhere", "--out", "{tmp}/r"], "not 'phantom', 'mni152'"),
    (["train", *SMALL, "--epochs", "2", "--out", "{tmp}/r", "--resume"], "nothing to resume"),
    (["train", *SMALL, "--patch-size", "63,64", "--out", "{tmp}/r"], "multiple of 2"),
    (["train", *SMALL, "--channels", "4,x", "--out", "{tmp}/r"], "whole numbers"),
    (["predict", "{tmp}/bad.pt", "img.nii.gz", "--out", "{tmp}/p"], "not a labtools checkpoint"),
])
def test_cli_errors_are_one_clear_line(tmp_path, capsys, arguments, message):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    torch.save({"some": "dict"}, tmp_path / "bad.pt")
    status = cli.main([a.replace("{tmp}", str(tmp_path)) for a in arguments])
    err = capsys.readouterr().err
    assert status == 2 and message in err
    assert len(err.strip().splitlines()) == 1


# --- several processes: DistributedDataParallel on the CPU (gloo) -------------------------------

DDP_SCRIPT = """
import os, sys, torch
from labtools import datasets, models
from labtools.training import fit
out = sys.argv[1]
torch.manual_seed(0)
model = models.make_model("tiny_unet", 2, 1, 5, channels=(4, 8))
pairs = [datasets.phantom((48, 48), seed=s) for s in range(3)]
fit(model, pairs[:2], pairs[2:], epochs=2, steps_per_epoch=3, batch_size=2, patch_size=(32, 32),
    out=out, live=None, device="cpu")
torch.save(model.state_dict(), os.path.join(out, f"rank{os.environ['RANK']}.pt"))
"""


def torchrun(*args):
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]


def test_ddp_two_cpu_processes_keep_identical_weights(tmp_path):
    script = tmp_path / "ddp_fit.py"
    script.write_text(DDP_SCRIPT)
    result = subprocess.run(torchrun(str(script), str(tmp_path / "run")), capture_output=True, text=True,
                            timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = torch.load(tmp_path / "run" / "rank0.pt")
    rank1 = torch.load(tmp_path / "run" / "rank1.pt")
    changed = load_checkpoint(tmp_path / "run" / "last.pt")
    for name, tensor in rank0.items():  # gradients were averaged: both processes took the same steps
        assert torch.equal(tensor, rank1[name]), name
    assert changed["config"]["world_size"] == 2
    assert changed["step"] == 6  # steps per process; each step saw 2 x batch_size patches


def test_torchrun_runs_the_train_command(tmp_path):
    result = subprocess.run(torchrun("-m", "labtools.train", *SMALL, "--epochs", "1", "--device", "cpu",
                                     "--out", str(tmp_path / "run")),
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    history = History.from_csv(tmp_path / "run" / "history.csv")
    assert len(history) == 1 and history[0]["step"] == 4


def test_a_folder_of_0_255_masks_is_refused_with_a_remapping_hint(tmp_path, capsys):
    for sub in ("images", "labels"):
        (tmp_path / "data" / sub).mkdir(parents=True)
    for seed in range(2):
        image, labels = datasets.phantom((32, 32, 16), seed=seed)
        io.save(image, tmp_path / "data" / "images" / f"case{seed}.nii.gz")
        io.save(((labels > 0) * 255).astype(np.uint8), tmp_path / "data" / "labels" / f"case{seed}.nii.gz",
                affine=image.affine)
    status = cli.main(["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run")])
    assert status == 2 and "labels // 255" in capsys.readouterr().err


@pytest.mark.parametrize("option, value, message", [
    ("--epochs", "0", "epochs must be at least 1"),
    ("--lr", "-1", "lr must not be negative"),
    ("--patch-size", "0,0", "positive multiple"),
])
def test_impossible_numbers_are_one_line_errors(tmp_path, capsys, option, value, message):
    status = cli.main(["train", *SMALL, option, value, "--out", str(tmp_path / "run")])
    assert status == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run" / "last.pt").exists()
