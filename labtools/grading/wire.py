"""The data format between the grader and its sandboxed children: JSON only.

Inputs go to the child and answers come back as JSON, with arrays written as
``{"__ndarray__": [dtype, shape, base64 bytes]}``. The grader never unpickles
or runs anything a child sends: :func:`decode` accepts only numbers, strings,
lists and plain numeric arrays, checks sizes, and raises :class:`WireError` on
anything else, which grades the answer as unreadable.
"""

from __future__ import annotations

import base64
import math

import numpy as np

__all__ = ["WireError", "encode", "decode", "ALLOWED_DTYPES"]

ALLOWED_DTYPES = frozenset({
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
})
MAX_DEPTH = 8
MAX_ITEMS = 10_000


class WireError(ValueError):
    """A child's answer is not in the expected format."""


def encode(value):
    """A JSON-ready form of `value` (numbers, arrays, tuples and lists of them).

    Examples
    --------
    >>> import numpy as np
    >>> decode(encode((np.arange(3, dtype=np.uint8), 2.5)))
    [array([0, 1, 2], dtype=uint8), 2.5]
    """
    if isinstance(value, np.ndarray):
        # Not np.ascontiguousarray: it turns a 0-d value (np.float64(0.5)) into shape (1,).
        array = np.array(value, order="C", copy=True)
        return {"__ndarray__": [array.dtype.name, list(array.shape),
                                base64.b64encode(array.tobytes()).decode("ascii")]}
    if isinstance(value, np.generic):
        return encode(np.asarray(value))
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot encode {type(value).__name__}")


def decode(value, depth: int = 0):
    """Rebuild a value written by :func:`encode`, refusing anything else.

    Examples
    --------
    >>> decode({"__ndarray__": ["object", [1], ""]})
    Traceback (most recent call last):
    ...
    labtools.grading.wire.WireError: arrays of dtype 'object' are not accepted
    """
    if depth > MAX_DEPTH:
        raise WireError("the answer is nested too deeply")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise WireError(f"the answer is a list of more than {MAX_ITEMS} items")
        return [decode(item, depth + 1) for item in value]
    if isinstance(value, dict) and set(value) == {"__ndarray__"}:
        return _decode_array(value["__ndarray__"])
    raise WireError(f"unexpected {type(value).__name__} in the answer")


def _decode_array(parts) -> np.ndarray:
    if not (isinstance(parts, list) and len(parts) == 3):
        raise WireError("malformed array")
    dtype, shape, data = parts
    if dtype not in ALLOWED_DTYPES:
        raise WireError(f"arrays of dtype {dtype!r} are not accepted")
    if not (isinstance(shape, list) and len(shape) <= 32
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise WireError("malformed array shape")
    if not isinstance(data, str):
        raise WireError("malformed array data")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise WireError("array data is not base64") from None
    if len(raw) != math.prod(shape) * np.dtype(dtype).itemsize:
        raise WireError(f"array data does not fit shape {tuple(shape)} and dtype {dtype}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
