"""Structure checks: what a graded function calls, imports and loops over, read from its code.

Some questions are about *how* a function is written: "write sum_of_squares
using your squares", "no loops: use numpy", "without recursion", "without
numpy". These checks read the submission's syntax tree in the grading
process and never run it. Per graded function, ``assignment.toml`` says::

    must_call = ["squares"]            # directly or through the student's own helpers
    must_not_call = ["np.sum", "sum"]  # nor through helpers
    must_not_import = ["numpy"]        # modules (and their submodules) it may not use
    no_loops = true                    # see below for what counts as a loop
    no_recursion = true

How code is read, like "Run All" leaves it:

* the *last* definition of each function counts, and a function's global
  names (helpers, aliases such as ``total = np.sum``) are their last binding
  in the notebook; a binding inside ``if``/``try``/``for`` may or may not run,
  so it counts as well as the last plain one;
* helpers are followed: if ``f`` calls the student's ``g`` which calls
  ``squares``, then ``f`` calls ``squares`` (and ``g``'s loops are ``f``'s
  loops). Functions defined inside the function, and lambdas in it, count as
  its code;
* a name is resolved as Python would: a local variable, parameter or inner
  function shadows a global one (``sum = 0`` in a function is not the builtin
  ``sum``), imports follow their aliases (``import numpy as n; n.sum``), and a
  parameter default (``def f(x, s=np.sum)``) counts as what it names;
* using a function without calling it (``map(squares, xs)``) counts as calling it.

What a name in ``must_call``/``must_not_call`` means:

* a plain name is the builtin when Python has one (``"sum"``, ``"len"``),
  otherwise a function defined in the notebook (``"squares"``); a notebook
  function that shadows a builtin is not that builtin (the student wrote it);
* a dotted name is a module's function, written with the usual aliases:
  ``"np.sum"`` is ``numpy.sum`` however the student imported it; it also
  covers what is inside it (``"np.linalg"`` covers ``np.linalg.inv``);
* ``".sum"`` is any method or attribute named ``sum`` (``x.sum()``,
  ``np.sum``): the type of ``x`` is not known without running the code, so
  list it next to ``"np.sum"`` to forbid both spellings.

What counts as a loop (``no_loops``): ``for`` and ``while`` statements,
comprehensions and generator expressions (a Python loop in one line), and the
calls that loop in Python over the items: ``map``, ``filter``,
``functools.reduce``, ``np.vectorize``, ``np.frompyfunc``,
``np.apply_along_axis``, ``np.apply_over_axes``, ``np.fromiter``. Builtins
and numpy functions that loop in C (``sum``, ``np.cumsum``) are not loops.

``must_not_import`` covers the modules the function (or its helpers) uses,
through a module-level import or one inside the function, including
``__import__("numpy")`` and ``importlib.import_module("numpy")`` with a
literal name. Imports the function does not use are not its business.

A static check is a guide for honest students, not a proof: ``getattr(np,
"su" + "m")`` or ``eval`` get past it, methods of objects are only known by
name, and classes' methods are not followed.

IPython magics (``%matplotlib``, ``!pip``, ``x = !ls``) are blanked before
parsing; a cell with a syntax error is reported as a problem of that cell and
the others are still checked.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field

from labtools.errors import AssignmentError
from labtools.grading.code import python_source, syntax_tree

__all__ = ["check_structure", "ALIASES", "LOOP_CALLS"]

ALIASES = {
    "np": "numpy", "pd": "pandas", "plt": "matplotlib.pyplot", "mpl": "matplotlib",
    "sp": "scipy", "ndi": "scipy.ndimage", "nib": "nibabel", "sitk": "SimpleITK",
    "tf": "tensorflow", "nn": "torch.nn", "F": "torch.nn.functional",
}
"""The conventional import aliases instructors may write in patterns (``"np.sum"``)."""

LOOP_CALLS = {
    "builtins.map": "map()", "builtins.filter": "filter()", "functools.reduce": "reduce()",
    "numpy.vectorize": "np.vectorize", "numpy.frompyfunc": "np.frompyfunc",
    "numpy.apply_along_axis": "np.apply_along_axis", "numpy.apply_over_axes":
    "np.apply_over_axes", "numpy.fromiter": "np.fromiter",
}
"""Calls that count as loops for ``no_loops``: they run Python code once per item."""

_LOOP_NODES = {
    ast.For: "a for loop", ast.AsyncFor: "an async for loop", ast.While: "a while loop",
    ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression",
}
# Cell magics whose body is Python (the rest, %%bash or %%html, are not Python at all).
_PATTERN = re.compile(r"^\.?[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_BRANCHES = tuple(t for t in (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try,
                              getattr(ast, "TryStar", None), ast.Match) if t is not None)


def check_structure(sources, function: str, *, must_call=(), must_not_call=(),
                    must_not_import=(), no_loops: bool = False, no_recursion: bool = False,
                    labels=None) -> list[str]:
    """Problems with how `function` is written, in words for the student (empty: none).

    Parameters
    ----------
    sources : list of str
        The student's code cells, in notebook order.
    function : str
        The graded function; its last definition is checked.
    must_call, must_not_call : list of str
        Functions it must (must not) call, directly or through its helpers:
        ``"squares"``, ``"sum"``, ``"np.sum"``, ``".sum"`` (see the module notes).
    must_not_import : list of str
        Modules it must not use: ``"numpy"`` (also covers ``numpy.linalg``).
    no_loops, no_recursion : bool
        Forbid loops (for, while, comprehensions, map/filter...) or recursion
        (also through helpers) in it and its helpers.
    labels : list of str, optional
        Names of the cells in messages; "code cell 1", "code cell 2"... by default.

    Returns
    -------
    list of str
        Syntax errors of cells first, then one sentence per problem.

    Raises
    ------
    AssignmentError
        A key's value is not what the instructor should write (a string where
        a list is needed, an alias where a module name is needed, ...).

    Examples
    --------
    >>> cells = ["import numpy as n\\n%matplotlib inline",
    ...          "def squares(k):\\n    return [i * i for i in range(1, k + 1)]",
    ...          "def total(xs):\\n    return n.sum(xs)",
    ...          "def sum_of_squares(k):\\n    return total(squares(k))"]
    >>> check_structure(cells, "sum_of_squares", must_call=["squares"],
    ...                 must_not_call=["np.sum", "sum"], no_loops=True)
    ['sum_of_squares must not call np.sum, but its helper total does (code cell 3, line 2)', 'sum_of_squares must not use loops, but its helper squares has a list comprehension (code cell 2, line 2)']
    >>> check_structure(cells, "squares", must_not_import=["numpy"])
    []
    >>> check_structure(["def f(x):\\n    return x +"], "f")
    ['code cell 1 has a syntax error at line 2 (invalid syntax), so it was not checked: fix it and run it again', 'no function named f was found, so how it is written could not be checked']
    """
    if not isinstance(function, str) or not function.isidentifier():
        raise AssignmentError(f"check_structure: {function!r} is not a function name")
    sources = list(sources)
    labels = list(labels) if labels is not None else [f"code cell {i}" for i in
                                                      range(1, len(sources) + 1)]
    if len(labels) != len(sources):
        raise AssignmentError(f"check_structure: {len(labels)} labels for {len(sources)} cells")
    calls = [_Pattern.parse(p, "must_call") for p in _names(must_call, "must_call")]
    banned = [_Pattern.parse(p, "must_not_call") for p in _names(must_not_call, "must_not_call")]
    modules = _modules(must_not_import)

    notebook = _Notebook(sources, labels)
    problems = list(notebook.problems)
    target, missing = notebook.function(function)
    if target is None:
        return problems + [missing]
    reached = notebook.reach(target)
    refs = [ref for fn in reached for ref in notebook.references(fn)]

    for pattern in calls:
        if not any(pattern.matches(ref) for ref in refs):
            problems.append(f"{function} must call {pattern.text}")
    for pattern in banned:
        ref = next((ref for ref in refs if pattern.matches(ref)), None)
        if ref is not None:
            where = notebook.place(ref.owner, ref.line)
            problems.append(f"{function} must not call {pattern.text}, but "
                            f"{_who(ref.owner, target, 'does')} ({where})")
    for module in modules:
        problem = _import_problem(notebook, target, reached, refs, module)
        if problem:
            problems.append(problem)
    if no_loops:
        for fn in reached:
            loop = _first_loop(notebook, fn)
            if loop is not None:
                what, line = loop
                problems.append(f"{function} must not use loops, but {_who(fn, target, what)} "
                                f"({notebook.place(fn, line)})")
    if no_recursion:
        problem = _recursion_problem(notebook, target)
        if problem:
            problems.append(problem)
    return list(dict.fromkeys(problems))


# --- patterns -------------------------------------------------------------------------------

def _names(values, key: str) -> list[str]:
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise AssignmentError(f"{key} must be a list of names, e.g. {key} = [\"np.sum\"] "
                              f"(got {values!r})")
    return list(values)


def _modules(values) -> list[str]:
    modules = _names(values, "must_not_import")
    for module in modules:
        if not _MODULE.match(module):
            raise AssignmentError(f"must_not_import entry {module!r} is not a module name; "
                                  'write e.g. must_not_import = ["numpy"]')
        if module in ALIASES:
            raise AssignmentError(f"must_not_import entry {module!r} is an alias; write the "
                                  f"module's name, {ALIASES[module]!r}")
    return modules


@dataclass(frozen=True)
class _Pattern:
    text: str                 # as the instructor wrote it, for messages
    qualified: str | None     # "numpy.sum", "builtins.sum", "__main__.squares"
    function: str | None      # a notebook function's name
    method: str | None        # ".sum" -> "sum"

    @classmethod
    def parse(cls, text: str, key: str) -> _Pattern:
        if not _PATTERN.match(text):
            raise AssignmentError(f"{key} entry {text!r} is not a function name; write e.g. "
                                  f'{key} = ["squares", "np.sum", ".sum"]')
        if text.startswith("."):
            return cls(text, None, None, text[1:])
        head, _, rest = text.partition(".")
        if not rest:
            if _is_builtin(head):
                return cls(text, f"builtins.{head}", None, None)
            return cls(text, f"__main__.{head}", head, None)
        if _is_builtin(head):
            return cls(text, f"builtins.{text}", None, None)
        return cls(text, f"{ALIASES.get(head, head)}.{rest}", None, None)

    def matches(self, ref: _Ref) -> bool:
        if self.method is not None:
            return ref.attribute == self.method
        for target in ref.targets:
            if target.kind == "function" and target.name == self.function:
                return True
            if target.kind == "qualified" and _under(target.name, self.qualified):
                return True
        return False


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _is_builtin(name: str) -> bool:
    return hasattr(builtins, name)


# --- the notebook's names -------------------------------------------------------------------

@dataclass(frozen=True)
class _Target:
    """What a name refers to: a notebook function, a qualified name ("numpy.sum",
    "builtins.sum", "__main__.CONSTANT"), or a local value nothing is known about."""

    kind: str                 # "function", "qualified" or "local"
    name: str
    fn: object = field(default=None, compare=False)
    origin: tuple | None = field(default=None, compare=False)  # (scope, line, import, cell)


@dataclass(frozen=True)
class _Ref:
    """A use of a name or attribute in a function's code."""

    owner: object             # the _Function whose code it is in
    line: int
    targets: frozenset
    attribute: str | None = None


@dataclass
class _Binding:
    kind: str                 # "function", "import", "alias", "param", "other"
    name: str
    scope: object = None      # the _Function it is bound in; None at module level
    fn: object = None         # for "function"
    qualified: str | None = None   # for "import"
    value: ast.expr | None = None  # for "alias", and a parameter's default
    origin: tuple | None = None
    conditional: bool = False


class _Function:
    """A function of the notebook: a def or a lambda, with its cell and enclosing function."""

    def __init__(self, node, name: str, cell: int, parent: _Function | None):
        self.node, self.name, self.cell, self.parent = node, name, cell, parent
        self.bindings: dict[str, list[_Binding]] = {}
        self.children: list[_Function] = []
        self.inline = isinstance(node, ast.Lambda) and name == "<lambda>"


class _Notebook:
    def __init__(self, sources: list[str], labels: list[str]):
        self.labels = labels
        self.problems: list[str] = []
        self.module: dict[str, list[_Binding]] = {}
        self.stars: list[tuple[str, tuple]] = []
        self.functions: dict[int, _Function] = {}   # id(node) -> _Function
        self._references: dict[int, list[_Ref]] = {}
        for cell, source in enumerate(sources):
            tree = self._parse(cell, source)
            if tree is not None:
                self._module_statements(tree.body, cell, conditional=False)

    # parsing and module-level bindings

    def _parse(self, cell: int, source: str):
        python = python_source(source)
        if python is None:
            return None
        try:
            return syntax_tree(python)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
            line = getattr(err, "lineno", None) or 1
            self.problems.append(f"{self.labels[cell]} has a syntax error at line {line} "
                                 f"({getattr(err, 'msg', err)}), so it was not checked: fix it "
                                 "and run it again")
            return None

    def _module_statements(self, statements, cell: int, conditional: bool) -> None:
        for node in statements:
            branch = conditional or isinstance(node, _BRANCHES)
            for binding in self._statement_bindings(node, cell, None):
                binding.conditional = branch
                self.module.setdefault(binding.name, []).append(binding)
            if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                if node.module and not node.level:
                    self.stars.append((node.module, (None, node.lineno, ast.unparse(node), cell)))
            if isinstance(node, (*_SCOPES, ast.ClassDef)):
                continue  # their bodies run when called, in their own scope
            for block in ("body", "orelse", "finalbody"):
                inner = getattr(node, block, None)
                if isinstance(inner, list):
                    self._module_statements(inner, cell, branch)
            for part in getattr(node, "handlers", []) + getattr(node, "cases", []):
                self._module_statements(part.body, cell, True)

    def _statement_bindings(self, node, cell: int, scope) -> list[_Binding]:
        """The names one statement binds in its own scope (nested scopes excluded)."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return [_Binding("function", node.name, scope, fn=self._function(node, node.name,
                                                                              cell, scope))]
        if isinstance(node, ast.ClassDef):
            return [_Binding("other", node.name, scope)]
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return self._import_bindings(node, cell, scope)
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            name, value = node.targets[0].id, node.value
            if isinstance(value, ast.Lambda):
                return [_Binding("function", name, scope,
                                 fn=self._function(value, name, cell, scope))]
            if isinstance(value, (ast.Name, ast.Attribute)):
                return [_Binding("alias", name, scope, value=value)]
        names = []
        if scope is None:  # `if (n := len(xs)) > 3:` binds n (in a function, the walk sees it)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    names += [_Binding("other", n.target.id, scope) for n in ast.walk(child)
                              if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name)]
        for target in _assigned_targets(node):
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name):
                    names.append(_Binding("other", sub.id, scope))
        return names

    def _import_bindings(self, node, cell: int, scope) -> list[_Binding]:
        origin = (scope, node.lineno, ast.unparse(node), cell)
        bindings = []
        for alias in node.names:
            if isinstance(node, ast.Import):
                bound = alias.asname or alias.name.split(".")[0]
                qualified = alias.name if alias.asname else alias.name.split(".")[0]
            elif alias.name == "*":
                continue
            else:
                bound = alias.asname or alias.name
                module = node.module or ""
                # A relative import is the student's own file: nothing known about it.
                qualified = f"{module}.{alias.name}" if module and not node.level else None
            if qualified is None:
                bindings.append(_Binding("other", bound, scope))
            else:
                bindings.append(_Binding("import", bound, scope, qualified=qualified,
                                         origin=origin))
        return bindings

    def _function(self, node, name: str, cell: int, parent) -> _Function:
        key = id(node)
        if key not in self.functions:
            fn = _Function(node, name, cell, parent)
            self.functions[key] = fn
            if parent is not None:
                parent.children.append(fn)
            self._local_bindings(fn)
        return self.functions[key]

    def _local_bindings(self, fn: _Function) -> None:
        """Parameters and names bound in `fn`'s own code; inner defs and lambdas become
        functions of their own (children of `fn`)."""
        node, declared = fn.node, set()
        positional = node.args.posonlyargs + node.args.args
        defaults = [None] * (len(positional) - len(node.args.defaults)) + node.args.defaults
        params = list(zip(positional, defaults)) + list(zip(node.args.kwonlyargs,
                                                            node.args.kw_defaults))
        params += [(a, None) for a in (node.args.vararg, node.args.kwarg) if a is not None]
        for arg, default in params:
            fn.bindings.setdefault(arg.arg, []).append(
                _Binding("param", arg.arg, fn, value=default))
        for sub in _own_nodes(node):
            if isinstance(sub, (ast.Global, ast.Nonlocal)):
                declared.update(sub.names)
            elif isinstance(sub, ast.Lambda):
                self._function(sub, "<lambda>", fn.cell, fn)
            if isinstance(sub, ast.stmt):
                bindings = self._statement_bindings(sub, fn.cell, fn)
            elif isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                bindings = [_Binding("other", sub.target.id, fn)]
            elif isinstance(sub, ast.comprehension):
                bindings = [_Binding("other", n.id, fn) for n in ast.walk(sub.target)
                            if isinstance(n, ast.Name)]
            elif isinstance(sub, (ast.MatchAs, ast.MatchStar)) and sub.name:
                bindings = [_Binding("other", sub.name, fn)]
            elif isinstance(sub, ast.ExceptHandler) and sub.name:
                bindings = [_Binding("other", sub.name, fn)]
            else:
                bindings = []
            for binding in bindings:
                fn.bindings.setdefault(binding.name, []).append(binding)
        for name in declared:
            fn.bindings.pop(name, None)

    # resolution

    def function(self, name: str):
        bindings = self.module.get(name)
        if not bindings:
            return None, (f"no function named {name} was found, so how it is written could "
                          "not be checked")
        last = bindings[-1]
        if last.kind != "function" or isinstance(last.fn.node, ast.Lambda):
            return None, (f"{name} is last defined by an assignment, not a def, so how it is "
                          "written could not be checked")
        return last.fn, None

    def _final_module_bindings(self, name: str) -> list[_Binding]:
        """What `name` may be after Run All: its last plain binding, and any binding inside
        if/try/for after it (which may or may not have run)."""
        bindings = self.module.get(name, [])
        last_plain = max((i for i, b in enumerate(bindings) if not b.conditional), default=0)
        return bindings[last_plain:]

    def resolve_name(self, name: str, scope, seen=frozenset()) -> set:
        while scope is not None:
            if name in scope.bindings:
                return self._union(scope.bindings[name], seen)
            scope = scope.parent
        bindings = self._final_module_bindings(name)
        if bindings:
            return self._union(bindings, seen)
        targets = {_Target("qualified", f"{module}.{name}", origin=origin)
                   for module, origin in self.stars}
        if _is_builtin(name):
            targets.add(_Target("qualified", f"builtins.{name}"))
        return targets or {_Target("qualified", f"__main__.{name}")}

    def resolve(self, node, scope, seen=frozenset()) -> set:
        if isinstance(node, ast.Name):
            return self.resolve_name(node.id, scope, seen)
        if isinstance(node, ast.Lambda) and id(node) in self.functions:
            fn = self.functions[id(node)]
            return {_Target("function", fn.name, fn=fn)}
        chain = _attribute_chain(node)
        if chain is None:
            return set()
        base, rest = chain
        return {_Target("qualified", f"{t.name}.{rest}", origin=t.origin)
                for t in self.resolve_name(base, scope, seen) if t.kind == "qualified"}

    def _union(self, bindings, seen) -> set:
        targets = set()
        for binding in bindings:
            if id(binding) in seen:  # a = b; b = a
                continue
            inner = seen | {id(binding)}
            if binding.kind == "function":
                targets.add(_Target("function", binding.fn.name, fn=binding.fn))
            elif binding.kind == "import":
                targets.add(_Target("qualified", binding.qualified, origin=binding.origin))
            elif binding.kind == "alias":
                targets |= self.resolve(binding.value, binding.scope, inner)
            elif binding.kind == "param" and binding.value is not None:
                # A default is evaluated where the def is: in the enclosing scope.
                targets |= self.resolve(binding.value, binding.scope.parent, inner)
                targets.add(_Target("local", binding.name))
            elif binding.scope is None:
                targets.add(_Target("qualified", f"__main__.{binding.name}"))
            else:
                targets.add(_Target("local", binding.name))
        return targets

    # what a function uses, and what it reaches

    def references(self, fn: _Function) -> list[_Ref]:
        """Every name and attribute `fn`'s own code uses, in source order."""
        if id(fn) in self._references:
            return self._references[id(fn)]
        refs, inside_chain = [], set()
        for sub in _own_nodes(fn.node):
            if isinstance(sub, ast.Attribute):
                refs.append(_Ref(fn, sub.lineno, frozenset(), attribute=sub.attr))
                if id(sub) in inside_chain:
                    continue
                # The whole chain a.b.c is one use; its parts are not uses of their own.
                part = sub.value
                while isinstance(part, ast.Attribute):
                    inside_chain.add(id(part))
                    part = part.value
                if isinstance(part, ast.Name):
                    inside_chain.add(id(part))
                targets = self.resolve(sub, fn)
                if targets:
                    refs.append(_Ref(fn, sub.lineno, frozenset(targets)))
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                if id(sub) not in inside_chain:
                    refs.append(_Ref(fn, sub.lineno, frozenset(self.resolve_name(sub.id, fn))))
            elif isinstance(sub, ast.Lambda) and id(sub) in self.functions:
                child = self.functions[id(sub)]
                refs.append(_Ref(fn, sub.lineno, frozenset({_Target("function", child.name,
                                                                    fn=child)})))
        self._references[id(fn)] = refs
        return refs

    def reach(self, target: _Function) -> list[_Function]:
        """`target`, the notebook functions it uses (transitively) and the functions
        defined inside any of them, in the order they are found."""
        order, seen = [target], {id(target)}
        for fn in order:
            found = [t.fn for ref in self.references(fn) for t in ref.targets
                     if t.kind == "function"] + fn.children
            for other in found:
                if id(other) not in seen:
                    seen.add(id(other))
                    order.append(other)
        return order

    def place(self, fn: _Function, line: int) -> str:
        return f"{self.labels[fn.cell]}, line {line}"


def _who(fn: _Function, target: _Function, verb: str) -> str:
    while fn.inline and fn.parent is not None:  # a lambda is part of the function it is in
        fn = fn.parent
    return f"it {verb}" if fn is target else f"its helper {fn.name} {verb}"


# --- the checks -----------------------------------------------------------------------------

def _import_problem(notebook, target, reached, refs, module: str) -> str | None:
    name = target.name
    for fn in reached:
        for sub in _own_nodes(fn.node):
            imported = _imported_modules(sub)
            if any(_under(m, module) for m in imported):
                return (f"{name} must not use {module}, but {_who(fn, target, 'imports')} it "
                        f"({notebook.place(fn, sub.lineno)})")
            if isinstance(sub, ast.Call) and sub.args and isinstance(sub.args[0], ast.Constant):
                called = {t.name for t in notebook.resolve(sub.func, fn)}
                literal = sub.args[0].value
                if (called & {"builtins.__import__", "importlib.import_module"}
                        and isinstance(literal, str) and _under(literal, module)):
                    return (f"{name} must not use {module}, but {_who(fn, target, 'imports')} "
                            f"it ({notebook.place(fn, sub.lineno)})")
    for ref in refs:
        for t in ref.targets:
            if t.kind == "qualified" and _under(t.name, module) and t.origin is not None:
                _, line, text, cell = t.origin
                return (f"{name} must not use {module}, but {_who(ref.owner, target, 'does')} "
                        f"({notebook.place(ref.owner, ref.line)}; `{text}` is in "
                        f"{notebook.labels[cell]}, line {line})")
    return None


def _imported_modules(node) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module] + [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
    return []


def _first_loop(notebook, fn: _Function):
    for sub in _own_nodes(fn.node):
        if type(sub) in _LOOP_NODES:
            return f"has {_LOOP_NODES[type(sub)]}", sub.lineno
        if isinstance(sub, ast.Call):
            for t in notebook.resolve(sub.func, fn):
                if t.kind == "qualified" and t.name in LOOP_CALLS:
                    return f"calls {LOOP_CALLS[t.name]}, a loop over the items", sub.lineno
    return None


def _recursion_problem(notebook, target: _Function) -> str | None:
    """The first cycle of uses among the functions `target` reaches, in words."""
    path, on_path, done = [], set(), set()

    def visit(fn):
        path.append(fn)
        on_path.add(id(fn))
        for ref in notebook.references(fn):
            for t in ref.targets:
                if t.kind != "function":
                    continue
                if id(t.fn) in on_path:
                    cycle = path[[id(f) for f in path].index(id(t.fn)):] + [t.fn]
                    return cycle, ref
                if id(t.fn) not in done:
                    found = visit(t.fn)
                    if found:
                        return found
        path.pop()
        on_path.discard(id(fn))
        done.add(id(fn))
        return None

    found = visit(target)
    if not found:
        return None
    cycle, ref = found
    where = notebook.place(ref.owner, ref.line)
    names = " → ".join(fn.name for fn in cycle)
    if len(cycle) == 2:
        subject = "it" if cycle[0] is target else f"its helper {cycle[0].name}"
        return f"{target.name} must not be recursive, but {subject} calls itself ({where})"
    if cycle[0] is target:
        return f"{target.name} must not be recursive, but it calls itself through {names} ({where})"
    return (f"{target.name} must not be recursive, but its helpers call each other in a cycle, "
            f"{names} ({where})")


# --- syntax-tree helpers --------------------------------------------------------------------

def _own_nodes(node):
    """The nodes of a function's own code, in source order: the body, without the bodies of
    functions and lambdas defined in it (their defaults and decorators are included: they
    run here)."""
    stack = [node.body] if isinstance(node, ast.Lambda) else list(reversed(node.body))
    while stack:
        sub = stack.pop()
        yield sub
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
            children = sub.decorator_list + sub.args.defaults + [d for d in sub.args.kw_defaults
                                                                 if d is not None]
        elif isinstance(sub, ast.Lambda):
            children = sub.args.defaults + [d for d in sub.args.kw_defaults if d is not None]
        else:
            children = list(ast.iter_child_nodes(sub))
        stack.extend(reversed(children))


def _assigned_targets(node) -> list:
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
        return [node.target]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [item.optional_vars for item in node.items if item.optional_vars is not None]
    return []


def _attribute_chain(node):
    """``a.b.c`` as ("a", "b.c"); None when the chain does not start at a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or not parts:
        return None
    return node.id, ".".join(reversed(parts))
