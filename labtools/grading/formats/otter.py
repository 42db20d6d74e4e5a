"""otter-grader's assignment notebooks (``otter assign``, v1 format) read without otter.

An otter source notebook marks its structure with raw cells: ``# ASSIGNMENT CONFIG``
(YAML), ``# BEGIN QUESTION`` (YAML: name, points, manual, all_or_nothing, export,
check_cell) ... ``# END QUESTION``, and inside a question ``# BEGIN PROMPT``,
``# BEGIN SOLUTION`` and ``# BEGIN TESTS`` blocks. :func:`read_otter` walks the cells
the way ``otter/assign/notebook_transformer.py`` (otter-grader 7.0.0) does and gives
an :class:`OtterNotebook`: the questions with their test cases and points, the
autograder notebook, the student notebook :meth:`OtterNotebook.student_document`,
and otter's grading order :meth:`OtterNotebook.steps`. The cell and line rules are
in :mod:`labtools.grading.formats.otter_student`, tests, points and grading in
:mod:`labtools.grading.formats.otter_grading`. Only the standard library and PyYAML
are used: grading needs no otter.

Examples
--------
>>> import json, tempfile, pathlib
>>> def cell(kind, text):
...     return {"cell_type": kind, "metadata": {}, "source": text, **(
...         {"outputs": [], "execution_count": None} if kind == "code" else {})}
>>> test = cell("code", "square(3) == 9")
>>> test["outputs"] = [{"output_type": "execute_result", "data": {"text/plain": "True"}}]
>>> cells = [cell("raw", "# BEGIN QUESTION\\nname: q1\\npoints: 2"), cell("raw", "# BEGIN SOLUTION"),
...          cell("code", "def square(x):\\n    return x * x  # SOLUTION"),
...          cell("raw", "# END SOLUTION"), cell("raw", "# BEGIN TESTS"), test,
...          cell("raw", "# END TESTS"), cell("raw", "# END QUESTION")]
>>> path = pathlib.Path(tempfile.mkdtemp()) / "hw.ipynb"
>>> _ = path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
...                                 "nbformat_minor": 5}))
>>> nb = read_otter(path)
>>> [(t.name, t.points, t.mode, t.expected) for t in nb.questions[0].tests]
[('q1 - 1', 2.0, 'output', 'True')]
>>> [c["source"] for c in nb.student_document()["cells"]][1:3]
['def square(x):\\n    ...', 'grader.check("q1")']
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from labtools.errors import AssignmentError
from labtools.grading.formats import otter_student as rules
from labtools.grading.formats.otter_grading import (
    grading_steps, make_question, manual_answers, ok_format, otter_test_file, read_test_case,
    seed_code, shown_points,
)
from labtools.grading.model import ManualAnswer, SourceNotebook, Step

__all__ = ["OtterNotebook", "is_otter", "read_otter"]

_BLOCKS = ("question", "prompt", "solution", "tests")


def is_otter(document: dict) -> bool:
    """Whether `document` (an nbformat dict) is an otter source notebook.

    Examples
    --------
    >>> is_otter({"cells": [{"cell_type": "raw", "source": ["# BEGIN QUESTION\\n", "name: q1"]}]})
    True
    >>> is_otter({"cells": [{"cell_type": "code", "source": "# BEGIN QUESTION"}]})
    False
    """
    return any(cell.get("cell_type") == "raw" and re.match(
        r"#\s+(assignment\s+config|begin\s+question)", rules.lines_of(cell)[0], re.IGNORECASE)
        for cell in rules.unfence(document.get("cells", [])))


@dataclass
class OtterNotebook(SourceNotebook):
    """An otter source notebook as read by :func:`read_otter`.

    ``config`` is the merged ``# ASSIGNMENT CONFIG``; ``autograder_cells`` the cells of
    otter's autograder notebook (solutions kept); ``question_configs`` each question's
    YAML with its test cases as read (what :meth:`test_files` formats).
    """

    autograder_cells: list = field(default_factory=list, repr=False)
    question_configs: list = field(default_factory=list, repr=False)

    def test_files(self, hidden: bool = True) -> dict:
        """The tests as ``otter assign`` writes them, by question: OK-format dicts (the
        ``test`` of ``tests/q1.py``), or the exception-based file's text; without the hidden
        cases for ``hidden=False`` (the student notebook's copy).

        Examples
        --------
        >>> nb = read_otter(Path(__file__).parents[3] / "tests" / "data" / "otter" / "demo.ipynb")
        >>> nb.test_files(hidden=False)["q1"]["suites"][0]["cases"][0]["code"]
        '>>> square(1) == 1\\nTrue'
        """
        return {str(q["name"]): otter_test_file(q, self.config, hidden)
                for q in self.question_configs if q["cases"]}

    def autograder_document(self) -> dict:
        """The notebook ``otter assign`` writes to ``autograder/``: solutions, all tests."""
        return self._document(copy.deepcopy(self.autograder_cells), hidden=True)

    def student_document(self) -> dict:
        """The notebook ``otter assign`` writes to ``student/`` (see the module example):
        solutions replaced, markdown solutions, hidden tests and outputs removed, and
        otter's init, check and export cells in place."""
        cells = rules.strip_for_student(self.autograder_cells, self.config)
        seed = self.config.get("seed") or {}
        if seed.get("variable"):
            rules.overwrite_seed(cells, seed["variable"], seed.get("student_value"))
        return self._document(cells, hidden=False)

    def _document(self, cells: list[dict], hidden: bool) -> dict:
        document = {k: copy.deepcopy(v) for k, v in self.document.items() if k != "cells"}
        meta = {}  # otter's NBMetadataConfig, kept in metadata["otter"]
        if self.config.get("name"):
            meta["assignment_name"] = self.config["name"]
        ack = (rules.export_settings(self.config) or {}).get("require_no_pdf_ack")
        if ack:
            meta["require_no_pdf_confirmation"] = True
            if isinstance(ack, dict):
                meta["export_pdf_failure_message"] = ack.get("message")
        tests = self.config.get("tests") or {}
        if not (tests.get("files") or tests.get("url_prefix")):  # a URL prefix forces files
            meta["OK_FORMAT"] = ok_format(self.config)
            meta["tests"] = self.test_files(hidden)
        if meta:
            document.setdefault("metadata", {})["otter"] = meta
        if (document.get("nbformat"), document.get("nbformat_minor", 0)) >= (4, 5):
            used = set()  # cell ids: kept from the source, made up for otter's new cells
            for number, cell in enumerate(cells):
                if not cell.get("id") or cell["id"] in used:
                    cell["id"] = f"otter-{number}"
                used.add(cell["id"])
        else:
            for cell in cells:
                cell.pop("id", None)
        document["cells"] = cells
        return document

    def steps(self, submission: dict) -> list[Step]:
        """What to run to grade `submission`, in otter's order: its code cells, each
        question's tests where a ``grader.check`` of it runs, the rest at the end (see
        :func:`labtools.grading.formats.otter_grading.grading_steps`). The source
        notebook itself is graded as its autograder version, as ``otter assign`` does.

        Examples
        --------
        >>> nb = read_otter(Path(__file__).parents[3] / "tests" / "data" / "otter" / "demo.ipynb")
        >>> [step.label for step in nb.steps(nb.student_document())][:6]
        ['otter stand-in', 'cell 3', 'cell 5', 'q1 - 1', 'q1 - 2', 'q1 - 3']
        """
        cells = self._cells_of(submission)
        return grading_steps(self, cells)

    def _cells_of(self, submission: dict) -> list[dict]:
        # Only the source notebook itself is graded as the autograder notebook; a submission
        # that merely looks like an otter source (a raw "# BEGIN QUESTION" cell added by a
        # student) is graded as what it is.
        if submission is self.document or submission == self.document:
            return self.autograder_cells
        return submission.get("cells", [])

    def manual_answers(self, submission: dict) -> list[ManualAnswer]:
        """The student's cells of each manual question, found between the
        ``<!-- BEGIN QUESTION -->`` / ``<!-- END QUESTION -->`` marks otter puts around
        them (see :func:`labtools.grading.formats.otter_grading.manual_answers`).

        Examples
        --------
        >>> nb = read_otter(Path(__file__).parents[3] / "tests" / "data" / "otter" / "demo.ipynb")
        >>> [(a.question, a.points, [c["source"] for c in a.cells])
        ...  for a in nb.manual_answers(nb.student_document())]
        [('q4', 0.0, ['...']), ('q5', 0.0, ['_Type your answer here, replacing this text._'])]
        """
        cells = self._cells_of(submission)
        return manual_answers(self, cells)


def read_otter(path) -> OtterNotebook:
    """Read an otter source notebook (``.ipynb``).

    Raises
    ------
    AssignmentError
        The file is not a notebook, or its otter cells are inconsistent; the message
        names the cell (numbered from 1 as in Jupyter) and the question.

    Examples
    --------
    >>> nb = read_otter(Path(__file__).parents[3] / "tests" / "data" / "otter" / "demo.ipynb")
    >>> [(q.name, q.max_points, len(q.tests)) for q in nb.questions if not q.manual]
    [('q1', 1.0, 3), ('q2', 1.0, 2), ('q3', 1.0, 8)]
    >>> [(q.name, q.points) for q in nb.questions if q.manual]
    [('q4', 0.0), ('q5', 0.0)]
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AssignmentError(f"{path.name} is not a readable notebook: {err}") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise AssignmentError(f"{path.name} is not a notebook (no list of cells)")
    return _Reader(path, document).read()


def _boundary(cell: dict, kind: str, end: bool = False) -> bool:
    word = "end" if end else "begin"
    return cell["cell_type"] == "raw" and bool(
        re.match(rf"#\s+{word}\s+{kind}\s*", rules.lines_of(cell)[0], re.IGNORECASE))


class _Reader:
    """One walk over the cells, keeping otter's state variables and their names."""

    def __init__(self, path: Path, document: dict):
        self.path, self.document, self.config = path, document, {}
        self.out: list[dict] = []  # the autograder notebook's cells
        self.stack: list[tuple[str, int]] = []  # open blocks: (kind, cell number)
        self.questions: list[dict] = []
        self.need_begin = self.need_end = False
        self.seeded = None  # the first cell with a "# SEED" line
        self._reset()

    def _reset(self):
        self.question, self.has_prompt, self.no_solution, self.last_md = None, False, False, None
        self.solution_md, self.prompt_at = False, None

    def read(self) -> OtterNotebook:
        for cell, number in rules.unfence(self.document["cells"], numbers=True):
            self._cell(copy.deepcopy(cell), number)
        if self.need_end:
            self.out.append(self._export_tag(_markdown(""), end=True))
        if self.stack:
            q, (kind, begun) = self.question, self.stack[-1]
            inner = f"; its BEGIN {kind.upper()} block (cell {begun}) is not closed either"
            raise AssignmentError(f"{self.path.name}: question {q['name']} (BEGIN QUESTION at cell "
                                  f"{self.stack[0][1]}) has no END QUESTION"
                                  + (inner if kind != "question" else ""))
        if self.seeded and seed_code(self.config) is None:
            raise AssignmentError(f"{self.seeded} has a '# SEED' line but the ASSIGNMENT CONFIG "
                                  "gives no integer seed (seed: autograder_value, or generate: seed)")
        init = self.config.get("init_cell", True)
        cells = rules.init_cells(self.config, self.path.name) if init else []
        cells += self.out
        if self.config.get("check_all_cell", False):
            cells += rules.check_all_cells()
        cells += rules.export_cells(self.config)
        return OtterNotebook(format="otter", path=self.path, document=self.document,
                             questions=[make_question(q, self.config) for q in self.questions],
                             config=self.config, autograder_cells=cells,
                             question_configs=self.questions)

    def _cell(self, cell: dict, number: int):
        where = f"{self.path.name} cell {number}"
        first = rules.lines_of(cell)[0]
        if re.match(r"(##\s*ignore\s*##\s*|#\s*ignore\s*)", first, re.IGNORECASE):
            return  # otter's is_ignore_cell: left out of both notebooks
        if cell["cell_type"] == "raw" and re.match(r"#\s+assignment\s+config\s*", first, re.I):
            self._configure(rules.load_yaml(rules.lines_of(cell), where) or {}, where)
            return
        if self.stack and _boundary(cell, self.stack[-1][0], end=True):
            self._end(self.stack.pop()[0])
            return
        q = f"question {self.question['name']}, " if self.question else ""
        for kind in _BLOCKS:
            if _boundary(cell, kind, end=True):
                open_ = [k for k, _ in self.stack]
                if kind in open_:
                    inner, begun = self.stack[-1]
                    raise AssignmentError(f"{where} ({q}END {kind.upper()}): the BEGIN "
                                          f"{inner.upper()} block at cell {begun} has no END "
                                          f"{inner.upper()} before it")
                raise AssignmentError(f"{where}: END {kind.upper()} without a BEGIN {kind.upper()}")
        kind = next((k for k in _BLOCKS if _boundary(cell, k)), None)
        if kind is not None:
            self._begin(kind, cell, number, where, q)
            return
        if self.stack:
            top = self.stack[-1][0]
            if top == "tests":
                if cell["cell_type"] != "code":
                    raise AssignmentError(f"{where} ({q}TESTS block): a {cell['cell_type']} cell; "
                                          "a TESTS block holds only code cells")
                self.question["cases"].append(read_test_case(cell, where, self.question["name"]))
                return
            tag = {"prompt": rules.ANSWER_TAG, "solution": rules.SOLUTION_TAG}.get(top)
            if tag:
                cell["metadata"].setdefault("tags", []).append(tag)
                self.solution_md |= top == "solution" and cell["cell_type"] == "markdown"
            elif cell["cell_type"] == "markdown":
                self.last_md = len(self.out)
        # otter replaces plugin blocks, then drops IGNORE lines, in every cell it keeps
        lines = rules.replace_plugins(rules.lines_of(cell), where)
        cell["source"] = rules.join(rules.remove_ignored_lines(lines, where))
        if len(self.stack) == 1:  # the question's own text and code (locked, below)
            self.question["cells"].append(copy.deepcopy(cell))
        delimiter = None  # PDF filtering: manual/export questions sit between HTML comments
        for flag, end in (("need_begin", False), ("need_end", True)):
            if getattr(self, flag):
                if cell["cell_type"] == "markdown":
                    cell = self._export_tag(cell, end)
                else:
                    delimiter = self._export_tag(delimiter or _markdown(""), end)
                setattr(self, flag, False)
        if delimiter is not None:
            self.out.append(delimiter)
        if len(self.stack) == 1:
            cell["metadata"].update(editable=False, deletable=False)
        if cell["cell_type"] == "code" and any(line.strip().endswith("# SEED")
                                               for line in rules.lines_of(cell)):
            self.seeded = self.seeded or where
        self.out.append(cell)

    def _configure(self, config: dict, where: str):
        if not isinstance(config, dict):
            raise AssignmentError(f"{where}: ASSIGNMENT CONFIG is not a YAML mapping")
        if config.get("config_file"):  # otter: the notebook's settings override the file's
            file = self.path.parent / config["config_file"]
            try:
                loaded = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as err:
                raise AssignmentError(f"{where}: config_file {file}: {err}") from None
            _merge(self.config, loaded)
        _merge(self.config, config)

    def _begin(self, kind: str, cell: dict, number: int, where: str, q: str):
        if not self.stack and kind != "question":
            raise AssignmentError(f"{where}: BEGIN {kind.upper()} outside a question (it belongs "
                                  "between BEGIN QUESTION and END QUESTION cells)")
        if self.stack and kind == "question":
            raise AssignmentError(f"{self.path.name}: question {self.question['name']} (BEGIN "
                                  f"QUESTION at cell {self.stack[0][1]}) has no END QUESTION: cell "
                                  f"{number} begins another question inside it")
        if len(self.stack) > 1:
            inner, begun = self.stack[-1]
            raise AssignmentError(f"{where} ({q}BEGIN {kind.upper()}): the BEGIN {inner.upper()} "
                                  f"block at cell {begun} has no END {inner.upper()} before it")
        if kind == "prompt" and self.has_prompt:
            raise AssignmentError(f"{where} ({q}BEGIN PROMPT): the question already has a prompt "
                                  "or a solution; a PROMPT block comes before the SOLUTION")
        if kind == "prompt":
            self.has_prompt = True
        elif kind == "solution" and not self.has_prompt:
            self.prompt_at = len(self.out)
        elif kind == "tests" and not self.has_prompt:
            self.no_solution = True
        elif kind == "question":
            config = rules.load_yaml(rules.lines_of(cell), where)
            if not isinstance(config, dict) or not config.get("name"):
                raise AssignmentError(f"{where}: BEGIN QUESTION needs a YAML mapping with a name")
            self.question = {**config, "cell": number, "cases": [], "cells": []}
            self.questions.append(self.question)
            self.need_begin |= bool(config.get("manual") or config.get("export"))
        self.stack.append((kind, number))

    def _end(self, kind: str):
        q = self.question
        if kind == "solution" and not self.has_prompt and self.solution_md and q.get("manual"):
            self.out.insert(self.prompt_at, rules.response_cell())
            self.has_prompt = True
        if kind != "question":
            return
        self.need_end |= bool(q.get("manual") or q.get("export"))
        if q["cases"]:
            public = any(not case["hidden"] for case in q["cases"])
            if (not self.no_solution or public) and q.get("check_cell", True):
                self.out.append(rules.check_cell(q["name"]))
            else:  # otter's grader runs these tests after that cell
                self.out[-1]["metadata"].setdefault("otter", {})["tests"] = [q["name"]]
        if self.config.get("show_question_points") and self.last_md is not None:
            cell = self.out[self.last_md]
            cell["source"] = rules.join(rules.lines_of(cell) + ["", f"_Points:_ {shown_points(q)}"])
        self._reset()

    def _export_tag(self, cell: dict, end: bool) -> dict:
        tag = f"<!-- {'END' if end else 'BEGIN'} QUESTION -->"
        cell["source"] = rules.join([tag, ""] + rules.lines_of(cell))
        cell["metadata"].update(editable=False, deletable=False)
        return cell


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _merge(into: dict, new: dict):
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


