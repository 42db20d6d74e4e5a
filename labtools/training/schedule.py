"""Learning-rate schedules as a function of progress (0 at the start, 1 at the end of training).

Progress is the share of the steps done, or with a time budget the share of the
time used, so the same schedule fits 500 epochs or 120 seconds: the rate decays
to its final value just as training ends, whenever that is.
"""

from __future__ import annotations

import math

from labtools.errors import TrainingError

__all__ = ["SCHEDULES", "learning_rate"]

SCHEDULES = ("cosine", "poly", "constant")


def learning_rate(schedule: str | None, lr: float, progress: float, *, warmup: float = 0.05,
                  final: float = 0.01) -> float:
    """The learning rate at `progress` (clamped to 0..1).

    Parameters
    ----------
    schedule : {"cosine", "poly", "constant"} or None
        ``"cosine"``: linear warm-up over the first `warmup` share, then a
        half cosine down to ``final * lr``. ``"poly"``: nnU-Net's
        ``lr * (1 - progress) ** 0.9`` (after the same warm-up), floored at
        ``final * lr``. ``"constant"`` or None: `lr` throughout.
    lr : float
        The peak rate.
    progress : float
        Share of training done (steps, or seconds of the budget).
    warmup, final : float
        Warm-up share; final rate as a share of `lr`.

    Examples
    --------
    >>> [round(learning_rate("cosine", 1e-3, p), 6) for p in (0.0, 0.05, 0.525, 1.0)]
    [5e-05, 0.001, 0.000505, 1e-05]
    >>> learning_rate(None, 1e-3, 0.7)
    0.001
    """
    if schedule in (None, "constant"):
        return lr
    if schedule not in SCHEDULES:
        raise TrainingError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    progress = min(max(progress, 0.0), 1.0)
    if warmup > 0 and progress < warmup:
        # Start at a small rate, not 0: the first step already moves the weights.
        return lr * max(progress / warmup, 0.05)
    decay = (progress - warmup) / (1.0 - warmup) if warmup < 1 else 1.0
    if schedule == "cosine":
        return lr * (final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * decay)))
    return lr * max((1.0 - decay) ** 0.9, final)
