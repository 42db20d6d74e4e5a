"""Notebooks as cell lists: read .ipynb / py:percent, make the student version, write .ipynb.

Markers are those instructors know from nbgrader and otter-grader:

* ``### BEGIN SOLUTION`` ... ``### END SOLUTION``: the lines between are
  replaced by the stub (``stub.txt``) at the marker's indentation; in a
  markdown cell by "YOUR ANSWER HERE".
* a line ending in ``# SOLUTION``: ``x = 42  # SOLUTION`` becomes ``x = ...``,
  ``return y  # SOLUTION`` becomes ``return ...``, any other line the stub.
* ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``: removed, markers
  included; a cell left empty is dropped.

Everything else (public checks included) is kept. Only the standard library
is used: nbformat and jupytext are not needed to grade.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from labtools.errors import AssignmentError

__all__ = ["Cell", "read_cells", "parse_percent", "student_cells", "write_ipynb", "stub_lines",
           "cells_to_document", "write_document"]

_BEGIN_SOLUTION = re.compile(r"^(\s*)#+\s*BEGIN SOLUTION\s*$")
_END_SOLUTION = re.compile(r"^\s*#+\s*END SOLUTION\s*$")
_BEGIN_HIDDEN = re.compile(r"^\s*#+\s*BEGIN HIDDEN TESTS\s*$")
_END_HIDDEN = re.compile(r"^\s*#+\s*END HIDDEN TESTS\s*$")
_SOLUTION_LINE = re.compile(r"^(?P<indent>\s*)(?P<code>.*?)\s*#\s*SOLUTION\s*$")
_ASSIGNMENT = re.compile(r"^(?P<target>[A-Za-z_][\w.,\s\[\]]*?)\s*=(?!=)")
_PERCENT = re.compile(r"^# %%(?P<rest>.*)$")


@dataclass(frozen=True)
class Cell:
    """One notebook cell: kind ("code" or "markdown"), text, and where it came from.

    ``label`` names the cell in messages ("cell 4", or "work.py" for a script)
    and ``first_line`` is the line of ``source``'s first line in that place.
    """

    kind: str
    source: str
    label: str = ""
    first_line: int = 1


def read_cells(path) -> list[Cell]:
    """The cells of a notebook (.ipynb) or a py:percent script (.py).

    Raises
    ------
    AssignmentError
        The file is not valid JSON or not a notebook.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "n.ipynb"
    >>> _ = path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": ["x = 1"]}]}))
    >>> read_cells(path)
    [Cell(kind='code', source='x = 1', label='cell 1', first_line=1)]
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".py":
        return parse_percent(text, label=path.name)
    return parse_ipynb(text, name=path.name)


def parse_ipynb(text: str, name: str = "notebook") -> list[Cell]:
    """Cells of an .ipynb document given as text (AssignmentError when it is not one)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise AssignmentError(f"{name} is not a valid notebook: its JSON is broken at line "
                              f"{err.lineno}, column {err.colno} ({err.msg}); open it in Jupyter "
                              "and save it again") from None
    cells = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(cells, list):
        raise AssignmentError(f"{name} is JSON but not a notebook (no list of cells)")
    result = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise AssignmentError(f"{name}: cell {number} is not a notebook cell")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise AssignmentError(f"{name}: cell {number} has no readable source")
        kind = cell.get("cell_type")
        result.append(Cell("code" if kind == "code" else "markdown" if kind == "markdown" else "raw",
                           source, f"cell {number}"))
    return result


def parse_percent(text: str, label: str = "script.py") -> list[Cell]:
    """Cells of a jupytext py:percent script: ``# %%`` starts a code cell, ``# %% [markdown]``
    a markdown cell; a leading jupytext header (``# ---`` block) is skipped. A script
    without markers is one code cell.

    Examples
    --------
    >>> cells = parse_percent("import numpy\\n\\n# %% [markdown]\\n# Title\\n\\n# %%\\nx = 1\\n")
    >>> [(c.kind, c.source, c.first_line) for c in cells]
    [('code', 'import numpy', 1), ('markdown', 'Title', 4), ('code', 'x = 1', 7)]
    """
    lines = text.splitlines()
    start = _skip_header(lines)
    cells, kind, body, body_start = [], "code", [], start + 1
    for number, line in enumerate(lines[start:], start=start + 1):
        marker = _PERCENT.match(line)
        if marker:
            cells.append((kind, body, body_start))
            rest = marker.group("rest")
            kind = "markdown" if "[markdown]" in rest or "[md]" in rest else "code"
            body, body_start = [], number + 1
        else:
            body.append(line)
    cells.append((kind, body, body_start))
    result = []
    for kind, body, first in cells:
        while body and not body[0].strip():
            body, first = body[1:], first + 1
        while body and not body[-1].strip():
            body = body[:-1]
        if not body:
            continue
        if kind == "markdown":
            body = [re.sub(r"^# ?", "", line) for line in body]
        result.append(Cell(kind, "\n".join(body), label, first))
    return result


def _skip_header(lines: list[str]) -> int:
    if lines and lines[0].strip() == "# ---":
        for index in range(1, len(lines)):
            if lines[index].strip() == "# ---":
                return index + 1
    return 0


def stub_lines(indent: str = "") -> list[str]:
    """The stub students see where a solution was, indented by `indent`.

    Examples
    --------
    >>> stub_lines("    ")[0]
    '    # YOUR CODE HERE'
    """
    text = resources.files("labtools.grading").joinpath("stub.txt").read_text(encoding="utf-8")
    return [indent + line for line in text.strip().splitlines()]


def student_cells(cells: list[Cell]) -> list[Cell]:
    """The student version: solutions replaced by stubs, hidden tests removed.

    Raises
    ------
    AssignmentError
        A BEGIN marker has no END (or the reverse).

    Examples
    --------
    >>> solution = Cell("code", "def f(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n"
    ...                         "    ### END SOLUTION", "cell 1")
    >>> print(student_cells([solution])[0].source.splitlines()[:2])
    ['def f(x):', '    # YOUR CODE HERE']
    """
    result = []
    for cell in cells:
        lines = _remove_hidden_tests(cell)
        lines = _replace_solutions(cell, lines)
        if lines is not None and "\n".join(lines).strip():
            result.append(Cell(cell.kind, "\n".join(lines), cell.label, cell.first_line))
    return result


def _remove_hidden_tests(cell: Cell) -> list[str]:
    kept, hidden_since = [], None
    for number, line in enumerate(cell.source.splitlines(), start=cell.first_line):
        if _BEGIN_HIDDEN.match(line):
            if hidden_since is not None:
                raise AssignmentError(f"{cell.label} line {number}: BEGIN HIDDEN TESTS inside "
                                      "another hidden-tests block")
            hidden_since = number
        elif _END_HIDDEN.match(line):
            if hidden_since is None:
                raise AssignmentError(f"{cell.label} line {number}: END HIDDEN TESTS without BEGIN")
            hidden_since = None
        elif hidden_since is None:
            kept.append(line)
    if hidden_since is not None:
        raise AssignmentError(f"{cell.label} line {hidden_since}: BEGIN HIDDEN TESTS has no "
                              "END HIDDEN TESTS")
    return kept


def _replace_solutions(cell: Cell, lines: list[str]) -> list[str]:
    result, solution_since = [], None
    for number, line in enumerate(lines, start=cell.first_line):
        begin = _BEGIN_SOLUTION.match(line)
        if begin:
            if solution_since is not None:
                raise AssignmentError(f"{cell.label}: BEGIN SOLUTION inside another solution block")
            solution_since = number
            result += (stub_lines(begin.group(1)) if cell.kind == "code" else ["YOUR ANSWER HERE"])
        elif _END_SOLUTION.match(line):
            if solution_since is None:
                raise AssignmentError(f"{cell.label}: END SOLUTION without BEGIN SOLUTION")
            solution_since = None
        elif solution_since is None:
            result += _solution_line(line) if cell.kind == "code" else [line]
    if solution_since is not None:
        raise AssignmentError(f"{cell.label}: BEGIN SOLUTION has no END SOLUTION")
    return result


def _solution_line(line: str) -> list[str]:
    match = _SOLUTION_LINE.match(line)
    if not match:
        return [line]
    indent, code = match.group("indent"), match.group("code")
    if code.startswith("return"):
        return [f"{indent}return ..."]
    assignment = _ASSIGNMENT.match(code)
    if assignment:
        return [f"{indent}{assignment.group('target').rstrip()} = ..."]
    return stub_lines(indent)


def cells_to_document(cells: list[Cell]) -> dict:
    """`cells` as an nbformat 4.5 notebook dict without outputs.

    Examples
    --------
    >>> cells_to_document([Cell("code", "x = 1")])["cells"][0]["source"]
    ['x = 1']
    """
    def as_json(number: int, cell: Cell) -> dict:
        lines = cell.source.splitlines(keepends=True)
        entry = {"cell_type": cell.kind, "id": f"cell-{number}", "metadata": {}, "source": lines}
        if cell.kind == "code":
            entry.update(execution_count=None, outputs=[])
        return entry

    return {
        "cells": [as_json(number, cell) for number, cell in enumerate(cells, start=1)],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                           "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_document(document: dict, path) -> Path:
    """Write an nbformat dict as a .ipynb file (sources as lists of lines); returns the path.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> path = write_document(cells_to_document([Cell("code", "x = 1")]),
    ...                       pathlib.Path(tempfile.mkdtemp()) / "s.ipynb")
    >>> json.loads(path.read_text())["cells"][0]["source"]
    ['x = 1']
    """
    document = dict(document)
    cells = []
    for cell in document.get("cells", []):
        cell = dict(cell)
        if isinstance(cell.get("source"), str):
            cell["source"] = cell["source"].splitlines(keepends=True)
        cells.append(cell)
    document["cells"] = cells
    path = Path(path)
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_ipynb(cells: list[Cell], path) -> Path:
    """Write `cells` as an nbformat 4.5 notebook without outputs; returns the path."""
    return write_document(cells_to_document(cells), path)
