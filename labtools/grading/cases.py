"""Random test cases for graded functions, drawn from named generator kinds.

``assignment.toml`` names a kind and its parameters, e.g.
``generator = { kind = "mask_pair", shapes = [[16, 16]], edge_cases = ["both_empty"] }``.
Each listed edge case gives one case (in order), the rest are random. Cases
depend only on the assignment's seed and the function's position, so every
student gets the same inputs and the expected values are computed once.
Each case carries a label in words, used in the students' feedback.

Kinds: ``mask_pair`` (two binary masks, optionally a spacing), ``logits_target``
(network logits and integer labels), ``conv_transpose`` (an input, a kernel,
stride and padding of a 2D transposed convolution, or some of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from labtools.errors import AssignmentError

__all__ = ["Case", "NO_EXPECT", "generate_cases", "GENERATORS"]


class _NoExpect:
    """The type of :data:`NO_EXPECT`; pickles to the same object, so ``is`` checks survive a
    trip through another process."""

    def __repr__(self) -> str:
        return "NO_EXPECT"

    def __reduce__(self):
        return "NO_EXPECT"


NO_EXPECT = _NoExpect()
"""``Case.expect`` when the case gives no expected value: the reference computes it.
(``None`` cannot say this: a function may be expected to return None.)"""


@dataclass(frozen=True)
class Case:
    """One set of inputs: positional ``args``, a ``label`` in words, and its edge-case name.

    Cases written by the instructor (a case table, see :mod:`labtools.grading.table`) may
    also carry keyword arguments ``kwargs``, the expected value ``expect`` (else
    :data:`NO_EXPECT`: the reference gives it), the name of the exception the call must
    raise (``raises``) and a ``hint`` shown to students when the case fails.
    """

    args: tuple
    label: str
    edge: str | None = None
    kwargs: dict = field(default_factory=dict)
    expect: object = NO_EXPECT
    raises: str | None = None
    hint: str | None = None


def generate_cases(function, seed: int = 0, position: int = 0) -> list[Case]:
    """The cases of one graded function (a :class:`~labtools.grading.spec.GradedFunction`).

    Examples
    --------
    >>> from labtools.grading.spec import GradedFunction
    >>> f = GradedFunction("dice_score", 1, "labtools.metrics.dice", cases=3,
    ...                    generator={"kind": "mask_pair", "shapes": [[8, 8]],
    ...                               "edge_cases": ["both_empty"]})
    >>> cases = generate_cases(f, seed=1)
    >>> [c.label for c in cases][0], cases[0].args[0].shape, len(cases)
    ('both masks empty; 8×8 bool', (8, 8), 3)
    """
    params = dict(function.generator)
    kind = params.pop("kind")
    if kind not in GENERATORS:
        raise AssignmentError(f"{function.name}: unknown generator kind {kind!r}; known kinds: "
                              f"{sorted(GENERATORS)}")
    rng = np.random.default_rng([seed, position])
    try:
        cases = GENERATORS[kind](rng, function.cases, **params)
    except TypeError as err:
        raise AssignmentError(f"{function.name}: bad parameters for generator {kind!r}: {err}") from None
    return cases[: function.cases]


def _edge_list(edge_cases, known: dict) -> list[str]:
    unknown = sorted(set(edge_cases) - set(known))
    if unknown:
        raise AssignmentError(f"unknown edge case(s) {unknown}; known: {sorted(known)}")
    return list(edge_cases)


def _shape_text(shape) -> str:
    return "×".join(str(s) for s in shape)


# --- binary masks ---------------------------------------------------------------------------

def _blobs(rng, shape, count: int) -> np.ndarray:
    """A union of `count` random ellipsoids (boxes would make distances too regular)."""
    grid = np.indices(shape, dtype=float)
    mask = np.zeros(shape, bool)
    for _ in range(count):
        centre = [rng.uniform(0, s - 1) for s in shape]
        radii = [rng.uniform(1.0, max(1.5, s / 3)) for s in shape]
        mask |= sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1.0
    return mask


def _perturbed(rng, ref: np.ndarray) -> np.ndarray:
    """A prediction near `ref`: shifted by a voxel or two, sometimes grown, shrunk, or with an extra blob."""
    from scipy import ndimage as ndi

    pred = np.zeros_like(ref)
    shift = rng.integers(-2, 3, size=ref.ndim)
    source = tuple(slice(max(0, -d), s - max(0, d)) for d, s in zip(shift, ref.shape))
    target = tuple(slice(max(0, d), s - max(0, -d)) for d, s in zip(shift, ref.shape))
    pred[target] = ref[source]
    change = rng.integers(0, 4)
    if change == 1:
        pred = ndi.binary_dilation(pred)
    elif change == 2:
        pred = ndi.binary_erosion(pred) | (pred & (rng.random(ref.shape) < 0.2))
    elif change == 3:
        pred |= _blobs(rng, ref.shape, 1)
    return pred


def _mask_edge(rng, name: str, shape):
    ref = _blobs(rng, shape, 1)
    while not ref.any():
        ref = _blobs(rng, shape, 1)
    empty, full = np.zeros(shape, bool), np.ones(shape, bool)
    if name == "both_empty":
        return empty, empty.copy()
    if name == "pred_empty":
        return empty, ref
    if name == "ref_empty":
        return ref, empty
    if name == "identical":
        return ref, ref.copy()
    if name == "full":
        return full, full.copy()
    if name == "disjoint":
        low, high = empty.copy(), empty.copy()
        low[tuple(slice(0, max(1, s // 3)) for s in shape)] = True
        high[tuple(slice(s - max(1, s // 3), s) for s in shape)] = True
        return low, high
    if name == "single_voxel":
        a, b = empty.copy(), empty.copy()
        a[tuple(rng.integers(0, s) for s in shape)] = True
        b[tuple(rng.integers(0, s) for s in shape)] = True
        return a, b
    # touching_border: objects cut by the image edge still have a boundary there
    box = empty.copy()
    box[tuple(slice(0, max(2, s // 2)) for s in shape)] = True
    return _perturbed(rng, box), box


_MASK_EDGES = {
    "both_empty": "both masks empty",
    "pred_empty": "prediction empty, reference not",
    "ref_empty": "reference empty, prediction not",
    "identical": "identical masks",
    "full": "both masks full",
    "disjoint": "masks that do not overlap",
    "single_voxel": "one voxel in each mask",
    "touching_border": "masks touching the image border",
}


def mask_pair(rng, n: int, *, shapes, dtypes=("bool",), spacing=None, edge_cases=()) -> list[Case]:
    """Two binary masks ``(pred, ref)``, plus ``spacing`` when a range [low, high] in mm is given."""
    if not shapes or any(len(s) not in (2, 3) or min(s) < 1 for s in shapes):
        raise AssignmentError(f"mask_pair shapes must be 2D or 3D shapes, got {shapes}")
    cases = []
    names = _edge_list(edge_cases, _MASK_EDGES)
    for index in range(n):
        shape = tuple(shapes[index % len(shapes)])
        dtype = np.dtype(dtypes[int(rng.integers(len(dtypes)))])
        if index < len(names):
            pred, ref = _mask_edge(rng, names[index], shape)
            words = _MASK_EDGES[names[index]]
        else:
            ref = _blobs(rng, shape, int(rng.integers(1, 4)))
            pred = _perturbed(rng, ref)
            while not (ref.any() and pred.any()):
                ref = _blobs(rng, shape, int(rng.integers(1, 4)))
                pred = _perturbed(rng, ref)
            words = "random masks"
        args = (pred.astype(dtype), ref.astype(dtype))
        label = f"{words}; {_shape_text(shape)} {dtype}"
        if spacing:
            low, high = spacing
            values = tuple(float(v) for v in np.round(rng.uniform(low, high, len(shape)), 2))
            args += (values,)
            label += f", spacing {values} mm"
        cases.append(Case(args, label, names[index] if index < len(names) else None))
    return cases


# --- logits and labels ----------------------------------------------------------------------

_LOGIT_EDGES = {
    "absent_class": "a class absent from the target",
    "confident": "very confident logits (values near ±1000)",
    "uniform": "all logits zero",
    "single_class": "every target voxel in class 0",
    "three_d": "a 3D volume",
}


def logits_target(rng, n: int, *, shapes, batch=(1, 2), classes=(2, 4), scale=3.0,
                  dtype="float64", edge_cases=()) -> list[Case]:
    """Logits ``(B, C, *spatial)`` and integer labels ``(B, *spatial)`` in [0, C)."""
    cases = []
    names = _edge_list(edge_cases, _LOGIT_EDGES)
    for index in range(n):
        edge = names[index] if index < len(names) else None
        spatial = tuple(shapes[index % len(shapes)])
        if edge == "three_d" and len(spatial) == 2:
            spatial = spatial + (3,)
        b = int(rng.integers(batch[0], batch[1] + 1))
        c = int(rng.integers(max(classes[0], 3 if edge == "absent_class" else 2), classes[1] + 1))
        logits = rng.normal(0.0, scale, size=(b, c) + spatial)
        target = rng.integers(0, c, size=(b,) + spatial)
        if edge == "absent_class":
            target = np.minimum(target, c - 2)
        elif edge == "confident":
            logits = np.sign(logits) * 1000.0 + logits
        elif edge == "uniform":
            logits = np.zeros_like(logits)
        elif edge == "single_class":
            target = np.zeros_like(target)
        words = _LOGIT_EDGES[edge] if edge else "random logits"
        label = f"{words}; logits {_shape_text(logits.shape)}, {c} classes"
        cases.append(Case((logits.astype(dtype), target.astype(np.int64)), label, edge))
    return cases


# --- transposed convolution -----------------------------------------------------------------

_CONV_EDGES = {
    "stride_1": "stride 1",
    "kernel_1": "a 1×1 kernel",
    "stride_larger_than_kernel": "stride larger than the kernel",
    "single_pixel": "a 1×1 input",
    "padding": "padding that crops the output",
}
_CONV_ARGS = ("x", "weight", "stride", "padding", "size", "kernel")


def conv_transpose(rng, n: int, *, batch=(1, 2), in_channels=(1, 3), out_channels=(1, 3),
                   sizes=(1, 6), kernels=(1, 4), strides=(1, 3), paddings=(0, 2),
                   args=("x", "weight", "stride", "padding"), edge_cases=()) -> list[Case]:
    """Inputs of a 2D transposed convolution: ``x`` (N, C_in, H, W), ``weight``
    (C_in, C_out, k, k) as torch lays it out, ``stride``, ``padding``; ``size`` (H)
    and ``kernel`` (k) for shape arithmetic. `args` picks which, in order."""
    unknown = sorted(set(args) - set(_CONV_ARGS))
    if unknown:
        raise AssignmentError(f"conv_transpose args {unknown} unknown; choose from {_CONV_ARGS}")
    names = _edge_list(edge_cases, _CONV_EDGES)
    cases = []
    for index in range(n):
        edge = names[index] if index < len(names) else None
        while True:
            h, w = (int(v) for v in rng.integers(sizes[0], sizes[1] + 1, size=2))
            k = int(rng.integers(kernels[0], kernels[1] + 1))
            s = int(rng.integers(strides[0], strides[1] + 1))
            p = int(rng.integers(paddings[0], paddings[1] + 1))
            h, w, k, s, p = _conv_edge(edge, h, w, k, s, p)
            if min(h, w) >= 1 and (min(h, w) - 1) * s - 2 * p + k >= 1:
                break
        x = rng.normal(size=(int(rng.integers(batch[0], batch[1] + 1)),
                             int(rng.integers(in_channels[0], in_channels[1] + 1)), h, w))
        weight = rng.normal(size=(x.shape[1], int(rng.integers(out_channels[0], out_channels[1] + 1)),
                                  k, k))
        values = {"x": x, "weight": weight, "stride": s, "padding": p, "size": h, "kernel": k}
        words = _CONV_EDGES[edge] if edge else "random"
        label = (f"{words}; x {_shape_text(x.shape)}, weight {_shape_text(weight.shape)}, "
                 f"stride {s}, padding {p}")
        if "x" not in args:
            label = f"{words}; size {h}, kernel {k}, stride {s}, padding {p}"
        cases.append(Case(tuple(values[a] for a in args), label, edge))
    return cases


def _conv_edge(edge, h, w, k, s, p):
    if edge == "stride_1":
        s = 1
    elif edge == "kernel_1":
        k, p = 1, 0
    elif edge == "stride_larger_than_kernel":
        k, s, p = min(k, 2), 3, 0
    elif edge == "single_pixel":
        h = w = 1
        p = 0
    elif edge == "padding":
        k, p = max(k, 3), 1
    return h, w, k, s, p


GENERATORS = {"mask_pair": mask_pair, "logits_target": logits_target, "conv_transpose": conv_transpose}
