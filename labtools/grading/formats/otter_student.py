"""Line- and cell-level rules of ``otter assign`` (otter-grader 7.0.0), without otter.

:mod:`labtools.grading.formats.otter` walks an otter source notebook; this module
holds what that walk applies to single cells and lines, each rule a port of the
function of ``otter/assign`` named in its comment (otter-grader is BSD-3-Clause;
the regular expressions are otter's, so that a notebook is read exactly as
``otter assign`` reads it):

* :func:`replace_solutions`, :func:`remove_ignored_lines`, :func:`replace_plugins`;
* the cells otter adds (init, check, check-all, export, markdown response);
* :func:`strip_for_student`: the autograder notebook's cells -> the student's;
* :func:`doctest_body`: a test cell -> the OK-format (doctest) case otter writes.

Only the standard library and PyYAML are used.

Examples
--------
>>> replace_solutions(["def f(x):", "    y = 2 * x  # SOLUTION", "    return y"], "cell 3")
['def f(x):', '    y = ...', '    return y']
"""

from __future__ import annotations

import ast
import copy
import re

import yaml

from labtools.errors import AssignmentError
from labtools.grading.code import syntax_tree

__all__ = [
    "unfence", "replace_solutions", "remove_ignored_lines", "replace_plugins", "init_cells",
    "export_cells", "strip_for_student", "overwrite_seed", "doctest_body",
]

ANSWER_TAG = "otter_answer_cell"
SOLUTION_TAG = "otter_assign_solution_cell"
INCLUDE_TAG = "otter_include"

# otter/assign/solutions.py: `x = 1  # SOLUTION` keeps "x =", any other solution line becomes "..."
_ASSIGNMENT = re.compile(r"(\s*(?:[\w.]+(?=[^\w.])(?:\[['\"]?.*['\"]?\])*(?:,\s*)?)+\s*=).* ?# ?SOLUTION")
_SOLUTION_LINE = re.compile(r"(\s*).* ?# ?SOLUTION")
_BEGIN_SOLUTION = re.compile(r"(\s*)# BEGIN SOLUTION( NO PROMPT)?")
_SKIP_SUFFIXES = ("# SOLUTION NO PROMPT", "# BEGIN PROMPT", "# END PROMPT", "# SEED")


def lines_of(cell: dict) -> list[str]:
    """A cell's source as otter sees it (``otter.utils.get_source``): split on line ends."""
    source = cell.get("source", "")
    return re.split(r"\r?\n", "".join(source) if isinstance(source, list) else source)


def join(lines: list[str]) -> str:
    return "\n".join(lines)


def load_yaml(lines: list[str], where: str):
    """A cell's YAML (otter reads configs with ``yaml.full_load``; safe_load reads the same
    plain YAML without running tags)."""
    try:
        return yaml.safe_load(join(lines))
    except yaml.YAMLError as err:
        raise AssignmentError(f"{where}: invalid YAML ({err})") from None


def unfence(cells: list[dict], numbers: bool = False) -> list:
    """otter's ``extract_all_fenced_otter_cells``: a ```` ```otter ```` block in a cell
    is a raw cell (the text around it stays markdown). With ``numbers``: (cell, number of
    the source cell) pairs, and an unclosed block is an error.

    Examples
    --------
    >>> [c["cell_type"] for c in unfence([{"cell_type": "markdown", "metadata": {},
    ...                                     "source": "Intro\\n```otter\\n# BEGIN TESTS\\n```"}])]
    ['markdown', 'raw']
    """
    result = []
    for number, cell in enumerate(cells, start=1):
        lines = lines_of(cell)
        starts = [i for i, line in enumerate(lines) if line.strip() == "```otter"]
        ends = [next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
                for i in starts]
        if not starts or None in ends and not numbers:
            result.append((cell, number))
            continue
        if None in ends or any(ends[k] >= starts[k + 1] for k in range(len(starts) - 1)):
            raise AssignmentError(f"cell {number}: a ```otter block has no closing ```")
        for k, (i, j) in enumerate(zip(starts, ends)):
            stop = starts[k + 1] if k + 1 < len(starts) else len(lines) + 1
            after = 2 if j + 1 < len(lines) and not lines[j + 1].strip() else 1
            parts = [("markdown", lines[:i])] if k == 0 else []
            for kind, part in parts + [("raw", lines[i + 1:j]), ("markdown", lines[j + after:stop])]:
                if any(line.strip() for line in part):
                    result.append(({"cell_type": kind, "metadata": {}, "source": join(part)},
                                   number))
    return result if numbers else [cell for cell, _ in result]


def replace_solutions(lines: list[str], where: str) -> list[str]:
    """Student version of a solution code cell (``solutions.replace_solutions``).

    ``# BEGIN SOLUTION`` blocks become one ``...`` at their indentation (nothing for
    ``# BEGIN SOLUTION NO PROMPT``), ``# SOLUTION`` lines become ``name = ...`` or
    ``...``, and lines ending in ``# SOLUTION NO PROMPT``, ``# BEGIN PROMPT``,
    ``# END PROMPT`` or ``# SEED`` are dropped (so a ``\"\"\" # BEGIN PROMPT`` string's
    body is what students get).

    Examples
    --------
    >>> replace_solutions(["    # BEGIN SOLUTION", "    y = 2", "    # END SOLUTION"], "cell 1")
    ['    ...']
    """
    kept, begun = [], None
    for number, line in enumerate(lines, start=1):
        stripped = line.rstrip()
        if stripped.endswith(_SKIP_SUFFIXES):
            continue
        if stripped.endswith("# END SOLUTION"):
            if begun is None:
                raise AssignmentError(f"{where} line {number}: '# END SOLUTION' has no "
                                      "'# BEGIN SOLUTION' before it")
            begun = None
            continue
        if begun is not None:
            continue
        begin = _BEGIN_SOLUTION.match(line)
        if begin:
            begun = number
            if begin.group(2):  # NO PROMPT: students get nothing in its place
                continue
            line = begin.group(1) + "..."
        match = _ASSIGNMENT.match(line)
        if match:
            line = match.group(1) + " ..."
        else:
            match = _SOLUTION_LINE.match(line)
            if match:
                line = match.group(1) + "..."
        kept.append(line)
    if begun is not None:
        raise AssignmentError(f"{where} line {begun}: '# BEGIN SOLUTION' has no '# END SOLUTION' "
                              "in the same cell")
    return kept


def remove_ignored_lines(lines: list[str], where: str) -> list[str]:
    """Drop ``# IGNORE`` lines and ``# BEGIN IGNORE`` ... ``# END IGNORE`` blocks
    (``solutions.remove_ignored_lines``; otter applies it to every cell of both versions).

    Examples
    --------
    >>> remove_ignored_lines(["a = 1", "b = 2  # IGNORE", "# BEGIN IGNORE", "c", "# END IGNORE"], "")
    ['a = 1']
    """
    kept, begun = [], None
    for number, line in enumerate(lines, start=1):
        stripped = line.rstrip()
        if stripped.endswith("# IGNORE"):
            continue
        if stripped.endswith("# END IGNORE"):
            if begun is None:
                raise AssignmentError(f"{where} line {number}: '# END IGNORE' has no "
                                      "'# BEGIN IGNORE' before it")
            begun = None
            continue
        if begun is not None:
            continue
        if re.match(r"\s*#\s*BEGIN\s*IGNORE\s*", line, flags=re.IGNORECASE):
            begun = number
            continue
        kept.append(line)
    if begun is not None:
        raise AssignmentError(f"{where} line {begun}: '# BEGIN IGNORE' has no '# END IGNORE'")
    return kept


def replace_plugins(lines: list[str], where: str) -> list[str]:
    """``# BEGIN PLUGIN`` ... ``# END PLUGIN`` YAML blocks -> ``grader.run_plugin(...)`` calls
    (``# BEGIN PLUGIN EXPORT``: ``grader.add_plugin_files(...)``), as ``assign/plugins.py``.

    Examples
    --------
    >>> replace_plugins(["# BEGIN PLUGIN", "plugin: gs_plugin", "args: [df]", "# END PLUGIN"], "")
    ['grader.run_plugin("gs_plugin", df)']
    """
    result, block, export = [], None, False
    for number, line in enumerate(lines, start=1):
        stripped = line.rstrip()
        if stripped.endswith("# END PLUGIN"):
            if block is None:
                raise AssignmentError(f"{where} line {number}: '# END PLUGIN' without BEGIN PLUGIN")
            try:
                config = yaml.safe_load(join(block)) or {}
                call = ("run_plugin", "add_plugin_files")[export] + f'("{config["plugin"]}"'
            except (yaml.YAMLError, KeyError, TypeError) as err:
                raise AssignmentError(f"{where}: a plugin block needs YAML with a 'plugin' key "
                                      f"({err})") from None
            args = ", ".join(map(str, config.get("args", [])))  # code, e.g. a variable name
            kwargs = ", ".join(f"{k}={v}" for k, v in config.get("kwargs", {}).items())
            result.append("grader." + call + "".join(", " + a for a in (args, kwargs) if a) + ")")
            block = None
        elif stripped.endswith(("# BEGIN PLUGIN", "# BEGIN PLUGIN EXPORT")):
            if block is not None:
                raise AssignmentError(f"{where} line {number}: nested BEGIN PLUGIN")
            block, export = [], stripped.endswith("EXPORT")
        elif block is not None:
            block.append(line)
        else:
            result.append(line)
    if block is not None:
        raise AssignmentError(f"{where}: '# BEGIN PLUGIN' has no '# END PLUGIN'")
    return result


def _cell(kind: str, source: str, locked: bool = False, tags: list | None = None) -> dict:
    cell = {"cell_type": kind, "metadata": {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    if locked:  # otter's `lock`: students can neither edit nor delete the cell
        cell["metadata"].update(editable=False, deletable=False)
    if tags:
        cell["metadata"]["tags"] = list(tags)
    return cell


def init_cells(config: dict, notebook_name: str) -> list[dict]:
    """``CellFactory.create_init_cells``: ``grader = otter.Notebook("name.ipynb")``.

    Examples
    --------
    >>> print(init_cells({}, "hw.ipynb")[0]["source"])
    # Initialize Otter
    import otter
    grader = otter.Notebook("hw.ipynb")
    """
    runs_on = config.get("runs_on", "default")
    args = f'"{notebook_name}"' if runs_on == "default" else ""
    prefix = (config.get("tests") or {}).get("url_prefix")
    if prefix:
        args += f"{', ' if args else ''}tests_url_prefix=\"{prefix}\""
    cells = [_cell("code", "%pip install -q otter-grader", locked=True)] if runs_on == "colab" else []
    return cells + [_cell("code", f"# Initialize Otter\nimport otter\ngrader = otter.Notebook({args})",
                          locked=True)]


def check_cell(question: str) -> dict:
    return _cell("code", f'grader.check("{question}")', locked=True)


def check_all_cells() -> list[dict]:
    text = ("---\n\nTo double-check your work, the cell below will rerun all of the autograder "
            "tests.")
    return [_cell("markdown", text, locked=True), _cell("code", "grader.check_all()", locked=True)]


def export_settings(config: dict) -> dict | None:
    """``export_cell`` with otter's defaults; None when the config turns the cell off."""
    value = config.get("export_cell", True)
    if not value:
        return None
    settings = {"instructions": "", "pdf": True, "filtering": True, "force_save": False,
                "run_tests": True, "files": [], "ignore_log": False, "require_no_pdf_ack": False}
    settings.update(value if isinstance(value, dict) else {})
    return settings


def export_cells(config: dict) -> list[dict]:
    """``CellFactory.create_export_cells``: instructions, ``grader.export(...)``, a blank cell.

    Examples
    --------
    >>> export_cells({"export_cell": {"pdf": False, "force_save": True}})[1]["source"]
    'grader.export(pdf=False, force_save=True, run_tests=True)'
    >>> export_cells({"export_cell": False})
    []
    """
    settings = export_settings(config)
    if settings is None:
        return []
    text = ("## Submission\n\nMake sure you have run all cells in your notebook in order before "
            "running the cell below, so that all images/graphs appear in the output. The cell "
            "below will generate a zip file for you to submit.")
    lines = []
    if not settings["force_save"]:
        text += " **Please save before exporting!**"
        lines.append("# Save your notebook first, then run this cell to export your submission.")
    if settings["instructions"]:
        text += "\n\n" + settings["instructions"]
    args = [flag for flag, on in (("filtering=False", not settings["filtering"]),
                                  ("pdf=False", not settings["pdf"]),
                                  ("force_save=True", settings["force_save"]),
                                  ("run_tests=True", settings["run_tests"]),
                                  ("ignore_log=True", settings["ignore_log"])) if on]
    files = [*settings["files"], *config.get("student_files", [])]
    if files:
        args.append(f"files={files}")
    lines.append(f"grader.export({', '.join(args)})")
    return [_cell("markdown", text, locked=True), _cell("code", join(lines), locked=True),
            _cell("markdown", " ")]


def response_cell() -> dict:
    """What a manual question with a markdown solution and no prompt gets in its place."""
    return _cell("markdown", "_Type your answer here, replacing this text._", tags=[ANSWER_TAG])


def strip_for_student(cells: list[dict], config: dict) -> list[dict]:
    """``solutions.strip_solutions_and_output``: solution cells -> answer cells, markdown
    solutions removed (unless tagged ``otter_include``), every output cleared.

    Examples
    --------
    >>> cell = {"cell_type": "code", "source": "x = 2 # SOLUTION", "outputs": [1],
    ...         "metadata": {"tags": [SOLUTION_TAG]}}
    >>> strip_for_student([cell], {})[0]["source"], strip_for_student([cell], {})[0]["metadata"]
    ('x = ...', {'tags': ['otter_answer_cell']})
    """
    result = []
    everywhere = config.get("strip_solutions_from_all_cells", False)
    for number, cell in enumerate(copy.deepcopy(cells), start=1):
        tags = cell["metadata"].get("tags", [])
        solution, markdown = SOLUTION_TAG in tags, cell["cell_type"] == "markdown"
        if cell["cell_type"] == "code" and (solution or everywhere):
            cell["source"] = join(replace_solutions(lines_of(cell), f"cell {number}"))
        # strip_solutions_from_all_cells drops every markdown solution and swaps no tag
        if markdown and solution and (everywhere or INCLUDE_TAG not in tags):
            continue
        if solution and not everywhere:
            tags = [t for t in tags if t != SOLUTION_TAG and not (markdown and t == INCLUDE_TAG)]
            cell["metadata"]["tags"] = tags + [ANSWER_TAG]
        if "outputs" in cell:
            cell["outputs"] = []
        if "execution_count" in cell:
            cell["execution_count"] = None
        result.append(cell)
    return result


def overwrite_seed(cells: list[dict], variable: str, value) -> None:
    """``solutions.overwrite_seed_vars``: every ``variable = ...`` line gets the student seed.

    Examples
    --------
    >>> cells = [{"source": "rng_seed = 42\\nrng = make(rng_seed)"}]
    >>> overwrite_seed(cells, "rng_seed", 7)
    >>> cells[0]["source"]
    'rng_seed = 7\\nrng = make(rng_seed)'
    """
    for cell in cells:
        lines = lines_of(cell)
        for index, line in enumerate(lines):
            match = re.match(rf"(\s*){variable}\s*(=|<-)\s*", line)
            if match:
                lines[index] = match.group(1) + f"{variable} {match.group(2)} {value}"
        cell["source"] = join(lines)


class _AnnotationRemover(ast.NodeTransformer):
    # otter's tests_manager._AnnotationRemover: generated tests carry no type hints
    def visit(self, node):
        self.generic_visit(node)
        for name in ("annotation", "returns"):
            if hasattr(node, name) and not isinstance(node, ast.AnnAssign):
                setattr(node, name, None)
        if getattr(node, "type_params", None):
            node.type_params = []
        return node


def doctest_body(test_source: str, output: str) -> str:
    """The OK-format case ``otter assign`` writes for a test cell (``read_test`` +
    ``utils.str_to_doctest``): the code re-printed by :func:`ast.unparse` as ``>>>`` /
    ``...`` lines, then the output the cell shows in the source notebook.

    Examples
    --------
    >>> doctest_body("for v in [1]:\\n    assert v  # check", "").split("\\n")
    ['>>> for v in [1]:', '...     assert v', '']
    >>> doctest_body("# HIDDEN comments go\\nsquare(2) == 4", "True")
    '>>> square(2) == 4\\nTrue'
    """
    code = ast.unparse(_AnnotationRemover().visit(syntax_tree(test_source)))
    lines: list[str] = []
    for line in code.split("\n"):
        if not line:
            continue
        continued = (line.startswith((" ", "\t")) or re.match(r"^except[\s\w]*:", line)
                     or line.startswith(("elif ", "else:", "finally:"))
                     or (lines and lines[-1].strip().endswith("\\")))
        lines.append(("... " if continued else ">>> ") + line)
    return join(lines + output.split("\n"))
