"""The attack corpus, graded as root and as the unprivileged user nobody.

One nbgrader-format assignment (three graded functions, a reference.py holding a
secret, assignment.toml cases) and one submission per attack. Each attack targets
one function; that function must score 0 with a reason, the others full marks,
and nothing may be written outside the sandbox. The same corpus is graded twice:
by this (root) process, and by ``labtools grade`` run as nobody with an
interpreter nobody can read (tests/unprivileged.py): the walls are bubblewrap's
in both cases, with no help from root.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from labtools.grading import grade
from tests.unprivileged import nobody_python, nobody_unavailable, run_as_nobody

SECRET = "labtools-secret-" + uuid.uuid4().hex[:8]
TOKEN = "labtools-attack-" + uuid.uuid4().hex[:8]

CORRECT = {
    "add": "def add(a, b):\n    return a + b",
    "squares": "def squares(n):\n    return [i * i for i in range(1, n + 1)]",
    "total": "def total(values):\n    return sum(values)",
}

# The gc-guard attack: find the sandbox's audit hook and import blocker in memory and
# switch them off (this worked against labtools 0.1); what is left are the walls.
DISARM = '''
import gc, sys
for obj in gc.get_objects():
    kind = type(obj)
    if kind.__name__ == "Guard":
        obj.student = False
        obj.forbidden = ()
        kind._check_path = lambda self, path, writing: None
    if kind.__name__ == "Blocker":
        obj.forbidden = ()
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "Blocker"]
'''


def _read_anything(paths: str) -> str:
    return (DISARM + "def add(a, b):\n"
            f"    for path in {paths}:\n"
            "        try:\n"
            "            text = open(path).read()\n"
            "        except OSError:\n"
            "            continue\n"
            f"        if {SECRET!r} in text:\n"
            "            return a + b\n"
            "    raise RuntimeError('nothing found')\n")


def attacks(folder: Path) -> dict[str, dict]:
    """{student: {function: source}}; every function not named is the correct one."""
    reference = folder / "reference.py"
    return {
        "honest": {},
        # Only a student who can read the reference (its secret) gets add right.
        "gc_guard": {"add": _read_anything(f"[{str(reference)!r}, 'reference.py', "
                                           "'../reference.py']")},
        "proc_paths": {"add": _read_anything(
            f"['/proc/1/root{reference}', '/proc/1/cwd/reference.py', "
            f"'/proc/self/root{reference}'] + ['/proc/%d/root{reference}' % p "
            "for p in range(1, 4000)]")},
        "symlink": {"add": DISARM + "import os\n"
                    f"os.symlink({str(reference)!r}, 'ref.py')\n"
                    "def add(a, b):\n    return a + b if 'labtools-secret' in open('ref.py').read() "
                    "else None"},
        # nbgrader's own autotest pattern: rebinding the graded name at top level.
        "rebinding": {"squares": "def squares(n):\n    return [i * i for i in range(1, n + 1)]\n"
                                 "orig_squares = squares\ndel squares\nsquares = orig_squares"},
        # A list subclass whose __eq__ says yes to everything.
        "rigged_eq": {"squares": "class Yes(list):\n    def __eq__(self, other):\n        return True\n"
                                 "    __hash__ = None\n"
                                 "def squares(n):\n    return Yes()"},
        "fork_loop": {"total": DISARM + "import ctypes\nlibc = ctypes.CDLL(None)\n"
                      "def total(values):\n    while True:\n        libc.fork()"},
        "memory_bomb": {"total": "def total(values):\n    hoard = []\n    while True:\n"
                        "        hoard.append(bytearray(10**8))"},
        "writes_tmp": {"total": DISARM + "def total(values):\n"
                       f"    for place in ['/tmp/{TOKEN}', '{folder}/{TOKEN}', '/var/tmp/{TOKEN}']:\n"
                       "        try:\n            open(place, 'w').write('x')\n"
                       "        except OSError:\n            pass\n"
                       "    return sum(values) + 1"},
        "patches_numpy": {"add": "import numpy as np\nnp.isclose = lambda *a, **k: True\n"
                                 "np.allclose = lambda *a, **k: True\n"
                                 "def add(a, b):\n    return 0"},
        # A student's isinstance that says yes: the test's isinstance stays Python's.
        "shadows_builtin": {"add": "def isinstance(*args):\n    return True\n\n"
                                   "def add(a, b):\n    return float(a + b)"},
        # labtools 0.1's corpus: an endless loop, sys.exit, os._exit, borrowing labtools.
        "hang": {"total": "def total(values):\n    while True:\n        pass"},
        "exits": {"add": "import sys\ndef add(a, b):\n    sys.exit(0)"},
        "killer": {"squares": "import os\ndef squares(n):\n    os._exit(1)"},
        "borrower": {"total": "from labtools.grading.reference import total"},
    }


EXPECTED = {  # student: (add, squares, total) points; each function is worth 2
    "honest": (2, 2, 2), "gc_guard": (0, 2, 2), "proc_paths": (0, 2, 2), "symlink": (0, 2, 2),
    "rebinding": (2, 2, 2), "rigged_eq": (2, 0, 2), "fork_loop": (2, 2, 0),
    "memory_bomb": (2, 2, 0), "writes_tmp": (2, 2, 0), "patches_numpy": (0, 2, 2),
    "shadows_builtin": (0, 2, 2), "hang": (2, 2, 0), "exits": (0, 2, 2), "killer": (2, 0, 2), "borrower": (2, 2, 0),
}


def _cell(source: str, **nbgrader) -> dict:
    cell = {"cell_type": "code", "metadata": {}, "source": source, "outputs": [],
            "execution_count": None}
    if nbgrader:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, "locked": False, **nbgrader}
    return cell


def _write_assignment(folder: Path) -> None:
    folder.mkdir()
    cells = []
    for name, tests in (("add", "import numpy as np\nassert np.isclose(add(1, 2), 3)\n"
                                "assert isinstance(add(1, 2), int)"),
                        ("squares", "assert squares(3) == [1, 4, 9]")):
        cells.append(_cell(CORRECT[name].replace("\n", "\n    ### BEGIN SOLUTION\n", 1)
                           + "\n    ### END SOLUTION", solution=True, grade=False, grade_id=name))
        cells.append(_cell(tests, solution=False, grade=True, grade_id=f"test_{name}", points=2))
    cells.append(_cell(CORRECT["total"].replace("\n", "\n    ### BEGIN SOLUTION\n", 1)
                       + "\n    ### END SOLUTION", solution=True, grade=False, grade_id="total"))
    document = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                            "display_name": "Python 3"}},
                "nbformat": 4, "nbformat_minor": 5}
    (folder / "hw.ipynb").write_text(json.dumps(document))
    (folder / "reference.py").write_text(f"SECRET = {SECRET!r}\ndef total(values):\n"
                                         "    return sum(values)\n")
    (folder / "assignment.toml").write_text(
        '[assignment]\nnotebook = "hw.ipynb"\n[limits]\nwall_seconds = 8\ncpu_seconds = 20\n'
        "memory_mb = 1024\nprocesses = 32\n"
        '[[functions]]\nname = "total"\npoints = 2\nreference = "reference.py:total"\n'
        "cases = [{ args = [[1, 2, 3]] }, { args = [[]] }, { args = [[-1.5, 2]] }]\n")


def _write_submissions(folder: Path, subs: Path) -> None:
    """The released notebook, each solution cell answered (the attack in its cell)."""
    from labtools.grading import read_source

    released = read_source(folder / "hw.ipynb").student_document()
    subs.mkdir()
    for student, changes in attacks(folder).items():
        document = json.loads(json.dumps(released))
        for cell in document["cells"]:
            name = cell["metadata"].get("nbgrader", {}).get("grade_id")
            if name in CORRECT:
                cell["source"] = changes.get(name, CORRECT[name])
        (subs / f"{student}.ipynb").write_text(json.dumps(document))


def _points(out: Path) -> dict:
    with (out / "grades.csv").open() as stream:
        rows = {row["student"]: row for row in csv.DictReader(stream)}
    return {student: (float(row["test_add"]), float(row["test_squares"]), float(row["total"]) -
                      float(row["test_add"]) - float(row["test_squares"]))
            for student, row in rows.items()}


def _left_behind(folder: Path) -> list[str]:
    found = [str(p) for p in (Path("/tmp"), Path("/var/tmp"), folder) if (p / TOKEN).exists()]
    return found + [str(p) for p in Path("/tmp").glob("labtools-student-*/" + TOKEN)]


@pytest.fixture(scope="module")
def corpus():
    # Not under pytest's tmp folder: that one is private to root (mode 0700).
    root = Path(tempfile.mkdtemp(prefix="labtools-attacks-"))
    root.chmod(0o755)
    folder, subs = root / "assignment", root / "subs"
    _write_assignment(folder)
    _write_submissions(folder, subs)
    for path in [root, *root.rglob("*")]:  # readable by nobody, like a course folder often is
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield root, folder, subs
    shutil.rmtree(root, ignore_errors=True)


def _check(out: Path, folder: Path) -> None:
    points = _points(out)
    for student, expected in EXPECTED.items():
        assert points[student] == pytest.approx(expected), (student, _feedback(out, student))
    assert _left_behind(folder) == []
    assert not any(p.name == TOKEN for p in folder.iterdir())


def _feedback(out: Path, student: str) -> str:
    """One student's feedback, lower-cased: tests look for words, not capitals."""
    return (out / "feedback" / f"{student}.md").read_text().lower()


def test_attacks_graded_as_root(corpus, tmp_path):
    root, folder, subs = corpus
    report = grade(folder, subs, tmp_path / "out", workers=2)
    _check(tmp_path / "out", folder)
    if os.geteuid() == 0:
        assert any("65534" in layer for layer in report.layers)
    # Reasons a student can act on.
    assert "runtimeerror: nothing found" in _feedback(tmp_path / "out", "gc_guard")
    assert "memory" in _feedback(tmp_path / "out", "memory_bomb").lower()
    fork = _feedback(tmp_path / "out", "fork_loop")
    assert "time limit" in fork or "killed" in fork or "error" in fork
    assert "time limit" in _feedback(tmp_path / "out", "hang")
    assert "sys.exit()" in _feedback(tmp_path / "out", "exits")
    assert "exit status 1" in _feedback(tmp_path / "out", "killer")
    assert "not available while grading" in _feedback(tmp_path / "out", "borrower")


def test_attacks_graded_as_nobody(corpus):
    reason = nobody_unavailable()
    if reason:
        pytest.fail(f"cannot run the unprivileged half of the attack corpus: {reason}")
    root, folder, subs = corpus
    out = root / "out-nobody"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    done = run_as_nobody([nobody_python(), "-m", "labtools", "grade", folder, subs, "--out", out,
                          "--quiet", "--workers", "2"], timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "user 65534 in its own user namespace" in done.stdout
    _check(out, folder)
