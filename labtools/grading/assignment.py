"""An assignment folder, whatever its format: its notebooks, questions and optional toml.

A folder holds one or more instructor source notebooks, each in one of three
formats, found by looking at the notebook itself:

* nbgrader (cells with ``metadata.nbgrader``; a folder may hold several, as
  nbgrader's ``source/ps1/``);
* otter-grader's assign format (raw cells ``# ASSIGNMENT CONFIG`` / ``# BEGIN QUESTION``);
* labtools' markers (``### BEGIN SOLUTION`` in plain cells), graded through
  ``assignment.toml``.

``assignment.toml`` is optional for the first two: it adds labtools' random
cases for named functions, limits and forbidden modules (docs/grading.md).

Examples
--------
>>> from pathlib import Path
>>> import labtools
>>> folder = Path(labtools.__file__).parents[1] / "course" / "assignments" / "metrics-basics"
>>> assignment = load_assignment(folder)
>>> assignment.title, [n.format for n in assignment.notebooks], assignment.max_points
('Metrics basics: Dice and Hausdorff distance', ['labtools'], 10.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labtools.errors import AssignmentError
from labtools.grading.code import bound_names, code_sources, defined_functions
from labtools.grading.formats.markers import read_document, read_markers
from labtools.grading.formats.nbgrader import is_nbgrader, read_nbgrader
from labtools.grading.formats.otter import is_otter, read_otter
from labtools.grading.model import SourceNotebook
from labtools.grading.spec import SPEC_NAME, ALWAYS_FORBIDDEN, Limits, Spec, load_spec

__all__ = ["Assignment", "load_assignment", "read_source"]

@dataclass
class Assignment:
    """An assignment folder, read: its source notebooks and its optional toml spec."""

    folder: Path
    name: str
    title: str
    notebooks: list[SourceNotebook]
    spec: Spec | None = None
    public_files: tuple = ()
    extra: dict = field(default_factory=dict)

    @property
    def functions(self) -> tuple:
        return self.spec.functions if self.spec else ()

    @property
    def limits(self) -> Limits:
        return self.spec.limits if self.spec else Limits()

    @property
    def forbidden_modules(self) -> tuple:
        return self.spec.forbidden_modules if self.spec else ALWAYS_FORBIDDEN

    @property
    def seed(self) -> int:
        return self.spec.seed if self.spec else 0

    @property
    def notebook(self) -> Path:
        return Path(self.notebooks[0].path)

    @property
    def max_points(self) -> float:
        return float(sum(n.max_points for n in self.notebooks)
                     + sum(f.points for f in self.functions))

    def function(self, name: str):
        return self.spec.function(name)


def read_source(path) -> SourceNotebook:
    """Read one instructor notebook in whichever format it is written.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "hw.ipynb"
    >>> cells = [{"cell_type": "raw", "metadata": {}, "source": text}
    ...          for text in ("# BEGIN QUESTION\\nname: q1\\nmanual: true", "# END QUESTION")]
    >>> _ = path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
    ...                                 "nbformat_minor": 5}))
    >>> read_source(path).format
    'otter'
    """
    path = Path(path)
    document = read_document(path)
    if is_nbgrader(document):
        return read_nbgrader(path)
    if is_otter(document):
        return read_otter(path)
    return read_markers(path)


def load_assignment(folder) -> Assignment:
    """Read an assignment folder (notebooks in any supported format, ``assignment.toml`` optional).

    Raises
    ------
    AssignmentError
        The folder does not exist, holds no source notebook, or a notebook or
        the toml has a mistake (the message names the file, the cell or the key).
    """
    folder = Path(folder)
    if folder.is_file():
        raise AssignmentError(f"{folder} is a file: give the folder that holds it "
                              f"({folder.parent}), with any files it needs beside it")
    if not folder.is_dir():
        raise AssignmentError(f"assignment folder {folder} does not exist; give the folder that "
                              "holds the instructor's source notebook(s)")
    spec = load_spec(folder) if (folder / SPEC_NAME).is_file() else None
    if spec is not None and spec.notebook is not None:
        paths = [spec.notebook]
    else:
        paths = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
    if not paths:
        raise AssignmentError(f"{folder} holds no source notebook (.ipynb): put the instructor's "
                              "nbgrader, otter or labtools notebook in it")
    notebooks = [read_source(path) for path in paths]
    if spec is None and not any(n.questions for n in notebooks):
        raise AssignmentError(
            f"{folder}: nothing to grade: its notebooks have no nbgrader grade cells and no otter "
            f"questions; mark tests in the notebook or add an {SPEC_NAME} naming the graded "
            "functions (docs/grading.md)")
    _check_functions_defined(spec, notebooks)
    name = spec.name if spec else (notebooks[0].config or {}).get("name") or folder.name
    title = spec.title if spec else (_title(notebooks) if notebooks[0].format == "otter"
                                     else None) or name
    public = spec.public_files if spec else ()
    return Assignment(folder, name, title, notebooks, spec, public)


def _check_functions_defined(spec, notebooks) -> None:
    """A toml function the solution does not define is a typo: say so now, not as 0 points
    for every student."""
    if spec is None or not spec.functions:
        return
    import difflib

    sources = [source for notebook in notebooks for source in code_sources(notebook.document)]
    defined = defined_functions(sources) | bound_names(sources)
    for function in spec.functions:
        if function.name not in defined:
            close = difflib.get_close_matches(function.name, sorted(defined), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise AssignmentError(f"{SPEC_NAME} grades a function {function.name!r}, but no "
                                  f"notebook of {spec.folder} defines it{hint}")


def _title(notebooks) -> str | None:
    """The first markdown heading of the first notebook, as a title."""
    for cell in notebooks[0].document.get("cells", []):
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            for line in source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip() or None
    return None


def question_label(notebook: SourceNotebook, question: str, several: bool) -> str:
    """How a question is named in grades.csv: ``problem1:correct_squares`` when the
    assignment has several notebooks."""
    return f"{Path(notebook.path).stem}:{question}" if several else question

