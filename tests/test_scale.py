"""Many cases on Dask (issue 18): a 2-worker cluster on 127.0.0.1 gives what the sequential loop gives,
killing a worker loses no finished case, and a killed run resumes with only the missing cases.

The reference is the same function run with ``scheduler="synchronous"`` (no Dask at all), whose
metrics tests/test_metrics*.py check against MONAI and scikit-learn.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from labtools import cli, datasets, io
from labtools.metrics.batch import evaluate_files, pair_files
from labtools.scale import Case, CaseJournal, content_hash, run_cases

N_CASES = 40


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        yield cluster


def _ball(shape, centre, radius):
    grid = np.indices(shape)
    return (((grid - np.array(centre).reshape(-1, 1, 1, 1)) ** 2).sum(0) <= radius ** 2).astype(np.uint8)


def _write_cases(folder: Path, shape, n=N_CASES) -> tuple[Path, Path]:
    """n generated prediction/reference pairs: shifted balls of two classes, some empty predictions."""
    pred_dir, ref_dir = folder / "pred", folder / "ref"
    pred_dir.mkdir(parents=True), ref_dir.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        centre = rng.integers(shape[0] // 3, 2 * shape[0] // 3, size=3)
        ref = _ball(shape, centre, shape[0] // 4) + _ball(shape, centre + 3, shape[0] // 8)
        pred = np.roll(ref, int(rng.integers(-3, 4)), axis=0)
        if i % 7 == 3:
            pred[:] = 0  # one class missing: infinite distances, the empty-mask policy
        io.save(ref, ref_dir / f"case{i:03d}.nii.gz", spacing=(1.0, 0.9, 1.5))
        io.save(pred, pred_dir / f"case{i:03d}.nii.gz", spacing=(1.0, 0.9, 1.5))
    return pred_dir, ref_dir


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _assert_same_rows(rows, expected):
    assert [(r["case"], r["label"]) for r in rows] == [(r["case"], r["label"]) for r in expected]
    for row, reference in zip(rows, expected):
        assert row.keys() == reference.keys()
        assert all(_same(row[k], reference[k]) for k in row), (row, reference)


def _read_csv(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_evaluate_on_a_two_worker_cluster_equals_the_sequential_loop(cluster, tmp_path):
    pairs, _, _ = pair_files(*_write_cases(tmp_path, (40, 40, 40)))
    pairs.append(("broken", tmp_path / "missing.nii.gz", pairs[0][2]))  # a failing case goes on
    sequential = evaluate_files(pairs, scheduler="synchronous", progress=False)
    distributed = evaluate_files(pairs, scheduler=cluster.scheduler_address, progress=False)
    _assert_same_rows(distributed, sequential)
    assert sequential[-1]["case"] == "broken" and "no such file" in sequential[-1]["error"]
    assert len({r["case"] for r in sequential}) == N_CASES + 1


def test_the_scheduler_address_comes_from_the_environment(cluster, tmp_path, monkeypatch):
    from distributed import Client

    pairs, _, _ = pair_files(*_write_cases(tmp_path, (24, 24, 24), n=3))
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
    rows = evaluate_files(pairs, progress=False)  # no client open in this process: only the variable
    with Client(cluster.scheduler_address) as client:
        keys = client.run_on_scheduler(lambda dask_scheduler: [str(t[0]) for t in dask_scheduler.transition_log])
    assert len(rows) == 6
    assert sum(key.startswith("_evaluate_case-") for key in set(keys)) >= 3


def test_classify_on_the_cluster_writes_what_the_sequential_loop_writes(cluster, tmp_path):
    from labtools.pixel_classifier import PixelClassifier

    image, labels = datasets.phantom((24, 24, 16), n_lesions=0, seed=0)
    scribbles = np.zeros_like(labels)
    scribbles[::3, ::3, ::3] = labels[::3, ::3, ::3] + 1
    model = tmp_path / "model.skops"
    PixelClassifier(n_estimators=8, sigmas=(0.7, 1.6)).fit(image, scribbles).save(model)
    images = [io.save(datasets.phantom((24, 24, 16), n_lesions=0, seed=s)[0], tmp_path / f"im{s:02d}.nii.gz")
              for s in range(N_CASES)]
    for out, scheduler in (("seq", "synchronous"), ("dask", cluster.scheduler_address)):
        argv = ["classify", str(model), *map(str, images), "--out", str(tmp_path / out), "--quiet",
                "--scheduler", scheduler]
        assert cli.main(argv) == 0
    for path in images:
        name = path.name.replace(".nii.gz", "_seg.nii.gz")
        np.testing.assert_array_equal(io.load(tmp_path / "dask" / name).array, io.load(tmp_path / "seq" / name).array)


def test_predict_on_the_cluster_writes_what_the_sequential_loop_writes(cluster, tmp_path):
    import torch

    from labtools.models import make_model
    from labtools.training import fit

    torch.manual_seed(0)
    fit(make_model("tiny_unet", 3, 1, 5, channels=(4, 8)), [datasets.phantom((24, 24, 16), seed=1)],
        out=tmp_path / "run", epochs=1, steps_per_epoch=2, batch_size=2, patch_size=(16, 16, 16), live=None)
    images = [io.save(datasets.phantom((20, 24, 16), n_lesions=1, seed=s)[0], tmp_path / f"im{s:02d}.nii.gz")
              for s in range(N_CASES)]
    for out, scheduler in (("seq", "synchronous"), ("dask", cluster.scheduler_address)):
        argv = ["predict", str(tmp_path / "run" / "last.pt"), *map(str, images), "--out", str(tmp_path / out),
                "--quiet", "--scheduler", scheduler]
        assert cli.main(argv) == 0
    for path in images:
        name = path.name.replace(".nii.gz", "_seg.nii.gz")
        np.testing.assert_array_equal(io.load(tmp_path / "dask" / name).array, io.load(tmp_path / "seq" / name).array)


def _evaluate_command(pred_dir, ref_dir, out, scheduler, *extra):
    return [sys.executable, "-m", "labtools", "evaluate", str(pred_dir), str(ref_dir), "--out", str(out),
            "--metrics", "all", "--scheduler", scheduler, *extra]


def _wait_for_lines(path: Path, count: int, process, timeout=120.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = len(path.read_text().splitlines()) if path.exists() else 0
        if lines >= count:
            return lines
        assert process.poll() is None, "the run ended before the test could interrupt it"
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} finished cases after {timeout} s")


@pytest.fixture(scope="module")
def slow_cases(tmp_path_factory):
    """40 cases of 96³ with every metric: about 0.25 s each, long enough to interrupt."""
    folder = tmp_path_factory.mktemp("slow")
    pred_dir, ref_dir = _write_cases(folder, (96, 96, 96))
    reference = folder / "sequential.csv"
    assert cli.main(["evaluate", str(pred_dir), str(ref_dir), "--out", str(reference), "--metrics", "all",
                     "--scheduler", "synchronous", "--quiet"]) in (0, 1)
    return pred_dir, ref_dir, _read_csv(reference)


def test_killing_a_worker_mid_run_loses_no_finished_case(cluster, slow_cases, tmp_path):
    from distributed import Client

    pred_dir, ref_dir, expected = slow_cases
    out = tmp_path / "metrics.csv"
    journal = tmp_path / "metrics.journal.jsonl"
    with Client(cluster.scheduler_address) as client:
        victim = next(iter(client.run(os.getpid).values()))
        process = subprocess.Popen(_evaluate_command(pred_dir, ref_dir, out, cluster.scheduler_address, "--quiet"),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        finished_before = _wait_for_lines(journal, 4, process)
        os.kill(victim, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode in (0, 1), stderr
        client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    assert finished_before < N_CASES
    assert len(entries) == N_CASES == len({e["key"] for e in entries})  # each case once, none lost
    assert _read_csv(out) == expected


def test_a_killed_run_resumes_with_only_the_missing_cases(cluster, slow_cases, tmp_path):
    pred_dir, ref_dir, expected = slow_cases
    out = tmp_path / "metrics.csv"
    journal = tmp_path / "metrics.journal.jsonl"
    process = subprocess.Popen(_evaluate_command(pred_dir, ref_dir, out, cluster.scheduler_address, "--quiet"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_lines(journal, 6, process)
    process.kill()  # the whole run, not a worker
    process.wait()
    done = len(journal.read_text().splitlines())
    assert 6 <= done < N_CASES and not out.exists()
    rerun = subprocess.run(_evaluate_command(pred_dir, ref_dir, out, cluster.scheduler_address),
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode in (0, 1), rerun.stderr
    assert f"{done} of {N_CASES} cases already done, running the other {N_CASES - done}" in rerun.stderr
    assert len(journal.read_text().splitlines()) == N_CASES  # the rerun computed only the missing ones
    assert _read_csv(out) == expected


def test_a_changed_file_or_option_is_computed_again(tmp_path):
    first = tmp_path / "a.txt"
    first.write_text("1")
    journal = CaseJournal(tmp_path / "j.jsonl")
    calls = []

    def double(value):
        calls.append(value)
        return 2 * value

    def cases(option):
        return [Case("a", content_hash(first, options={"factor": option}), (int(first.read_text()),))]

    for option in (1, 1, 2):
        list(run_cases(double, cases(option), scheduler="synchronous", journal=journal, progress=False))
    first.write_text("5")
    results = list(run_cases(double, cases(2), scheduler="synchronous", journal=journal, progress=False))
    assert calls == [1, 1, 5] and results[0].result == 10 and not results[0].resumed
    again = list(run_cases(double, cases(2), scheduler="synchronous", journal=journal, progress=False))
    assert again[0].resumed and again[0].result == 10 and calls == [1, 1, 5]


def test_a_torn_last_journal_line_is_ignored(tmp_path):
    journal = CaseJournal(tmp_path / "j.jsonl")
    journal.record("k1", "one", [1.5, math.inf])
    with open(journal.path, "a") as handle:
        handle.write('{"key": "k2", "case": "tw')  # killed mid-write
    assert journal.finished() == {"k1": [1.5, math.inf]}


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path):
    from labtools.errors import ParameterError

    import dask

    pairs, _, _ = pair_files(*_write_cases(tmp_path, (16, 16, 16), n=2))
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), \
            pytest.raises(ParameterError, match="no Dask scheduler answers at tcp://127.0.0.1:9"):
        evaluate_files(pairs, scheduler="tcp://127.0.0.1:9", progress=False)
