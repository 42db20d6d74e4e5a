"""The course's ready assignments: solutions run, student versions stop at the first stub,
references agree with torch and labtools, and the committed .ipynb match their sources."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import labtools.grading
from labtools import cli
from labtools.grading import load_assignment, prepare, read_cells
from labtools.grading.spec import resolve_reference

ASSIGNMENTS = Path(__file__).resolve().parents[1] / "course" / "assignments"
NAMES = ["metrics-basics", "losses", "transposed-convolution"]


def _execute(path: Path, cwd: Path):
    """Run a notebook headless; returns (index of the failing cell or None, error name)."""
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        failed = next(i for i, cell in enumerate(notebook.cells)
                      if any(o.get("output_type") == "error" for o in cell.get("outputs", [])))
        return failed, err.ename
    return None, None


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_matches_its_percent_source(name):
    folder = ASSIGNMENTS / name
    spec = load_assignment(folder)
    source = [(c.kind, c.source) for c in read_cells(spec.notebook)]
    committed = [(c.kind, c.source) for c in read_cells(folder / f"{name}.ipynb")]
    assert source == committed, f"regenerate with: jupytext --to ipynb {spec.notebook}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_solution_runs_headless_with_hidden_tests(name):
    folder = ASSIGNMENTS / name
    assert _execute(folder / f"{name}.ipynb", folder) == (None, None)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_runs_until_its_first_stub(name, tmp_path, capsys):
    assert cli.main(["assign", str(ASSIGNMENTS / name), "--out", str(tmp_path)]) == 0
    assert f"wrote {tmp_path / name}.ipynb" in capsys.readouterr().out
    notebook = json.loads((tmp_path / f"{name}.ipynb").read_text())
    sources = ["".join(cell["source"]) for cell in notebook["cells"]]
    assert not any("HIDDEN TESTS" in s or "END SOLUTION" in s for s in sources)
    stubbed = [i for i, s in enumerate(sources) if "YOUR CODE HERE" in s or "return ..." in s]
    failed, error = _execute(tmp_path / f"{name}.ipynb", tmp_path)
    # Stub cells only define functions: the first check after the first stub is the first to fail.
    checks = [i for i, c in enumerate(notebook["cells"])
              if i > stubbed[0] and c["cell_type"] == "code" and i not in stubbed]
    assert failed == checks[0]
    stub = (Path(labtools.grading.__file__).with_name("stub.txt")).read_text()
    stub_error = re.search(r"raise (\w+)", stub).group(1)
    assert error in (stub_error, "AssertionError", "TypeError")


def test_transposed_convolution_reference_equals_torch():
    import torch

    spec = load_assignment(ASSIGNMENTS / "transposed-convolution")
    prepared = prepare(spec)
    conv = resolve_reference(spec, spec.function("conv_transpose2d"))
    size = resolve_reference(spec, spec.function("output_size"))
    for case in prepared.cases["conv_transpose2d"]:
        x, weight, stride, padding = case.args
        expected = torch.nn.functional.conv_transpose2d(
            torch.from_numpy(x), torch.from_numpy(weight), stride=stride, padding=padding).numpy()
        np.testing.assert_allclose(conv(x, weight, stride, padding), expected, atol=1e-12)
        assert expected.shape[2] == size(x.shape[2], weight.shape[2], stride, padding)


def test_losses_references_equal_monai_twins_through_torch():
    import torch

    spec = load_assignment(ASSIGNMENTS / "losses")
    prepared = prepare(spec)
    for logits, target in (case.args for case in prepared.cases["cross_entropy"]):
        expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(target))
        assert resolve_reference(spec, spec.function("cross_entropy"))(logits, target) == \
            pytest.approx(float(expected), rel=1e-10)
    # the edge cases the toml promises are really there
    labels = [case.label for case in prepared.cases["dice_loss"]]
    assert labels[0].startswith("a class absent from the target")
    logits, target = prepared.cases["dice_loss"][0].args
    assert len(np.unique(target)) < logits.shape[1]


def test_metrics_basics_expected_values_follow_the_conventions():
    prepared = prepare(load_assignment(ASSIGNMENTS / "metrics-basics"))
    dice = dict(zip((c.edge for c in prepared.cases["dice_score"]), prepared.expected["dice_score"]))
    assert np.isnan(dice["both_empty"]) and dice["pred_empty"] == 0 and dice["ref_empty"] == 0
    assert dice["identical"] == 1 and dice["full"] == 1 and dice["disjoint"] == 0
    hd = dict(zip((c.edge for c in prepared.cases["hausdorff_distance"]),
                  prepared.expected["hausdorff_distance"]))
    assert np.isnan(hd["both_empty"]) and hd["pred_empty"] == np.inf and hd["identical"] == 0
    # a hand-made case: two single voxels 3 rows apart at 2.5 mm per row
    from labtools.metrics import hausdorff

    a, b = np.zeros((6, 6), bool), np.zeros((6, 6), bool)
    a[1, 1], b[4, 1] = True, True
    assert hausdorff(a, b, spacing=(2.5, 1.0)) == 7.5
