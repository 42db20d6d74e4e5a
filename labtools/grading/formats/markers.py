"""labtools' own notebooks: solution markers in plain cells, graded by ``assignment.toml``.

A notebook without nbgrader metadata or otter raw cells uses the markers of
:mod:`labtools.grading.notebook` (``### BEGIN SOLUTION``, ``# SOLUTION`` lines,
``### BEGIN HIDDEN TESTS``). It has no test cells of its own: the functions
named in ``assignment.toml`` are what is graded. Every code cell of a
submission runs in the student process, in order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from labtools.errors import AssignmentError
from labtools.grading.model import SourceNotebook, Step
from labtools.grading.notebook import Cell, cells_to_document, parse_ipynb, parse_percent, student_cells

__all__ = ["read_markers", "MarkerNotebook", "read_document"]


def read_document(path) -> dict:
    """A notebook file (.ipynb, or a py:percent .py script) as an nbformat dict.

    Raises
    ------
    AssignmentError
        The file is not valid JSON or not a notebook.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "work.py"
    >>> _ = path.write_text("# %%\\nx = 1\\n")
    >>> [c["source"] for c in read_document(path)["cells"]]
    [['x = 1']]
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".py":
        return cells_to_document(parse_percent(text, label=path.name))
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None
    if not (isinstance(document, dict) and isinstance(document.get("cells"), list)
            and all(isinstance(cell, dict) and isinstance(cell.get("source", ""), (str, list))
                    for cell in document["cells"])):
        parse_ipynb(text, name=path.name)  # raises the error that says what is wrong
    for cell in document["cells"]:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return document


def read_markers(path) -> MarkerNotebook:
    """Read a labtools solution notebook (.ipynb or py:percent).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "hw.py"
    >>> _ = path.write_text("# %%\\ndef f(x):\\n    ### BEGIN SOLUTION\\n    return x\\n"
    ...                     "    ### END SOLUTION\\n")
    >>> notebook = read_markers(path)
    >>> notebook.format, "return x" in str(notebook.student_document())
    ('labtools', False)
    """
    path = Path(path)
    return MarkerNotebook("labtools", path, read_document(path))


@dataclass
class MarkerNotebook(SourceNotebook):
    """A notebook in labtools' marker format (graded through ``assignment.toml``)."""

    def _cells(self, document) -> list[Cell]:
        cells = []
        for number, cell in enumerate(document.get("cells", []), start=1):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            kind = cell.get("cell_type")
            cells.append(Cell(kind if kind in ("code", "markdown") else "raw", source,
                              f"cell {number}"))
        return cells

    def student_document(self) -> dict:
        try:
            return cells_to_document(student_cells(self._cells(self.document)))
        except AssignmentError as err:
            raise AssignmentError(f"{self.path.name}: {err}") from None

    def steps(self, submission: dict) -> list[Step]:
        return [Step("student", cell.source, cell.label) for cell in self._cells(submission)
                if cell.kind == "code"]

    def manual_answers(self, submission: dict) -> list:
        return []
