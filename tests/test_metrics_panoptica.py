"""Panoptic quality against panoptica itself, run from PyPI in a virtual environment of its own.

panoptica (BrainLesion, the reference implementation of PQ for medical
images) pins numpy < 2.3, which cannot live next to this project's numpy 2.4.
So the test installs ``panoptica==2.1.7`` once into ``build/peers/panoptica``
(ignored by git; about 30 s and 600 MB on first use, reused afterwards), runs it
there on the same masks through a subprocess and compares its numbers with
labtools'. Its conventions, reproduced here: IoU >= 0.5 matching (labtools'
default; ``strict=True`` gives Kirillov's IoU > 0.5), full connectivity in 3D
(cc3d) but face connectivity in 2D (scipy's default label), which labtools
reproduces with ``connectivity=1``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from labtools import metrics
from tests.test_metrics_instances import _blobs

pytestmark = pytest.mark.slow

REQUIREMENT = "panoptica==2.1.7"
PEERS = Path(__file__).resolve().parents[1] / "build" / "peers"
RUNNER = '''
import json, sys
import numpy as np
import panoptica
from panoptica import ConnectedComponentsInstanceApproximator, InputType, NaiveThresholdMatching, Panoptica_Evaluator
panoptica.disable_citation_reminder()
data = np.load(sys.argv[1])
out = []
for k in range(len(data.files) // 2):
    evaluator = Panoptica_Evaluator(expected_input=InputType.SEMANTIC,
                                    instance_approximator=ConnectedComponentsInstanceApproximator(),
                                    instance_matcher=NaiveThresholdMatching())
    r = evaluator.evaluate(data[f"pred{k}"].astype(np.uint8), data[f"ref{k}"].astype(np.uint8),
                           verbose=False)["ungrouped"]
    out.append({"pq": r.pq, "sq": r.sq, "rq": r.rq, "tp": r.tp, "fp": r.fp, "fn": r.fn})
print(json.dumps(out))
'''


@pytest.fixture(scope="session")
def panoptica_python() -> Path:
    """A Python with panoptica installed, built under build/peers on first use."""
    venv = PEERS / "panoptica"
    python, marker = venv / "bin" / "python", venv / ".installed"
    if not (marker.exists() and marker.read_text() == REQUIREMENT and python.exists()):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                    REQUIREMENT], capture_output=True, text=True, timeout=900)
        assert installed.returncode == 0, f"could not install {REQUIREMENT} from PyPI:\n{installed.stderr[-2000:]}"
        marker.write_text(REQUIREMENT)
    return python


def _panoptica(python: Path, cases, tmp_path) -> list[dict]:
    data = tmp_path / "cases.npz"
    np.savez(data, **{f"pred{k}": p for k, (p, _) in enumerate(cases)}, **{f"ref{k}": r for k, (_, r) in enumerate(cases)})
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    done = subprocess.run([str(python), str(script), str(data)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_panoptic_quality_equals_panoptica_in_2d_and_3d(panoptica_python, tmp_path):
    cases = [(shape, seed, *_blobs(shape, seed)) for shape in [(60, 50), (30, 28, 14)] for seed in range(5)]
    theirs = _panoptica(panoptica_python, [(p, r) for _, _, p, r in cases], tmp_path)
    compared = 0
    for (shape, seed, pred, ref), their in zip(cases, theirs):
        ours = metrics.panoptic_quality(pred, ref, connectivity=1 if len(shape) == 2 else None)
        assert (ours["tp"], ours["fp"], ours["fn"]) == (their["tp"], their["fp"], their["fn"]), (shape, seed)
        for key in ("pq", "rq"):
            assert ours[key] == pytest.approx(their[key]), (shape, seed, key)
        if ours["tp"]:
            assert ours["sq"] == pytest.approx(their["sq"])
            compared += 1
    assert compared >= 4                      # enough cases with matches to mean something


def test_strict_matching_is_kirillovs_and_differs_at_exactly_the_threshold():
    strip_ref = np.zeros((3, 12), bool)
    strip_ref[1, 2:6] = True                              # 4 voxels
    strip_pred = np.zeros_like(strip_ref)
    strip_pred[1, 2:4] = True                             # 2 shared, union 4: IoU exactly 0.5
    assert metrics.panoptic_quality(strip_pred, strip_ref)["tp"] == 1              # panoptica: >= 0.5
    assert metrics.panoptic_quality(strip_pred, strip_ref, strict=True)["tp"] == 0  # Kirillov: > 0.5
