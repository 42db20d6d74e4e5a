"""labtools.grading.formats.nbgrader against nbgrader itself.

nbgrader (from PyPI) runs in these tests: ``generate_assignment`` on its own example
assignment ps1 (tests/data/nbgrader, see SOURCES there) plus a notebook made here
that has what ps1 lacks (hidden tests, indented solution regions, a read-only code
cell, a mark scheme, outputs); its gradebook gives the points, and its autograde
preprocessors (DeduplicateIds, OverwriteCells) say what runs for a submission.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from labtools.errors import AssignmentError
from labtools.grading.formats.nbgrader import NbgraderNotebook, is_nbgrader, read_nbgrader

DATA = Path(__file__).parent / "data" / "nbgrader"
NOTEBOOKS = ["problem1", "problem2", "problem3"]
MISSING = "This cell (id:"  # how nbgrader's OverwriteCells marks a test cell it added back


def _cell(kind, source, cell_id, nbgrader=None, **extra):
    cell = {"cell_type": kind, "id": cell_id, "metadata": {}, "source": source}
    if nbgrader is not None:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, "grade": False, "solution": False,
                                        "locked": False, **nbgrader}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    cell.update(extra)
    return cell


def _problem3() -> dict:
    """What ps1 lacks: hidden tests, indented regions, a read-only code cell, a mark scheme."""
    result = {"output_type": "execute_result", "execution_count": 3, "metadata": {},
              "data": {"text/plain": "3.14"}}
    cells = [
        _cell("markdown", "# Problem 3\n\nCircles.", "intro"),
        _cell("code", "import math\nLIMIT = 10", "setup", {"grade_id": "setup", "locked": True}),
        _cell("code", 'def area(r):\n    """Area of a circle."""\n    ### BEGIN SOLUTION\n'
              "    return math.pi * r ** 2\n    ### END SOLUTION\n\n\nclass Shape:\n"
              "    def perimeter(self, r):\n        ### BEGIN SOLUTION\n"
              "        return 2 * math.pi * r\n        ### END SOLUTION\n", "area",
              {"grade_id": "area", "solution": True}, execution_count=3, outputs=[result]),
        _cell("code", "assert abs(area(1) - math.pi) < 1e-9\n### BEGIN HIDDEN TESTS\n"
              "assert abs(area(2) - 4 * math.pi) < 1e-9\nassert Shape().perimeter(1) > 6.28\n"
              "### END HIDDEN TESTS", "test_area",
              {"grade_id": "test_area", "grade": True, "points": 2}),
        _cell("code", "def clamp(x):\n    return min(max(x, 0), LIMIT)", "clamp",
              {"grade_id": "clamp", "solution": True}),
        _cell("code", "assert clamp(-1) == 0\n### BEGIN HIDDEN TESTS\nassert clamp(99) == LIMIT\n"
              "### END HIDDEN TESTS", "test_clamp", {"grade_id": "test_clamp", "grade": True,
                                                     "points": 1.5}),
        _cell("markdown", "Why does the area grow faster than the perimeter?", "ask"),
        _cell("markdown", "Area is quadratic in the radius, perimeter linear.", "explain",
              {"grade_id": "explain", "grade": True, "solution": True, "points": 1}),
        _cell("code", "fig = draw_circle(radius=3)", "plot",
              {"grade_id": "plot", "grade": True, "solution": True, "points": 2}),
        _cell("markdown", "Discuss the accuracy of `math.pi`.\n### BEGIN MARK SCHEME\n"
              "Full marks: mentions double precision.\n### END MARK SCHEME", "discuss",
              {"grade_id": "discuss", "task": True, "locked": True, "points": 3}),
    ]
    cells[8]["metadata"].update(collapsed=True, scrolled=False, tags=["figure"])  # ClearOutput's
    metadata = {"celltoolbar": "Create Assignment",
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def _alembic_head() -> str:
    """nbgrader.api.get_alembic_version, without its `alembic heads` subprocess (seconds)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini("sqlite://") as alembic_ini:
        return ScriptDirectory.from_config(Config(alembic_ini)).get_current_head()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """nbgrader generate_assignment run on ps1 (+ problem3): its release and its gradebook."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    root = tmp_path_factory.mktemp("course")
    shutil.copytree(DATA / "source" / "ps1", root / "source" / "ps1")
    (root / "source" / "ps1" / "problem3.ipynb").write_text(json.dumps(_problem3()))
    config = Config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.course_id = "labtools-test"
    config.Exchange.root = str(root / "exchange")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("nbgrader.api.get_alembic_version", _alembic_head)
        api = NbGraderAPI(config=config)
        api.log.setLevel("ERROR")
        result = api.generate_assignment("ps1", force=True)
        assert result["success"], result.get("error") or result.get("log")
        gradebook = {}
        with Gradebook(api.coursedir.db_url) as gb:
            for name in NOTEBOOKS:
                notebook = gb.find_notebook(name, "ps1")
                solutions = {cell.name for cell in notebook.solution_cells}
                # determine_grade: a grade cell is autograded when it is code and no solution
                questions = {cell.name: (cell.max_score, cell.name in solutions
                                         or cell.cell_type != "code")
                             for cell in notebook.grade_cells}
                questions.update({c.name: (c.max_score, True) for c in notebook.task_cells})
                gradebook[name] = {"max_score": notebook.max_score, "questions": questions}
    return {"root": root, "db_url": api.coursedir.db_url, "gradebook": gradebook}


def _source(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _ours(name: str) -> NbgraderNotebook:
    return read_nbgrader(DATA / "source" / "ps1" / f"{name}.ipynb")


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _normal(cell: dict) -> dict:
    return {**cell, "source": _source(cell)}


@pytest.fixture(scope="module")
def notebooks(course):
    return {name: read_nbgrader(course["root"] / "source" / "ps1" / f"{name}.ipynb")
            for name in NOTEBOOKS}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_document_is_nbgraders_release(course, notebooks, name):
    released = _read(course["root"] / "release" / "ps1" / f"{name}.ipynb")
    ours = notebooks[name].student_document()
    assert [_normal(cell) for cell in ours["cells"]] == [_normal(c) for c in released["cells"]]
    assert ours["metadata"] == released["metadata"]
    for key in ("nbformat", "nbformat_minor"):
        assert ours[key] == released[key]


@pytest.mark.parametrize("name", ["problem1", "problem2"])
def test_student_document_matches_nbgraders_docs_release(name):
    # nbgrader's user guide released ps1 with a header notebook (3 cells) before the source's.
    released = _read(DATA / "release" / "ps1" / f"{name}.ipynb")["cells"][3:]
    ours = _ours(name).student_document()["cells"]
    assert [_normal(cell) for cell in ours] == [_normal(cell) for cell in released]


def _secret_lines(document: dict) -> set[str]:
    """Lines students must not see: solution regions, marker-less solution cells, hidden
    tests, mark schemes; those also written elsewhere in the source (``pass``) are no secret."""
    secret, public = set(), set()
    regions = {"solution": ("BEGIN SOLUTION", "END SOLUTION"), "grade": ("BEGIN HIDDEN TESTS",
               "END HIDDEN TESTS"), "task": ("BEGIN MARK SCHEME", "END MARK SCHEME")}
    for cell in document["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        lines = _source(cell).split("\n")
        if meta.get("solution") and not any("BEGIN SOLUTION" in line for line in lines):
            secret.update(line.strip() for line in lines)
            continue
        inside = False
        for line in lines:
            begins = [f for f, (begin, _) in regions.items() if begin in line and meta.get(f)]
            ends = [f for f, (_, end) in regions.items() if end in line and meta.get(f)]
            inside = bool(begins) or (inside and not ends)
            (secret if inside and not begins else public).add(line.strip())
    return {line for line in secret - public if len(line) > 3}


def _leaks(source: dict, student: dict) -> set[str]:
    shown = {line.strip() for cell in student["cells"] for line in _source(cell).split("\n")}
    return _secret_lines(source) & shown


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_solution_or_hidden_test_leaks(course, notebooks, name):
    notebook = notebooks[name]
    assert _secret_lines(notebook.document)  # there is something to leak
    assert _leaks(notebook.document, notebook.document)  # the check finds a leak...
    assert not _leaks(notebook.document, notebook.student_document())  # ...and ours has none
    released = _read(course["root"] / "release" / "ps1" / f"{name}.ipynb")
    assert not _leaks(notebook.document, released)  # nor nbgrader's


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_questions_and_points_are_nbgraders(course, notebooks, name):
    notebook, gradebook = notebooks[name], course["gradebook"][name]
    assert {q.name: (q.points, q.manual) for q in notebook.questions} == gradebook["questions"]
    assert notebook.max_points == gradebook["max_score"]
    for question in notebook.questions:
        expected = [] if question.manual else [question.name]
        assert [test.name for test in question.tests] == expected
        assert all(t.points == question.points and t.mode == "assert" for t in question.tests)


def test_tests_keep_hidden_tests_without_markers(notebooks):
    tests = {t.name: t for q in notebooks["problem3"].questions for t in q.tests}
    source = {c["metadata"]["nbgrader"]["grade_id"]: _source(c)
              for c in notebooks["problem3"].document["cells"] if "nbgrader" in c["metadata"]}
    for name in ("test_area", "test_clamp"):
        lines = [line for line in source[name].split("\n") if "HIDDEN TESTS" not in line]
        assert tests[name].source == "\n".join(lines) and tests[name].hidden
        compile(tests[name].source, name, "exec")
    assert not any(t.hidden for q in notebooks["problem1"].questions for t in q.tests)


def _nbgrader_autograde_cells(course, name: str, submission: dict, add_missing=True) -> list[str]:
    """The code cells nbgrader's autograde runs for `submission`, in order (hidden-test
    markers and the 'added back' notice removed)."""
    import nbformat
    from nbgrader.preprocessors import DeduplicateIds, OverwriteCells

    nb = nbformat.reads(json.dumps(submission), as_version=4)
    resources = {"nbgrader": {"notebook": name, "assignment": "ps1", "db_url": course["db_url"]}}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("nbgrader.api.get_alembic_version", _alembic_head)
        for preprocessor in (DeduplicateIds(), OverwriteCells(add_missing_cells=add_missing)):
            preprocessor.log.setLevel("ERROR")
            nb, resources = preprocessor.preprocess(nb, resources)
    sources = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            lines = [line for line in cell.source.split("\n") if "HIDDEN TESTS" not in line]
            if lines[0].startswith("# " + MISSING):
                lines = lines[2:]
            sources.append("\n".join(lines))
    return sources


def _our_cells(notebook: NbgraderNotebook, submission: dict) -> list[str]:
    return [step.test.source if step.kind == "test" else step.source
            for step in notebook.steps(submission)]


def _problem3_submission(course, copied=True, deleted=True) -> dict:
    """A student's problem3: filled in, the read-only cell edited, a test cell deleted,
    another copied, a solution cell turned into markdown, a figure in a manual answer."""
    submission = _read(course["root"] / "release" / "ps1" / "problem3.ipynb")
    cells = {cell["id"]: cell for cell in submission["cells"]}
    cells["setup"]["source"] = "import math\nLIMIT = 1000"
    cells["area"]["source"] = "def area(r):\n    return 3.14 * r * r"
    cells["clamp"].update(cell_type="markdown", source="def clamp(x):\n    return x")
    del cells["clamp"]["outputs"], cells["clamp"]["execution_count"]
    duplicate = copy.deepcopy(cells["test_area"])
    duplicate.update(id="copied", source="pass  # my copy of the test")
    png = {"output_type": "display_data", "metadata": {},
           "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}}
    cells["plot"]["outputs"] = [png]
    mine = {"cell_type": "code", "id": "mine", "metadata": {}, "execution_count": None,
            "outputs": [], "source": "print(area(2))"}
    order = ["intro", "setup", "area", "test_area", "copied", "clamp", "test_clamp", "ask",
             "explain", "mine", "plot", "discuss"]
    left_out = ([] if copied else ["copied"]) + (["test_clamp"] if deleted else [])
    order = [key for key in order if key not in left_out]
    cells.update(copied=duplicate, mine=mine)
    submission["cells"] = [cells[key] for key in order]
    return submission


@pytest.mark.parametrize("student", ["bitdiddle", "hacker"])
@pytest.mark.parametrize("name", ["problem1", "problem2"])
def test_steps_are_what_nbgrader_autograde_runs(course, notebooks, student, name):
    submission = _read(DATA / "submitted" / student / "ps1" / f"{name}.ipynb")
    nbgrader_runs = _nbgrader_autograde_cells(course, name, submission)
    assert _our_cells(notebooks[name], submission) == nbgrader_runs


def test_steps_for_a_tampered_submission_are_what_nbgrader_runs(course, notebooks):
    notebook = notebooks["problem3"]
    # nbgrader cannot add deleted cells back when a cell was copied (KeyError in its
    # add_missing_task_cells), so each case is compared with nbgrader on its own.
    for submission, add_missing in ((_problem3_submission(course, copied=False), True),
                                    (_problem3_submission(course, deleted=False), False)):
        assert _our_cells(notebook, submission) == _nbgrader_autograde_cells(
            course, "problem3", submission, add_missing)
    steps = notebook.steps(_problem3_submission(course))
    assert [(s.kind, s.test.name if s.test else s.source.split("\n")[0]) for s in steps][:5] == [
        ("student", "import math"), ("student", "def area(r):"),
        ("student", "assert abs(area(1) - math.pi) < 1e-9"),  # the earlier of two copies
        ("test", "test_area"),  # the later copy runs the source's test
        ("student", "def clamp(x):")]  # turned into markdown, run as code as nbgrader does
    setup = next(c for c in notebooks["problem3"].document["cells"] if c["id"] == "setup")
    assert steps[0].source == _source(setup)  # the read-only cell as the instructor wrote it


def test_deleted_test_runs_where_it_was(course, notebooks):
    submission = _read(DATA / "submitted" / "hacker" / "ps1" / "problem1.ipynb")
    kept = [c for c in submission["cells"]
            if c["metadata"].get("nbgrader", {}).get("grade_id") != "squares_invalid_input"]
    steps = notebooks["problem1"].steps({**submission, "cells": kept})
    names = [s.test.name for s in steps if s.kind == "test"]
    assert names == [q.name for q in notebooks["problem1"].questions if not q.manual]
    assert _our_cells(notebooks["problem1"], {**submission, "cells": kept}) == \
        _nbgrader_autograde_cells(course, "problem1", {**submission, "cells": kept})


def test_steps_labels_and_tests_from_the_source(notebooks):
    submission = _read(DATA / "submitted" / "bitdiddle" / "ps1" / "problem1.ipynb")
    steps = notebooks["problem1"].steps(submission)
    tests = {t.name: t for q in notebooks["problem1"].questions for t in q.tests}
    by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): (n, c)
             for n, c in enumerate(submission["cells"], start=1)}
    # Bitdiddle commented out one test and emptied another: the source's tests run all the same.
    for grade_id in ("correct_squares", "squares_invalid_input"):
        number, cell = by_id[grade_id]
        step = next(s for s in steps if s.test is not None and s.test.name == grade_id)
        assert step.test is tests[grade_id] and step.test.source != _source(cell)
        assert step.label == f"problem1.ipynb cell {number}"
    code = [n for n, c in enumerate(submission["cells"], start=1) if c["cell_type"] == "code"]
    assert [s.label for s in steps] == [f"problem1.ipynb cell {n}" for n in code]


def test_grading_the_source_runs_its_solution(notebooks):
    for notebook in notebooks.values():
        steps = notebook.steps(notebook.document)
        code = [c for c in notebook.document["cells"] if c["cell_type"] == "code"]
        assert [s.test.source if s.test else s.source for s in steps] == [
            "\n".join(l for l in _source(c).split("\n") if "HIDDEN TESTS" not in l) for c in code]


def test_manual_answers_are_the_students_cells(course, notebooks):
    submission = _read(DATA / "submitted" / "hacker" / "ps1" / "problem1.ipynb")
    answers = {a.question: a for a in notebooks["problem1"].manual_answers(submission)}
    questions = course["gradebook"]["problem1"]["questions"]
    manual = {name for name, (_, by_hand) in questions.items() if by_hand}
    assert set(answers) == manual
    for name in ("sum_of_squares_equation", "sum_of_squares_application"):
        cell = next(c for c in submission["cells"]
                    if c["metadata"].get("nbgrader", {}).get("grade_id") == name)
        assert [_normal(c) for c in answers[name].cells] == [_normal(cell)]
        assert answers[name].points == questions[name][0]
    assert "LaTeX" in answers["sum_of_squares_equation"].prompt
    # The task's answer is what the student wrote after it.
    task = answers["cell-938593c4a215c6cc"]
    assert [_source(c) for c in task.cells] == [_source(submission["cells"][-1])]
    assert "Part E" in task.prompt

    submission = _problem3_submission(course)
    answers = {a.question: a for a in notebooks["problem3"].manual_answers(submission)}
    assert answers["plot"].cells[0]["outputs"][0]["data"]["image/png"] == "iVBORw0KGgo="
    assert answers["explain"].cells[0]["source"] == "YOUR ANSWER HERE"
    assert answers["explain"].prompt.startswith("Why does the area")
    assert "Full marks" not in answers["discuss"].prompt and answers["discuss"].cells == []


def test_is_nbgrader():
    assert is_nbgrader(_read(DATA / "source" / "ps1" / "problem2.ipynb"))
    plain = _read(DATA / "source" / "ps1" / "problem2.ipynb")
    for cell in plain["cells"]:
        cell["metadata"].pop("nbgrader", None)
    assert not is_nbgrader(plain)


def _broken(change) -> dict:
    document = _problem3()
    change({cell["id"]: cell for cell in document["cells"]})
    return document


def _meta(cells, key):
    return cells[key]["metadata"]["nbgrader"]


BROKEN = {
    "duplicate grade id": lambda c: _meta(c, "test_clamp").update(grade_id="test_area"),
    "grade cell without points": lambda c: _meta(c, "test_area").pop("points"),
    "empty grade id": lambda c: _meta(c, "area").update(grade_id=""),
    "BEGIN SOLUTION without END": lambda c: c["area"].update(source="### BEGIN SOLUTION\nx = 1"),
    "nested BEGIN SOLUTION": lambda c: c["area"].update(
        source="### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"),
    "solution outside a solution cell": lambda c: c["intro"].update(
        source="### BEGIN SOLUTION\nanswer\n### END SOLUTION"),
    "hidden tests outside a test cell": lambda c: c["setup"].update(
        source="### BEGIN HIDDEN TESTS\nassert 1\n### END HIDDEN TESTS"),
    "BEGIN HIDDEN TESTS without END": lambda c: c["test_area"].update(
        source="### BEGIN HIDDEN TESTS"),
    "mark scheme outside a task": lambda c: c["ask"].update(
        source="### BEGIN MARK SCHEME\n### END MARK SCHEME"),
    "markdown grade cell not a solution": lambda c: _meta(c, "explain").update(solution=False),
    "code task cell": lambda c: c["discuss"].update(cell_type="code", outputs=[],
                                                    execution_count=None),
}


@pytest.mark.parametrize("mistake", sorted(BROKEN))
def test_mistakes_nbgrader_refuses_are_refused(tmp_path, mistake):
    import nbformat
    from nbgrader import preprocessors as p

    document = _broken(BROKEN[mistake])
    # nbgrader refuses it: generate_assignment's preprocessors that need no database
    nb, resources = nbformat.reads(json.dumps(document), as_version=4), {}
    with pytest.raises(Exception):  # noqa: B017 - nbgrader raises several kinds
        for preprocessor in (p.LockCells(), p.ClearSolutions(), p.ClearOutput(),
                             p.CheckCellMetadata(), p.ComputeChecksums(), p.ClearHiddenTests(),
                             p.ClearMarkScheme(), p.ComputeChecksums(), p.CheckCellMetadata()):
            preprocessor.log.setLevel("CRITICAL")
            nb, resources = preprocessor.preprocess(nb, resources)
    path = tmp_path / "broken.ipynb"
    path.write_text(json.dumps(document))
    with pytest.raises(AssignmentError, match=r"broken\.ipynb cell \d+"):
        read_nbgrader(path)


def test_not_an_nbgrader_notebook(tmp_path):
    path = tmp_path / "bad.ipynb"
    path.write_text("{not json")
    with pytest.raises(AssignmentError, match="bad.ipynb"):
        read_nbgrader(path)
    plain = {"cells": [{"cell_type": "code", "metadata": {}, "source": "x = 1"}]}
    path.write_text(json.dumps(plain))
    with pytest.raises(AssignmentError, match="no nbgrader cells"):
        read_nbgrader(path)
