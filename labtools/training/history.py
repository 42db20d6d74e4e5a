"""History: one record (a dict) per epoch, as fit() returns it and history.csv stores it."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from labtools.io.atomic import atomic_replace

__all__ = ["History"]


class History:
    """The per-epoch records of a training run, in order.

    Each record holds ``epoch``, ``step``, ``time`` (seconds of training so
    far), ``train_loss``, ``lr``, ``steps_per_s`` and, with validation data,
    ``val_loss``, ``val_dice`` (mean over the foreground classes) and one
    ``val_dice_<k>`` per class k.

    Examples
    --------
    >>> h = History([{"epoch": 1, "train_loss": 0.9}, {"epoch": 2, "train_loss": 0.5}])
    >>> h.column("train_loss")
    [0.9, 0.5]
    >>> len(h), h[-1]["epoch"]
    (2, 2)
    """

    def __init__(self, records=()):
        self.records = [dict(r) for r in records]

    def append(self, record: dict) -> None:
        self.records.append(dict(record))

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index):
        return self.records[index]

    def __iter__(self):
        return iter(self.records)

    def __repr__(self) -> str:
        last = self.records[-1] if self.records else {}
        shown = ", ".join(f"{k}={_short(v)}" for k, v in last.items()
                          if k in ("epoch", "step", "train_loss", "val_dice"))
        return f"History({len(self)} epochs{'; last: ' + shown if shown else ''})"

    @property
    def columns(self) -> list[str]:
        """Every key of any record, in first-seen order."""
        names: dict[str, None] = {}
        for record in self.records:
            names.update(dict.fromkeys(record))
        return list(names)

    def column(self, name: str) -> list:
        """The values of one key over the epochs (NaN where a record lacks it)."""
        return [record.get(name, math.nan) for record in self.records]

    def best(self, key: str = "val_dice") -> dict | None:
        """The record with the largest finite `key` (None when there is none)."""
        scored = [r for r in self.records if _finite(r.get(key))]
        return max(scored, key=lambda r: r[key]) if scored else None

    def to_csv(self, path) -> Path:
        """Write the records to `path` (atomically: a reader never sees half a file)."""
        path = Path(path)
        with atomic_replace(path) as temporary, open(temporary, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=self.columns, restval="")
            writer.writeheader()
            writer.writerows(self.records)
        return path

    @classmethod
    def from_csv(cls, path) -> "History":
        """Read a history.csv back (numbers as int or float).

        Examples
        --------
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "history.csv")
        >>> _ = History([{"epoch": 1, "val_dice": 0.5}]).to_csv(path)
        >>> History.from_csv(path)[0]
        {'epoch': 1, 'val_dice': 0.5}
        """
        with open(path, newline="") as stream:
            return cls({k: _number(v) for k, v in row.items() if v != ""}
                       for row in csv.DictReader(stream))


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else value
