"""Plain data between the tester and the sandboxed student process: JSON, nothing else.

Everything that crosses is rebuilt from JSON by :func:`decode`, which only ever
creates plain objects: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``,
``list``, ``tuple``, ``dict``, ``set``, ``frozenset``, ``complex``, numpy arrays
and scalars of numeric dtypes, pandas ``Series``/``DataFrame``/``Index`` and torch
tensors (rebuilt from their numpy data), plus two kinds of markers:

* ``{"t": "handle", ...}``: a student object that is not plain data (a function,
  a generator, an instance of a student's class). The tester only gets a
  :class:`Handle`; :mod:`labtools.grading.stubs` wraps it in a stub whose
  every use is a call into the sandbox. A subclass of ``int`` or ``list`` with a
  rigged ``__eq__`` is such an object: only exact built-in types travel as data.
* ``{"t": "exc", ...}``: an exception the student's code raised (type name and
  message), rebuilt by the tester as a built-in exception or
  :class:`~labtools.grading.student_error.StudentError`.

The student process writes the same format with its own encoder
(``_child.py`` cannot import labtools); since it is the student's process, its
output is never trusted: malformed input raises :class:`WireError`.

Examples
--------
>>> import numpy as np
>>> decode(encode({"a": (1, 2.5), 3: [np.arange(3)]}))
{'a': (1, 2.5), 3: [array([0, 1, 2])]}
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["WireError", "Handle", "RemoteException", "encode", "decode", "ALLOWED_DTYPES"]

ALLOWED_DTYPES = frozenset({
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
})
MAX_DEPTH = 32
MAX_ITEMS = 1_000_000


class WireError(ValueError):
    """What the student process sent is not in the expected format."""


@dataclass(frozen=True)
class Handle:
    """A reference to an object that stays in the student process.

    ``kind`` is ``"function"``, ``"class"``, ``"module"`` or ``"object"``;
    ``type_name`` and ``name`` are for messages only (the student wrote them).
    """

    id: int
    kind: str
    type_name: str = ""
    name: str = ""


@dataclass(frozen=True)
class RemoteException:
    """An exception raised by student code: its type name, message and where it happened."""

    type_name: str
    message: str
    where: str | None = None
    bases: tuple = ()


def encode(value, depth: int = 0):
    """A JSON-ready form of a plain value (tester -> student: arguments and assignments).

    Raises
    ------
    TypeError
        `value` is not plain data (a function of the tester, an open file, ...).
    """
    if depth > MAX_DEPTH:
        raise TypeError("the value is nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"t": "float", "v": repr(value)}
    if isinstance(value, Handle):
        return {"t": "ref", "id": value.id}
    if hasattr(value, "_labtools_handle"):  # a stub of a student object, passed back
        return {"t": "ref", "id": value._labtools_handle.id}
    if kind is list:
        return [encode(v, depth + 1) for v in value]
    if kind in (tuple, set, frozenset):
        return {"t": kind.__name__, "v": [encode(v, depth + 1) for v in value]}
    if kind is dict:
        return {"t": "dict", "k": [encode(k, depth + 1) for k in value],
                "v": [encode(v, depth + 1) for v in value.values()]}
    if kind is complex:
        return {"t": "complex", "v": [value.real, value.imag]}
    if kind is bytes:
        return {"t": "bytes", "v": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (np.ndarray, np.generic)) and type(value).__module__ == "numpy":
        return _encode_array(np.asarray(value), scalar=isinstance(value, np.generic))
    module = kind.__module__.split(".")[0]
    if module == "pandas":
        return _encode_pandas(value, depth)
    if module == "torch" and kind.__name__ == "Tensor":
        return {"t": "torch", "v": _encode_array(value.detach().cpu().numpy())}
    raise TypeError(f"a {kind.__name__} cannot be sent to student code (plain data only)")


def _encode_array(array: np.ndarray, scalar: bool = False) -> dict:
    if array.dtype.name not in ALLOWED_DTYPES:
        if array.dtype.kind in "OUS":  # strings and objects travel item by item
            return {"t": "ndobj", "shape": list(array.shape),
                    "v": [encode(item) for item in array.ravel().tolist()]}
        raise TypeError(f"arrays of dtype {array.dtype} cannot be sent")
    # Not np.ascontiguousarray: it turns a 0-d value into shape (1,).
    data = np.array(array, order="C", copy=True)
    return {"t": "scalar" if scalar else "nd", "dtype": data.dtype.name, "shape": list(data.shape),
            "v": base64.b64encode(data.tobytes()).decode("ascii")}


def _encode_pandas(value, depth: int) -> dict:
    import pandas as pd

    if type(value) is pd.Series:
        return {"t": "series", "name": encode(value.name, depth + 1),
                "index": _encode_pandas(value.index, depth), "dtype": str(value.dtype),
                "v": encode(value.to_numpy(), depth + 1)}
    if type(value) is pd.DataFrame:
        return {"t": "frame", "index": _encode_pandas(value.index, depth),
                "columns": [encode(c, depth + 1) for c in value.columns],
                "v": [_encode_pandas(value.iloc[:, i], depth) for i in range(value.shape[1])]}
    if isinstance(value, pd.Index) and not isinstance(value, pd.MultiIndex):
        if isinstance(value, pd.RangeIndex):
            return {"t": "range", "v": [value.start, value.stop, value.step],
                    "name": encode(value.name, depth + 1)}
        return {"t": "index", "name": encode(value.name, depth + 1), "dtype": str(value.dtype),
                "v": encode(value.to_numpy(), depth + 1)}
    raise TypeError(f"a pandas {type(value).__name__} cannot be sent")


def decode(value, depth: int = 0):
    """Rebuild a value written by :func:`encode` or by the student process, refusing anything else.

    Examples
    --------
    >>> decode({"t": "nd", "dtype": "object", "shape": [1], "v": ""})
    Traceback (most recent call last):
    ...
    labtools.grading.wire.WireError: arrays of dtype 'object' are not accepted
    """
    if depth > MAX_DEPTH:
        raise WireError("the value is nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is list:
        _check_size(value)
        return [decode(v, depth + 1) for v in value]
    if kind is not dict:
        raise WireError(f"unexpected {kind.__name__}")
    tag = value.get("t")
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise WireError(f"unexpected value tag {str(tag)[:20]!r}")
    try:
        return decoder(value, depth + 1)
    except (KeyError, TypeError, IndexError, AttributeError) as err:
        raise WireError(f"malformed {tag}: {type(err).__name__}") from None


def _check_size(items) -> None:
    if type(items) is not list:
        raise WireError("expected a list")
    if len(items) > MAX_ITEMS:
        raise WireError(f"more than {MAX_ITEMS} items")


def _items(value, depth):
    _check_size(value["v"])
    return [decode(v, depth) for v in value["v"]]


def _decode_dict(value, depth):
    keys = [decode(k, depth) for k in _checked(value["k"])]
    values = _items(value, depth)
    if len(keys) != len(values):
        raise WireError("malformed dict")
    try:
        return dict(zip(keys, values))
    except TypeError:
        raise WireError("a dict key is not hashable") from None


def _checked(items):
    _check_size(items)
    return items


def _decode_array(value, depth) -> np.ndarray:
    dtype, shape, data = value["dtype"], value["shape"], value["v"]
    if dtype not in ALLOWED_DTYPES:
        raise WireError(f"arrays of dtype {dtype!r} are not accepted")
    if not (type(shape) is list and len(shape) <= 32
            and all(type(n) is int and n >= 0 for n in shape)):
        raise WireError("malformed array shape")
    if type(data) is not str:
        raise WireError("malformed array data")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise WireError("array data is not base64") from None
    if len(raw) != math.prod(shape) * np.dtype(dtype).itemsize:
        raise WireError(f"array data does not fit shape {tuple(shape)} and dtype {dtype}")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    return array[()] if value["t"] == "scalar" else array


def _decode_object_array(value, depth) -> np.ndarray:
    shape = value["shape"]
    items = _items(value, depth)
    if not (type(shape) is list and all(type(n) is int and n >= 0 for n in shape)) \
            or math.prod(shape) != len(items):
        raise WireError("malformed array")
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array.reshape(shape)


def _decode_float(value, depth) -> float:
    if value["v"] not in ("nan", "inf", "-inf"):
        raise WireError("malformed float")
    return float(value["v"])


def _decode_complex(value, depth) -> complex:
    real, imag = value["v"]
    if type(real) not in (int, float) or type(imag) not in (int, float):
        raise WireError("malformed complex")
    return complex(real, imag)


def _decode_bytes(value, depth) -> bytes:
    try:
        return base64.b64decode(str(value["v"]).encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise WireError("malformed bytes") from None


def _decode_series(value, depth):
    import pandas as pd

    data = decode(value["v"], depth)
    index = decode(value["index"], depth)
    series = pd.Series(data, index=index, name=decode(value["name"], depth))
    return _with_dtype(series, value.get("dtype"))


def _with_dtype(series, dtype):
    if isinstance(dtype, str) and dtype != str(series.dtype):
        try:
            return series.astype(dtype)
        except (TypeError, ValueError):
            pass
    return series


def _decode_frame(value, depth):
    import pandas as pd

    columns = [decode(c, depth) for c in _checked(value["columns"])]
    series = [decode(s, depth) for s in _checked(value["v"])]
    if len(columns) != len(series) or not all(isinstance(s, pd.Series) for s in series):
        raise WireError("malformed DataFrame")
    index = decode(value["index"], depth)
    frame = pd.DataFrame({i: s.to_numpy() for i, s in enumerate(series)}, index=index)
    frame.columns = pd.Index(columns)
    for i, s in enumerate(series):
        frame[frame.columns[i]] = s.set_axis(index).astype(s.dtype)
    return frame


def _decode_index(value, depth):
    import pandas as pd

    index = pd.Index(decode(value["v"], depth), name=decode(value["name"], depth))
    dtype = value.get("dtype")
    if isinstance(dtype, str) and dtype != str(index.dtype):
        try:
            index = index.astype(dtype)
        except (TypeError, ValueError):
            pass
    return index


def _decode_range(value, depth):
    import pandas as pd

    start, stop, step = value["v"]
    if not all(type(n) is int for n in (start, stop, step)) or step == 0:
        raise WireError("malformed RangeIndex")
    return pd.RangeIndex(start, stop, step, name=decode(value["name"], depth))


def _decode_torch(value, depth):
    array = decode(value["v"], depth)
    try:
        import torch
    except ImportError:  # a tester without torch still gets the numbers
        return array
    return torch.from_numpy(np.asarray(array))


def _decode_handle(value, depth) -> Handle:
    if type(value["id"]) is not int:
        raise WireError("malformed handle")
    return Handle(value["id"], str(value.get("kind", "object"))[:20],
                  str(value.get("type", ""))[:100], str(value.get("name", ""))[:100])


def _decode_exception(value, depth) -> RemoteException:
    bases = value.get("bases", [])
    bases = tuple(str(b)[:60] for b in bases[:20]) if type(bases) is list else ()
    where = value.get("where")
    return RemoteException(str(value["type"])[:100], str(value.get("message", ""))[:2000],
                           str(where)[:200] if where is not None else None, bases)


_DECODERS = {
    "float": _decode_float,
    "tuple": lambda v, d: tuple(_items(v, d)),
    "set": lambda v, d: set(_items(v, d)),
    "frozenset": lambda v, d: frozenset(_items(v, d)),
    "dict": _decode_dict,
    "complex": _decode_complex,
    "bytes": _decode_bytes,
    "nd": _decode_array,
    "scalar": _decode_array,
    "ndobj": _decode_object_array,
    "series": _decode_series,
    "frame": _decode_frame,
    "index": _decode_index,
    "range": _decode_range,
    "torch": _decode_torch,
    "handle": _decode_handle,
    "exc": _decode_exception,
}
