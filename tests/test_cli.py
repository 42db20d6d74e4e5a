"""The `labtools` command: help everywhere, info, datasets, demo, clean errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from labtools import io
from labtools.cli import COMMANDS, main
from labtools.training import History


def _cli(*args, cwd=None) -> subprocess.CompletedProcess:
    """Run the installed console script, as a user would."""
    exe = Path(sys.executable).with_name("labtools")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_top_level_help_lists_every_command():
    result = _cli("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: labtools {command}" in capsys.readouterr().out


def test_info_reports_geometry_and_labels(tmp_path, capsys):
    labels = np.zeros((10, 8, 6), dtype=np.uint8)
    labels[2:4, 2:4, 2:4] = 3
    path = io.save(labels, tmp_path / "seg.nii.gz", spacing=(0.5, 0.5, 2.0))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "10 x 8 x 6" in out and "0.5 x 0.5 x 2 mm" in out and "RAS" in out
    # 8 voxels of 0.5 ml/1000 each -> 0.004 ml
    assert "3: 0.004 ml" in out


def test_info_on_real_4d_file(capsys):
    from nibabel.testing import data_path

    assert main(["info", os.path.join(data_path, "example4d.nii.gz")]) == 0
    out = capsys.readouterr().out
    assert "128 x 96 x 24  (2 channels, stored first)" in out


def test_bad_file_gives_one_clear_line_and_status_2(tmp_path):
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 20)
    result = _cli("info", str(broken))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("labtools info: error: ") and "broken.nii.gz" in result.stderr


def test_missing_file(tmp_path):
    result = _cli("info", str(tmp_path / "absent.nii"))
    assert result.returncode == 2 and "no such file" in result.stderr


def test_datasets_lists_registry_and_data_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABTOOLS_DATA", str(tmp_path))
    (tmp_path / "Task04_Hippocampus").mkdir()
    (tmp_path / "Task04_Hippocampus" / "dataset.json").write_text("{}")
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert f"data folder: {tmp_path}" in out
    assert "phantom" in out and "mni152" in out
    assert f"on disk: {tmp_path / 'Task04_Hippocampus'}" in out
    assert "Task01_BrainTumour" in out and "not downloaded" in out


def test_demo_writes_report_and_montage(tmp_path):
    result = _cli("demo", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "out" / "report.txt").read_text()
    assert "reloaded bit-exact: True" in report
    assert "mni152" in report and "white matter" in report
    assert "nearest-mean intensity classifier" in report and "4 lesion" in report
    assert "pixel classifier:" in report and "random forest on 49 features" in report
    assert "training: TinyUNet" in report
    history = History.from_csv(tmp_path / "out" / "training" / "history.csv")
    # max_time=15 is a budget fit plans with (measured step and validation times); on a loaded
    # machine those vary, so the run may end a little late, never a whole epoch late.
    assert history[-1]["time"] <= 15 * 1.2
    assert f"best validation Dice {max(history.column('val_dice')):.3f}" in report
    assert (tmp_path / "out" / "training" / "curves.png").is_file()
    from PIL import Image as PILImage

    montage = np.asarray(PILImage.open(tmp_path / "out" / "montage.png").convert("L"))
    assert montage.shape[0] > 300 and montage.std() > 10  # a real picture, not a blank canvas
    for name in ("phantom_t1.nii.gz", "phantom_seg.nii.gz", "mni152_2mm_tissues.nii.gz"):
        assert io.load(tmp_path / "out" / name).shape[0] > 0
    assert "phantom" in result.stdout + result.stderr  # the step log is shown


def test_info_describes_the_good_files_after_a_bad_one(tmp_path, capsys):
    good = io.save(np.zeros((4, 4, 4), np.uint8), tmp_path / "good.nii.gz")
    (tmp_path / "short.nii").write_bytes(b"\x5c\x01\x00\x00" * 10)
    assert main(["info", str(tmp_path / "short.nii"), str(good)]) == 2
    captured = capsys.readouterr()
    assert "good.nii.gz" in captured.out
    assert "too short for a NIfTI header" in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_folder_is_reported_as_a_folder(tmp_path, capsys):
    assert main(["info", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_python_dash_m_labtools_is_the_same_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "labtools", "info", str(tmp_path / "absent.nii")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("labtools info: error: ")
