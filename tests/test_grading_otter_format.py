"""labtools' reader of otter-grader assign notebooks, compared with otter itself.

The module fixture runs the real ``otter assign`` (otter-grader from PyPI) once per
source notebook in tests/data/otter (copied from otter's repository, see SOURCES),
and the tests compare what :mod:`labtools.grading.formats.otter` makes with what
otter wrote: the student and autograder notebooks, the test files (loaded with
otter's own ``OKTestFile``), and the results of otter's test runner on the
tutorial's submissions.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import doctest
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from labtools.errors import AssignmentError
from labtools.grading.formats.otter import is_otter, read_otter
from labtools.grading.formats.otter_grading import split_points
from labtools.grading.formats.otter_student import replace_solutions

DATA = Path(__file__).resolve().parent / "data" / "otter"
NOTEBOOKS = ("demo", "example")
SUBMISSIONS = sorted((DATA / "submissions").glob("*.ipynb"))


@pytest.fixture(scope="module")
def otter_out(tmp_path_factory) -> Path:
    """otter assign's output folders, out/demo and out/example."""
    from otter.assign import main  # in this process: importing otter is what takes seconds

    work = tmp_path_factory.mktemp("otter")
    for name in ("demo.ipynb", "example.ipynb", "requirements.txt", "data.csv", "student_file.py"):
        shutil.copy(DATA / name, work / name)
    for name in NOTEBOOKS:  # no kernel (--no-run-tests), no LaTeX (--no-pdfs); the zip is made
        main(str(work / f"{name}.ipynb"), str(work / "out" / name), no_pdfs=True,
             no_run_tests=True)
    return work / "out"


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _text(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def _cells(document: dict) -> list[tuple]:
    return [(c["cell_type"], _text(c), c["metadata"]) for c in document["cells"]]


def _otter_tests(out: Path) -> dict:
    """Otter's generated test files (tests/q*.py in the autograder zip): the `test` dict
    and otter's own OKTestFile loaded from it."""
    from otter.test_files.ok_test import OKTestFile

    (archive,) = (out / "autograder").glob("*-autograder_*.zip")
    folder = out / "zip"
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(folder)
    tests = {}
    for path in sorted((folder / "tests").glob("*.py")):
        env: dict = {}
        exec(path.read_text(), env)
        tests[path.stem] = (env["test"], OKTestFile.from_file(str(path)))
    return tests


# -- the student and autograder notebooks --------------------------------------------


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_notebook_is_otters(otter_out, name):
    ours = read_otter(DATA / f"{name}.ipynb").student_document()
    theirs = _load(otter_out / name / "student" / f"{name}.ipynb")
    # Same cells (type, source, tags and locks), same otter metadata (public tests,
    # assignment name). Cell ids: both notebooks are nbformat 4.4, which has none.
    assert _cells(ours) == _cells(theirs)
    assert ours["metadata"]["otter"] == theirs["metadata"]["otter"]
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in ours["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_autograder_notebook_is_otters(otter_out, name):
    nb = read_otter(DATA / f"{name}.ipynb")
    theirs = _load(otter_out / name / "autograder" / f"{name}.ipynb")
    ours = nb.autograder_document()
    # solutions, their outputs and otter's solution tags kept; the same test metadata
    assert _cells(ours) == _cells(theirs)
    assert [c.get("outputs") for c in ours["cells"]] == [c.get("outputs") for c in theirs["cells"]]
    assert ours["metadata"]["otter"] == theirs["metadata"]["otter"]


CONFIGS = {  # ASSIGNMENT CONFIG variants of example.ipynb, each against otter assign
    "jupyterlite": {"runs_on": "jupyterlite", "tests": {"url_prefix": "https://x.tld/tests/"}},
    "colab": {"runs_on": "colab", "tests": {"files": True}},
    "ack": {"export_cell": {"require_no_pdf_ack": {"message": "no PDF"}, "pdf": False,
                            "filtering": False, "files": ["data.csv"]}},
    "strip_all": {"strip_solutions_from_all_cells": True, "init_cell": False,
                  "check_all_cell": True},
    "seed": {"export_cell": False, "show_question_points": False,
             "seed": {"variable": "z", "autograder_value": 1, "student_value": 3}},
}


def test_config_variants_match_otter(tmp_path):
    pytest.importorskip("otter")
    import yaml
    from otter.assign import main

    for name in ("data.csv", "student_file.py"):
        shutil.copy(DATA / name, tmp_path / name)
    base = _load(DATA / "example.ipynb")
    config = yaml.safe_load(_text(base["cells"][0]))
    for variant, change in CONFIGS.items():
        document = copy.deepcopy(base)
        document["cells"][0]["source"] = "# ASSIGNMENT CONFIG\n" + yaml.safe_dump({**config,
                                                                                   **change})
        path = _write(tmp_path, document, f"{variant}.ipynb")
        main(str(path), str(tmp_path / variant), no_pdfs=True, no_run_tests=True)
        theirs = _load(tmp_path / variant / "student" / f"{variant}.ipynb")
        ours = read_otter(path).student_document()
        assert _cells(ours) == _cells(theirs), variant
        assert ours["metadata"].get("otter") == theirs["metadata"].get("otter"), variant


# -- tests, points, hidden flags, expected outputs ------------------------------------


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_tests_match_otters_test_files(otter_out, name):
    nb = read_otter(DATA / f"{name}.ipynb")
    theirs = _otter_tests(otter_out / name)
    assert nb.test_files() == {q: spec for q, (spec, _) in theirs.items()}
    ours = {q.name: q for q in nb.questions if q.tests}
    assert sorted(ours) == sorted(theirs)
    for q, (_, loaded) in theirs.items():
        assert ours[q].all_or_nothing == loaded.all_or_nothing
        assert len(ours[q].tests) == len(loaded.test_cases)
        for test, case in zip(ours[q].tests, loaded.test_cases):
            assert (test.name, test.hidden, test.success_message, test.failure_message) == \
                (case.name, case.hidden, case.success_message, case.failure_message)
            assert test.points == pytest.approx(case.points)
            assert test.mode == "output"
            # otter's expected output is the doctest's: what the source cell showed
            examples = doctest.DocTestParser().get_examples(case.body)
            assert test.expected.rstrip() == "".join(e.want for e in examples).rstrip()
        assert ours[q].max_points == pytest.approx(loaded.possible)


def test_points_rules_of_otter():
    pytest.importorskip("otter")
    from otter.test_files.abstract_test import TestCase, TestFile

    cases = [None, [None, None, None], [2, None, None], [0, None], [1, 1], [0, 0]]
    for total in (None, 5, [1, 2, 3]):
        for points in cases:
            if isinstance(total, list) and len(total) != len(points or [None]):
                continue
            points = points or [None]
            tcs = [TestCase("", "", False, p, None, None) for p in points]
            expected = [tc.points for tc in TestFile.resolve_test_file_points(total, tcs)]
            assert split_points(total, points) == pytest.approx(expected), (total, points)


def test_demo_questions_and_expected_outputs():
    nb = read_otter(DATA / "demo.ipynb")
    assert nb.format == "otter" and nb.name == "demo"
    assert nb.config["export_cell"] == {"instructions": "These are some submission instructions."}
    q1, q2, q3, q4, q5 = nb.questions
    assert [t.hidden for t in q1.tests] == [False, False, True]
    assert q1.tests[2].source == "square(2.5) == 6.25"  # the "# HIDDEN" line is gone
    assert q2.tests[0].expected == ""  # an assert shows nothing, as otter's doctest wants
    assert (q4.manual, q5.manual, q4.max_points) == (True, True, 0.0)
    assert q4.text == "**Question 4:** Create a barplot of `price_by_flavor`."
    example = read_otter(DATA / "example.ipynb")
    q1 = example.questions[0]
    assert q1.all_or_nothing and [t.points for t in q1.tests] == [2, 3, 1, 10, 0, 0]
    assert q1.tests[3].source.startswith("# a test to check that type hints")  # config gone
    assert {q.name: q.max_points for q in example.questions if q.manual} == \
        {"q2": 1.5, "q4": 2, "question6": 100, "q7": 1}


# -- nothing secret in the student notebook ------------------------------------------

_BOUNDARY = re.compile(r"#\s+(begin|end)\s+(question|prompt|solution|tests)\b", re.I)


def _canonical(line: str) -> str:
    line = re.sub(r"^(>>>|\.\.\.) ", "", line.strip())
    line = re.sub(r"\s*#\s*(SOLUTION( NO PROMPT)?|IGNORE|SEED)\s*$", "", line)
    with contextlib.suppress(SyntaxError, ValueError):
        return ast.unparse(ast.parse(line))  # otter re-prints test code with ast.unparse
    return line


def secret_lines(source: dict) -> set[str]:
    """Lines of an otter source notebook that no released notebook may contain: solution
    lines and blocks, markdown solutions, hidden tests with their configs, the assignment
    config and IGNORE lines; less the lines the source also has in public places."""
    secret, public, stack = set(), set(), []
    for cell in source["cells"]:
        lines = _text(cell).split("\n")
        match = _BOUNDARY.match(lines[0]) if cell["cell_type"] == "raw" else None
        if match:
            kind = match.group(2).lower()
            stack = stack + [kind] if match.group(1).lower() == "begin" else stack[:-1]
            continue
        if cell["cell_type"] == "raw" and re.match(r"#\s+assignment\s+config", lines[0], re.I):
            secret.update(lines[1:])
            continue
        top = stack[-1] if stack else None
        hidden_test = top == "tests" and (re.search(r"\bhidden\b", lines[0], re.I)
                                          or re.search(r"^hidden:\s*true", _text(cell), re.M))
        md_solution = (top == "solution" and cell["cell_type"] == "markdown"
                       and "otter_include" not in cell["metadata"].get("tags", []))
        if hidden_test or md_solution:
            secret.update(lines)
            continue
        block = None
        for line in lines:
            end = re.search(r"# (END SOLUTION|END IGNORE)\s*$", line)
            if re.search(r"# BEGIN (SOLUTION|IGNORE)", line):
                block = "open"
            elif end:
                block = None
            elif block or line.rstrip().endswith("# IGNORE") or (
                    top == "solution" and re.search(r"# ?SOLUTION( NO PROMPT)?\s*$", line)):
                secret.add(line)
            elif top == "solution" or top is None or top in ("question", "prompt", "tests"):
                public.add(line)
    canon = {_canonical(line) for line in secret} - {_canonical(line) for line in public}
    return {line for line in canon if len(line) > 3 and re.search(r"\w", line)}


def leaks(document: dict, secret: set[str]) -> set[str]:
    """The secret lines found in a released notebook's cells, outputs and test metadata."""
    text = [_text(c) for c in document["cells"]]
    text += [json.dumps(c.get("outputs", [])) for c in document["cells"]]
    for spec in document["metadata"].get("otter", {}).get("tests", {}).values():
        text += [case["code"] for case in spec["suites"][0]["cases"]]
    found = {_canonical(line) for chunk in text for line in chunk.split("\n")}
    return found & secret


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_notebook_leaks_nothing(otter_out, name):
    source = _load(DATA / f"{name}.ipynb")
    secret = secret_lines(source)
    assert name != "demo" or _canonical("return x**2 # SOLUTION") in secret and len(secret) > 10
    assert not leaks(read_otter(DATA / f"{name}.ipynb").student_document(), secret)
    assert not leaks(_load(otter_out / name / "student" / f"{name}.ipynb"), secret)
    # the check can fail: otter's autograder notebook holds solutions and hidden tests
    assert leaks(_load(otter_out / name / "autograder" / f"{name}.ipynb"), secret)


TRICKY = [  # every marker, in one notebook: (cell type, source)
    ("raw", "# ASSIGNMENT CONFIG\nseed:\n    variable: rng_seed\n    autograder_value: 4242\n"
            "    student_value: 7\ncheck_all_cell: true"),
    ("code", "rng_seed = 99\nimport numpy as np  # IGNORE\nsecret_helper = 'abc'  # IGNORE"),
    ("raw", "# BEGIN QUESTION\nname: q1\npoints: [1, 2]"),
    ("markdown", "Compute `total`."),
    ("raw", "# BEGIN PROMPT"), ("markdown", "Explain your plan here."), ("raw", "# END PROMPT"),
    ("raw", "# BEGIN SOLUTION"),
    ("code", "values = [1, 2, 3]\n# BEGIN SOLUTION NO PROMPT\ntotal = sum(values) * 1\n"
             "# END SOLUTION\n\"\"\" # BEGIN PROMPT\ntotal = ...\n\"\"\" # END PROMPT\n"
             "rng_seed = 12  # SEED\ndef helper(v):\n    # BEGIN SOLUTION\n    w = v * 2\n"
             "    return w\n    # END SOLUTION\n# BEGIN IGNORE\nprint('debugging output')\n"
             "# END IGNORE"),
    ("markdown", "My secret explanation of the sum."),
    ("raw", "# END SOLUTION"), ("raw", "# BEGIN TESTS"),
    ("code", "total == 6"),
    ("code", '""" # BEGIN TEST CONFIG\nhidden: true\nfailure_message: try sum()\n'
             '""" # END TEST CONFIG\nassert helper(21) == 42'),
    ("raw", "# END TESTS"), ("raw", "# END QUESTION"),
    ("markdown", "# Ignore this heading (otter drops cells starting with '# ignore')"),
    ("markdown", "```otter\n# BEGIN QUESTION\nname: q2\nmanual: true\npoints: 3\n```\n\nWhy?"),
    ("raw", "# BEGIN SOLUTION"), ("markdown", "Because hidden reasons."), ("raw", "# END SOLUTION"),
    ("raw", "# END QUESTION"),
]


def _notebook(cells, outputs: dict | None = None) -> dict:
    document = {"cells": [], "metadata": {"kernelspec": {"language": "python", "name": "python3",
                                                         "display_name": "Python 3"}},
                "nbformat": 4, "nbformat_minor": 5}
    for number, (kind, text) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"c{number}", "metadata": {}, "source": text}
        if kind == "code":
            cell.update(execution_count=None, outputs=(outputs or {}).get(number, []))
        document["cells"].append(cell)
    return document


def _write(tmp_path: Path, document: dict, name: str = "tricky.ipynb") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def test_tricky_notebook_matches_otter_and_leaks_nothing(tmp_path):
    pytest.importorskip("otter")
    from otter.assign import main

    true = {"output_type": "execute_result", "execution_count": 1, "metadata": {},
            "data": {"text/plain": "True"}}
    document = _notebook(TRICKY, {12: [true]})
    path = _write(tmp_path, document)
    nb = read_otter(path)
    ours = nb.student_document()
    main(str(path), str(tmp_path / "out"), no_pdfs=True, no_run_tests=True)
    theirs = _load(tmp_path / "out" / "student" / "tricky.ipynb")
    # nbformat 4.5: otter keeps the source's cell ids and gives its own cells random ones
    assert _cells(ours) == _cells(theirs)
    assert ours["metadata"]["otter"] == theirs["metadata"]["otter"]
    source_ids = {c["id"] for c in document["cells"]}
    assert [c["id"] for c in ours["cells"] if c["id"] in source_ids] == \
        [c["id"] for c in theirs["cells"] if c["id"] in source_ids]
    secret = secret_lines(document)
    assert {"total = sum(values) * 1", "w = v * 2", "assert helper(21) == 42",
            "Because hidden reasons.", "My secret explanation of the sum."} <= secret
    assert not leaks(ours, secret) and not leaks(theirs, secret)
    source = "\n".join(_text(c) for c in ours["cells"])
    assert "rng_seed = 7" in source and "rng_seed = 99" not in source  # the student's seed
    q1, q2 = nb.questions
    assert [(t.points, t.hidden, t.expected) for t in q1.tests] == [(1, False, "True"), (2, True, "")]
    assert (q2.manual, q2.max_points, q2.text) == (True, 3.0, "Why?")


def test_tricky_steps_seed_and_stand_in(tmp_path):
    nb = read_otter(_write(tmp_path, _notebook(TRICKY)))
    steps = nb.steps(nb.student_document())
    env: dict = {}
    exec(steps[0].source, env)  # the stand-in: otter calls work without otter
    exec("import otter\ngrader = otter.Notebook('x.ipynb')\ngrader.check('q1')\n"
         "grader.export(pdf=False)", env)
    assert steps[1].source == "rng_seed = 4242" and steps[1].label.endswith("(otter seed)")
    assert not any("grader." in s.source or "import otter" in s.source for s in steps[1:])
    kinds = [(s.kind, s.label) for s in steps if s.kind == "test"]
    assert kinds == [("test", "q1 - 1"), ("test", "q1 - 2")]


EXCEPTION_BASED = [
    ("raw", "# ASSIGNMENT CONFIG\ntests:\n    ok_format: false"),
    ("raw", "# BEGIN QUESTION\nname: q1\npoints: 3"), ("raw", "# BEGIN SOLUTION"),
    ("code", "def double(x):\n    return 2 * x  # SOLUTION"), ("raw", "# END SOLUTION"),
    ("raw", "# BEGIN TESTS"),
    ("code", "def test_double(double):\n    assert double(2) == 4\n\ntest_double(double)"),
    ("code", '""" # BEGIN TEST CONFIG\nhidden: true\npoints: 2\nfailure_message: odd\n'
             '""" # END TEST CONFIG\ndef test_env(env):\n    assert env["double"](3) == 6'),
    ("raw", "# END TESTS"), ("raw", "# END QUESTION"),
]


def test_exception_based_tests_as_otter_runs_them(tmp_path):
    pytest.importorskip("otter")
    from otter.assign import main
    from otter.test_files.exception_test import ExceptionTestFile

    path = _write(tmp_path, _notebook(EXCEPTION_BASED), "exc.ipynb")
    nb = read_otter(path)
    main(str(path), str(tmp_path / "out"), no_pdfs=True, no_run_tests=True)
    for kind in ("student", "autograder"):
        theirs = _load(tmp_path / "out" / kind / "exc.ipynb")["metadata"]["otter"]
        ours = getattr(nb, f"{kind}_document")()["metadata"]["otter"]
        assert ours == theirs
    (q1,) = nb.questions
    assert [(t.mode, t.points, t.hidden, t.failure_message) for t in q1.tests] == \
        [("assert", 1.0, False, None), ("assert", 2.0, True, "odd")]
    spec = _load(tmp_path / "out" / "autograder" / "exc.ipynb")["metadata"]["otter"]["tests"]["q1"]
    for double in (lambda x: 2 * x, lambda x: x + 2, None):
        otter_file = ExceptionTestFile.from_metadata(spec, "exc.ipynb")
        otter_file.run({"double": double})
        verdicts = []
        for test in q1.tests:
            try:
                exec(test.source, {"double": double})
                verdicts.append(True)
            except Exception:
                verdicts.append(False)
        assert verdicts == [r.passed for r in otter_file.test_case_results]


# -- grading: otter's order and otter's verdicts --------------------------------------


def _run_output_test(test, env: dict) -> bool:
    """The model's "output" mode: printed text plus the last expression's repr == expected."""
    tree = ast.parse(test.source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            exec(compile(tree, test.name, "exec"), env)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), test.name, "eval"), env)
                if value is not None:
                    print(repr(value))
    except Exception:
        return False
    return buffer.getvalue().rstrip() == test.expected.rstrip()


def _run_steps(nb, submission: dict, otter_tests: dict) -> dict:
    """Run the steps in one namespace (magics as `pass`); each question's tests with the
    model's rules and with otter's OKTestFile, where the steps put them."""
    import matplotlib

    matplotlib.use("Agg")
    env: dict = {}
    ours, theirs = {}, {}
    for step in nb.steps(submission):
        if step.kind == "student":
            code = re.sub(r"(?m)^(\s*)[%!].*$", r"\1pass", step.source)
            with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
                exec(code, env)
        else:
            q = step.test.question
            ours[step.test.name] = _run_output_test(step.test, env)
            if q not in theirs:
                otter_file = copy.deepcopy(otter_tests[q][1])
                otter_file.run(env)
                theirs.update({f"{q} - {i}": r.passed
                               for i, r in enumerate(otter_file.test_case_results, start=1)})
    return ours, theirs


# What the tutorial's submissions fail, by otter's verdict. The q3 hidden cases compare
# with the source notebook's outputs, made with numpy 1 ("True"): with numpy 2,
# np.isclose(...) shows "np.True_", so otter itself fails them for every submission.
FAILS = {"demo-fails1": {"q1 - 3"}, "demo-fails2": {"q2 - 1", "q2 - 2"},
         "demo-fails2Hidden": {"q2 - 2"}, "demo-fails3": {"q3 - 3", "q3 - 4"},
         "demo-fails3Hidden": {"q3 - 5", "q3 - 6", "q3 - 7", "q3 - 8"}, "demo-passesAll": set()}


@pytest.mark.parametrize("path", SUBMISSIONS, ids=[p.stem for p in SUBMISSIONS])
def test_submission_verdicts_match_otters(otter_out, path):
    np = pytest.importorskip("numpy")
    nb = read_otter(DATA / "demo.ipynb")
    ours, theirs = _run_steps(nb, _load(path), _otter_tests(otter_out / "demo"))
    assert ours == theirs
    numpy_bools = {"q3 - 5", "q3 - 6", "q3 - 7", "q3 - 8"} if repr(np.True_) != "True" else set()
    assert {name for name, passed in ours.items() if not passed} == FAILS[path.stem] | numpy_bools


def test_steps_follow_otter_order():
    nb = read_otter(DATA / "demo.ipynb")
    submission = _load(DATA / "submissions" / "demo-passesAll.ipynb")
    submission["cells"].append({"cell_type": "code", "metadata": {}, "source": "square = None",
                                "outputs": [], "execution_count": None})
    steps = nb.steps(submission)
    labels = [s.label for s in steps]
    # q1's tests run at its grader.check cell (cell 5), before the later change of square
    assert labels.index("q1 - 1") < labels.index(f"cell {len(submission['cells'])}")
    assert labels[:4] == ["otter stand-in", "cell 2", "cell 4", "q1 - 1"]
    assert [s.label for s in steps if s.kind == "test"] == [t.name for q in nb.questions
                                                            for t in q.tests]
    # no check cells at all: every test at the end, in otter's file-name order
    bare = {"cells": [c for c in submission["cells"] if "grader." not in _text(c)]}
    tail = [s.test.question for s in nb.steps(bare) if s.kind == "test"]
    assert tail == sorted(tail, key=lambda q: q + ".py")
    # the source notebook is graded as otter's autograder notebook: solutions, no test cells
    source_steps = nb.steps(nb.document)
    assert any("return x**2" in s.source for s in source_steps)
    assert not any("square(2.5)" in s.source for s in source_steps if s.kind == "student")
    # a submission dressed up as an otter source is graded as itself, not as the solution
    dressed = copy.deepcopy(submission)
    dressed["cells"].insert(0, {"cell_type": "raw", "metadata": {}, "source": "# BEGIN QUESTION"})
    assert [s.source for s in nb.steps(dressed)] == [s.source for s in steps]


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # pandas 3 on otter's own code
def test_order_and_verdicts_as_otter_grades(otter_out, tmp_path):
    """The real otter grader (a Jupyter kernel, ~4 s): a question's tests run where its
    grader.check is, not against the final environment."""
    from otter.api import grade_submission

    submission = _load(DATA / "submissions" / "demo-passesAll.ipynb")
    submission["cells"].append({"cell_type": "code", "metadata": {}, "execution_count": None,
                                "outputs": [], "source": "square = None\nfiberator = None"})
    path = _write(tmp_path, submission, "late.ipynb")
    (archive,) = (otter_out / "demo" / "autograder").glob("*-autograder_*.zip")
    with contextlib.redirect_stdout(io.StringIO()):
        results = grade_submission(str(path), str(archive), quiet=True)
    theirs = {f"{q} - {i}": r.passed for q, tf in results.results.items()
              for i, r in enumerate(tf.test_case_results, start=1)}
    ours, _ = _run_steps(read_otter(DATA / "demo.ipynb"), submission,
                         _otter_tests(otter_out / "demo"))
    assert ours == theirs
    assert ours["q1 - 1"] and ours["q2 - 2"]  # checked before square and fiberator changed


def test_manual_answers_with_figures():
    nb = read_otter(DATA / "demo.ipynb")
    answers = nb.manual_answers(_load(DATA / "submissions" / "demo-passesAll.ipynb"))
    assert [(a.question, a.points) for a in answers] == [("q4", 0.0), ("q5", 0.0)]
    (plot,), (written,) = answers[0].cells, answers[1].cells
    assert plot["cell_type"] == "code" and "price_by_flavor.plot.bar()" in _text(plot)
    assert any("image/png" in o.get("data", {}) for o in plot["outputs"])
    assert written["cell_type"] == "markdown" and "QUESTION" not in _text(written)
    assert answers[0].prompt == nb.questions[3].text
    # a student who deleted the marks: answers are found by the question's text, or empty
    example = read_otter(DATA / "example.ipynb")
    released = example.student_document()
    released["cells"] = [c for c in released["cells"] if "Question 6" not in _text(c)]
    found = {a.question: [_text(c) for c in a.cells] for a in example.manual_answers(released)}
    assert found["q4"] == ["_Type your answer here, replacing this text._"]
    assert found["q2"] == ["## solution ##\nplt.plot(...);"]
    assert found["question6"] == []


# -- errors name the real cause -------------------------------------------------------

SIMPLE = [("raw", "# BEGIN QUESTION\nname: q1"), ("raw", "# BEGIN SOLUTION"),
          ("code", "x = 1  # SOLUTION"), ("raw", "# END SOLUTION"), ("raw", "# BEGIN TESTS"),
          ("code", "x == 1"), ("raw", "# END TESTS"), ("raw", "# END QUESTION")]


@pytest.mark.parametrize("edit, words", [
    (lambda c: c[:-1] + [("raw", "# BEGIN QUESTION\nname: q2"), ("raw", "# END QUESTION")],
     "question q1 (BEGIN QUESTION at cell 1) has no END QUESTION: cell 8 begins another"),
    (lambda c: c[:-1], "question q1 (BEGIN QUESTION at cell 1) has no END QUESTION"),
    (lambda c: c[:3] + c[4:], "the BEGIN SOLUTION block at cell 2 has no END SOLUTION"),
    (lambda c: c[1:], "BEGIN SOLUTION outside a question"),
    (lambda c: c[:2] + [("code", "x = 1\n# END SOLUTION")] + c[3:],
     "'# END SOLUTION' has no '# BEGIN SOLUTION'"),
    (lambda c: c[:5] + [("code", "x ==")] + c[6:], "cell 6 (question q1): the test is not valid"),
    (lambda c: c[:5] + [("markdown", "x")] + c[6:], "a markdown cell; a TESTS block holds only"),
    (lambda c: [("raw", "# BEGIN QUESTION\nname: q1\npoints: [1, 2]")] + c[1:],
     "its points list has 2 values but the question has 1 test cases"),
    (lambda c: [("raw", "# BEGIN QUESTION\npoints: 1")] + c[1:], "needs a YAML mapping with a name"),
    (lambda c: [("raw", "# ASSIGNMENT CONFIG\nname: [")] + c, "cell 1: invalid YAML"),
    (lambda c: c[:2] + [("code", "import random\nrandom.seed(1)  # SEED\nx = 1  # SOLUTION")] + c[3:],
     "cell 3 has a '# SEED' line but the ASSIGNMENT CONFIG gives no integer seed"),
])
def test_errors_name_the_cause_and_the_cell(tmp_path, edit, words):
    path = _write(tmp_path, _notebook(edit(list(SIMPLE))))
    with pytest.raises(AssignmentError) as info:
        read_otter(path).student_document()
    assert words in str(info.value)
    if "no END QUESTION" in words:
        assert "END SOLUTION" not in str(info.value)


def test_is_otter_and_not_a_notebook(tmp_path):
    assert is_otter(_load(DATA / "example.ipynb"))
    assert not is_otter(_notebook([("code", "# BEGIN QUESTION"), ("markdown", "text")]))
    assert is_otter(_notebook([("markdown", "```otter\n# ASSIGNMENT CONFIG\n```")]))
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{")
    with pytest.raises(AssignmentError, match="bad.ipynb is not a readable notebook"):
        read_otter(bad)


def test_solution_lines_as_otter_replaces_them():
    pytest.importorskip("otter")
    from otter.assign.solutions import replace_solutions as otters

    lines = ["a, b = 1, 2  # SOLUTION", "df['x'] = 3 # SOLUTION", "    return y # SOLUTION",
             "print(1)  # SOLUTION", "x == 1 # SOLUTION", "# BEGIN SOLUTION NO PROMPT", "z = 1",
             "# END SOLUTION", '""" # BEGIN PROMPT', "z = ...", '""" # END PROMPT',
             "np.random.seed(1) # SEED", "obj.attr = f(x) # SOLUTION"]
    assert replace_solutions(lines, "cell 1") == otters(lines, "python")
