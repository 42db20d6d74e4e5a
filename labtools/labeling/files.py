"""Autosave files: where scribbles are saved and how to tell that a file changed under us."""

from __future__ import annotations

import os
from pathlib import Path

from labtools import io

AUTOSAVE_SUFFIXES = (".nii.gz", ".nii")


def scribbles_path_for(image_path) -> Path:
    """The default autosave file of an image: ``<stem>_scribbles.nii.gz`` next to it.

    Examples
    --------
    >>> scribbles_path_for("data/sub-01_T1w.nii.gz").as_posix()
    'data/sub-01_T1w_scribbles.nii.gz'
    >>> scribbles_path_for("slice.png").name
    'slice_scribbles.nii.gz'
    """
    path = Path(image_path)
    suffix = io.file_format(path)
    stem = path.name[: len(path.name) - len(suffix)]
    return path.with_name(f"{stem}_scribbles.nii.gz")


def file_stat(path: Path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet)
        return Path(os.path.abspath(a)) == Path(os.path.abspath(b))


def free_backup_name(path: Path) -> Path:
    candidate, number = path.with_name(path.name + ".bak"), 0
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}.bak{number}")
    return candidate
