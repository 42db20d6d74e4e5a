"""Test helpers (not tests): run Python as the unprivileged user ``nobody`` against this project.

The project's venv usually cannot be used by ``nobody``: its interpreter may
live where only root can go (here ``/root/.pyenv``, mode 0700). So
:func:`nobody_python` builds, once per machine and project, a venv from the
system's interpreter of the same version (``/usr/bin/python3.11``: same
CPython ABI, so the compiled packages load), readable by everyone, under
``/tmp/labtools-nobody-<hash>/``. Its ``site-packages`` holds one ``.pth``
that adds the project venv's ``site-packages`` as a site folder (so that its
own ``.pth`` files, the editable install of labtools among them, run too).
Nothing big is copied.

:func:`run_as_nobody` runs a command with uid and gid 65534 and no groups
(``setpriv``, util-linux). In that process ``sys.executable`` is the
``nobody`` venv's python, which is what the grader hands to the sandbox.

Examples
--------
>>> reason = nobody_unavailable()
>>> reason is None or isinstance(reason, str)
True
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

__all__ = ["NOBODY", "nobody_unavailable", "nobody_python", "run_as_nobody"]

NOBODY = 65534
_BUILT: dict[str, str] = {}
_HOME: list[str] = []  # HOME for nobody's processes, once built


def nobody_unavailable() -> str | None:
    """Why commands cannot run as ``nobody`` here (a reason to skip), or None."""
    if os.geteuid() != 0:
        return "only root can run commands as nobody (the tests run as another user)"
    if shutil.which("setpriv") is None:
        return "setpriv is missing (Debian package util-linux)"
    if not os.access(_base_python(), os.X_OK):
        return (f"{_base_python()} is missing: the nobody venv needs the system's Python "
                f"{sys.version_info.major}.{sys.version_info.minor} (apt-get install "
                f"python{sys.version_info.major}.{sys.version_info.minor})")
    return None


def _base_python() -> str:
    return f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"


def _site_folders() -> list[str]:
    """The running (project) interpreter's site-packages folders."""
    return list(dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]))


def nobody_python() -> str:
    """The path of a python that ``nobody`` can run and that imports this project (built once).

    Raises
    ------
    RuntimeError
        when the venv cannot be built, or ``nobody`` cannot reach the project
        (a folder on the way it cannot enter): the message names the folder.
    """
    reason = nobody_unavailable()
    if reason is not None:
        raise RuntimeError(reason)
    sites = _site_folders()
    key = hashlib.sha256(repr((_base_python(), os.path.realpath(_base_python()), sites,
                               Path(__file__).read_bytes())).encode()).hexdigest()[:12]
    if key in _BUILT:
        return _BUILT[key]
    home = Path(f"/tmp/labtools-nobody-{key}")
    python = home / "venv" / "bin" / "python"
    if not (home / "venv" / ".complete").exists():
        _build(home, sites)
    _HOME[:] = [str(home / "home")]
    import labtools

    _open_the_way([*sites, os.path.dirname(os.path.dirname(labtools.__file__))])
    _check_reachable(str(python), sites)
    _BUILT[key] = str(python)
    return str(python)


def _build(home: Path, sites: list[str]) -> None:
    # Built beside the final place, then renamed: two test runs may build at the same time.
    home.mkdir(mode=0o755, exist_ok=True)
    os.chmod(home, 0o755)  # umask-proof; /tmp is world-writable, but this folder is root's
    scratch = home / f"venv.building-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    # --without-pip: Debian ships ensurepip separately (python3-venv); pip is not needed.
    subprocess.run([_base_python(), "-m", "venv", "--without-pip", str(scratch)], check=True,
                   capture_output=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    lines = "".join(f"import site; site.addsitedir({site!r})\n" for site in sites)
    (scratch / "lib" / version / "site-packages" / "labtools-project.pth").write_text(lines)
    for folder, dirs, files in os.walk(scratch):
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)
    (scratch / ".complete").touch(mode=0o644)
    writable = home / "home"
    writable.mkdir(exist_ok=True)
    os.chown(writable, NOBODY, NOBODY)
    os.chmod(writable, 0o700)
    try:
        os.rename(scratch, home / "venv")
    except OSError:  # another run won the race: use its venv
        shutil.rmtree(scratch, ignore_errors=True)


_OPENED: list[tuple[str, int]] = []  # (folder, its mode before) to put back at exit


def _open_the_way(targets) -> None:
    """Let nobody *traverse* (not list) the folders on the way to the project and its venv.

    A checkout in ``mktemp -d`` (mode 0700) is common, and CI may clone there; nobody must
    reach the project's files to import them. Only the execute bit for others is added, for
    this test session, and the old modes are put back when it ends.
    """
    for target in targets:
        blocked = _first_closed_folder(target)
        while blocked is not None and os.stat(blocked).st_uid == os.geteuid():
            mode = stat.S_IMODE(os.stat(blocked).st_mode)
            os.chmod(blocked, mode | stat.S_IXOTH)
            if not _OPENED:
                atexit.register(_restore_modes)
            _OPENED.append((blocked, mode))
            blocked = _first_closed_folder(target)


def _restore_modes() -> None:
    while _OPENED:
        folder, mode = _OPENED.pop()
        try:
            os.chmod(folder, mode)
        except OSError:
            pass


def _check_reachable(python: str, sites: list[str]) -> None:
    """Fail with the folder to fix when nobody cannot import numpy and labtools."""
    code = "import numpy, labtools"
    done = run_as_nobody([python, "-I", "-c", code])
    if done.returncode == 0:
        return
    import labtools

    for target in [*sites, os.path.dirname(os.path.dirname(labtools.__file__)), _base_python()]:
        blocked = _first_closed_folder(target)
        if blocked:
            raise RuntimeError(
                f"nobody (uid {NOBODY}) cannot enter {blocked} (mode "
                f"{stat.filemode(os.stat(blocked).st_mode)}), on the way to {target}: the tests "
                f"that run as nobody need the project and its venv where every user may read "
                f"them (chmod o+rx {blocked}, or check the project out under /srv or /work)")
    raise RuntimeError(f"nobody cannot run `{code}` with {python}:\n{done.stderr[-2000:]}")


def _first_closed_folder(target: str) -> str | None:
    path = Path(target).resolve()
    for folder in [*reversed(path.parents), path]:
        if folder.is_dir() and not os.stat(folder).st_mode & stat.S_IXOTH:
            return str(folder)
    return None


def run_as_nobody(argv, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(argv)`` as uid/gid 65534 with no groups and a small environment.

    `kwargs` go to :func:`subprocess.run`; ``env`` entries are added to the
    default environment (``PATH``, ``LANG``, ``HOME`` writable by nobody).
    Output is captured as text unless said otherwise; the timeout defaults to
    120 s.
    """
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **kwargs.pop("env", {})}
    if _HOME:
        env.setdefault("HOME", _HOME[0])
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 120)
    kwargs.setdefault("cwd", "/")
    setpriv = [shutil.which("setpriv") or "setpriv", "--reuid", str(NOBODY), "--regid",
               str(NOBODY), "--clear-groups", "--"]
    return subprocess.run([*setpriv, *map(str, argv)], env=env, **kwargs)
