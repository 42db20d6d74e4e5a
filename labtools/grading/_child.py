"""The sandbox child: runs one submission's graded functions under limits.

Started by :mod:`labtools.grading.sandbox` as ``python -I _child.py`` in a fresh
temporary folder. It uses the standard library and numpy only, never
labtools. It reads one JSON request on stdin and writes one JSON line per
event on its original stdout ("ready", then "start" and "result" per
function). Before any student code runs it:

1. sets resource limits (CPU seconds, address space, file size, no core files);
2. as root: moves into a new, empty network namespace;
3. installs an audit hook that refuses processes, sockets, ctypes, and file
   access outside the temporary folder (reads of the Python installation
   excepted), and records each refusal;
4. imports the modules the submission imports (so that they load while the
   installation is readable), then, as root, drops to an unprivileged user.

Each function's code runs in a fresh namespace; numpy's namespace is
snapshotted, and a function that changes it is reported ("patched").
"""

import base64
import builtins
import copy
import importlib
import json
import os
import resource
import signal
import sys

OK_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
             "float16", "float32", "float64", "complex64", "complex128"}
ALWAYS_DENIED = ("subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                 "os.forkpty", "os.kill", "os.killpg", "pty.", "socket.", "urllib.", "http.client.",
                 "ftplib.", "smtplib.", "imaplib.", "poplib.", "nntplib.", "telnetlib.",
                 "webbrowser.", "resource.setrlimit", "resource.prlimit", "sys.addaudithook",
                 "os.startfile", "_posixsubprocess.")
PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.link", "os.symlink",
               "os.truncate", "os.chmod", "os.chown", "os.utime", "os.chflags", "os.setxattr",
               "os.removexattr", "os.lchmod", "os.lchown", "shutil.rmtree", "shutil.move",
               "shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.copytree",
               "shutil.chown", "shutil.make_archive", "shutil.unpack_archive", "os.chdir",
               "os.mkfifo", "os.mknod"}
READ_EVENTS = {"os.listdir", "os.scandir", "glob.glob", "glob.glob/2", "os.listxattr", "os.getxattr"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class Guard:
    """The audit hook: refuses what graded code must not do, and remembers each refusal."""

    def __init__(self, tmp, read_roots, forbidden):
        self.tmp = os.path.realpath(tmp)
        self.read_roots = tuple(os.path.realpath(r) for r in read_roots)
        self.forbidden = tuple(forbidden)
        self.student = False  # ctypes is allowed while trusted modules import
        self.violations = []

    def __call__(self, event, args):
        if event == "open":
            self._check_path(args[0], writing=_writing(args[1], args[2]))
        elif event == "import":
            name = str(args[0])
            if any(name == f or name.startswith(f + ".") for f in self.forbidden):
                self._deny(f"import {name}", ImportError)
        elif event in READ_EVENTS:
            self._check_path(args[0] if args and args[0] is not None else ".", writing=False)
        elif event in PATH_EVENTS:
            for path in args[:2]:
                if isinstance(path, (str, bytes, os.PathLike)):
                    self._check_path(path, writing=True)
        elif event.startswith(ALWAYS_DENIED) or (self.student and event.startswith("ctypes.")):
            self._deny(event)

    def _check_path(self, path, writing):
        if isinstance(path, int) or path is None:
            return
        try:
            full = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return self._deny("a file with an unreadable name")
        if _inside(full, (self.tmp, "/dev/null")):
            return
        if not writing and (_inside(full, self.read_roots) or _inside(full, _SYSTEM_READS)
                            or _inside(full, (f"/proc/{os.getpid()}",))):
            return
        self._deny(f"{'write or change' if writing else 'read'} {full}")

    def _deny(self, what, error=PermissionError):
        if self.student and len(self.violations) < 20:
            self.violations.append(what)
        raise error(f"blocked by the grading sandbox: {what}")


_SYSTEM_READS = ("/dev/urandom", "/dev/zero", "/proc/cpuinfo", "/proc/meminfo",
                 "/sys/devices/system/cpu", "/etc/localtime", "/usr/share/zoneinfo")


def _inside(path, roots):
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _writing(mode, flags):
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return bool(isinstance(flags, int) and flags & WRITE_FLAGS)


class Blocker:
    """A meta-path finder refusing the assignment's forbidden modules (labtools always)."""

    def __init__(self, forbidden):
        self.forbidden = tuple(forbidden)

    def find_spec(self, name, path=None, target=None):
        if any(name == f or name.startswith(f + ".") for f in self.forbidden):
            raise ImportError(f"{name} is not available while grading: write the code yourself")
        return None


class Sink:
    """Stands in for sys.stdout/stderr: graded code may print, nobody reads it."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass


class Snapshot:
    """numpy's, math's and builtins' namespaces as they were before any graded code ran."""

    def __init__(self):
        self.modules = {name: module for name, module in list(sys.modules.items())
                        if module is not None and (name in ("numpy", "math", "builtins")
                                                   or name.startswith("numpy."))}
        self.saved = {name: dict(vars(module)) for name, module in self.modules.items()}

    def changes(self):
        changed = []
        for name, saved in self.saved.items():
            current = vars(self.modules[name])
            if sys.modules.get(name) is not self.modules[name]:
                changed.append(name)
            changed += [f"{name}.{key}" for key, value in saved.items()
                        if not key.startswith("__") and current.get(key, Snapshot) is not value]
        return changed

    def restore(self):
        for name, saved in self.saved.items():
            sys.modules[name] = self.modules[name]
            vars(self.modules[name]).update(saved)


def decode(value, np):
    if isinstance(value, dict):
        dtype, shape, data = value["__ndarray__"]
        return np.frombuffer(base64.b64decode(data), dtype=dtype).reshape(shape).copy()
    if isinstance(value, list):
        return [decode(v, np) for v in value]
    return value


def encode(value, np):
    # The twin of labtools.grading.wire.encode: this file runs in the sandbox and must not
    # import labtools, so the format is written out again; the parent reads it with wire.decode.
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        if value.dtype.name not in OK_DTYPES:
            raise TypeError(f"an array of dtype {value.dtype}, which cannot be graded "
                            "(return numbers)")
        # Not np.ascontiguousarray: it turns a 0-d value (np.float64(0.5)) into shape (1,).
        array = np.array(value, order="C", copy=True)
        return {"__ndarray__": [array.dtype.name, list(array.shape),
                                base64.b64encode(array.tobytes()).decode("ascii")]}
    if isinstance(value, (list, tuple)):
        return [encode(v, np) for v in value]
    if value is None or type(value) in (bool, int, float, str):
        return value
    if hasattr(value, "__array__"):
        return encode(np.asarray(value), np)
    raise TypeError(f"a {type(value).__name__}, which cannot be graded (return a number or "
                    "a numpy array)")


def describe_error(error, tb):
    try:
        text = f"{type(error).__name__}: {error}"
    except BaseException:
        text = type(error).__name__
    where = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith("cell ") or filename.endswith(".py") and "/" not in filename:
            where = f"{filename}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return text[:500], where


def kind_of(error):
    if isinstance(error, SystemExit):
        return "exit"
    if isinstance(error, MemoryError):
        return "memory"
    if isinstance(error, RecursionError):
        return "recursion"
    return "exception"


class Channel:
    def __init__(self, fd, cap):
        self.fd, self.cap = fd, cap

    def send(self, message):
        data = (json.dumps(message) + "\n").encode()
        if len(data) > self.cap:
            message = {k: v for k, v in message.items() if k != "cases"}
            message["too_large"] = True
            data = (json.dumps(message) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]


def set_limits(limits, n_jobs, dropping):
    mb = 1024 * 1024
    cpu = int(limits["cpu_seconds"] * n_jobs + limits["startup_seconds"]) + 1
    settings = [(resource.RLIMIT_CPU, cpu, cpu + 2),
                (resource.RLIMIT_AS, limits["memory_mb"] * mb, limits["memory_mb"] * mb),
                (resource.RLIMIT_FSIZE, limits["file_mb"] * mb, limits["file_mb"] * mb),
                (resource.RLIMIT_CORE, 0, 0),
                (resource.RLIMIT_NOFILE, 256, 256)]
    if dropping:  # counts every process of the sandbox user: stops fork bombs
        settings.append((resource.RLIMIT_NPROC, 256, 256))
    for which, soft, hard in settings:
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(which, (soft, hard))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # too-large writes fail instead of killing


def new_network_namespace():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.unshare(0x40000000) == 0  # CLONE_NEWNET: no interface but a downed loopback


def drop_privileges(uid, gid):
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: other sandboxes cannot inspect this one


def preimport(names, forbidden):
    for name in names:
        if any(name == f or name.startswith(f + ".") for f in forbidden):
            continue
        if all(part.isidentifier() for part in name.split(".")):
            try:
                importlib.import_module(name)
            except BaseException:  # reported when the graded code imports it
                pass


def run_job(job, cases, guard, snapshot, channel, np):
    name = job["name"]
    channel.send({"event": "start", "name": name})
    del guard.violations[:]
    namespace = {"__name__": "submission", "__builtins__": builtins}
    load_error, results = None, []
    try:
        for snippet in job["snippets"]:
            exec(compile(snippet["source"], snippet["filename"], "exec"), namespace)
        function = namespace.get(name)
        if not callable(function):
            load_error = [f"{name} is not a function", None, "exception"]
    except BaseException as error:
        load_error = [*describe_error(error, error.__traceback__), kind_of(error)]
    if load_error is None:
        for args in cases:
            results.append(run_case(function, args, np))
    patched = snapshot.changes()
    if patched:
        snapshot.restore()
    channel.send({"event": "result", "name": name, "load_error": load_error, "cases": results,
                  "violations": list(guard.violations[:5]), "patched": patched[:5]})


def run_case(function, args, np):
    try:
        value = function(*copy.deepcopy(args))
    except BaseException as error:
        text, where = describe_error(error, error.__traceback__)
        return {"ok": False, "error": text, "where": where, "kind": kind_of(error)}
    try:
        return {"ok": True, "value": encode(value, np)}
    except BaseException as error:
        return {"ok": False, "error": f"it returned {error}", "where": None, "kind": "type"}


def main():
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    channel = Channel(os.dup(1), request["limits"]["output_mb"] * 1024 * 1024)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # stray C-level prints cannot corrupt answers
    sys.stdout = sys.stderr = Sink()
    import numpy as np

    jobs = request["jobs"]
    cases = {job["name"]: [decode(args, np) for args in job["cases"]] for job in jobs}
    root = os.geteuid() == 0 and request["uid"] is not None
    layers = ["resource limits", "audit hook"]
    set_limits(request["limits"], len(jobs), dropping=root)
    if root and new_network_namespace():
        layers.append("network namespace")
    forbidden = request["forbidden"]
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    guard = Guard(request["tmp"], roots, forbidden)
    sys.addaudithook(guard)
    sys.meta_path.insert(0, Blocker(forbidden))
    # Loaded while the installation is readable: a refused socket should fail in the hook,
    # not on a missing codec, and tracebacks need their helpers.
    preimport(["encodings.idna", "traceback", "linecache", *request["modules"]], forbidden)
    if root:
        drop_privileges(request["uid"], request["gid"])
        layers.append(f"user {request['uid']}")
    os.chdir(request["tmp"])
    snapshot = Snapshot()
    guard.student = True
    channel.send({"event": "ready", "layers": layers})
    for job in jobs:
        run_job(job, cases[job["name"]], guard, snapshot, channel, np)


if __name__ == "__main__":
    main()
