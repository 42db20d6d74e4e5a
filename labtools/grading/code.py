"""A notebook's code read without running it: its cells, their syntax trees, what they name.

One place for what several parts of grading ask of a notebook's code: the
modules it imports (preloaded in the student process; pinned in a Gradescope
bundle), the names it binds at top level (built-ins an instructor redefines;
the functions assignment.toml grades). IPython magics and shell escapes are
blanked first (they are not Python), keeping line numbers.

Examples
--------
>>> sources = ["%matplotlib inline\\nimport numpy as np", "def f(x):\\n    return np.sum(x)"]
>>> sorted(imported_modules(sources)), sorted(bound_names(sources))
(['numpy'], ['f'])
"""

from __future__ import annotations

import ast
import re
import threading

__all__ = ["python_source", "blank_magics", "code_sources", "syntax_tree", "parse",
           "imported_modules", "bound_names", "defined_functions"]

# Cell magics whose body is Python; any other (%%bash, %%html) makes the cell not Python.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}
_ASSIGNED_MAGIC = re.compile(r"^\s*[\w.]+(\s*,\s*[\w.]+)*\s*=\s*[%!]")  # files = !ls
_HELP_LINE = re.compile(r"^\s*[\w.]+\?{1,2}\s*$")  # np.sum?


def python_source(source: str) -> str | None:
    """The cell as Python: magics, shell escapes and help lines blanked (keeping line
    numbers); None for a cell that is not Python at all (%%bash, %%html).

    Examples
    --------
    >>> python_source("files = !ls\\nx = 1\\nnp.sum?"), python_source("%%bash\\nls")
    ('\\nx = 1\\n', None)
    """
    lines = source.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split(maxsplit=1)
        if not magic or magic[0] not in _PYTHON_CELL_MAGICS:
            return None
        lines[first] = ""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) or _ASSIGNED_MAGIC.match(line)
                     or _HELP_LINE.match(line) else line for line in lines)


def blank_magics(source: str) -> str:
    """:func:`python_source` for code that runs: a cell that is not Python runs as nothing.

    Examples
    --------
    >>> blank_magics("%matplotlib inline\\nx = 1\\n!pip install foo")
    '\\nx = 1\\n'
    """
    python = python_source(source)
    return "" if python is None else python


def code_sources(document: dict) -> list[str]:
    """The source of every code cell of an nbformat dict, in order."""
    sources = []
    for cell in document.get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            sources.append("".join(source) if isinstance(source, list) else str(source))
    return sources


# CPython 3.11 keeps the AST constructor's recursion depth per interpreter, not per
# thread: when the garbage collector runs a finalizer in the middle of ast.parse and
# another thread parses meanwhile, both fail with "SystemError: AST constructor
# recursion depth mismatch" (python/cpython#106905). `labtools grade` reads
# submissions in threads, so every parse in labtools.grading goes through this lock.
_PARSE_LOCK = threading.Lock()


def syntax_tree(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)``, safe to call from several threads at once.

    Raises what :func:`ast.parse` raises (SyntaxError, ValueError, RecursionError).

    Examples
    --------
    >>> type(syntax_tree("x = 1").body[0]).__name__
    'Assign'
    """
    with _PARSE_LOCK:
        return ast.parse(source, filename=filename)


def parse(source: str) -> ast.Module | None:
    """The syntax tree of one cell, or None when it is not valid Python."""
    try:
        return syntax_tree(blank_magics(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _trees(sources):
    return [tree for tree in map(parse, sources) if tree is not None]


def imported_modules(sources) -> set[str]:
    """Names of the modules `sources` import anywhere (``import a.b`` gives ``a.b``)."""
    names: set[str] = set()
    for tree in _trees(sources):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    return names


def bound_names(sources) -> set[str]:
    """Names `sources` bind at top level: functions, classes, assignment targets."""
    names: set[str] = set()
    for tree in _trees(sources):
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def defined_functions(sources) -> set[str]:
    """Names of the functions `sources` define anywhere, nested ones included."""
    return {node.name for tree in _trees(sources) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
