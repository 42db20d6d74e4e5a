"""Write a file so that readers see the old version or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_replace"]


@contextmanager
def atomic_replace(path, suffix: str = ""):
    """Yield a temporary path next to `path`; when the block ends without error it replaces `path`.

    The rename is atomic on POSIX, so a crash (even kill -9) while writing
    leaves the previous file intact. The new file gets the permissions a plain
    ``open()`` would give it. `suffix` keeps writers that look at the file
    extension happy.

    Examples
    --------
    >>> import os, tempfile
    >>> target = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with atomic_replace(target) as temporary:
    ...     _ = temporary.write_text("done")
    >>> target.read_text(), os.listdir(target.parent)
    ('done', ['notes.txt'])
    """
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(temporary)
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
