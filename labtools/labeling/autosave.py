"""A session's autosave: a NIfTI snapshot of the scribbles plus a log of every change since.

:class:`Autosave` restores scribbles when an image is opened again (the
snapshot, then the log replayed onto it), records each change in the log
(:mod:`labtools.labeling.stroke_log`) and now and then rewrites the snapshot
and starts the log over. It never replaces a file it has not read: a
snapshot another program wrote meanwhile is refused, an unusable one is
refused or moved to ``.bak``, and a log that does not belong to the snapshot
is moved to ``.bak`` too.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from labtools import io
from labtools.errors import CorruptFileError, FileFormatError, LabtoolsError, MissingFileError, ParameterError
from labtools.labeling.files import AUTOSAVE_SUFFIXES, file_stat, free_backup_name, same_file
from labtools.labeling.stroke_log import StrokeLog, log_path_for, replay

__all__ = ["Autosave", "ON_BAD_AUTOSAVE", "read_saved_scribbles"]

ON_BAD_AUTOSAVE = ("raise", "backup")


class Autosave:
    """Snapshot file `path` (``.nii.gz``/``.nii``) and its stroke log, for scribbles on `image`'s grid.

    Parameters
    ----------
    path : pathlib.Path
        The snapshot (NIfTI keeps the image's geometry).
    image : labtools.io.Image
        Gives the geometry the files are written with.
    check : callable
        ``check(loaded, name) -> uint8 array``: validates scribbles read back.
    compact_every : int
        Log records after which the snapshot is rewritten (~45 ms for a 1 mm brain).
    """

    def __init__(self, path, image, check, compact_every: int = 500) -> None:
        self.path = Path(path)
        self.log_path = log_path_for(self.path)
        self.image = image
        self._check = check
        self.compact_every = int(compact_every)
        self.restored_from: Path | None = None
        self.backup_path: Path | None = None
        self._saved_stat = None  # (inode, mtime_ns, size) of the snapshot we last read or wrote
        self._log: StrokeLog | None = None
        self._check_path()

    # ----------------------------------------------------------------- restore
    def read(self) -> np.ndarray | None:
        """What is saved (the snapshot with the log replayed onto it), touching nothing; None if nothing.

        Raises the errors of an unusable snapshot.
        """
        scribbles = self._check(io.load(self.path), str(self.path)) if self.path.exists() else None
        if self.log_path.exists():
            base = np.zeros(tuple(self.image.spatial_shape), np.uint8) if scribbles is None else scribbles
            if replay(self.log_path, base) is not None:
                return base
        return scribbles

    def restore(self, on_bad_autosave: str) -> np.ndarray | None:
        """Scribbles from the snapshot and the log, or None when there are none; the log stays open."""
        if on_bad_autosave not in ON_BAD_AUTOSAVE:
            raise ParameterError(f"on_bad_autosave must be one of {ON_BAD_AUTOSAVE}, got {on_bad_autosave!r}")
        scribbles = self._restore_snapshot(on_bad_autosave)
        if not self.log_path.exists():
            return scribbles
        base = np.zeros(tuple(self.image.spatial_shape), np.uint8) if scribbles is None else scribbles
        applied = replay(self.log_path, base)
        if applied is None:  # a log of another snapshot: keep it, out of the way
            self.backup_path = free_backup_name(self.log_path)
            os.replace(self.log_path, self.backup_path)
            warnings.warn(f"{self.log_path} does not continue {self.path}; it was moved to {self.backup_path}.",
                          UserWarning, stacklevel=4)
            return scribbles
        self._log = StrokeLog.open_append(self.log_path)
        if applied:
            self.restored_from = self.path  # the autosave's name, whether the snapshot or only its log held them
        return base if (scribbles is not None or applied) else None

    def _restore_snapshot(self, on_bad_autosave: str) -> np.ndarray | None:
        path = self.path
        if not path.exists():
            return None
        stat = file_stat(path)
        try:
            scribbles = self._check(io.load(path), str(path))
        except LabtoolsError as err:
            if on_bad_autosave == "raise":
                raise type(err)(
                    f"cannot restore the scribbles from {path}: {err} The file was left as it is. "
                    "Move it away (or open with on_bad_autosave='backup' to have it renamed to "
                    f"{free_backup_name(path).name}) to start with empty scribbles.") from err
            self.backup_path = free_backup_name(path)
            os.replace(path, self.backup_path)
            warnings.warn(f"{path} could not be restored ({err}); it was moved to "
                          f"{self.backup_path} and the session starts with empty scribbles.",
                          UserWarning, stacklevel=5)
            if self.log_path.exists():  # its base is gone with the snapshot
                os.replace(self.log_path, free_backup_name(self.log_path))
            return None
        self.restored_from, self._saved_stat = path, stat
        return scribbles

    # ------------------------------------------------------------------ record
    def record(self, scribbles: np.ndarray, indices: np.ndarray, values) -> None:
        """Append one change (flushed); rewrite the snapshot every `compact_every` records."""
        try:
            if self._log is None:
                self._start_log(scribbles, changed=(indices, values))
                return
            self._log.append(indices, values)
            if self._log.records >= self.compact_every:
                self.compact(scribbles)
        except CorruptFileError:
            raise
        except OSError as err:
            raise CorruptFileError(f"{self.log_path}: cannot record the change ({err}). The change is "
                                   "kept in memory but is NOT saved; free some space or call "
                                   "save_scribbles(path) to save elsewhere.") from err

    def _start_log(self, scribbles: np.ndarray, changed) -> None:
        """The first change of a session without a log: the log starts from what is on disk."""
        indices, values = changed
        painted = np.count_nonzero(np.broadcast_to(values, np.shape(indices)))
        if self.path.exists() or np.count_nonzero(scribbles) != painted:
            # The scribbles before this change are not all on disk (given in memory): snapshot them.
            self.compact(scribbles)
            return
        # Nothing on disk and nothing before this change: the log starts from empty scribbles.
        self._log = StrokeLog.create(self.log_path, None, shape=scribbles.shape)
        self._log.append(indices, values)

    def compact(self, scribbles: np.ndarray) -> None:
        """Write the snapshot now and start the log over from it."""
        self.write(scribbles, self.path)
        if self._log is not None:
            self._log.close()
        self._log = StrokeLog.create(self.log_path, scribbles)

    def write(self, scribbles: np.ndarray, target: Path) -> Path:
        """Write `scribbles` as NIfTI with the image's geometry (the snapshot only if not changed elsewhere)."""
        guard = same_file(target, self.path)
        if guard:
            current = file_stat(self.path)
            if current is not None and current != self._saved_stat:
                raise CorruptFileError(
                    f"{self.path} was written by another program (or another session) since this "
                    "session read it; it is not overwritten. Save these scribbles elsewhere with "
                    "save_scribbles(path), or reopen the image to continue from the file.")
        try:
            io.save(self.image.with_array(scribbles.copy()), target)
        except LabtoolsError:
            raise
        except OSError as err:  # permission denied, disk full: io.save lets these through
            raise CorruptFileError(f"{target}: cannot write the scribbles ({err})") from err
        if guard:
            self._saved_stat = file_stat(self.path)
        return target

    def close(self, scribbles: np.ndarray | None) -> None:
        """Write the snapshot (when anything was logged) and close the log."""
        if self._log is not None and self._log.records and scribbles is not None:
            self.compact(scribbles)
        if self._log is not None:
            self._log.close()

    # ----------------------------------------------------------------- checks
    def _check_path(self) -> None:
        path = self.path
        if not path.name.lower().endswith(AUTOSAVE_SUFFIXES):
            raise FileFormatError(f"{path}: autosave files are NIfTI (.nii.gz or .nii), so that "
                                  "they keep the image's geometry")
        if not path.parent.is_dir():
            raise MissingFileError(f"{path}: the folder {path.parent} does not exist")
        if not os.access(path.parent, os.W_OK):
            raise CorruptFileError(f"{path}: the folder {path.parent} is not writable, so the "
                                   "scribbles could not be autosaved; pass another autosave_path")


def read_saved_scribbles(path, image) -> np.ndarray | None:
    """The scribbles saved at `path` for `image` (snapshot + log), without opening a session.

    Examples
    --------
    >>> import os, tempfile
    >>> from labtools.labeling import LabelingSession
    >>> path = os.path.join(tempfile.mkdtemp(), "a_scribbles.nii.gz")
    >>> session = LabelingSession(np.zeros((4, 4), np.float32), autosave_path=path)
    >>> _ = session.add_stroke(np.s_[1, :2], 3)
    >>> read_saved_scribbles(path, session.image)[1].tolist()
    [3, 3, 0, 0]
    """

    def check(loaded, name):
        io.check_pair(image, loaded)
        return np.asarray(loaded.array, np.uint8).copy()

    return Autosave(path, image, check).read()
