"""How otter grades: test cases, their points and files, and the steps of a grading run.

Ports of otter-grader 7.0.0 (BSD-3-Clause), without otter:

* :func:`read_test_case` (``AssignmentTestsManager.read_test``): a test cell's config
  header, hidden flag, and expected output, which otter takes from the cell's outputs
  in the source notebook (static: nothing is re-run to get it);
* :func:`split_points` (``TestFile.resolve_test_file_points``);
* :func:`otter_test_file`: the OK-format ``tests/q1.py`` ``otter assign`` writes;
* :func:`grading_steps` (``otter run`` with ``GradingPreprocessor``): the submission's
  cells in order, a question's tests where ``grader.check("q")`` runs, the others at
  the end; :func:`manual_answers`: what the PDF for manual grading would show.

Examples
--------
>>> split_points(4, [1, None, None])
[1, 1.5, 1.5]
"""

from __future__ import annotations

import ast
import copy
import re

from labtools.errors import AssignmentError
from labtools.grading.code import syntax_tree
from labtools.grading.formats import otter_student as rules
from labtools.grading.model import ManualAnswer, Question, Step, Test

__all__ = ["read_test_case", "split_points", "otter_test_file", "grading_steps", "manual_answers",
           "otter_calls", "seed_code"]

_TEST_CONFIG = re.compile(r'(?:.\s*=\s*)?""?"?\s*#\s*BEGIN\s*TEST\s*CONFIG', re.IGNORECASE)
_TEST_CONFIG_END = re.compile(r'""?"?\s*#\s*END\s*TEST\s*CONFIG', re.IGNORECASE)


def ok_format(config: dict) -> bool:
    return (config.get("tests") or {}).get("ok_format", True)


def read_test_case(cell: dict, where: str, question: str) -> dict:
    """A test cell read as otter's ``AssignmentTestsManager.read_test`` does.

    Examples
    --------
    >>> quotes = '"' * 3  # a test config is a string: ''' would end this docstring
    >>> source = f"{quotes} # BEGIN TEST CONFIG\\npoints: 2\\nhidden: true\\n{quotes} # END TEST CONFIG"
    >>> cell = {"source": source + "\\nf(1)",
    ...         "outputs": [{"output_type": "execute_result", "data": {"text/plain": ["3"]}}]}
    >>> case = read_test_case(cell, "cell 9", "q1")
    >>> case["source"], case["output"], case["points"], case["hidden"]
    ('f(1)', '3', 2, True)
    """
    lines = rules.lines_of(cell)
    try:
        syntax_tree(rules.join(lines))
    except SyntaxError as err:
        raise AssignmentError(f"{where} (question {question}): the test is not valid Python "
                              f"({err.msg}, line {err.lineno})") from None
    hidden = lines[0].lstrip().startswith("#") and bool(re.search(r"\bhidden\b", lines[0], re.I))
    start, config = (0 if hidden else -1), {}
    if _TEST_CONFIG.match(lines[0]):
        start = next((i for i, line in enumerate(lines) if _TEST_CONFIG_END.match(line)), None)
        if start is None:
            raise AssignmentError(f"{where} (question {question}): BEGIN TEST CONFIG has no "
                                  "END TEST CONFIG")
        config = rules.load_yaml(lines[1:start], where)
        if not isinstance(config, dict):
            raise AssignmentError(f"{where} (question {question}): the TEST CONFIG is not a "
                                  "YAML mapping")
    output = ""  # what the cell shows in the source notebook: otter's expected output
    for out in cell.get("outputs", []):
        output += "".join(out.get("text", ""))
        output += "".join(out.get("data", {}).get("text/plain", ""))
    points = config.get("points")
    if points is not None and (isinstance(points, bool) or not isinstance(points, (int, float))):
        raise AssignmentError(f"{where} (question {question}): points must be a number")
    return {"source": rules.join(lines[start + 1:]), "output": output, "points": points,
            "hidden": bool(config.get("hidden", hidden)), "where": where,
            "success_message": config.get("success_message"),
            "failure_message": config.get("failure_message")}


def split_points(total, case_points: list, question: str = "") -> list[float]:
    """Points of each test case: otter's ``TestFile.resolve_test_file_points``.

    A list gives each case its points; a number is shared equally by the cases whose
    TEST CONFIG gives no points, after those that do; with no question total, cases
    without points get 0, or share 1 point when no case gives any.

    Examples
    --------
    >>> split_points(None, [None, None, None, None])
    [0.25, 0.25, 0.25, 0.25]
    >>> split_points(5, [2, None, None]), split_points(None, [2, None]), split_points([3, 1], [None, 9])
    ([2, 1.5, 1.5], [2, 0.0], [3, 1])
    """
    n = len(case_points)
    if isinstance(total, dict):
        total = total.get("each", 1) * n
    if isinstance(total, list):
        if len(total) != n:
            raise AssignmentError(f"question {question}: its points list has {len(total)} values "
                                  f"but the question has {n} test cases")
        case_points, total = list(total), None
    elif total is not None and (isinstance(total, bool) or not isinstance(total, (int, float))):
        raise AssignmentError(f"question {question}: points must be a number or a list")
    given = sum(p for p in case_points if p is not None)
    unset = sum(p is None for p in case_points)
    if total is not None:
        if given > total:
            raise AssignmentError(f"question {question}: its test cases give {given} points, "
                                  f"more than the question's {total}")
        share = (total - given) / unset if unset else 0.0
    elif all(p in (0, None) for p in case_points):
        share = 1 / unset if unset else 0.0
    else:
        share = 0.0
    return [p if p is not None else share for p in case_points]


def shown_points(q: dict):
    # otter's determine_question_point_value, as printed after "_Points:_"
    if q.get("manual"):
        return q.get("points") or 0
    if not q["cases"]:
        total = q.get("points")
        return total.get("each", 1) * 0 if isinstance(total, dict) else (1 if total is None else total)
    total = round(sum(split_points(q.get("points"), [c["points"] for c in q["cases"]], q["name"])), 5)
    return int(total) if total % 1 == 0 else total


def make_question(q: dict, config: dict) -> Question:
    name, cases = str(q["name"]), q["cases"]
    text = "\n\n".join(rules.join(rules.lines_of(c)) for c in q["cells"]
                       if c["cell_type"] == "markdown")
    points = split_points(q.get("points"), [c["points"] for c in cases], name) if cases else []
    tests = [_test(name, index, case, share, config) for index, (case, share)
             in enumerate(zip(cases, points), start=1)]
    if q.get("manual") or not cases:  # otter: a manual question is worth its points or 0,
        total = shown_points(q)       # an autograded one without tests its points or 1
        total = total if isinstance(total, (int, float)) else 0
    else:
        total = sum(points)
    return Question(name, float(total), bool(q.get("manual")), bool(q.get("all_or_nothing")),
                    tests, text)


def _test(question: str, index: int, case: dict, points: float, config: dict) -> Test:
    source = case["source"]
    mode, expected = "output", case["output"]
    if not ok_format(config):  # exception-based: otter calls the function with globals
        body = syntax_tree(source).body
        if len(body) > 2 or not body or not isinstance(body[0], ast.FunctionDef):
            raise AssignmentError(f"{case['where']} (question {question}): an exception-based "
                                  "test is one function definition (and maybe its call)")
        fn = body[0]
        args = [a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
        call = ", ".join(f"{a}=globals()" if a == "env" else f"{a}=globals().get({a!r})"
                         for a in args)
        source = (ast.get_source_segment(source, fn) + f"\n\n{fn.name}({call})\n"
                  "None  # otter ignores what the test function returns")
        mode, expected = "assert", None
    return Test(f"{question} - {index}", source, float(points), case["hidden"], mode, expected,
                question, case["success_message"], case["failure_message"])


def otter_test_file(q: dict, config: dict, hidden: bool) -> dict | str:
    """What ``AssignmentTestsManager.write_tests`` writes for question `q` (a question
    config with its ``cases`` from :func:`read_test_case`).

    Examples
    --------
    >>> case = {"source": "f(1)", "output": "3", "points": None, "hidden": False,
    ...         "success_message": None, "failure_message": None}
    >>> otter_test_file({"name": "q1", "points": 2, "cases": [case]}, {}, hidden=True)["suites"]
    [{'cases': [{'code': '>>> f(1)\\n3', 'hidden': False, 'locked': False}], 'scored': True, 'setup': '', 'teardown': '', 'type': 'doctest'}]
    """
    total, cases = q.get("points"), q["cases"]
    if isinstance(total, dict):
        total = total.get("each", 1) * len(cases)
    if not hidden:  # the student's copy: public cases, and their points when given as a list
        if isinstance(total, list):
            total = [p for case, p in zip(cases, total) if not case["hidden"]]
        cases = [case for case in cases if not case["hidden"]]
    if not ok_format(config):
        head = f'from otter.test_files import test_case\n\nOK_FORMAT = False\n\nname = "{q["name"]}"\n'
        head += f"points = {total}" + ("\nall_or_nothing = True" if q.get("all_or_nothing") else "")
        return head + "\n\n" + "".join(_exception_case(c) for c in cases)
    spec = {"name": q["name"], "points": total}
    if q.get("all_or_nothing"):
        spec["all_or_nothing"] = True
    suite = []
    for case in cases:
        ok = {"code": rules.doctest_body(case["source"], case["output"]), "hidden": case["hidden"],
              "locked": False}
        for key in ("points", "success_message", "failure_message"):
            if case[key] is not None and (key == "points" or case[key]):
                ok[key] = case[key]
        suite.append(ok)
    spec["suites"] = [{"cases": suite, "scored": True, "setup": "", "teardown": "",
                       "type": "doctest"}]
    return spec


def _exception_case(case: dict) -> str:
    fn = syntax_tree(case["source"]).body[0]
    args = f"points={case['points']}, hidden={case['hidden']}"
    for key in ("success_message", "failure_message"):
        if case[key] is not None:
            args += f', \n    {key}="{case[key]}"'
    return f"@test_case({args})\n{ast.unparse(fn)}\n\n"


# Run first in the student process: `import otter`, `grader = otter.Notebook(...)` and
# grader.check/export/... wherever they are (in a loop, after a `;`) do nothing, as in
# otter's grading mode, and the sandbox needs no otter.
OTTER_STAND_IN = '''\
def _labtools_otter_stand_in():
    import sys, types
    class Notebook:
        def __init__(self, *args, **kwargs):
            pass
        def __getattr__(self, name):
            return lambda *args, **kwargs: None
    sys.modules["otter"] = types.ModuleType("otter")
    sys.modules["otter"].Notebook = Notebook
_labtools_otter_stand_in()
del _labtools_otter_stand_in'''

_GRADER_METHODS = {"check", "check_all", "export", "to_pdf", "run_plugin", "add_plugin_files"}
_MARK = re.compile(r"<!--\s*(BEGIN|END)\s+QUESTION\s*-->")


def grading_steps(notebook, cells: list[dict]) -> list[Step]:
    """The steps of otter's grading of a notebook with these `cells`.

    Otter runs the code cells in order (not those tagged ``otter_ignore``), with its
    seeding code first in each when a seed is configured; ``grader.check("q")`` runs
    q's tests there (a cell's ``metadata.otter.tests`` right after it); otter keeps
    the last result of a question, and at the end runs the tests of every question
    not checked, in the order of their file names (``q1.py``, ``q10.py``, ``q2.py``).
    Cells that only call otter are left out; the stand-in step neutralises the rest.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from labtools.grading.model import Question, Test
    >>> nb = SimpleNamespace(config={}, questions=[Question("q1", tests=[Test("q1 - 1", "x")])])
    >>> cells = [{"cell_type": "code", "source": "x = 1"},
    ...          {"cell_type": "code", "source": 'grader.check("q1")'},
    ...          {"cell_type": "code", "source": "x = 2"}]
    >>> [(s.kind, s.label) for s in grading_steps(nb, cells)][1:]
    [('student', 'cell 1'), ('test', 'q1 - 1'), ('student', 'cell 3')]
    """
    tests = {q.name: q.tests for q in notebook.questions if q.tests}
    seeding, names = seed_code(notebook.config), {"grader"}
    plan: list[tuple[str, str, str]] = []
    for number, cell in enumerate(cells, start=1):
        meta, label = cell.get("metadata", {}), f"cell {number}"
        if (cell.get("cell_type") != "code" or "otter_ignore" in meta.get("tags", [])
                or (meta.get("otter") or {}).get("ignore")):
            continue
        source = rules.join(rules.lines_of(cell))
        if seeding and not source.startswith("%%"):
            plan.append(("student", seeding, f"{label} (otter seed)"))
        for code, checked in otter_calls(source, names):
            if code is not None:
                plan.append(("student", code, label))
            plan.extend(("check", name, label) for name in checked)
        plan.extend(("check", name, label) for name in (meta.get("otter") or {}).get("tests", []))
    last = {name: index for index, (kind, name, _) in enumerate(plan) if kind == "check"}
    steps = [Step("student", OTTER_STAND_IN, "otter stand-in")]
    for index, (kind, text, label) in enumerate(plan):
        if kind == "student":
            steps.append(Step("student", text, label))
        elif last[text] == index:
            steps.extend(Step("test", label=t.name, test=t) for t in tests.get(text, []))
    for name in sorted(set(tests) - set(last), key=lambda name: name + ".py"):
        steps.extend(Step("test", label=t.name, test=t) for t in tests[name])
    return steps


def otter_calls(source: str, names: set | None = None) -> list[tuple[str | None, list[str]]]:
    """A code cell cut after each top-level ``grader.check("q")``: (code, questions checked
    at its end) pairs, code None where it only calls otter (or is empty). `names` (the
    variables holding an ``otter.Notebook``) grows as cells assign new ones.

    Examples
    --------
    >>> otter_calls('x = 1\\ngrader.check("q1")\\nprint(x)')
    [('x = 1\\ngrader.check("q1")', ['q1']), ('print(x)', [])]
    >>> otter_calls('# Initialize Otter\\nimport otter\\ngrader = otter.Notebook("hw.ipynb")')
    [(None, [])]
    """
    names = {"grader"} if names is None else names
    lines = source.split("\n")
    try:  # IPython magics and shell lines parse as `pass` (they are not otter calls)
        tree = syntax_tree("\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in lines))
    except SyntaxError:
        return [(source, [])]  # runs as is, and fails as it would in otter
    if source.lstrip().startswith("%%"):
        return [(source, [])]
    parts, start, only_otter = [], 0, True
    for stmt in tree.body:
        only_otter &= _drives_otter(stmt, names)
        checked = _checked(stmt, names)
        if checked:
            code = "\n".join(lines[start:stmt.end_lineno])
            parts.append((None if only_otter else code, [checked]))
            start, only_otter = stmt.end_lineno, True
    rest = "\n".join(lines[start:])
    if not parts or rest.strip():
        parts.append((None if only_otter else rest, []))
    return parts


def _call(node, names: set) -> str | None:
    """The method name when `node` calls a method of an otter Notebook held in `names`."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id in names):
        return node.func.attr
    return None


def _drives_otter(stmt, names: set) -> bool:
    if isinstance(stmt, ast.Import):
        return all(a.name.split(".")[0] == "otter" for a in stmt.names)
    if isinstance(stmt, ast.ImportFrom):
        return (stmt.module or "").split(".")[0] == "otter"
    if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if ast.unparse(func) in ("otter.Notebook", "Notebook"):
            names.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
            return True
    return isinstance(stmt, ast.Expr) and _call(stmt.value, names) in _GRADER_METHODS


def _checked(stmt, names: set) -> str | None:
    if isinstance(stmt, ast.Expr) and _call(stmt.value, names) == "check":
        args = stmt.value.args
        if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
            return args[0].value
    return None


def seed_code(config: dict) -> str | None:
    """What otter runs before each code cell when grading with a seed (otter_config.json).

    Examples
    --------
    >>> seed_code({"seed": {"variable": "rng_seed", "autograder_value": 42}})
    'rng_seed = 42'
    >>> seed_code({}) is None
    True
    """
    seed, generate = config.get("seed") or {}, config.get("generate") or {}
    generate = generate if isinstance(generate, dict) else {}
    value, variable = generate.get("seed"), generate.get("seed_variable")
    if seed.get("variable"):  # otter assign copies the seed settings to otter_config.json
        value, variable = seed.get("autograder_value"), seed["variable"]
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if variable:
        return f"{variable} = {value}"
    return (f"import random as _otter_random\n_otter_random.seed({value})\ntry:\n"
            f"    import numpy as _otter_np\n    _otter_np.random.seed({value})\n"
            "except ImportError:\n    pass")


def manual_answers(notebook, cells: list[dict]) -> list[ManualAnswer]:
    """Each manual question's cells in a notebook otter released: those between the
    ``<!-- BEGIN QUESTION -->`` and ``<!-- END QUESTION -->`` marks otter puts around
    manual (and ``export: true``) questions, which is what its filtered PDF keeps, less
    the question's own text, otter's cells and the marks.

    The marked regions are matched to those questions in order; when a student removed
    or duplicated a mark, by the question's text instead (a question found nowhere
    gets no cells). `notebook` is an :class:`~labtools.grading.formats.otter.OtterNotebook`.

    Examples
    --------
    >>> from pathlib import Path
    >>> from labtools.grading.formats.otter import read_otter
    >>> data = Path(__file__).parents[3] / "tests" / "data" / "otter"
    >>> nb = read_otter(data / "example.ipynb")
    >>> [(a.question, a.points) for a in manual_answers(nb, nb.student_document()["cells"])]
    [('q2', 1.5), ('q4', 2.0), ('question6', 100.0), ('q7', 1.0)]
    """
    regions, current = [], None
    for cell in cells:
        markdown = cell.get("cell_type") == "markdown"
        marks = _MARK.findall(rules.join(rules.lines_of(cell))) if markdown else []
        if marks[:1] == ["END"]:
            current, marks = None, marks[1:]
        if "BEGIN" in marks:
            current = []
            regions.append(current)
        if current is not None:
            current.append(cell)
        if marks[-1:] == ["END"]:
            current = None
    pairs = [(q, c) for q, c in zip(notebook.question_configs, notebook.questions)
             if q.get("manual") or q.get("export")]
    if len(regions) == len(pairs):
        found = {c.name: region for (_, c), region in zip(pairs, regions)}
    else:
        found = {}
        for region in regions:
            first = _MARK.sub("", rules.join(rules.lines_of(region[0]))).strip()
            for _, question in pairs:
                if question.text.strip() and question.text.strip() in first:
                    found.setdefault(question.name, region)
    answers = []
    for q, question in pairs:
        if not question.manual:
            continue
        region = found.get(question.name, [])
        given = {rules.join(rules.lines_of(c)).strip() for c in q["cells"]}
        kept = []
        for index, cell in enumerate(region):
            text = _MARK.sub("", rules.join(rules.lines_of(cell))).strip()
            prompt = (index == 0 and cell.get("cell_type") == "markdown"
                      and rules.ANSWER_TAG not in cell.get("metadata", {}).get("tags", []))
            otter_only = cell.get("cell_type") == "code" and all(
                code is None for code, _ in otter_calls(text))
            if (prompt or text in given or otter_only
                    or (not text and cell.get("cell_type") == "markdown")):
                continue
            kept.append(copy.deepcopy(cell))
        answers.append(ManualAnswer(question.name, question.max_points, kept, question.text))
    return answers
