"""Where students' submissions are: one file per student, or one folder per student.

Two layouts are read:

* ``SUBMISSIONS/<student>.ipynb`` (or ``.py``): one notebook per student, for an
  assignment with one notebook;
* ``SUBMISSIONS/<student>/...``: a folder per student holding notebooks named as
  the assignment's (nbgrader's ``submitted/<student>/<assignment>/problem1.ipynb``
  layout is found too: the notebooks are looked up anywhere below the folder).

Student ids come from file or folder names; characters other than letters,
digits and ``._@+-`` become ``_`` (ids end up in file names and a CSV).
"""

from __future__ import annotations

import re
from pathlib import Path

from labtools.errors import AssignmentError
from labtools.grading.formats.markers import read_document

__all__ = ["find_submissions", "read_submission", "skipped_files"]

MAX_SUBMISSION_BYTES = 20 * 1024 * 1024


def find_submissions(folder) -> dict[str, Path]:
    """``{student_id: path}`` for every ``<student>.ipynb``/``.py`` file or ``<student>/`` folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "ada lovelace.ipynb").write_text("{}")
    >>> (folder / "bob" / "ps1").mkdir(parents=True)
    >>> sorted(find_submissions(folder))
    ['ada_lovelace', 'bob']
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AssignmentError(f"submissions folder {folder} does not exist; give the folder "
                              "holding one <student_id>.ipynb (or a <student_id>/ folder) per student")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name == "__pycache__":
            continue
        if not (path.is_dir() or path.is_file() and path.suffix in (".ipynb", ".py")):
            continue
        student = re.sub(r"[^\w.@+-]", "_", path.stem if path.is_file() else path.name)
        if student[:1] in ("=", "+", "-", "@"):  # never a formula in a spreadsheet
            student = "_" + student
        if student in found:
            raise AssignmentError(f"two submissions for student {student}: {found[student].name} "
                                  f"and {path.name}; keep one")
        found[student] = path
    if not found:
        raise AssignmentError(f"{folder} holds no submissions: expected <student_id>.ipynb or "
                              "<student_id>.py files, or one folder per student")
    return found


def read_submission(path: Path, notebook_names: list[str]) -> dict:
    """``{notebook name: document, or the error text}`` of one student's submission.

    A single file stands for the assignment's only notebook (any file name);
    a folder is searched for files named as the assignment's notebooks.
    """
    path = Path(path)
    if path.is_file():
        if len(notebook_names) > 1:
            error = (f"this assignment has {len(notebook_names)} notebooks "
                     f"({', '.join(notebook_names)}): hand them in as a folder")
            return {name: error for name in notebook_names}
        return {notebook_names[0]: _read(path)}
    result = {}
    for name in notebook_names:
        matches = sorted(p for p in path.rglob(Path(name).stem + ".*")
                         if p.suffix in (".ipynb", ".py") and ".ipynb_checkpoints" not in p.parts)
        result[name] = _read(matches[0]) if matches else f"{name} is missing from the submission"
    return result


def _read(path: Path):
    try:
        if path.stat().st_size > MAX_SUBMISSION_BYTES:
            return f"{path.name} is larger than {MAX_SUBMISSION_BYTES >> 20} MB"
        return read_document(path)
    except (AssignmentError, OSError, ValueError) as err:
        return str(err)


def skipped_files(folder: Path, graded: dict[str, Path]) -> list[str]:
    """A warning naming files in the submissions folder that were not graded (e.g. alice.txt)."""
    taken = set(graded.values())
    skipped = sorted(p.name for p in Path(folder).iterdir()
                     if p.is_file() and not p.name.startswith(".") and p not in taken)
    if not skipped:
        return []
    return [f"not graded, not .ipynb or .py: {', '.join(skipped[:10])}"
            + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")]
