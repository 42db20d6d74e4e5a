"""Case tables: the instructor writes each call of a graded function, and what it must give.

A case table is the ``cases`` array of one ``[[functions]]`` entry in
``assignment.toml``. It suits functions of anything TOML can write (numbers,
strings, booleans, lists, tables as dicts, nested), where the built-in random
generators (:mod:`labtools.grading.cases`) do not fit::

    [[functions]]
    name = "squares"
    points = 2
    reference = "reference.py:squares"     # optional when every row has expect/raises
    cases = [
      { args = [3], expect = [1, 4, 9] },
      { args = [0], raises = "ValueError", hint = "n < 1 must raise ValueError" },
      { args = [2], kwargs = { start = 0 } },   # expected from the reference
    ]

Row keys: ``args`` (positional arguments, a list; default none), ``kwargs``
(keyword arguments, a table), at most one of ``expect`` (the value the call
must return) and ``raises`` (the name of the exception type the call must
raise; a subclass also passes), ``hint`` (shown to a student who fails the
row) and ``label`` (words for the feedback instead of the call itself).

Feedback names a case by its call, written short (:func:`call_text`):
``squares(0)``, ``dice(array of shape (16, 16), bool, ...)``.
:func:`labtools.grading.compare.compare` compares an expected value of any of
these kinds with the student's answer.
"""

from __future__ import annotations

import math
import re

import numpy as np

from labtools.errors import AssignmentError
from labtools.grading.cases import NO_EXPECT, Case

__all__ = ["table_cases", "needs_reference", "call_text", "short_repr"]

ROW_KEYS = ("args", "kwargs", "expect", "raises", "hint", "label")
# A type name as Python prints it: "ValueError", "numpy.linalg.LinAlgError".
_TYPE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def table_cases(entries, *, where: str, name: str | None = None,
                has_reference: bool = True) -> list[Case]:
    """The cases of a ``cases = [...]`` table, checked.

    Parameters
    ----------
    entries : list of dict
        The TOML array of inline tables, as ``tomllib`` reads it.
    where : str
        Where the table is, for error messages: "assignment.toml [[functions]] squares".
    name : str, optional
        The graded function's name, for the labels ("squares(3)"). By default
        the last word of `where` when it is a Python name, else "f".
    has_reference : bool
        Whether the function has a reference to compute the expected value of
        rows that give neither ``expect`` nor ``raises``.

    Returns
    -------
    list of Case
        In table order. ``expect`` is :data:`~labtools.grading.cases.NO_EXPECT`
        where the row leaves it to the reference.

    Raises
    ------
    AssignmentError
        The table or a row is malformed; the message names the row (from 1)
        and says what to write.

    Examples
    --------
    >>> cases = table_cases([{"args": [3], "expect": [1, 4, 9]},
    ...                      {"args": [0], "raises": "ValueError", "hint": "n < 1 must raise"},
    ...                      {"args": [2], "kwargs": {"start": 0}}],
    ...                     where="[[functions]] squares")
    >>> [c.label for c in cases]
    ['squares(3)', 'squares(0)', 'squares(2, start=0)']
    >>> cases[0].expect, cases[1].raises, cases[1].hint, needs_reference(cases)
    ([1, 4, 9], 'ValueError', 'n < 1 must raise', True)
    >>> table_cases([{"args": 3}], where="[[functions]] squares")
    Traceback (most recent call last):
    ...
    labtools.errors.AssignmentError: [[functions]] squares cases row 1: args must be a list of positional arguments, e.g. args = [3] (got 3)
    """
    if name is None:
        last = where.split()[-1] if where.split() else ""
        name = last if last.isidentifier() else "f"
    if not isinstance(entries, list) or not entries:
        raise AssignmentError(f"{where}: cases must be a non-empty list of tables, e.g. "
                              "cases = [{ args = [3], expect = [1, 4, 9] }]")
    return [parse_row(entry, where=f"{where} cases row {number}", name=name,
                      has_reference=has_reference)
            for number, entry in enumerate(entries, start=1)]


def needs_reference(cases) -> bool:
    """Whether some case leaves its expected value to the reference (no expect, no raises)."""
    return any(case.expect is NO_EXPECT and case.raises is None for case in cases)


def parse_row(entry, *, where: str, name: str, has_reference: bool = True,
              args_kinds: tuple = (list,)) -> Case:
    """One row of a case table (or one case of an instructor's generator) as a :class:`Case`.

    `args_kinds` are the accepted types of ``args``: TOML only has lists,
    Python generators may give tuples too.
    """
    if not isinstance(entry, dict):
        raise AssignmentError(f"{where} must be a table such as {{ args = [3], expect = 9 }}, "
                              f"got {short_repr(entry)}")
    unknown = sorted(set(entry) - set(ROW_KEYS))
    if unknown:
        raise AssignmentError(f"{where}: unknown key(s) {unknown}; a row may have "
                              f"{', '.join(ROW_KEYS)}")
    args = entry.get("args", [])
    if not isinstance(args, args_kinds):
        raise AssignmentError(f"{where}: args must be a list of positional arguments, e.g. "
                              f"args = [3] (got {short_repr(args)})")
    kwargs = entry.get("kwargs", {})
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) and k.isidentifier()
                                               for k in kwargs):
        raise AssignmentError(f"{where}: kwargs must be a table of keyword arguments, e.g. "
                              f"kwargs = {{ start = 0 }} (got {short_repr(kwargs)})")
    if "expect" in entry and "raises" in entry:
        raise AssignmentError(f"{where} gives both expect and raises; a call either returns a "
                              "value or raises: keep one")
    raises = entry.get("raises")
    if raises is not None and not (isinstance(raises, str) and _TYPE_NAME.match(raises)):
        raise AssignmentError(f"{where}: raises must name an exception type, e.g. "
                              f'raises = "ValueError" (got {short_repr(raises)})')
    if raises is not None:
        _check_exception_name(raises, where)
    for key in ("hint", "label"):
        if key in entry and not isinstance(entry[key], str):
            raise AssignmentError(f"{where}: {key} must be a string, got {short_repr(entry[key])}")
    if not has_reference and "expect" not in entry and raises is None:
        raise AssignmentError(f"{where} gives neither expect nor raises, and {name} has no "
                              "reference to compute it: add expect = ... (or raises = ...) to "
                              "the row, or a reference to the function")
    args = tuple(args)
    return Case(args, entry.get("label") or call_text(name, args, kwargs), None,
                kwargs=dict(kwargs), expect=entry.get("expect", NO_EXPECT), raises=raises,
                hint=entry.get("hint"))


def _check_exception_name(text: str, where: str) -> None:
    import builtins

    # A bare name Python defines must be an exception: raises = "print" is a slip.
    value = getattr(builtins, text, None)
    if "." not in text and value is not None and not (
            isinstance(value, type) and issubclass(value, BaseException)):
        raise AssignmentError(f"{where}: raises = {text!r} is not an exception type; write "
                              'the name of one, e.g. raises = "ValueError"')


# --- words for feedback ---------------------------------------------------------------------

def call_text(name: str, args=(), kwargs=None, *, limit: int = 120) -> str:
    """A call written short for feedback: ``squares(0)``, ``f(array of shape (4, 4), bool)``.

    Examples
    --------
    >>> import numpy as np
    >>> call_text("squares", (0,))
    'squares(0)'
    >>> mask = np.zeros((16, 16), bool)
    >>> call_text("dice", (mask, mask), {"spacing": (1.0, 2.0)})
    'dice(array of shape (16, 16), bool, array of shape (16, 16), bool, spacing=(1.0, 2.0))'
    >>> call_text("total", (list(range(100)),))
    'total([0, 1, 2, 3, 4, 5, 6, 7, ...] (100 items))'
    """
    parts = [short_repr(value) for value in args]
    parts += [f"{key}={short_repr(value)}" for key, value in (kwargs or {}).items()]
    text = f"{name}({', '.join(parts)})"
    return text if len(text) <= limit else text[: limit - 4] + "...)"


def short_repr(value, width: int = 40) -> str:
    """A value in at most about `width` characters: arrays by shape and dtype, long
    lists and strings cut.

    Examples
    --------
    >>> import numpy as np
    >>> short_repr(np.zeros((2, 3), np.float32)), short_repr("x" * 50)
    ('array of shape (2, 3), float32', "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'")
    >>> short_repr({"a": [1, 2], "b": None}), short_repr(float("nan")), short_repr(np.float64(0.5))
    ("{'a': [1, 2], 'b': None}", 'nan', '0.5')
    """
    if isinstance(value, np.generic):
        value = value.item()
    if hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, type):
        shape = tuple(int(s) for s in value.shape)
        if not shape and isinstance(value, np.ndarray):
            return short_repr(value.item(), width)
        kind = "array" if isinstance(value, np.ndarray) else type(value).__name__
        return f"{kind} of shape {shape}, {value.dtype}"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # 'nan', 'inf': what students print, and readable
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return _short_collection(value, width)
    text = repr(value)
    if len(text) <= width:
        return text
    quote = text[-1] if text[-1] in "'\"" else ""  # keep a cut string looking like one
    return text[: width - 4] + "..." + quote


def _short_collection(value, width: int) -> str:
    if isinstance(value, dict):
        items = [f"{short_repr(k, width)}: {short_repr(v, width)}" for k, v in value.items()]
        opening, closing = "{", "}"
    else:
        items = [short_repr(v, width) for v in value]
        if isinstance(value, list):
            opening, closing = "[", "]"
        elif isinstance(value, tuple):
            opening, closing = "(", ")"
            if len(items) == 1:
                items[0] += ","  # (3,) is a tuple, (3) is not
        else:
            opening, closing = ("{", "}") if value else ("set(", ")")
    shown, used = [], 0
    for item in items:
        if used + len(item) > width and shown:
            break
        shown.append(item)
        used += len(item) + 2
    if len(shown) == len(items):
        return opening + ", ".join(shown) + closing
    return f"{opening}{', '.join(shown)}, ...{closing} ({len(items)} items)"


# --- comparison of any value ----------------------------------------------------------------
