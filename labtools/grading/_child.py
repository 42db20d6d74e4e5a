"""The student process: runs one submission's code and answers the tester's requests.

Started by :mod:`labtools.grading.student` as ``python -I _child.py`` inside the
sandbox's walls (:mod:`labtools.grading.walls`). It uses the standard library
and numpy only, never labtools (it cannot even see labtools). Protocol: the
first line on stdin is a JSON setup message; after it, each line is one request
and each answer is one JSON line on the original stdout:

* ``run`` a cell's code in the submission's namespace;
* ``get`` / ``set`` / ``del`` a global name; ``names``;
* ``call`` a function, ``attr`` / ``next`` / ``iter`` / ``len`` / ``item`` /
  ``repr`` / ``str`` / ``bool`` on a student object held by handle.

Answers are plain data (the twin of :func:`labtools.grading.wire.encode`,
written out again here because this file cannot import labtools); any other
object stays here and only a handle crosses. Nothing the tester decides
depends on this process being honest: it is the student's process, and the
tester rebuilds plain data only.

Before any student code runs it sets resource limits and installs an audit hook
and an import blocker (defence in depth behind the walls: no processes, sockets
or files outside its working folder; forbidden modules refused).
"""

import base64
import builtins
import importlib
import io
import json
import math
import os
import resource
import signal
import sys
import types

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
MAX_DEPTH = 32
MAX_OUTPUT = 64 * 1024
_SYSTEM_READS = ("/dev/urandom", "/dev/zero", "/proc/cpuinfo", "/proc/meminfo",
                 "/sys/devices/system/cpu", "/etc/localtime", "/usr/share/zoneinfo")


class Guard:
    """The audit hook: refuses what graded code must not do."""

    def __init__(self, workdir, read_roots, forbidden):
        self.workdir = os.path.realpath(workdir)
        self.read_roots = tuple(os.path.realpath(r) for r in read_roots)
        self.forbidden = tuple(forbidden)
        self.student = False  # ctypes is allowed while trusted modules import

    def __call__(self, event, args):
        if event == "open":
            self._check_path(args[0], writing=_writing(args[1], args[2]))
        elif event == "import":
            name = str(args[0])
            if any(name == f or name.startswith(f + ".") for f in self.forbidden):
                raise ImportError(f"{name} is not available while grading: write the code yourself")
        elif event in READ_EVENTS:
            self._check_path(args[0] if args and args[0] is not None else ".", writing=False)
        elif event in PATH_EVENTS:
            for path in args[:2]:
                if isinstance(path, (str, bytes, os.PathLike)):
                    self._check_path(path, writing=True)
        elif event.startswith(ALWAYS_DENIED) or (self.student and event.startswith("ctypes.")):
            raise PermissionError(f"blocked by the grading sandbox: {event}")

    def _check_path(self, path, writing):
        if isinstance(path, int) or path is None:
            return
        try:
            full = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            raise PermissionError("blocked by the grading sandbox: a file with an unreadable name")
        if _inside(full, (self.workdir, "/dev/null")):
            return
        if not writing and (_inside(full, self.read_roots) or _inside(full, _SYSTEM_READS)
                            or _inside(full, (f"/proc/{os.getpid()}",))):
            return
        what = "write or change" if writing else "read"
        raise PermissionError(f"blocked by the grading sandbox: {what} {full}")


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


def set_limits(limits, drop_uid):
    mb = 1024 * 1024
    settings = [(resource.RLIMIT_CPU, int(limits["cpu_seconds"]), int(limits["cpu_seconds"]) + 2),
                (resource.RLIMIT_AS, limits["memory_mb"] * mb, limits["memory_mb"] * mb),
                (resource.RLIMIT_FSIZE, limits["file_mb"] * mb, limits["file_mb"] * mb),
                (resource.RLIMIT_CORE, 0, 0),
                (resource.RLIMIT_NOFILE, 256, 256)]
    # RLIMIT_NPROC counts every process of the user: a fork bomb stops at the limit. Without a
    # uid of its own the count includes the grader's processes, so allow room above them.
    settings.append((resource.RLIMIT_NPROC, limits["processes"], limits["processes"]))
    for which, soft, hard in settings:
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # too-large writes fail instead of killing


def drop_privileges(uid, gid):
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET: no network when there are no walls
        raise OSError("could not create a network namespace")
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def preimport(names, forbidden):
    for name in names:
        if any(name == f or name.startswith(f + ".") for f in forbidden):
            continue
        if all(part.isidentifier() for part in name.split(".")):
            try:
                importlib.import_module(name)
            except BaseException:  # reported when the student's code imports it
                pass


class Objects:
    """Student objects the tester holds handles to (kept alive here, by number)."""

    def __init__(self):
        self.by_id, self.ids = {}, {}

    def handle(self, value, name=""):
        key = id(value)
        number = self.ids.get(key)
        if number is None or self.by_id[number] is not value:
            number = len(self.by_id) + 1
            self.by_id[number], self.ids[key] = value, number
        if isinstance(value, types.ModuleType):
            kind, name = "module", getattr(value, "__name__", "")
        elif isinstance(value, type):
            kind = "class"
        elif callable(value):
            kind = "function"
        else:
            kind = "object"
        if not name:
            name = getattr(value, "__name__", "") if kind != "object" else ""
        return {"t": "handle", "id": number, "kind": kind, "name": str(name)[:100],
                "type": type(value).__name__}


class Encoder:
    def __init__(self, objects):
        self.objects = objects
        self.np = sys.modules.get("numpy")

    def __call__(self, value, depth=0):
        if depth > MAX_DEPTH:
            raise ValueError("the value is nested too deeply to send back")
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return value if math.isfinite(value) else {"t": "float", "v": repr(value)}
        if kind is list:
            return [self(v, depth + 1) for v in value]
        if kind in (tuple, set, frozenset):
            return {"t": kind.__name__, "v": [self(v, depth + 1) for v in value]}
        if kind is dict:
            return {"t": "dict", "k": [self(k, depth + 1) for k in value],
                    "v": [self(v, depth + 1) for v in value.values()]}
        if kind is complex:
            return {"t": "complex", "v": [value.real, value.imag]}
        if kind is bytes:
            return {"t": "bytes", "v": base64.b64encode(value).decode("ascii")}
        np = self.np or sys.modules.get("numpy")
        if np is not None and (kind is np.ndarray or isinstance(value, np.generic)
                               and kind.__module__ == "numpy"):
            return self.array(np.asarray(value), scalar=kind is not np.ndarray)
        module = kind.__module__.split(".")[0]
        if module == "pandas" and "pandas" in sys.modules:
            encoded = self.pandas(value, depth)
            if encoded is not None:
                return encoded
        if module == "torch" and kind.__name__ == "Tensor":
            return {"t": "torch", "v": self.array(value.detach().cpu().numpy())}
        return self.objects.handle(value)

    def array(self, array, scalar=False):
        if array.dtype.name not in OK_DTYPES:
            if array.dtype.kind in "OUS":
                return {"t": "ndobj", "shape": list(array.shape),
                        "v": [self(item, 1) for item in array.ravel().tolist()]}
            return self.objects.handle(array)
        data = array.copy(order="C")
        return {"t": "scalar" if scalar else "nd", "dtype": data.dtype.name,
                "shape": list(data.shape), "v": base64.b64encode(data.tobytes()).decode("ascii")}

    def pandas(self, value, depth):
        pd = sys.modules["pandas"]
        kind = type(value)
        if kind is pd.Series:
            return {"t": "series", "name": self(value.name, depth + 1),
                    "index": self.pandas(value.index, depth), "dtype": str(value.dtype),
                    "v": self(value.to_numpy(), depth + 1)}
        if kind is pd.DataFrame:
            return {"t": "frame", "index": self.pandas(value.index, depth),
                    "columns": [self(c, depth + 1) for c in value.columns],
                    "v": [self.pandas(value.iloc[:, i], depth) for i in range(value.shape[1])]}
        if kind is pd.RangeIndex:
            return {"t": "range", "v": [value.start, value.stop, value.step],
                    "name": self(value.name, depth + 1)}
        if kind is pd.Index:
            return {"t": "index", "name": self(value.name, depth + 1), "dtype": str(value.dtype),
                    "v": self(value.to_numpy(), depth + 1)}
        return None


def decode(value, objects, np):
    """Arguments from the tester (plain data it encoded, or handles to objects held here)."""
    if isinstance(value, list):
        return [decode(v, objects, np) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value["t"]
    if tag == "ref":
        return objects.by_id[value["id"]]
    if tag == "float":
        return float(value["v"])
    if tag in ("tuple", "set", "frozenset"):
        return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](
            decode(v, objects, np) for v in value["v"])
    if tag == "dict":
        return {decode(k, objects, np): decode(v, objects, np) for k, v in zip(value["k"], value["v"])}
    if tag == "complex":
        return complex(*value["v"])
    if tag == "bytes":
        return base64.b64decode(value["v"])
    if tag in ("nd", "scalar"):
        array = np.frombuffer(base64.b64decode(value["v"]), dtype=value["dtype"])
        array = array.reshape(value["shape"]).copy()
        return array[()] if tag == "scalar" else array
    if tag == "ndobj":
        array = np.empty(len(value["v"]), dtype=object)
        array[:] = [decode(v, objects, np) for v in value["v"]]
        return array.reshape(value["shape"])
    if tag == "torch":
        import torch

        return torch.from_numpy(decode(value["v"], objects, np))
    if tag in ("series", "frame", "index", "range"):
        return decode_pandas(value, objects, np)
    raise ValueError(f"unknown value tag {tag}")


def decode_pandas(value, objects, np):
    import pandas as pd

    tag = value["t"]
    if tag == "range":
        return pd.RangeIndex(*value["v"], name=decode(value["name"], objects, np))
    if tag == "index":
        return pd.Index(decode(value["v"], objects, np), name=decode(value["name"], objects, np))
    if tag == "series":
        return pd.Series(decode(value["v"], objects, np), index=decode(value["index"], objects, np),
                         name=decode(value["name"], objects, np))
    columns = [decode(c, objects, np) for c in value["columns"]]
    data = {c: decode(s, objects, np).to_numpy() for c, s in zip(columns, value["v"])}
    return pd.DataFrame(data, index=decode(value["index"], objects, np))


def describe_error(error):
    try:
        message = str(error)
    except BaseException:
        message = ""
    where, tb = None, error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(("cell ", "<")) or ".ipynb" in filename:
            where = f"{filename}, line {tb.tb_lineno}"
        tb = tb.tb_next
    bases = [c.__name__ for c in type(error).__mro__[1:] if c.__module__ == "builtins"]
    return {"t": "exc", "type": type(error).__name__, "message": message[:2000], "where": where,
            "bases": bases[:20]}


class Server:
    def __init__(self, channel_fd, namespace, np):
        self.channel_fd = channel_fd
        self.namespace = namespace
        self.objects = Objects()
        self.encode = Encoder(self.objects)
        self.np = np

    def send(self, message):
        data = (json.dumps(message) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(self.channel_fd, view):]

    def handle(self, request):
        op = request["op"]
        captured = io.StringIO()
        sys.stdout = sys.stderr = captured  # what student code prints during a request
        try:
            if op == "run":
                exec(compile(request["source"], request["label"], "exec"), self.namespace)
                value = None
            else:
                value = getattr(self, "op_" + op)(request)
            answer = {"ok": True, "value": self.encode(value)}
        except BaseException as error:  # SystemExit and KeyboardInterrupt are answers too
            try:
                answer = {"ok": False, "error": describe_error(error)}
            except BaseException:
                answer = {"ok": False, "error": {"t": "exc", "type": "Exception",
                                                 "message": "an exception that cannot be described"}}
        finally:
            sys.stdout = sys.stderr = _DISCARD
        output = captured.getvalue()
        if output:
            answer["out"] = output[:MAX_OUTPUT]
        return answer

    def target(self, request):
        return self.objects.by_id[request["id"]]

    def args(self, request):
        args = decode(request.get("args", []), self.objects, self.np)
        kwargs = decode(request.get("kwargs", {"t": "dict", "k": [], "v": []}), self.objects, self.np)
        return args, kwargs

    def op_get(self, request):
        name = request["name"]
        if name not in self.namespace:
            raise NameError(f"name '{name}' is not defined")
        return self.namespace[name]

    def op_names(self, request):
        return [n for n in self.namespace if not n.startswith("__")]

    def op_set(self, request):
        self.namespace[request["name"]] = decode(request["value"], self.objects, self.np)

    def op_del(self, request):
        name = request["name"]
        if name not in self.namespace:
            raise NameError(f"name '{name}' is not defined")
        del self.namespace[name]

    def op_call(self, request):
        args, kwargs = self.args(request)
        return self.target(request)(*args, **kwargs)

    def op_attr(self, request):
        return getattr(self.target(request), request["name"])

    def op_next(self, request):
        return next(self.target(request))

    def op_iter(self, request):
        return iter(self.target(request))

    def op_len(self, request):
        return len(self.target(request))

    def op_item(self, request):
        key = decode(request["key"], self.objects, self.np)
        return self.target(request)[key]

    def op_repr(self, request):
        return str(repr(self.target(request)))

    def op_str(self, request):
        return str(str(self.target(request)))

    def op_bool(self, request):
        return bool(self.target(request))

    def serve(self, requests):
        for line in requests:
            request = json.loads(line)
            answer = self.handle(request)
            try:
                self.send(answer)
            except (ValueError, TypeError, OverflowError, RecursionError) as err:
                self.send({"ok": False, "error": {"t": "exc", "type": "TypeError",
                                                  "message": f"the answer cannot be sent: {err}"}})


class _Discard(io.TextIOBase):
    def write(self, text):
        return len(text)


_DISCARD = _Discard()


def main():
    # The requests arrive on fd 0 and the answers leave on fd 1; student code gets neither:
    # it could otherwise read the next request or write an answer out of turn.
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    channel = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    sys.stdin = io.StringIO("")
    sys.stdout = sys.stderr = _DISCARD
    setup = json.loads(requests.readline())
    for name, data in setup.get("files", {}).items():  # the assignment's public files
        if "/" not in name and name not in (".", ".."):
            with open(name, "wb") as stream:
                stream.write(base64.b64decode(data))
    sys.path.insert(0, os.getcwd())  # as in Jupyter: modules beside the notebook import
    import numpy as np

    set_limits(setup["limits"], setup.get("uid") is not None)
    forbidden = setup["forbidden"]
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             *setup.get("read_roots", [])}
    guard = Guard(os.getcwd(), roots, forbidden)
    sys.addaudithook(guard)
    sys.meta_path.insert(0, Blocker(forbidden))
    # Loaded while trusted: tracebacks need their helpers, and the modules the submission
    # imports load faster once here.
    preimport(["encodings.idna", "traceback", "linecache", *setup["modules"]], forbidden)
    if setup.get("uid") is not None:
        drop_privileges(setup["uid"], setup["uid"])
    guard.student = True
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    server = Server(channel, namespace, np)
    server.send({"ok": True, "value": "ready"})
    server.serve(iter(requests.readline, b""))


if __name__ == "__main__":
    main()
