"""nbgrader source notebooks: their questions, the student version, the autograde steps.

An nbgrader *source* notebook marks cells with ``metadata.nbgrader`` (Jupyter's
"Create Assignment" toolbar):

* solution cells (``solution``): their ``### BEGIN SOLUTION`` ... ``### END SOLUTION``
  regions, or the whole cell when it has none, are replaced for students;
* autograder tests (code, ``grade``, not ``solution``) worth ``points``, whose
  ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` regions students never see;
* manually graded answers (``grade`` and ``solution``) and tasks (``task``, markdown,
  ``### BEGIN MARK SCHEME`` regions removed); read-only cells (``locked``).

What :meth:`NbgraderNotebook.student_document` and :meth:`NbgraderNotebook.steps` do
is what nbgrader 0.9 does in ``generate_assignment`` (LockCells, ClearSolutions,
ClearOutput, ComputeChecksums, ClearHiddenTests, ClearMarkScheme) and in ``autograde``
(DeduplicateIds, OverwriteCells with missing test cells added back), rewritten with
the standard library so that grading does not need nbgrader (BSD-3-Clause,
https://github.com/jupyter/nbgrader). Like nbgrader, markers are found anywhere in
a line, and the notebook errors nbgrader refuses are refused here as
:class:`~labtools.errors.AssignmentError`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from labtools.errors import AssignmentError
from labtools.grading.model import ManualAnswer, Question, SourceNotebook, Step, Test

__all__ = ["is_nbgrader", "read_nbgrader", "NbgraderNotebook"]

# nbgrader's defaults (ClearSolutions.code_stub["python"], .text_stub and the delimiters).
_CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
_TEXT_STUB = ["YOUR ANSWER HERE"]
_SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")
_HIDDEN = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
_SCHEME = ("BEGIN MARK SCHEME", "END MARK SCHEME")
_GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]+$")  # nbgrader's metadata schema (v3.json)
_FLAGS = ("solution", "grade", "locked", "task")


def is_nbgrader(document: dict) -> bool:
    """Whether `document` (an nbformat dict) has nbgrader cells (solution, grade, locked or task).

    Examples
    --------
    >>> is_nbgrader({"cells": [{"cell_type": "code", "source": "",
    ...                         "metadata": {"nbgrader": {"solution": True}}}]})
    True
    >>> is_nbgrader({"cells": [{"cell_type": "code", "source": "", "metadata": {}}]})
    False
    """
    cells = document.get("cells") if isinstance(document, dict) else None
    return isinstance(cells, list) and any(
        isinstance(cell, dict) and _graded(cell)
        for cell in cells)


def read_nbgrader(path) -> NbgraderNotebook:
    """Read an nbgrader source notebook: one question per grade cell and per task cell.

    Raises
    ------
    AssignmentError
        The file is not an nbgrader notebook, or it has a mistake ``nbgrader generate_assignment``
        refuses too (a duplicate grade id, a grade cell without points, a BEGIN
        SOLUTION without END, a solution region outside a solution cell, ...).

    Examples
    --------
    >>> notebook = read_nbgrader(_demo())
    >>> [(q.name, q.points, q.manual) for q in notebook.questions]
    [('test_square', 1.0, False), ('explain', 2.0, True)]
    >>> print(notebook.questions[0].tests[0].source)
    assert square(2) == 4
    assert square(3) == 9
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AssignmentError(f"{path}: cannot read it as a notebook ({err})") from None
    cells = _cells(document, path.name)
    if not is_nbgrader(document):
        raise AssignmentError(f"{path.name} has no nbgrader cells; mark its solution and test "
                              "cells with Jupyter's Create Assignment toolbar")
    document = {**document, "cells": cells}
    language = document.get("metadata", {}).get("kernelspec", {}).get("language", "python")
    if language != "python":
        raise AssignmentError(f"{path.name}: its kernel language is {language!r}; only Python "
                              "notebooks can be graded")
    _validate(cells, path.name)
    return NbgraderNotebook("nbgrader", path, document, _questions(cells))


@dataclass
class NbgraderNotebook(SourceNotebook):
    """An nbgrader source notebook (made by :func:`read_nbgrader`)."""

    _sources: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        # The source cells with a grade id, as nbgrader's gradebook knows them (in order).
        self._sources = {_meta(cell)["grade_id"]: cell for cell in self.document["cells"]
                         if _graded(cell)}

    def student_document(self) -> dict:
        """The notebook ``nbgrader generate_assignment`` releases (without header or footer).

        Solutions become stubs, hidden tests and mark schemes are removed, outputs
        cleared, and cells locked and checksummed as nbgrader does; the nbgrader
        metadata stays so that submissions are matched to the source by grade id.

        Examples
        --------
        >>> released = read_nbgrader(_demo()).student_document()
        >>> [cell["source"] for cell in released["cells"]]  # doctest: +NORMALIZE_WHITESPACE
        ['def square(x):\\n    # YOUR CODE HERE\\n    raise NotImplementedError()',
         'assert square(2) == 4', 'YOUR ANSWER HERE']
        >>> released["cells"][1]["metadata"]["editable"]
        False
        """
        document = copy.deepcopy(self.document)
        document.get("metadata", {}).pop("celltoolbar", None)  # ClearSolutions drops it
        for cell in document["cells"]:
            _lock(cell)
            lines, replaced = [], False
            for line, state in _regions(cell, _SOLUTION):
                if state == "begin":  # the stub, at the marker's indentation
                    indent = re.match(r"\s*", line).group(0)
                    lines += [indent + stub_line for stub_line in _stub(cell)]
                    replaced = True
                elif state == "outside":
                    lines.append(line)
            if _meta(cell).get("solution") and not replaced:  # a solution cell without markers
                lines = _stub(cell)
            cell["source"] = "\n".join(lines)
            if cell["cell_type"] == "code":  # nbconvert's ClearOutputPreprocessor
                cell["outputs"], cell["execution_count"] = [], None
                for key in ("collapsed", "scrolled"):
                    cell["metadata"].pop(key, None)
            for markers in (_HIDDEN, _SCHEME):
                cell["source"] = "\n".join(line for line, state in _regions(cell, markers)
                                           if state == "outside")
            meta = _meta(cell)
            if meta.get("grade") or meta.get("solution") or _locked(cell):
                meta["checksum"] = _checksum(cell)  # ComputeChecksums, after the last change
                meta["cell_type"] = cell["cell_type"]
        return document

    def steps(self, submission: dict) -> list[Step]:
        """What ``nbgrader autograde`` runs for `submission`, in order.

        Test cells run as the source has them (hidden tests included), read-only
        code cells as the source has them (nbgrader's OverwriteCells), every other
        code cell as the student left it. A test cell the student deleted still
        runs, after the nearest earlier nbgrader cell that is still there.

        Examples
        --------
        >>> notebook = read_nbgrader(_demo())
        >>> submission = notebook.student_document()
        >>> submission["cells"][0]["source"] = "def square(x):\\n    return x ** 2"
        >>> del submission["cells"][1]  # the student deleted the test cell
        >>> for step in notebook.steps(submission):
        ...     print(step.kind, "|", step.label)
        student | demo.ipynb cell 1
        test | demo.ipynb test_square (deleted, run from the source)
        """
        cells = _cells(submission, "the submission")
        matched = self._match(cells)
        tests = {test.name: test for question in self.questions for test in question.tests}
        name = self.path.name
        entries, position = [], {}
        for index, cell in enumerate(cells):
            grade_id = matched.get(index)
            source = self._sources.get(grade_id)
            label = f"{name} cell {index + 1}"
            if grade_id is not None:
                position[grade_id] = index
            # OverwriteCells gives a matched cell back its source's type (a solution cell
            # turned into markdown still runs as code) and its locked source.
            kind = (source or cell)["cell_type"]
            if grade_id in tests:
                entries.append(((index, 0, 0), Step("test", label=label, test=tests[grade_id])))
            elif kind == "code":
                code = _source(source if source is not None and _locked(source) else cell)
                entries.append(((index, 0, 0), Step("student", source=code, label=label)))
        # Deleted tests are added back (OverwriteCells.add_missing_cells) after the previous
        # nbgrader cell of the source that the submission still has, in source order.
        order = list(self._sources)
        for number, grade_id in enumerate(order):
            if grade_id in tests and grade_id not in position:
                anchor = next((position[g] for g in reversed(order[:number]) if g in position), -1)
                step = Step("test", label=f"{name} {grade_id} (deleted, run from the source)",
                            test=tests[grade_id])
                entries.append(((anchor, 1, number), step))
        return [step for _, step in sorted(entries, key=lambda entry: entry[0])]

    def manual_answers(self, submission: dict) -> list[ManualAnswer]:
        """The student's answers to the manually graded questions, for the instructor.

        A manually graded answer is the submission's cell with that grade id; a task's
        answer is the cells the student wrote after the task, up to the next nbgrader cell.

        Examples
        --------
        >>> notebook = read_nbgrader(_demo())
        >>> submission = notebook.student_document()
        >>> submission["cells"][2]["source"] = "It multiplies x by itself."
        >>> [answer] = notebook.manual_answers(submission)
        >>> answer.question, answer.points, answer.cells[0]["source"]
        ('explain', 2.0, 'It multiplies x by itself.')
        """
        cells = _cells(submission, "the submission")
        where = {grade_id: index for index, grade_id in self._match(cells).items()}
        answers = []
        for question in self.questions:
            if not question.manual:
                continue
            index = where.get(question.name)
            if index is None:
                chosen = []
            elif _meta(self._sources[question.name]).get("task"):
                stop = next((i for i in sorted(where.values()) if i > index), len(cells))
                chosen = cells[index + 1:stop]
            else:
                chosen = [cells[index]]
            # nbgrader's determine_grade: an answer cell whose checksum is still the released
            # one was not touched, and scores 0 without a person looking at it.
            unanswered = (len(chosen) == 1 and chosen[0] is cells[index]
                          and _meta(chosen[0]).get("checksum") == _checksum(chosen[0]))
            answers.append(ManualAnswer(question.name, question.points,
                                        [copy.deepcopy(cell) for cell in chosen], question.text,
                                        unanswered))
        return answers

    def _match(self, cells: list) -> dict:
        """{submission cell index: grade id of the source cell it stands for}."""
        # DeduplicateIds: when several cells carry one grade id, only the last one keeps it;
        # OverwriteCells: a grade id the source does not have is ignored.
        last = {}
        for index, cell in enumerate(cells):
            grade_id = _meta(cell).get("grade_id")
            if isinstance(grade_id, str) and grade_id in self._sources:
                last[grade_id] = index
        return {index: grade_id for grade_id, index in last.items()}


def _meta(cell: dict) -> dict:
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def _source(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _graded(cell: dict) -> bool:
    """A cell nbgrader tracks by grade id (its gradebook's "source cells")."""
    return any(_meta(cell).get(flag) for flag in _FLAGS)


def _stub(cell: dict) -> list:
    return _CODE_STUB if cell["cell_type"] == "code" else _TEXT_STUB


def _locked(cell: dict) -> bool:
    """nbgrader.utils.is_locked: its source is restored at grading (grade cells included)."""
    meta = _meta(cell)
    return not meta.get("solution") and bool(meta.get("grade") or meta.get("locked"))


def _lock(cell: dict) -> None:
    """nbgrader's LockCells with its defaults: what students cannot delete or edit."""
    meta, metadata = _meta(cell), cell.setdefault("metadata", {})
    if meta.get("solution"):
        metadata["deletable"] = False
    elif _locked(cell):
        metadata["deletable"] = metadata["editable"] = False


def _checksum(cell: dict) -> str:
    """nbgrader.utils.compute_checksum (autograde uses it to see an untouched answer)."""
    meta = _meta(cell)
    parts = [_source(cell), cell["cell_type"], str(meta.get("grade", False)),
             str(meta.get("solution", False)), str(_locked(cell)), meta["grade_id"]]
    if meta.get("grade"):
        parts.append(str(float(meta["points"])))
    return hashlib.md5("".join(parts).encode("utf-8")).hexdigest()


def _regions(cell: dict, markers: tuple) -> list:
    """(line, state) for each line: "begin", "end", "inside" or "outside" a marked region.

    nbgrader's rule: a line holding the BEGIN (else the END) text anywhere is a marker.
    """
    begin, end = markers
    result, inside = [], False
    for line in _source(cell).split("\n"):
        if begin in line:
            result.append((line, "begin"))
            inside = True
        elif end in line:
            result.append((line, "end"))
            inside = False
        else:
            result.append((line, "inside" if inside else "outside"))
    return result


def _cells(document, name: str) -> list:
    """The cells of an nbformat dict, sources as strings (AssignmentError if it is not one)."""
    cells = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(cells, list):
        raise AssignmentError(f"{name} is not a notebook (no list of cells)")
    result = []
    for number, cell in enumerate(cells, start=1):
        source = cell.get("source", "") if isinstance(cell, dict) else None
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            source = "".join(source)
        if not isinstance(source, str) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise AssignmentError(f"{name}: cell {number} is not a notebook cell; open the "
                                  "notebook in Jupyter and save it again")
        metadata = cell.get("metadata")
        result.append({**cell, "source": source,
                       "metadata": metadata if isinstance(metadata, dict) else {}})
    return result


def _validate(cells: list, name: str) -> None:
    """Refuse what nbgrader generate_assignment refuses, saying where and what to fix."""
    seen = {}
    for number, cell in enumerate(cells, start=1):
        where = f"{name} cell {number}"
        metadata = cell.get("metadata", {})
        nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
        if nbgrader is not None and not isinstance(nbgrader, dict):
            raise AssignmentError(f"{where}: its nbgrader metadata is not a dict; reset the cell's "
                                  "type in the Create Assignment toolbar")
        meta, kind = _meta(cell), cell["cell_type"]
        if _graded(cell):
            grade_id = meta.get("grade_id")
            if not isinstance(grade_id, str) or not _GRADE_ID.match(grade_id):
                raise AssignmentError(f"{where}: its grade id {grade_id!r} must be a non-empty "
                                      "name of letters, digits, '-' and '_'")
            if grade_id in seen:
                raise AssignmentError(f"{where}: grade id {grade_id!r} is already used by cell "
                                      f"{seen[grade_id]}; give each cell its own id")
            seen[grade_id] = number
        if meta.get("grade") or meta.get("task"):
            points = meta.get("points")
            if (isinstance(points, bool) or not isinstance(points, (int, float))
                    or not math.isfinite(points) or points < 0):
                raise AssignmentError(f"{where} ({meta['grade_id']}): a graded cell needs its "
                                      f"points (a number >= 0), not {points!r}")
        if meta.get("task") and kind != "markdown":
            raise AssignmentError(f"{where}: a task cell must be markdown")
        by_hand = bool(meta.get("grade")) != bool(meta.get("solution"))
        if not meta.get("task") and kind == "markdown" and by_hand:
            raise AssignmentError(f"{where}: a markdown cell graded by hand must be both a grade "
                                  "and a solution cell (\"Manually graded answer\")")
        for markers, allowed, what in ((_SOLUTION, "solution", "a solution cell"),
                                       (_HIDDEN, "grade", "an autograder test cell"),
                                       (_SCHEME, "task", "a task cell")):
            states = [state for _, state in _regions(cell, markers)]
            inside = False
            for state in states:
                if state == "begin" and inside:
                    raise AssignmentError(f"{where}: ### {markers[0]} inside another; "
                                          f"close the first with ### {markers[1]}")
                inside = state == "begin" or (inside and state != "end")
            if inside:
                raise AssignmentError(f"{where}: ### {markers[0]} has no ### {markers[1]}; add it")
            if "begin" in states and not meta.get(allowed):
                raise AssignmentError(f"{where}: ### {markers[0]} outside {what}; mark the cell as "
                                      f"{what} in the Create Assignment toolbar")
        if kind == "code" and any("AUTOTEST" in line and line.strip().startswith("#")
                                  for line in cell["source"].split("\n")):
            raise AssignmentError(f"{where}: nbgrader's ### AUTOTEST needs nbgrader's kernel to "
                                  "make the tests; write the asserts out instead")


def _questions(cells: list) -> list[Question]:
    questions, prompt = [], ""
    for cell in cells:
        meta, kind = _meta(cell), cell["cell_type"]
        if meta.get("task"):
            text = "\n".join(line for line, state in _regions(cell, _SCHEME) if state == "outside")
            questions.append(Question(meta["grade_id"], float(meta["points"]), manual=True,
                                      text=text))
        elif meta.get("grade"):
            grade_id, points = meta["grade_id"], float(meta["points"])
            if meta.get("solution") or kind != "code":  # nbgrader.utils.determine_grade: by hand
                questions.append(Question(grade_id, points, manual=True, text=prompt))
            else:  # the whole test, hidden part included; the marker lines are only comments
                regions = _regions(cell, _HIDDEN)
                source = "\n".join(line for line, state in regions
                                   if state in ("inside", "outside"))
                test = Test(grade_id, source, points, hidden=any(s == "begin" for _, s in regions),
                            mode="assert", question=grade_id)
                questions.append(Question(grade_id, points, tests=[test]))
        if kind == "markdown" and not (meta.get("grade") or meta.get("solution")):
            prompt = cell["source"]  # the instructor's text before a manual answer is its question
        elif meta.get("grade") or meta.get("solution"):
            prompt = ""
    return questions


def _demo() -> Path:
    """A small source notebook, in a new temporary folder, for the examples."""
    def cell(kind, source, **nbgrader):
        meta = {"schema_version": 3, "grade": False, "solution": False, "locked": False, **nbgrader}
        extra = {"outputs": [], "execution_count": None} if kind == "code" else {}
        return {"cell_type": kind, "metadata": {"nbgrader": meta}, "source": source, **extra}

    cells = [
        cell("code", "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n"
             "    ### END SOLUTION", solution=True, grade_id="square"),
        cell("code", "assert square(2) == 4\n### BEGIN HIDDEN TESTS\nassert square(3) == 9\n"
             "### END HIDDEN TESTS", grade=True, grade_id="test_square", points=1),
        cell("markdown", "Squaring multiplies a number by itself.", grade=True, solution=True,
             grade_id="explain", points=2),
    ]
    path = Path(tempfile.mkdtemp()) / "demo.ipynb"
    document = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(document))
    return path
