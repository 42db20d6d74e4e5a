"""What the tester sees when student code raised: the exception's type name, message and place.

Student code runs in the sandboxed process; the trusted tester process only
gets plain data back. When the student's function raised, the tester's stub
raises a :class:`StudentError` carrying the *name* of the exception type
("ValueError"), never the object itself: unpickling an object built by student
code would run student code in the trusted process.

Because only the name crosses, "did it raise a ValueError?" is answered by
name, with the built-in exception hierarchy resolved through :mod:`builtins`
(a ``ZeroDivisionError`` is an ``ArithmeticError``). Names Python does not
define (``LinAlgError``, a student's own class) match only themselves, unless
the tester also sent the names of the type's base classes.

Examples
--------
>>> err = StudentError("ZeroDivisionError", "division by zero", where="cell 3, line 2")
>>> err.matches("ArithmeticError"), err.matches("ValueError")
(True, False)
>>> str(err)
'ZeroDivisionError: division by zero (cell 3, line 2)'
"""

from __future__ import annotations

import builtins

__all__ = ["StudentError", "exception_matches", "exception_text"]


class StudentError(Exception):
    """Student code raised an exception of type ``type_name`` with ``message``.

    Parameters
    ----------
    type_name : str
        The exception type's name as the sandbox saw it: "ValueError", or a
        qualified name such as "numpy.linalg.LinAlgError".
    message : str
        ``str()`` of the exception.
    where : str or None
        The student's cell and line, when known ("cell 4, line 7").
    bases : tuple of str
        Optional: names of the type's base classes (its ``__mro__``), so that a
        type Python does not define can still match a base ("LinAlgError" is a
        "ValueError"). Without them only the built-in hierarchy is known.
    """

    def __init__(self, type_name: str, message: str = "", where: str | None = None,
                 bases: tuple[str, ...] = ()):
        super().__init__(type_name, message, where)
        self.type_name = type_name
        self.message = message
        self.where = where
        self.bases = tuple(bases)

    def __str__(self) -> str:
        text = f"{self.type_name}: {self.message}" if self.message else self.type_name
        return text + (f" ({self.where})" if self.where else "")

    def __reduce__(self):
        # Exception pickles only its args by default; keep the keywords too.
        return (type(self), (self.type_name, self.message, self.where, self.bases))

    def matches(self, expected_type_name: str) -> bool:
        """Whether this exception is an ``expected_type_name`` (the type or a subclass).

        Examples
        --------
        >>> StudentError("KeyError", "'a'").matches("LookupError")
        True
        >>> StudentError("LinAlgError").matches("ValueError")
        False
        >>> StudentError("LinAlgError", bases=("ValueError", "Exception")).matches("ValueError")
        True
        >>> StudentError("numpy.linalg.LinAlgError").matches("LinAlgError")
        True
        """
        if _name_matches(self.type_name, expected_type_name, self.bases):
            return True
        # The tester may raise a subclass of StudentError and the built-in base the
        # student's class had (class Oops(ValueError) arrives as one): that base counts.
        return any(cls.__module__ == "builtins" and cls.__name__ == expected_type_name
                   for cls in type(self).__mro__)


def exception_matches(error: BaseException, expected) -> bool:
    """Whether `error` (a :class:`StudentError` or any exception) is an `expected`.

    `expected` is a type name ("ArithmeticError", "numpy.linalg.LinAlgError") or
    an exception class. Real exceptions are checked against their class's whole
    hierarchy; a :class:`StudentError` by name (see :meth:`StudentError.matches`).

    Examples
    --------
    >>> exception_matches(ZeroDivisionError(), "ArithmeticError")
    True
    >>> exception_matches(StudentError("TypeError"), ValueError)
    False
    >>> import numpy as np
    >>> exception_matches(np.linalg.LinAlgError(), "ValueError")
    True
    """
    if isinstance(expected, type):
        if not isinstance(error, StudentError):
            return isinstance(error, expected)
        expected = _qualified(expected)
    if isinstance(error, StudentError):
        return error.matches(expected)
    return any(_same_name(_qualified(cls), expected) for cls in type(error).__mro__)


def exception_text(error: BaseException, limit: int = 200) -> str:
    """``"ValueError: n must be at least 1"`` for a student's or the reference's exception.

    Examples
    --------
    >>> exception_text(ValueError("n must be at least 1"))
    'ValueError: n must be at least 1'
    >>> exception_text(StudentError("KeyError", "'x'", where="cell 2, line 5"))
    "KeyError: 'x' (cell 2, line 5)"
    >>> raised = ValueError("n must be at least 1")  # as the tester raises a built-in type
    >>> raised.student_error = StudentError("ValueError", str(raised), where="cell 3, line 2")
    >>> exception_text(raised)
    'ValueError: n must be at least 1 (cell 3, line 2)'
    """
    # The tester raises built-in types as themselves, with the details on .student_error.
    details = getattr(error, "student_error", None)
    if isinstance(error, StudentError) or isinstance(details, StudentError):
        text = str(error if isinstance(error, StudentError) else details)
    else:
        message = str(error)
        text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _qualified(cls: type) -> str:
    # Built-in types keep their bare name: that is how students and toml files write them.
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _builtin_exception(name: str):
    value = getattr(builtins, name, None)
    return value if isinstance(value, type) and issubclass(value, BaseException) else None


def _same_name(actual: str, expected: str) -> bool:
    """Equal names, or equal last parts when one of them is written without its module:
    "LinAlgError" is "numpy.linalg.LinAlgError", but "a.Error" is not "b.Error"."""
    if actual == expected:
        return True
    if "." in actual and "." in expected:
        return False
    return actual.rpartition(".")[2] == expected.rpartition(".")[2]


def _name_matches(raised: str, expected: str, bases: tuple[str, ...] = ()) -> bool:
    raised_type, expected_type = _builtin_exception(raised), _builtin_exception(expected)
    if raised_type is not None and expected_type is not None:
        return issubclass(raised_type, expected_type)
    if raised_type is not None:
        # A built-in type is never a subclass of a type Python does not define.
        return False
    return any(_same_name(name, expected) for name in (raised, *bases))
