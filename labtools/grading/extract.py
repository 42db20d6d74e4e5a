"""Pull the graded functions out of a submission with ``ast``, without running anything.

For each graded function the extraction keeps its last definition (what "Run
all" would leave), plus, transitively, the module-level imports, helper
functions, classes and constants it names. Every other top-level statement
(a test call, a plot, ``while True:``, ``sys.exit()``) is dropped. Each kept
statement keeps its line numbers, so errors point at the student's cell and line.
"""

from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass
from pathlib import Path

from labtools.errors import AssignmentError
from labtools.grading.notebook import Cell, read_cells

__all__ = ["Snippet", "Extraction", "extract_functions", "extract_from_cells"]

MAX_SUBMISSION_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Snippet:
    """Code to run in the sandbox: ``filename`` for tracebacks, ``source`` padded so that
    line numbers are those of the cell (or script)."""

    filename: str
    source: str


@dataclass(frozen=True)
class Extraction:
    """What one graded function needs, or why it cannot be graded (``error``)."""

    name: str
    snippets: tuple[Snippet, ...] = ()
    modules: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class _Statement:
    node: ast.stmt
    cell: Cell
    order: int
    shares_lines: bool


def extract_functions(path, names, forbidden=()) -> dict[str, Extraction]:
    """Extract the functions `names` from a submission (.ipynb or .py).

    A submission that cannot be read at all gives every function the same
    ``error``; a cell with a syntax error only affects the functions it defines.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "alice.py"
    >>> _ = path.write_text("import numpy as np\\nimport sys\\nK = 2\\n"
    ...                     "def f(x):\\n    return K * np.sum(x)\\nsys.exit(f(1))\\n")
    >>> result = extract_functions(path, ["f"])["f"]
    >>> result.error, result.modules, [s.source.strip() for s in result.snippets]
    (None, ('numpy',), ['import numpy as np', 'K = 2', 'def f(x):\\n    return K * np.sum(x)'])
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_SUBMISSION_BYTES:
            raise AssignmentError(f"{path.name} is larger than {MAX_SUBMISSION_BYTES >> 20} MB")
        cells = read_cells(path)
    except (AssignmentError, OSError) as err:
        return {name: Extraction(name, error=str(err)) for name in names}
    return extract_from_cells(cells, names, forbidden)


def extract_from_cells(cells: list[Cell], names, forbidden=()) -> dict[str, Extraction]:
    """:func:`extract_functions` on cells already read."""
    statements, broken = _parse_cells(cells)
    definitions = _definitions(statements)
    return {name: _extract_one(name, definitions, broken, forbidden) for name in names}


def _parse_cells(cells: list[Cell]):
    statements, broken = [], []
    for cell in cells:
        if cell.kind != "code":
            continue
        source = _blank_magics(cell.source)
        try:
            tree = ast.parse(source, filename=cell.label)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
            line = getattr(err, "lineno", None) or 1
            broken.append((cell, cell.first_line + line - 1, f"{type(err).__name__}: "
                           f"{getattr(err, 'msg', err)}"))
            continue
        lines_used = {}
        for node in tree.body:
            for line in range(_first_line(node), node.end_lineno + 1):
                lines_used[line] = lines_used.get(line, 0) + 1
        for node in tree.body:
            shared = any(lines_used[line] > 1 for line in range(_first_line(node), node.end_lineno + 1))
            statements.append(_Statement(node, cell, len(statements), shared))
    return statements, broken


def _blank_magics(source: str) -> str:
    """IPython magics and shell escapes are not Python: blank them, keeping line numbers."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators])


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(alias.asname or alias.name).split(".")[0] for alias in node.names]
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    if isinstance(node, ast.AnnAssign) and node.value is None:
        return []
    names = []
    for target in targets:
        for element in (target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]):
            if isinstance(element, ast.Name):
                names.append(element.id)
    return names


def _definitions(statements) -> dict[str, list[_Statement]]:
    """Every statement binding each name, in notebook order."""
    definitions: dict[str, list[_Statement]] = {}
    for statement in statements:
        for name in _bound_names(statement.node):
            definitions.setdefault(name, []).append(statement)
    return definitions


def _referenced_globals(node: ast.stmt) -> set[str]:
    """Global names `node` reads, found with symtable (locals and parameters excluded)."""
    table = symtable.symtable(ast.unparse(node), "<extract>", "exec")
    names = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    pending = list(table.get_children())
    while pending:
        child = pending.pop()
        names |= {s.get_name() for s in child.get_symbols() if s.is_global()}
        pending += child.get_children()
    return names


def _extract_one(name, definitions, broken, forbidden) -> Extraction:
    if name not in definitions or not isinstance(definitions[name][-1].node,
                                                   (ast.FunctionDef, ast.AsyncFunctionDef)):
        return Extraction(name, error=_missing_message(name, broken))
    chosen: dict[int, tuple[_Statement, set | None]] = {}
    pending = [(name, definitions[name][-1])]
    while pending:
        wanted, statement = pending.pop()
        if isinstance(statement.node, (ast.Import, ast.ImportFrom)):
            _, aliases = chosen.get(statement.order, (statement, set()))
            chosen[statement.order] = (statement, aliases | {wanted})
            continue
        if statement.order in chosen:
            continue
        chosen[statement.order] = (statement, None)
        for used in _referenced_globals(statement.node):
            earlier = [s for s in definitions.get(used, []) if s.order < statement.order or
                       isinstance(statement.node, (ast.FunctionDef, ast.AsyncFunctionDef))]
            # A function sees the last binding of a name; `x = x + 1` needs the one before it.
            candidates = earlier if used != wanted else [s for s in definitions.get(used, [])
                                                        if s.order < statement.order]
            if candidates:
                pending.append((used, candidates[-1]))
    snippets, modules = [], []
    for order in sorted(chosen):
        statement, aliases = chosen[order]
        node = _only_aliases(statement.node, aliases) if aliases else statement.node
        modules += _imported_modules(node)
        snippets.append(_snippet(statement, node, rewritten=aliases is not None))
    bad = [m for m in modules if _is_forbidden(m, forbidden)]
    if bad:
        return Extraction(name, error=f"it imports {bad[0]}, which this assignment does not allow "
                                      f"(forbidden: {', '.join(forbidden)}); write the code yourself")
    return Extraction(name, tuple(snippets), tuple(dict.fromkeys(modules)))


def _missing_message(name: str, broken) -> str:
    for cell, line, message in broken:
        if f"def {name}" in cell.source:
            return (f"{cell.label} defines {name} but has a syntax error at line {line}: {message}; "
                    "fix it and run the cell")
    hint = (f" ({len(broken)} cell(s) could not be read: {broken[0][0].label} line {broken[0][1]}, "
            f"{broken[0][2]})") if broken else ""
    return f"no function named {name} was found in the submission{hint}"


def _only_aliases(node, wanted: set[str]):
    aliases = [a for a in node.names if (a.asname or a.name).split(".")[0] in wanted]
    return type(node)(**{**{f: getattr(node, f) for f in node._fields}, "names": aliases},
                      lineno=node.lineno, end_lineno=node.end_lineno, col_offset=0, end_col_offset=0)


def _imported_modules(node: ast.stmt) -> list[str]:
    modules = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
            modules += [alias.name for alias in sub.names]
        elif isinstance(sub, ast.ImportFrom) and sub.module and not sub.level:
            modules.append(sub.module)
            modules += [f"{sub.module}.{alias.name}" for alias in sub.names if alias.name != "*"]
    return modules


def _is_forbidden(module: str, forbidden) -> bool:
    return any(module == f or module.startswith(f + ".") for f in forbidden)


def _snippet(statement: _Statement, node, rewritten: bool) -> Snippet:
    cell, first = statement.cell, _first_line(statement.node)
    padding = "\n" * (cell.first_line + first - 2)
    if rewritten or statement.shares_lines:
        return Snippet(cell.label, padding + ast.unparse(node) + "\n")
    lines = _blank_magics(cell.source).splitlines()[first - 1:statement.node.end_lineno]
    return Snippet(cell.label, padding + "\n".join(lines) + "\n")
