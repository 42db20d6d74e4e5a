"""Exceptions raised by labtools.

Every error a user can cause (a bad file, mismatched image and labels, a
missing dataset) is a :class:`LabtoolsError` with a message that says what was
wrong and what to do. Each also derives from the matching built-in exception
(``FileNotFoundError``, ``ValueError``, ...) so that generic handlers still work.

Examples
--------
>>> from labtools.errors import LabtoolsError, MissingFileError
>>> issubclass(MissingFileError, FileNotFoundError)
True
>>> try:
...     raise MissingFileError("scan.nii.gz: no such file")
... except LabtoolsError as err:
...     print(err)
scan.nii.gz: no such file
"""

from __future__ import annotations

__all__ = [
    "LabtoolsError",
    "MissingFileError",
    "FileFormatError",
    "CorruptFileError",
    "InvalidImageError",
    "ParameterError",
    "ShapeMismatchError",
    "AffineMismatchError",
    "DatasetNotFoundError",
    "ChecksumError",
    "TrainingError",
    "AssignmentError",
    "SandboxUnavailableError",
]


class LabtoolsError(Exception):
    """Base class of every error labtools raises on purpose."""


class MissingFileError(LabtoolsError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class FileFormatError(LabtoolsError, ValueError):
    """The file's extension is not one labtools reads or writes."""


class CorruptFileError(LabtoolsError, OSError):
    """The file exists but cannot be decoded (truncated, bad gzip, bad header)."""


class InvalidImageError(LabtoolsError, ValueError):
    """The array's content is not acceptable (non-finite values, wrong shape)."""


class ParameterError(LabtoolsError, ValueError):
    """An option or argument has a value the function does not accept (a bad setting, not bad data)."""


class ShapeMismatchError(InvalidImageError):
    """An image and its labels (or two images) have different shapes."""


class AffineMismatchError(InvalidImageError):
    """An image and its labels have different voxel-to-world affines."""


class DatasetNotFoundError(LabtoolsError, FileNotFoundError):
    """A dataset is not on disk and cannot be downloaded now."""


class ChecksumError(LabtoolsError, OSError):
    """A downloaded or local file does not have the expected checksum."""


class TrainingError(LabtoolsError, RuntimeError):
    """Training cannot start or cannot go on (bad training data, NaN loss, bad checkpoint)."""


class AssignmentError(LabtoolsError, ValueError):
    """An assignment folder or its ``assignment.toml`` is incomplete or inconsistent."""


class SandboxUnavailableError(LabtoolsError, RuntimeError):
    """The grading sandbox cannot wall graded code in here (no working bubblewrap, say).

    The message says what is missing and how to fix it; ``--unsafe`` grades
    without the walls.
    """


class UnsafeCheckpointError(LabtoolsError, ValueError):
    """A checkpoint file holds objects whose loading could run code: it is refused unread.

    Checkpoints are pickles; labtools reads them with ``torch.load(weights_only=True)``,
    which builds tensors, numbers, strings and containers only.
    """
