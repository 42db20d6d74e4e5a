"""What finished, under the content hash of its inputs: the record that lets a rerun resume."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

__all__ = ["CaseJournal", "content_hash", "file_stamp"]

_BLOCK = 1 << 20


def content_hash(*paths, options=None) -> str:
    """Hash of the files' bytes (a Zarr folder: every file in it) and of `options`.

    Two runs on the same data with the same options give the same hash,
    whatever the file names or dates; any changed byte or option gives another.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "a.txt"; _ = file.write_text("voxels")
    >>> content_hash(file) == content_hash(file), content_hash(file) == content_hash(file, options={"x": 1})
    (True, False)
    """
    digest = hashlib.blake2b(digest_size=16)
    for path in paths:
        path = Path(path)
        if not path.exists():  # reported by the case itself when it tries to read the file
            digest.update(f"missing {path}".encode() + b"\0")
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(path)).encode() if path.is_dir() else b"file")
            with open(file, "rb") as handle:
                while block := handle.read(_BLOCK):
                    digest.update(block)
            digest.update(b"\0")
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def file_stamp(path) -> tuple[int, int]:
    """(modification time in ns, size): changes when a file is rewritten; a cheap cache key for loaders.

    Examples
    --------
    >>> import tempfile
    >>> len(file_stamp(tempfile.mkdtemp()))
    2
    """
    status = os.stat(path)
    return status.st_mtime_ns, status.st_size


class CaseJournal:
    """An append-only JSON-lines file of finished cases: ``{"key", "case", "result"}`` per line.

    Each line is written and flushed to disk as its case finishes, so a crash
    or a killed run loses at most the cases still running. Failed cases are
    not recorded: a rerun tries them again.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> journal = CaseJournal(pathlib.Path(tempfile.mkdtemp()) / "run.journal.jsonl")
    >>> journal.record("k1", "case1", {"dice": 0.9})
    >>> journal.finished()
    {'k1': {'dice': 0.9}}
    """

    def __init__(self, path) -> None:
        self.path = Path(path)

    def finished(self) -> dict:
        """Result of every recorded case by key (a torn last line, from a crash, is ignored)."""
        if not self.path.exists():
            return {}
        results = {}
        for line in self.path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            results[entry["key"]] = entry["result"]
        return results

    def record(self, key: str, case: str, result) -> None:
        """Append one finished case and make it durable before returning."""
        line = json.dumps({"key": key, "case": case, "result": result}, default=_plain) + "\n"
        with open(self.path, "a") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


def _plain(value):
    """NumPy scalars and paths as plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot record a {type(value).__name__} in a case journal")
