"""The pieces of labtools.grading: spec errors, markers, extraction, wire format, comparison."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from labtools import cli
from labtools.errors import AssignmentError
from labtools.grading import compare, extract_functions, load_assignment, student_cells
from labtools.grading.notebook import Cell, parse_percent
from labtools.grading.sandbox import Job, run_jobs
from labtools.grading.extract import Snippet
from labtools.grading.spec import Limits
from labtools.grading.wire import WireError, decode, encode

ASSIGNMENTS = Path(__file__).resolve().parents[1] / "course" / "assignments"


def _folder(tmp_path, toml: str) -> Path:
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "solution.py").write_text("def f(x):\n    return x\n")
    (folder / "assignment.toml").write_text(toml)
    return folder


GOOD = '''
[assignment]
name = "a"
notebook = "solution.py"
[[functions]]
name = "f"
points = 1
reference = "labtools.metrics.dice"
generator = { kind = "mask_pair", shapes = [[4, 4]] }
'''


@pytest.mark.parametrize("change, words", [
    (("points = 1", "pionts = 1"), "unknown key(s) ['pionts']"),
    (('notebook = "solution.py"', 'notebook = "missing.py"'), "missing.py named by [assignment]"),
    (("points = 1", 'points = "one"'), "points must be a int or float"),
    (("[[functions]]", "[[functions]\n"), "is not valid TOML"),
    (('name = "f"', 'name = "not a name"'), "is not a Python function name"),
])
def test_bad_assignment_toml_says_what_to_fix(tmp_path, change, words):
    folder = _folder(tmp_path, GOOD.replace(*change))
    with pytest.raises(AssignmentError, match=None) as info:
        load_assignment(folder)
    assert words in str(info.value)


def test_unknown_reference_and_generator_are_errors(tmp_path):
    from labtools.grading import prepare

    folder = _folder(tmp_path, GOOD.replace("labtools.metrics.dice", "numpy.sum"))
    with pytest.raises(AssignmentError, match="give a labtools function"):
        prepare(load_assignment(folder))
    shutil.rmtree(folder)
    folder = _folder(tmp_path, GOOD.replace("mask_pair", "masks"))
    with pytest.raises(AssignmentError, match="unknown generator kind 'masks'"):
        prepare(load_assignment(folder))


def test_cli_reports_input_errors_in_one_line(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "nope"), str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "assignment folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    folder = ASSIGNMENTS / "metrics-basics"
    assert cli.main(["grade", str(folder), str(empty), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds no submissions" in err


def test_markers_become_stubs_and_hidden_tests_disappear():
    cells = [Cell("code", "def f(x):\n    ### BEGIN SOLUTION\n    y = 2 * x\n    return y\n"
                          "    ### END SOLUTION\n", "cell 1"),
             Cell("code", "K = 42  # SOLUTION\ndef g():\n    return K  # SOLUTION", "cell 2"),
             Cell("code", "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n"
                          "### END HIDDEN TESTS", "cell 3"),
             Cell("code", "### BEGIN HIDDEN TESTS\nsecret = 1\n### END HIDDEN TESTS", "cell 4"),
             Cell("markdown", "Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", "cell 5")]
    student = student_cells(cells)
    assert len(student) == 4
    assert "2 * x" not in student[0].source and student[0].source.startswith("def f(x):\n    # YOUR")
    assert student[1].source == "K = ...\ndef g():\n    return ..."
    assert student[2].source == "assert f(1) == 2"
    assert student[3].source == "Why?\nYOUR ANSWER HERE"
    with pytest.raises(AssignmentError, match="BEGIN SOLUTION has no END SOLUTION"):
        student_cells([Cell("code", "### BEGIN SOLUTION\nx = 1", "cell 7")])


def test_percent_parser_matches_jupytext():
    import jupytext

    for source in ASSIGNMENTS.glob("*/*.py"):
        if source.name == "reference.py":
            continue
        ours = [(c.kind, c.source) for c in parse_percent(source.read_text())]
        theirs = [(c.cell_type, c.source) for c in jupytext.read(source).cells]
        assert ours == theirs, source


def test_extraction_keeps_only_what_the_function_needs(tmp_path):
    path = tmp_path / "s.ipynb"
    cells = ["import numpy as np, os\nimport sys", "SCALE = 2\nUNUSED = open('/etc/x')",
             "def helper(v):\n    return SCALE * v", "x = 1; sys.exit()",
             "def f(a):\n    result = helper(np.sum(a))\n    return result",
             "result = f([1, 2])\nwhile True:\n    pass", "%timeit f([1])"]
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": c} for c in cells]}))
    extraction = extract_functions(path, ["f", "g"])
    code = "".join(s.source for s in extraction["f"].snippets)
    assert "import numpy as np" in code and "SCALE = 2" in code and "def helper" in code
    assert "os" not in code and "sys" not in code and "UNUSED" not in code and "while" not in code
    assert extraction["f"].modules == ("numpy",)
    assert "no function named g" in extraction["g"].error
    # line numbers are those of the student's cell
    assert [s.filename for s in extraction["f"].snippets] == ["cell 1", "cell 2", "cell 3", "cell 5"]
    assert extraction["f"].snippets[1].source.splitlines()[0] == "SCALE = 2"


def test_wire_refuses_anything_but_plain_numbers():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(decode(json.loads(json.dumps(encode(array)))), array)
    for bad in ({"__ndarray__": ["object", [1], "AA=="]}, {"__ndarray__": ["float64", [2], "AA=="]},
                {"__pickle__": "x"}, {"__ndarray__": ["int8", [-1], ""]}):
        with pytest.raises(WireError):
            decode(bad)


def test_compare_in_words():
    assert compare(float("inf"), float("inf")) == (True, "")
    assert compare(float("inf"), 1e300)[0] is False
    assert compare(0.5, np.float32(0.5)) == (True, "")
    assert compare(0.5, True)[0] is False
    assert compare(2, 2.0)[0] is True
    ok, message = compare(np.zeros((2, 2)), np.array([[0, 0], [0, 1.0]]))
    assert not ok and message.startswith("1 of 4 values differ; first at index (1, 1)")
    assert compare(np.zeros(3), "zeros") == (False, "expected an array of shape (3,), dtype float64, "
                                                    "got 'zeros'")


def test_sandbox_reports_its_layers_and_blocks_the_network():
    body = ("import socket\ndef f(x):\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n")
    layers: list = []
    outcome = run_jobs([Job("f", (Snippet("cell 1", body),), "[[1]]", 1)], modules=["socket"],
                       limits=Limits(wall_seconds=10), layers=layers)["f"]
    assert "audit hook" in layers and "resource limits" in layers
    import os

    if os.geteuid() == 0:
        assert "network namespace" in layers and "user 65534" in layers
    assert outcome.violations and outcome.violations[0].startswith("socket.")
