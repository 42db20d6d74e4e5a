"""The assignment spec: ``assignment.toml`` parsed, checked and resolved.

An assignment is a folder with a solution notebook and an ``assignment.toml``
that names each graded function, its points, its reference, its random-case
generator, the number of cases and the tolerance (docs/grading.md shows a full
file). Every mistake in the file is an :class:`~labtools.errors.AssignmentError`
whose message names the key and says what to write instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

from labtools.errors import AssignmentError
from labtools.grading.student import Limits

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

__all__ = ["Limits", "GradedFunction", "Spec", "load_spec", "resolve_reference"]

SPEC_NAME = "assignment.toml"
# labtools itself is the reference of most assignments: students never get to call it.
ALWAYS_FORBIDDEN = ("labtools",)


@dataclass(frozen=True)
class GradedFunction:
    """One graded function: what students write and how it is checked.

    Cases come from one of: a built-in generator (``generator = {kind = ...}``,
    ``cases`` = how many), an instructor's generator function
    (``generator = "cases.py:make_cases"``), or a case table (``cases = [{args = ...,
    expect = ...}, ...]``); a Hypothesis ``strategy`` adds a property check. The
    structure keys (``must_call``, ...) are decided from the submission's syntax tree.
    """

    name: str
    points: float
    reference: str | None
    generator: dict | str | None = None
    cases: int | list = 20
    rtol: float = 1e-6
    atol: float = 1e-9
    hints: dict = field(default_factory=dict)
    description: str = ""
    strategy: str | None = None
    examples: int = 100
    raises: tuple = ()
    must_call: tuple = ()
    must_not_call: tuple = ()
    must_not_import: tuple = ()
    no_loops: bool = False
    no_recursion: bool = False

    @property
    def structure(self) -> dict:
        """The structure checks as keyword arguments of :func:`~labtools.grading.structure.check_structure`."""
        return {key: getattr(self, key) for key in _STRUCTURE_KEYS if getattr(self, key)}


_STRUCTURE_KEYS = ("must_call", "must_not_call", "must_not_import", "no_loops", "no_recursion")


@dataclass(frozen=True)
class Spec:
    """A parsed ``assignment.toml`` and the folder it lives in (``notebook`` None: every
    notebook of the folder)."""

    folder: Path
    name: str
    title: str
    notebook: Path | None
    functions: tuple[GradedFunction, ...]
    seed: int = 0
    limits: Limits = Limits()
    forbidden_modules: tuple[str, ...] = ALWAYS_FORBIDDEN
    public_files: tuple[str, ...] = ()

    @property
    def max_points(self) -> float:
        return float(sum(f.points for f in self.functions))

    def function(self, name: str) -> GradedFunction:
        for function in self.functions:
            if function.name == name:
                return function
        raise KeyError(name)


_ASSIGNMENT_KEYS = {"name", "title", "notebook", "seed", "forbidden_modules", "public_files"}
_FUNCTION_KEYS = {"name", "points", "reference", "generator", "cases", "rtol", "atol", "hints",
                  "description", "strategy", "examples", "raises", *_STRUCTURE_KEYS}


def load_spec(folder) -> Spec:
    """Read and check ``FOLDER/assignment.toml``.

    Parameters
    ----------
    folder : str or Path
        The assignment folder.

    Returns
    -------
    Assignment

    Raises
    ------
    AssignmentError
        The folder or file is missing, the TOML is invalid, or a key is
        missing, unknown or of the wrong type.

    Examples
    --------
    >>> from pathlib import Path
    >>> import labtools
    >>> folder = Path(labtools.__file__).parents[1] / "course" / "assignments" / "metrics-basics"
    >>> spec = load_spec(folder)
    >>> [f.name for f in spec.functions], spec.max_points
    (['dice_score', 'hausdorff_distance'], 10.0)
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AssignmentError(f"assignment folder {folder} does not exist; give the folder that "
                              f"holds {SPEC_NAME} and the solution notebook")
    path = folder / SPEC_NAME
    if not path.is_file():
        raise AssignmentError(f"{folder} has no {SPEC_NAME}; every assignment folder needs one "
                              "(see docs/grading.md for the format)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise AssignmentError(f"{path} is not valid TOML: {err}") from None
    return _parse(folder, path, data)


def _parse(folder: Path, path: Path, data: dict) -> Spec:
    _check_keys(path, "the top level", data, {"assignment", "limits", "functions"})
    head = data.get("assignment", {})
    if not isinstance(head, dict):
        raise AssignmentError(f"{path}: [assignment] must be a table")
    _check_keys(path, "[assignment]", head, _ASSIGNMENT_KEYS)
    name = _get(path, "[assignment]", head, "name", str, default=folder.name)
    notebook = _get(path, "[assignment]", head, "notebook", str, default=None)
    if notebook is not None:
        notebook = folder / notebook
        if not notebook.is_file():
            raise AssignmentError(f"{path}: the solution notebook {notebook.name} named by "
                                  "[assignment] notebook is not in the folder")
    functions = data.get("functions", [])
    if not isinstance(functions, list):
        raise AssignmentError(f"{path}: functions must be [[functions]] tables (name, points, "
                              "reference, generator)")
    parsed = tuple(_parse_function(path, i + 1, entry) for i, entry in enumerate(functions))
    names = [f.name for f in parsed]
    if len(set(names)) != len(names):
        raise AssignmentError(f"{path}: a function is graded twice: {names}")
    forbidden = tuple(_get(path, "[assignment]", head, "forbidden_modules", list, default=[]))
    return Spec(
        folder=folder, name=name, title=_get(path, "[assignment]", head, "title", str, default=name),
        notebook=notebook, functions=parsed, seed=_get(path, "[assignment]", head, "seed", int, default=0),
        limits=_parse_limits(path, data.get("limits", {})),
        forbidden_modules=tuple(dict.fromkeys(ALWAYS_FORBIDDEN + forbidden)),
        public_files=tuple(_get(path, "[assignment]", head, "public_files", list, default=[])),
    )


def _parse_function(path: Path, number: int, entry) -> GradedFunction:
    where = f"[[functions]] #{number}"
    if not isinstance(entry, dict):
        raise AssignmentError(f"{path}: {where} must be a table")
    _check_keys(path, where, entry, _FUNCTION_KEYS)
    name = _get(path, where, entry, "name", str)
    if not name.isidentifier():
        raise AssignmentError(f"{path}: {where} name {name!r} is not a Python function name")
    where = f"[[functions]] {name}"
    generator = _get(path, where, entry, "generator", (dict, str), default=None)
    if isinstance(generator, dict) and "kind" not in generator:
        raise AssignmentError(f"{path}: {where} generator needs a kind, e.g. kind = \"mask_pair\"")
    cases = _get(path, where, entry, "cases", (int, list), default=20)
    strategy = _get(path, where, entry, "strategy", str, default=None)
    if generator is None and not isinstance(cases, list) and strategy is None:
        raise AssignmentError(
            f"{path}: {where} has no cases: give a generator (a table with kind, or "
            "\"file.py:function\"), a case table (cases = [{ args = [...], expect = ... }]) or a "
            "Hypothesis strategy (strategy = \"strategies.py:name\")")
    words = {key: tuple(_get(path, where, entry, key, list, default=[]))
             for key in ("raises", "must_call", "must_not_call", "must_not_import")}
    function = GradedFunction(
        name=name, points=float(_get(path, where, entry, "points", (int, float))),
        reference=_get(path, where, entry, "reference", str, default=None), generator=generator,
        cases=cases,
        rtol=float(_get(path, where, entry, "rtol", (int, float), default=1e-6)),
        atol=float(_get(path, where, entry, "atol", (int, float), default=1e-9)),
        hints=_get(path, where, entry, "hints", dict, default={}),
        description=_get(path, where, entry, "description", str, default=""),
        strategy=strategy, examples=_get(path, where, entry, "examples", int, default=100),
        no_loops=_get(path, where, entry, "no_loops", bool, default=False),
        no_recursion=_get(path, where, entry, "no_recursion", bool, default=False), **words,
    )
    count = len(cases) if isinstance(cases, list) else cases
    if not (function.points > 0 and math.isfinite(function.points)) or count < 1 \
            and strategy is None:
        raise AssignmentError(f"{path}: {where} needs points > 0 and at least one case")
    if function.reference is None and (strategy is not None or not isinstance(cases, list)):
        raise AssignmentError(f"{path}: {where} needs a reference (\"reference.py:{name}\" or a "
                              "labtools function) to compute the expected values")
    return function


def _parse_limits(path: Path, table) -> Limits:
    if not isinstance(table, dict):
        raise AssignmentError(f"{path}: [limits] must be a table")
    known = Limits.__dataclass_fields__
    _check_keys(path, "[limits]", table, set(known))
    values = {key: _get(path, "[limits]", table, key, (int, float)) for key in table}
    if any(value <= 0 for value in values.values()):
        raise AssignmentError(f"{path}: every [limits] value must be positive, got {values}")
    return Limits(**{key: type(getattr(Limits, key))(value) for key, value in values.items()})


def _check_keys(path: Path, where: str, table: dict, known: set) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise AssignmentError(f"{path}: unknown key(s) {unknown} in {where}; known keys: "
                              f"{sorted(known)}")


_MISSING = object()


def _get(path: Path, where: str, table: dict, key: str, kind, default=_MISSING):
    if key not in table:
        if default is _MISSING:
            raise AssignmentError(f"{path}: {where} needs the key {key!r}")
        return default
    value = table[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = [kind] if isinstance(kind, type) else list(kind)
        expected = " or ".join(f"{'an' if k.__name__[0] in 'aeiou' else 'a'} {k.__name__}"
                               for k in names)
        raise AssignmentError(f"{path}: {where} {key} must be {expected}, got {value!r}")
    return value


def resolve_reference(assignment, function: GradedFunction):
    """The reference callable of `function`: a labtools function or one in the folder.

    ``reference = "labtools.metrics.dice"`` names a labtools function by its
    dotted path; ``reference = "reference.py:conv_transpose2d"`` names a
    function in a Python file of the assignment folder. References run in the
    grading process (they are the instructor's trusted code), never in the
    sandbox.

    Examples
    --------
    >>> from pathlib import Path
    >>> import labtools
    >>> folder = Path(labtools.__file__).parents[1] / "course" / "assignments" / "metrics-basics"
    >>> spec = load_spec(folder)
    >>> resolve_reference(spec, spec.functions[0]).__name__
    'dice'
    """
    text = function.reference
    if ":" in text:
        filename, _, attribute = text.partition(":")
        module = _folder_module(assignment.folder, filename, function.name)
    else:
        module_name, _, attribute = text.rpartition(".")
        if module_name != "labtools" and not module_name.startswith("labtools."):
            raise AssignmentError(
                f"reference {text!r} of {function.name}: give a labtools function "
                "(e.g. labtools.metrics.dice) or a file in the folder (reference.py:name)")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise AssignmentError(f"reference {text!r} of {function.name}: {err}") from None
    reference = getattr(module, attribute, None)
    if not callable(reference):
        raise AssignmentError(f"reference {text!r} of {function.name}: {module.__name__} has no "
                              f"function {attribute!r}")
    return reference


def _folder_module(folder: Path, filename: str, function_name: str):
    path = (folder / filename).resolve()
    if path.suffix != ".py" or folder.resolve() not in path.parents:
        raise AssignmentError(f"reference of {function_name}: {filename} must be a .py file in "
                              f"{folder}")
    if not path.is_file():
        raise AssignmentError(f"reference of {function_name}: {filename} is missing from {folder}")
    module_name = f"_labtools_reference_{abs(hash(path))}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # the instructor's file: report, do not hide
        raise AssignmentError(f"reference file {path} failed to import: "
                              f"{type(err).__name__}: {err}") from err
    sys.modules[module_name] = module
    return module
