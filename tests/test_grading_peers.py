"""nbgrader's and otter-grader's own example assignments, graded by labtools and by the peers.

The reference scores come from the peers themselves, installed from PyPI and run here:
nbgrader 0.9.6 ``autograde`` on its user guide's ps1 and the two students it ships, and
otter-grader 7.0.0's ``grade_submission`` (a Jupyter kernel, after ``otter assign``) on its
tutorial's demo and the six submissions it ships. The fixtures are copied from the peers'
repositories (tests/data/*/SOURCES, BSD-3-Clause).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from labtools import cli
from labtools.grading import grade, load_assignment

DATA = Path(__file__).parent / "data"
STUDENTS = ["bitdiddle", "hacker"]
# A third student, made here from hacker's submission: `squares` returns a list whose __eq__
# always says yes. nbgrader runs its tests in the student's kernel, so the cheat works there.
CHEAT = ("class _Yes(list):\n    def __eq__(self, other):\n        return True\n\n"
         "def squares(n):\n    if n < 1:\n        raise ValueError('n must be >= 1')\n"
         "    return _Yes()\n")


def _submitted(target: Path) -> Path:
    """nbgrader's submitted/ folder with bitdiddle, hacker and the cheater."""
    shutil.copytree(DATA / "nbgrader" / "submitted", target)
    shutil.copytree(target / "hacker", target / "cheater")
    path = target / "cheater" / "ps1" / "problem1.ipynb"
    document = json.loads(path.read_text())
    for cell in document["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "squares":
            cell["source"] = CHEAT
    path.write_text(json.dumps(document))
    return target


def _alembic_head() -> str:
    """nbgrader.api.get_alembic_version without its `alembic heads` subprocess (seconds)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini("sqlite://") as alembic_ini:
        return ScriptDirectory.from_config(Config(alembic_ini)).get_current_head()


@pytest.fixture(scope="module")
def nbgrader_scores(tmp_path_factory):
    """{student: {(notebook, grade_id): auto score}} from nbgrader's own autograde."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    root = tmp_path_factory.mktemp("nbgrader-course")
    shutil.copytree(DATA / "nbgrader" / "source", root / "source")
    _submitted(root / "submitted")
    config = Config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.course_id = "labtools-test"
    config.Exchange.root = str(root / "exchange")
    config.ExecutePreprocessor.timeout = 30
    scores = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("nbgrader.api.get_alembic_version", _alembic_head)
        api = NbGraderAPI(config=config)
        api.log.setLevel("ERROR")
        assert api.generate_assignment("ps1", force=True)["success"]
        for student in [*STUDENTS, "cheater"]:
            result = api.autograde("ps1", student, force=True, create=True)
            assert result["success"], result.get("log")
        with Gradebook(api.coursedir.db_url) as gradebook:
            for student in [*STUDENTS, "cheater"]:
                scores[student] = {}
                for notebook in ("problem1", "problem2"):
                    for cell in gradebook.find_notebook(notebook, "ps1").grade_cells:
                        found = gradebook.find_grade(cell.name, notebook, "ps1", student)
                        if found.auto_score is not None:
                            scores[student][(notebook, cell.name)] = found.auto_score
    return scores


@pytest.fixture(scope="module")
def labtools_nbgrader(tmp_path_factory):
    root = tmp_path_factory.mktemp("labtools-ps1")
    subs = _submitted(root / "subs")
    report = grade(DATA / "nbgrader" / "source" / "ps1", subs, root / "out")
    return {s.student: s for s in report.submissions}, root / "out"


def test_nbgrader_ps1_needs_no_configuration():
    assignment = load_assignment(DATA / "nbgrader" / "source" / "ps1")
    assert [n.format for n in assignment.notebooks] == ["nbgrader", "nbgrader"]
    assert assignment.spec is None


@pytest.mark.parametrize("student", STUDENTS)
def test_nbgrader_ps1_scores_equal_nbgrader_autograde(nbgrader_scores, labtools_nbgrader, student):
    ours = {tuple(item.name.split(":")): item.points
            for item in labtools_nbgrader[0][student].items if not item.manual}
    assert ours == nbgrader_scores[student]
    assert labtools_nbgrader[0][student].total == pytest.approx(sum(nbgrader_scores[student].values()))


def test_a_cheat_that_fools_nbgrader_scores_nothing_here(nbgrader_scores, labtools_nbgrader):
    ours = {tuple(item.name.split(":")): item.points
            for item in labtools_nbgrader[0]["cheater"].items if not item.manual}
    theirs = nbgrader_scores["cheater"]
    # nbgrader gives the rigged list the point of correct_squares; labtools compares plain
    # data in its tester, where the list's __eq__ does not exist. Everything else is equal.
    assert theirs[("problem1", "correct_squares")] == 1
    assert ours[("problem1", "correct_squares")] == 0
    assert {k: v for k, v in ours.items() if k[1] != "correct_squares"} == \
        {k: v for k, v in theirs.items() if k[1] != "correct_squares"}


def test_nbgrader_manual_answers_go_to_review_files(labtools_nbgrader):
    _, out = labtools_nbgrader
    review = (out / "review" / "hacker.md").read_text()
    source = json.loads((DATA / "nbgrader" / "submitted" / "hacker" / "ps1" / "problem2.ipynb")
                        .read_text())
    answer = next("".join(c["source"]) for c in source["cells"]
                  if c["metadata"].get("nbgrader", {}).get("grade_id") == "part-a")
    assert answer.strip() and answer.strip() in review
    rows = (out / "manual.csv").read_text().splitlines()
    assert rows[0] == "student,question,points,max,review"
    assert "hacker,problem2:part-a,,1,review/hacker.md" in rows
    results = json.loads((out / "results" / "hacker.json").read_text())
    assert any(entry["question"] == "problem2:part-a" and answer.strip() in entry["answer"]
               for entry in results["extra_data"]["manual"])


def test_assign_releases_nbgraders_ps1_without_config(tmp_path, capsys):
    assert cli.main(["assign", str(DATA / "nbgrader" / "source" / "ps1"), "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jupyter.png", "problem1.ipynb",
                                                          "problem2.ipynb"]
    released = (tmp_path / "problem1.ipynb").read_text()
    assert "raise NotImplementedError()" in released and "BEGIN SOLUTION" not in released
    assert "n must be greater than or equal to 1" not in released


OTTER = DATA / "otter"
OTTER_SUBMISSIONS = sorted((OTTER / "submissions").glob("*.ipynb"))


@pytest.fixture(scope="module")
def otter_demo(tmp_path_factory):
    """labtools' and otter's totals for each of otter's demo submissions."""
    from otter.api import grade_submission
    from otter.assign import main as otter_assign

    work = tmp_path_factory.mktemp("otter-demo")
    folder = work / "demo"
    folder.mkdir()
    for name in ("demo.ipynb", "requirements.txt"):
        shutil.copy(OTTER / name, folder / name)
    otter_assign(str(folder / "demo.ipynb"), str(work / "otter-out"), no_pdfs=True,
                 no_run_tests=True)
    (archive,) = (work / "otter-out" / "autograder").glob("*-autograder_*.zip")
    theirs = {}
    for path in OTTER_SUBMISSIONS:
        with contextlib.redirect_stdout(io.StringIO()):
            theirs[path.stem] = grade_submission(str(path), str(archive), quiet=True).total
    subs = work / "subs"
    subs.mkdir()
    for path in OTTER_SUBMISSIONS:
        shutil.copy(path, subs / path.name)
    report = grade(folder, subs, work / "out")
    ours = {s.student: s for s in report.submissions}
    return ours, theirs, work / "out"


def test_otter_demo_needs_no_configuration():
    assignment = load_assignment(OTTER.parent / "otter") if False else None  # noqa: F841
    from labtools.grading import read_source

    notebook = read_source(OTTER / "demo.ipynb")
    assert notebook.format == "otter"
    assert [q.name for q in notebook.questions] == ["q1", "q2", "q3", "q4", "q5"]


@pytest.mark.parametrize("student", [p.stem for p in OTTER_SUBMISSIONS])
def test_otter_demo_totals_equal_otters(otter_demo, student):
    ours, theirs, _ = otter_demo
    assert ours[student].total == pytest.approx(theirs[student]), \
        [(g.name, g.points, g.failed_cases) for g in ours[student].items]


def test_otter_manual_questions_go_to_review(otter_demo):
    ours, _, out = otter_demo
    manual = [g.name for g in ours["demo-passesAll"].items if g.manual]
    assert manual == ["q4", "q5"]
    review = (out / "review" / "demo-passesAll.md").read_text()
    assert "## q4" in review and "## q5" in review


def test_otter_example_assigns_with_its_files_and_its_solution_scores_every_point(tmp_path):
    """otter's example.ipynb: `import student_file` in a test, data files, a question with no
    tests (not graded, as in otter), seeds; the solution graded as a submission gets every
    auto-graded point, and assign's check passes."""
    folder = tmp_path / "example"
    folder.mkdir()
    for name in ("example.ipynb", "data.csv", "student_file.py"):
        shutil.copy(OTTER / name, folder / name)
    assert cli.main(["assign", str(folder), "--out", str(tmp_path / "release")]) == 0
    assert sorted(p.name for p in (tmp_path / "release").iterdir()) == [
        "data.csv", "example.ipynb", "student_file.py"]
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(folder / "example.ipynb", subs / "solution.ipynb")
    shutil.copy(tmp_path / "release" / "example.ipynb", subs / "blank.ipynb")
    report = grade(folder, subs, tmp_path / "out")
    assert report.assignment.title == "hw01" and not report.warnings
    solution = {s.student: s for s in report.submissions}["solution"]
    auto = [g for g in solution.items if not g.manual]
    assert all(g.points == g.max_points for g in auto), [(g.name, g.failed_cases) for g in auto]
    assert "question5" not in [g.name for g in solution.items]  # no tests, not manual
    blank = {s.student: s for s in report.submissions}["blank"]
    assert blank.total == 0


def test_a_missing_notebook_scores_zero_with_the_reason_not_a_review(tmp_path):
    subs = tmp_path / "subs"
    (subs / "ann").mkdir(parents=True)
    shutil.copy(DATA / "nbgrader" / "submitted" / "hacker" / "ps1" / "problem1.ipynb",
                subs / "ann" / "problem1.ipynb")
    report = grade(DATA / "nbgrader" / "source" / "ps1", subs, tmp_path / "out")
    items = {g.name: g for g in report.submissions[0].items}
    assert items["problem2:part-a"].points == 0 and not items["problem2:part-a"].manual
    assert "problem2.ipynb is missing" in items["problem2:part-a"].reason
    assert items["problem1:correct_squares"].points == 1  # the notebook handed in still counts
    assert "problem2" not in (tmp_path / "out" / "manual.csv").read_text()
