"""Student names as the tester sees them: plain data, or stubs that call into the sandbox.

An instructor's test runs in the tester with globals :class:`TesterNamespace`.
A name the test (or the instructor's setup) bound is the tester's own; any
other name is looked up in the student process and comes back as plain data
(a number, a list, an array, a DataFrame, ...) or, for a function, a class or
any other object, as a stub: calling :class:`RemoteFunction`, iterating a
:class:`RemoteObject`, ``next()`` on a student's generator are requests to the
student process, answered with plain data again. A stub never compares equal
to anything but itself: a rigged ``__eq__`` stays in the student's process.

Assignments and ``del`` of a student's name go to the student's namespace (as
they would in one Jupyter kernel): nbgrader's own "sum_of_squares must call
squares" test deletes ``squares``, checks for a NameError, and puts it back.

Exceptions student code raises are raised in the tester as the same built-in
type (a student's ``class Oops(ValueError)`` as a subclass of ``ValueError``
and :class:`~labtools.grading.student_error.StudentError`), so
``try: ... except ValueError`` and ``pytest.raises`` work in tests.
"""

from __future__ import annotations

import builtins
import importlib

from labtools.grading import wire
from labtools.grading.student import RemoteRaised
from labtools.grading.student_error import StudentError

__all__ = ["TesterNamespace", "RemoteFunction", "RemoteObject", "materialize", "exception_from"]

_NOT_MAPPED = (SystemExit, KeyboardInterrupt, GeneratorExit)


def exception_from(error: wire.RemoteException) -> BaseException:
    """The exception to raise in the tester for one the student's code raised.

    Examples
    --------
    >>> error = exception_from(wire.RemoteException("ValueError", "n must be >= 1"))
    >>> isinstance(error, ValueError), str(error)
    (True, 'n must be >= 1')
    >>> error = exception_from(wire.RemoteException("Oops", "bad", bases=("ValueError",)))
    >>> isinstance(error, ValueError), isinstance(error, StudentError), type(error).__name__
    (True, True, 'Oops')
    """
    builtin = getattr(builtins, error.type_name, None)
    if isinstance(builtin, type) and issubclass(builtin, BaseException) \
            and not issubclass(builtin, _NOT_MAPPED):
        try:
            exception = builtin(error.message)
            exception.student_error = StudentError(error.type_name, error.message, error.where)
            return exception
        except TypeError:  # e.g. UnicodeDecodeError needs five arguments
            pass
    base = next((getattr(builtins, name) for name in error.bases
                 if isinstance(getattr(builtins, name, None), type)
                 and issubclass(getattr(builtins, name), Exception)
                 and not issubclass(getattr(builtins, name), _NOT_MAPPED)), Exception)
    kind = StudentError if base is Exception else type(error.type_name, (StudentError, base), {})
    exception = kind.__new__(kind)
    StudentError.__init__(exception, error.type_name, error.message, error.where)
    return exception


class _Remote:
    """A student object held by handle; every use is a request to the student process."""

    __slots__ = ("_labtools_handle", "_labtools_student", "_labtools_modules")

    def __init__(self, handle: wire.Handle, student, modules=frozenset()):
        object.__setattr__(self, "_labtools_handle", handle)
        object.__setattr__(self, "_labtools_student", student)
        object.__setattr__(self, "_labtools_modules", modules)

    def _ask(self, op, **fields):
        try:
            value = self._labtools_student.request(op, id=self._labtools_handle.id, **fields)
        except RemoteRaised as raised:
            raise exception_from(raised.error) from None
        return materialize(value, self._labtools_student, self._labtools_modules)

    def __call__(self, *args, **kwargs):
        try:
            sent_args, sent_kwargs = wire.encode(list(args)), wire.encode(dict(kwargs))
        except TypeError as err:
            raise TypeError(f"cannot pass this to the student's {self._describe()}: {err}") from None
        return self._ask("call", args=sent_args, kwargs=sent_kwargs)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._ask("attr", name=name)

    def __setattr__(self, name, value):
        raise TypeError(f"cannot change attributes of the student's {self._describe()} from a test")

    def __iter__(self):
        iterator = self._ask("iter")
        return iterator if isinstance(iterator, _Remote) else builtins.iter(iterator)

    def __next__(self):
        return self._ask("next")

    def __len__(self):
        return self._ask("len")

    def __getitem__(self, key):
        try:
            sent = wire.encode(key)
        except TypeError as err:
            raise TypeError(f"cannot index the student's {self._describe()} with this: {err}") from None
        return self._ask("item", key=sent)

    def __bool__(self):
        return bool(self._ask("bool"))

    def __repr__(self):
        return str(self._ask("repr"))

    def __str__(self):
        return str(self._ask("str"))

    # Identity only: the student's __eq__/__hash__ never run in the tester.
    def __eq__(self, other):
        return isinstance(other, _Remote) and other._labtools_handle.id == self._labtools_handle.id

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(("labtools-remote", self._labtools_handle.id))

    def _describe(self) -> str:
        handle = self._labtools_handle
        return f"{handle.kind} {handle.name or handle.type_name}".strip()


class RemoteFunction(_Remote):
    """A student's function (or class): calling it runs it in the sandbox."""

    __slots__ = ()

    @property
    def __name__(self):
        return self._labtools_handle.name


class RemoteObject(_Remote):
    """Any other student object (generator, instance of a student's class, ...)."""

    __slots__ = ()


def materialize(value, student, modules=frozenset()):
    """Replace handles in a decoded answer by stubs (modules by the tester's own import).

    A student's module binding (``import numpy as np`` in their notebook) becomes
    the tester's own import of that module when the instructor's notebook
    imports it too (`modules`); any other module stays a stub.
    """
    if isinstance(value, wire.Handle):
        if value.kind == "module" and value.name.split(".")[0] in modules:
            try:
                return importlib.import_module(value.name)
            except ImportError:
                pass
        kind = RemoteFunction if value.kind in ("function", "class") else RemoteObject
        return kind(value, student, modules)
    if type(value) is list:
        return [materialize(v, student, modules) for v in value]
    if type(value) is tuple:
        return tuple(materialize(v, student, modules) for v in value)
    if type(value) is dict:
        return {k: materialize(v, student, modules) for k, v in value.items()}
    return value


class TesterNamespace(dict):
    """The globals of instructor tests: own names first, then the student's, live.

    Reads of a name the tester does not hold go to the student process (top-level
    code and functions defined in tests alike: CPython looks globals up through
    ``__getitem__`` when they are not an exact dict), except built-in names, which
    stay Python's unless listed in `shadowable`. Writes and deletes of a name the
    student has go to the student's namespace.
    """

    def __init__(self, student, modules=frozenset(), own=None, shadowable=frozenset()):
        super().__init__(own or {})
        self.setdefault("__builtins__", builtins)
        self.setdefault("__name__", "__main__")
        self._student, self._modules = student, frozenset(modules)
        self._student_names: set[str] = set()
        # A student's `def isinstance(*a): return True` must not answer the instructor's
        # `isinstance(x, int)`: built-in names stay built-in in tests, unless the
        # instructor's own notebook binds them (an exercise that asks for `sum`).
        self._builtins = frozenset(n for n in dir(builtins) if not n.startswith("_")) \
            - frozenset(shadowable)

    def __getitem__(self, name):
        try:
            return dict.__getitem__(self, name)
        except KeyError:
            pass
        if not isinstance(name, str) or name.startswith("__") or name in self._builtins:
            raise KeyError(name)
        try:
            value = self._student.get(name)
        except RemoteRaised:
            raise KeyError(name) from None
        self._student_names.add(name)
        return materialize(value, self._student, self._modules)

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name):
        return dict.__contains__(self, name) or self.get(name, _MISSING) is not _MISSING

    def _student_has(self, name) -> bool:
        if dict.__contains__(self, name) or not isinstance(name, str) or name.startswith("__") \
                or name in self._builtins:
            return False
        if name in self._student_names:
            return True
        try:
            self._student.get(name)
        except RemoteRaised:
            return False
        return True

    def __setitem__(self, name, value):
        if self._student_has(name):
            try:
                encoded = wire.encode(value)
            except TypeError:  # not plain data: the tester keeps it and shadows the student's
                dict.__setitem__(self, name, value)
                return
            try:
                self._student.request("set", name=name, value=encoded)
            except RemoteRaised as raised:
                raise exception_from(raised.error) from None
            return
        dict.__setitem__(self, name, value)

    def __delitem__(self, name):
        if dict.__contains__(self, name):
            dict.__delitem__(self, name)
            return
        if self._student_has(name):
            try:
                self._student.request("del", name=name)
            except RemoteRaised as raised:
                raise exception_from(raised.error) from None
            return
        raise KeyError(name)


_MISSING = object()
