"""The class table: what each painted class means, its name, colour and value in exported label maps.

Scribbles keep 0 for "not labelled", so the classes a user paints are 1..255.
Label maps everyone else uses (nnU-Net, the Decathlon, ITK-SNAP, 3D Slicer,
``labtools evaluate``) keep 0 for the background. The table maps one to the
other: by default the first class painted is the background and exports as
0, the second exports as 1, and so on; a table made from an existing label
map keeps that map's values. The same table colours the scribbles, the
prediction, the notebook widgets and ``viz`` montages, and is written next
to an export as an ITK-SNAP label description file (3D Slicer imports it too).

Examples
--------
>>> table = ClassTable.default(["background", "grey matter", "white matter"])
>>> [(c.scribble, c.value, c.name) for c in table]
[(1, 0, 'background'), (2, 1, 'grey matter'), (3, 2, 'white matter')]
>>> table.to_values(np.array([1, 3, 2, 1], np.uint8)).tolist()
[0, 2, 1, 0]
>>> table.to_scribbles(np.array([2, 0])).tolist()
[3, 1]
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from labtools.colors import label_colors
from labtools.errors import CorruptFileError, ParameterError

__all__ = ["LabelClass", "ClassTable", "BACKGROUND_COLOR", "label_file_for"]

MAX_SCRIBBLE = 255
BACKGROUND_COLOR = (170, 170, 170)  # strokes of the background class: visible, and not a tissue hue
_ITKSNAP_HEADER = """################################################
# ITK-SnAP Label Description File (written by labtools)
# Columns = IDX -R- -G- -B- -A-- VIS MSH  "LABEL"
################################################
"""


@dataclass(frozen=True)
class LabelClass:
    """One class: the scribble value painted, the value exported, a name and an RGB colour.

    ``visible`` is ITK-SNAP's VIS column: False for the background, which overlays leave
    transparent (its strokes stay visible, in grey).
    """

    scribble: int
    value: int
    name: str
    color: tuple[int, int, int]
    visible: bool = True


class ClassTable:
    """The classes of a labeling session, in scribble order.

    Parameters
    ----------
    classes : sequence of LabelClass
        Scribble values 1..255 and exported values 0..65535, each used once.

    Raises
    ------
    ParameterError
        For a scribble value outside 1..255 or a value used twice.
    """

    def __init__(self, classes) -> None:
        self._classes = tuple(sorted(classes, key=lambda c: c.scribble))
        scribbles = [c.scribble for c in self._classes]
        values = [c.value for c in self._classes]
        if any(not 1 <= s <= MAX_SCRIBBLE for s in scribbles):
            raise ParameterError(f"scribble values must lie in 1..{MAX_SCRIBBLE} (0 = not labelled), got {scribbles}")
        if any(not 0 <= v <= 65535 for v in values):
            raise ParameterError(f"label values must lie in 0..65535, got {values}")
        for what, items in (("scribble value", scribbles), ("label value", values)):
            repeated = sorted({x for x in items if items.count(x) > 1})
            if repeated:
                raise ParameterError(f"each class needs its own {what}; {repeated} used twice")

    # ------------------------------------------------------------------ making
    @classmethod
    def default(cls, names=2) -> "ClassTable":
        """Classes 1..K for scribbles, 0..K-1 in exports; the first one is the background.

        Parameters
        ----------
        names : int or sequence of str
            How many classes, or their names (first: the background).

        Examples
        --------
        >>> [c.name for c in ClassTable.default(3)]
        ['background', 'class 1', 'class 2']
        """
        names = (["background"] + [f"class {k}" for k in range(1, names)]
                 if isinstance(names, int) else [str(n) for n in names])
        if not 1 <= len(names) <= MAX_SCRIBBLE:
            raise ParameterError(f"a class table has 1..{MAX_SCRIBBLE} classes, got {len(names)}")
        return cls(_class(k + 1, k, name) for k, name in enumerate(names))

    @classmethod
    def from_values(cls, values, names=None, *, background: int = 0) -> "ClassTable":
        """A table for the label values of an existing map (0 included), keeping them in exports.

        Parameters
        ----------
        values : array_like
            The label values (a label map will do).
        names : dict, optional
            ``{value: name}``.
        background : int
            The value of the background, left transparent in overlays: 0 for most
            maps, 1 for MNI152's tissue map (``datasets.MNI152_CLASSES``).

        Examples
        --------
        >>> [(c.scribble, c.value) for c in ClassTable.from_values([0, 2, 4])]
        [(1, 0), (2, 2), (3, 4)]
        >>> ClassTable.from_values([1, 2, 3], background=1).hidden_values()
        {0, 1}
        """
        values = sorted({int(v) for v in np.unique(np.asarray(values))})
        names = names or {}
        return cls(_class(k + 1, v, names.get(v, "background" if v == background else f"class {v}"),
                          background=v == background)
                   for k, v in enumerate(values))

    @classmethod
    def read(cls, path) -> "ClassTable":
        """Read an ITK-SNAP label description file (as :meth:`write` makes).

        Label 0 is the background unless it is ITK-SNAP's "Clear Label" (no class);
        a label whose VIS column is 0 is a background drawn transparent.
        """
        path = Path(path)
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                fields = shlex.split(line)
                value, r, g, b = (int(x) for x in fields[:4])
                visible = int(fields[5]) != 0
                name = fields[7]
            except (ValueError, IndexError) as err:
                raise CorruptFileError(f"{path}, line {number}: not an ITK-SNAP label line "
                                       f"(IDX R G B A VIS MSH \"LABEL\"): {line!r}") from err
            if value == 0 and name == "Clear Label":
                continue    # ITK-SNAP's eraser ("no label"), not a class
            rows.append((value, name, (r, g, b), visible and value != 0))
        if not rows:
            raise CorruptFileError(f"{path}: no labels in this label description file")
        return cls(LabelClass(k + 1, v, name, color, visible)
                   for k, (v, name, color, visible) in enumerate(sorted(rows)))

    def with_class(self, scribble: int, name: str | None = None) -> "ClassTable":
        """This table plus class `scribble` (value: the smallest unused; name: ``class <value>``)."""
        if scribble in self.scribbles:
            return self
        used = set(self.values)
        value = next(v for v in range(65536) if v not in used and v >= scribble - 1) if used else scribble - 1
        return ClassTable([*self._classes, _class(scribble, value, name or _default_name(value))])

    def with_value(self, value: int, name: str | None = None) -> "ClassTable":
        """This table plus a class exported as `value` (the next free scribble value), if it lacks one.

        Examples
        --------
        >>> [(c.scribble, c.value) for c in ClassTable.default(2).with_value(7)]
        [(1, 0), (2, 1), (3, 7)]
        """
        if value in self.values:
            return self
        scribble = next((s for s in range(1, MAX_SCRIBBLE + 1) if s not in self.scribbles), None)
        if scribble is None:
            raise ParameterError(f"no free scribble value left for label value {value} (255 classes at most)")
        return ClassTable([*self._classes, _class(scribble, int(value), name or _default_name(int(value)))])

    def renamed(self, scribble: int, name: str) -> "ClassTable":
        """This table with class `scribble` called `name`."""
        return ClassTable([replace(c, name=name) if c.scribble == scribble else c for c in self._classes])

    # ------------------------------------------------------------------ reading
    def __iter__(self):
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def __eq__(self, other) -> bool:
        return isinstance(other, ClassTable) and self._classes == other._classes

    def __repr__(self) -> str:
        return "ClassTable([" + ", ".join(f"{c.scribble}->{c.value} {c.name!r}" for c in self._classes) + "])"

    @property
    def scribbles(self) -> list[int]:
        """Scribble values, in order."""
        return [c.scribble for c in self._classes]

    @property
    def values(self) -> list[int]:
        """Exported label values, in scribble order."""
        return [c.value for c in self._classes]

    def by_scribble(self, scribble: int) -> LabelClass:
        """The class painted as `scribble` (a class ``class <value>`` when the table lacks it)."""
        for c in self._classes:
            if c.scribble == scribble:
                return c
        return self.with_class(scribble).by_scribble(scribble)

    def names(self) -> dict[int, str]:
        """``{label value: name}``, e.g. for legends and metric tables."""
        return {c.value: c.name for c in self._classes}

    def hidden_values(self) -> set[int]:
        """Label values overlays leave transparent: 0 and the background class's value."""
        return {0} | {c.value for c in self._classes if not c.visible}

    def value_colors(self) -> dict[int, tuple[int, int, int]]:
        """``{label value: RGB}``: how predictions and exports are drawn (0 stays transparent there)."""
        return {c.value: c.color for c in self._classes}

    def scribble_colors(self) -> dict[int, tuple[int, int, int]]:
        """``{scribble value: RGB}``: how strokes are drawn (the background's strokes in grey)."""
        return {c.scribble: c.color for c in self._classes}

    # --------------------------------------------------------------- converting
    def to_values(self, scribbles: np.ndarray) -> np.ndarray:
        """Scribble classes -> label values (uint8 when they fit, else uint16); 0 stays 0.

        A class missing from the table exports as ``scribble - 1``.
        """
        lut = self._lookup()
        dtype = np.uint8 if lut.max() < 256 else np.uint16
        return lut.astype(dtype)[np.asarray(scribbles)]

    def to_scribbles(self, values: np.ndarray) -> np.ndarray:
        """Label values -> scribble classes (uint8); values missing from the table raise ParameterError."""
        values = np.asarray(values)
        inverse = {c.value: c.scribble for c in self._classes}
        found = np.unique(values)
        unknown = [int(v) for v in found if int(v) not in inverse]
        if unknown:
            raise ParameterError(f"label values {unknown[:10]} are not in the class table {self!r}; "
                                 "make the table with ClassTable.from_values(labels) to keep them")
        lut = np.zeros(int(found.max()) + 1 if found.size else 1, np.uint8)
        for value, scribble in inverse.items():
            if value < len(lut):
                lut[value] = scribble
        return lut[values]

    def _lookup(self) -> np.ndarray:
        lut = np.maximum(np.arange(MAX_SCRIBBLE + 1) - 1, 0)
        for c in self._classes:
            lut[c.scribble] = c.value
        return lut

    # ----------------------------------------------------------------- writing
    def write(self, path) -> Path:
        """Write an ITK-SNAP label description file (ITK-SNAP and 3D Slicer read it).

        Examples
        --------
        >>> import tempfile, os
        >>> path = ClassTable.default(["background", "tumour"]).write(os.path.join(tempfile.mkdtemp(), "l.txt"))
        >>> ClassTable.read(path).names()
        {0: 'background', 1: 'tumour'}
        """
        from labtools.io.atomic import atomic_replace

        path = Path(path)
        lines = [_ITKSNAP_HEADER]
        if 0 not in self.values:
            lines.append('    0     0    0    0        0  0  0    "Clear Label"\n')
        for c in sorted(self._classes, key=lambda c: c.value):
            alpha, visible = (1, 1) if c.visible and c.value != 0 else (0, 0)
            name = c.name.replace('"', "'")
            lines.append(f'{c.value:5d} {c.color[0]:5d} {c.color[1]:4d} {c.color[2]:4d}'
                         f'        {alpha}  {visible}  {visible}    "{name}"\n')
        with atomic_replace(path, suffix=".txt") as temporary:
            temporary.write_text("".join(lines), encoding="utf-8")
        return path


def label_file_for(path) -> Path:
    """The label description file written next to an exported label map: ``<stem>_labels.txt``.

    Examples
    --------
    >>> label_file_for("out/seg.nii.gz").as_posix()
    'out/seg_labels.txt'
    """
    from labtools import io

    path = Path(path)
    return path.with_name(f"{path.name[: len(path.name) - len(io.file_format(path))]}_labels.txt")


def _class(scribble: int, value: int, name: str, background: bool | None = None) -> LabelClass:
    background = value == 0 if background is None else background
    color = BACKGROUND_COLOR if background else tuple(int(x) for x in label_colors(value + 1)[value])
    return LabelClass(scribble, value, name, color, visible=not background)


def _default_name(value: int) -> str:
    return "background" if value == 0 else f"class {value}"
