"""Named training data for the command line: phantom, mni152, decathlon:PATH, or a folder.

Each source gives training and validation (image, labels) pairs, the number of
classes and their names. 3D data becomes 2D slices when a 2D model is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labtools.errors import DatasetNotFoundError, MissingFileError, TrainingError

__all__ = ["TrainingData", "load_source", "slices_2d"]


@dataclass
class TrainingData:
    """Training and validation pairs of one source, with its class names (index -> name)."""

    train: list
    val: list
    classes: dict[int, str]
    in_channels: int = 1
    description: str = ""
    notes: list[str] = field(default_factory=list)
    spacings: list | None = None    # voxel sizes of the training pairs (mm), when the pairs are arrays
    modality: str | None = None     # what the dataset says ("MRI", "CT", a Decathlon modality)

    @property
    def n_classes(self) -> int:
        return max(self.classes) + 1


def load_source(spec: str, dims: int, *, seed: int = 0, val_fraction: float = 0.2) -> TrainingData:
    """Resolve a ``--data`` value: ``phantom``, ``mni152``, ``decathlon:PATH`` or a folder.

    A folder holds ``images/`` and ``labels/`` (or ``imagesTr/`` and
    ``labelsTr/``) with files matched by name; every fifth case (at least one)
    is kept for validation.

    Examples
    --------
    >>> data = load_source("phantom", dims=2)
    >>> len(data.train), len(data.val), data.n_classes
    (16, 4, 5)
    """
    if dims not in (2, 3):
        raise TrainingError(f"dims must be 2 or 3, got {dims}")
    if spec == "phantom":
        return _phantom(dims)
    if spec == "mni152":
        return _mni152(dims)
    if spec.startswith("decathlon:"):
        return _decathlon(spec.split(":", 1)[1], dims, val_fraction)
    if Path(spec).is_dir():
        return _folder(Path(spec), dims, val_fraction)
    raise MissingFileError(f"--data {spec!r}: not 'phantom', 'mni152', 'decathlon:PATH' or an "
                           "existing folder with images/ and labels/")


def slices_2d(image, labels, *, axis: int = -1, keep_every: int = 1) -> list:
    """The 2D slices (along `axis`) of a 3D image that hold any labelled foreground.

    Examples
    --------
    >>> image, labels = np.zeros((4, 5, 6)), np.zeros((4, 5, 6), int)
    >>> labels[..., 2:4] = 1
    >>> [pair[0].shape for pair in slices_2d(image, labels)]
    [(4, 5), (4, 5)]
    """
    from labtools.io import Image

    array = image.array if isinstance(image, Image) else np.asarray(image)
    channels = isinstance(image, Image) and image.channel_axis is not None
    spatial_axis = axis % labels.ndim
    pairs = []
    for index in range(0, labels.shape[spatial_axis], keep_every):
        label_slice = np.take(labels, index, axis=spatial_axis)
        if (label_slice > 0).any():
            image_slice = np.take(array, index, axis=spatial_axis + 1 if channels else spatial_axis)
            pairs.append((image_slice, label_slice))
    return pairs


def _phantom(dims: int) -> TrainingData:
    from labtools.datasets import PHANTOM_CLASSES, phantom

    # Different seeds draw different folds and lesions: validation subjects are unseen ones.
    shape = (128, 128) if dims == 2 else (64, 64, 48)
    n_train, n_val = (16, 4) if dims == 2 else (6, 2)
    train = [phantom(shape, n_lesions=2, seed=s) for s in range(n_train)]
    val = [phantom(shape, n_lesions=2, seed=1000 + s) for s in range(n_val)]
    return TrainingData(train, val, dict(PHANTOM_CLASSES), description=f"phantom {shape}", modality="other")


def _mni152(dims: int) -> TrainingData:
    from labtools.datasets import MNI152_CLASSES, mni152

    image, labels = mni152(2)
    labels = labels.astype(np.int16) - 1  # classes 1..4 -> 0..3 (class 1 is the background)
    classes = {k - 1: name for k, name in MNI152_CLASSES.items()}
    # One subject only: split it in space. Left hemisphere trains, right hemisphere validates.
    middle = labels.shape[0] // 2
    left = (image.array[:middle], labels[:middle])
    right = (image.array[middle:], labels[middle:])
    note = "MNI152 is one (average) brain: training on its left half, validating on its right half"
    if dims == 3:
        return TrainingData([left], [right], classes, description="MNI152 2 mm", notes=[note],
                            spacings=[image.spacing], modality="MRI")
    slices = slices_2d(*left)
    # A 2D network is validated on the whole right half, slice by slice: Dice of the volume.
    return TrainingData(slices, [right], classes, description="MNI152 2 mm, axial slices", notes=[note],
                        spacings=[image.spacing[:2]] * len(slices), modality="MRI")


def _split(cases: list, val_fraction: float) -> tuple[list, list]:
    if len(cases) < 2:
        raise TrainingError(f"need at least 2 cases to keep one for validation, found {len(cases)}")
    step = max(2, round(1 / val_fraction))
    val = cases[::step]
    train = [c for i, c in enumerate(cases) if i % step]
    return train, val


def _as_dims(pairs: list, dims: int) -> tuple[list, list]:
    """The pairs for a `dims`-D network (3D volumes, or their labelled slices), and their spacings."""
    if dims == 3:
        return pairs, [_spacing(image, 3) for image, _ in pairs]
    slices, spacings = [], []
    for image, labels in pairs:
        if np.ndim(labels) == 2:  # already 2D
            slices.append((image, labels))
            spacings.append(_spacing(image, 2)[-2:])
            continue
        these = slices_2d(image, labels)
        slices += these
        spacings += [_spacing(image, 3)[:2]] * len(these)
    return slices, spacings


def _spacing(image, dims: int) -> tuple:
    spacing = getattr(image, "spacing", None)
    return tuple(spacing) if spacing is not None else (1.0,) * dims


def _decathlon(path: str, dims: int, val_fraction: float) -> TrainingData:
    from labtools.datasets import decathlon

    folder = Path(path)
    task = decathlon(folder.name, folder.parent) if (folder / "dataset.json").is_file() else decathlon(path)
    train_cases, val_cases = _split(list(range(len(task))), val_fraction)
    train, spacings = _as_dims([task[i] for i in train_cases], dims)
    val = [task[i] for i in val_cases]  # whole volumes: a 2D network validates slice by slice
    channels = max(len(task.modality), 1)
    return TrainingData(train, val, dict(task.labels), in_channels=channels,
                        description=f"{task.name} ({len(task)} cases)", spacings=spacings,
                        modality=" ".join(task.modality.values()) or None)


def _folder(folder: Path, dims: int, val_fraction: float) -> TrainingData:
    from labtools import io
    from labtools.metrics.batch import pair_files

    for images_name, labels_name in (("images", "labels"), ("imagesTr", "labelsTr")):
        if (folder / images_name).is_dir() and (folder / labels_name).is_dir():
            break
    else:
        raise DatasetNotFoundError(f"{folder} needs two sub-folders, images/ and labels/, "
                                   "with files matched by name")
    pairs, lonely_images, lonely_labels = pair_files(folder / images_name, folder / labels_name)
    if not pairs:
        raise TrainingError(f"no image in {folder / images_name} has a label file of the same name "
                            f"in {folder / labels_name}")
    loaded = []
    for _, image_path, label_path in pairs:
        image, labels = io.load(image_path), io.load(label_path)
        io.check_pair(image, labels)
        loaded.append((image, labels.array))
    classes = sorted({int(v) for _, labels in loaded for v in np.unique(labels)})
    if classes[-1] + 1 > max(2 * len(classes), 4):
        # e.g. masks saved as 0/255: a 256-class network would train, slowly and uselessly.
        raise TrainingError(
            f"the label files in {folder / labels_name} hold the values {classes[:8]}"
            f"{'...' if len(classes) > 8 else ''}; classes must be 0..K-1. Remap them first "
            "(e.g. a 0/255 mask: labels // 255)")
    train, val = _split(loaded, val_fraction)
    notes = [f"{len(lonely_images)} images without labels skipped"] if lonely_images else []
    train, spacings = _as_dims(train, dims)
    return TrainingData(train, val,
                        {k: str(k) for k in range(max(classes) + 1)},
                        in_channels=loaded[0][0].n_channels, description=f"{folder} ({len(pairs)} cases)",
                        notes=notes, spacings=spacings)
