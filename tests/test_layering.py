"""The core stays GUI-free and light: checked in fresh interpreters."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import labtools

GUI = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "ipywidgets", "anywidget",
       "magicgui", "vispy", "napari_plugin")
HEAVY = ("torch", "monai")
# Notebook-only code may import ipywidgets; nothing else in the core may.
FACE_MODULES = ("labtools.widgets",)


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _core_modules() -> list[str]:
    return sorted(
        info.name for info in pkgutil.walk_packages(labtools.__path__, "labtools.")
        if not info.name.startswith(FACE_MODULES)
    )


def test_import_labtools_pulls_no_torch_or_gui_and_is_fast():
    result = _run(
        "import json, sys, time\n"
        "t = time.perf_counter(); import labtools; elapsed = time.perf_counter() - t\n"
        "print(json.dumps({'elapsed': elapsed, 'modules': sorted(sys.modules)}))"
    )
    loaded = {m.split(".")[0] for m in result["modules"]}
    assert not loaded & set(GUI + HEAVY), sorted(loaded & set(GUI + HEAVY))
    assert result["elapsed"] < 1.0  # acceptance criterion; typically a few milliseconds


def test_no_core_module_imports_a_gui_toolkit():
    modules = _core_modules()
    assert "labtools.io" in modules and "labtools.datasets.phantom" in modules
    result = _run(
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = {m.split(".")[0] for m in result}
    assert not loaded & set(GUI), sorted(loaded & set(GUI))
    assert not [m for m in result if m.startswith(FACE_MODULES)]   # nor the notebook face


def test_the_layering_check_can_fail(tmp_path):
    """The check above would catch a GUI import: prove it on a throwaway module."""
    (tmp_path / "leaky.py").write_text("import qtpy\n")
    result = _run(
        f"import json, sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "import os; os.environ.setdefault('QT_API', 'pyqt6')\n"
        "import leaky; print(json.dumps(sorted(sys.modules)))"
    )
    assert "qtpy" in {m.split(".")[0] for m in result}
