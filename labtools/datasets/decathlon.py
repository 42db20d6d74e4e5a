"""Medical Segmentation Decathlon tasks (dataset.json, imagesTr/, labelsTr/).

The download URLs and MD5 checksums are MONAI's (``monai.apps.DecathlonDataset``),
so labtools and MONAI fetch exactly the same archives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labtools.errors import ChecksumError, CorruptFileError, DatasetNotFoundError
from labtools.io import Image, check_pair, load

__all__ = ["decathlon", "Decathlon", "DECATHLON_TASKS"]

DECATHLON_TASKS = (
    "Task01_BrainTumour", "Task02_Heart", "Task03_Liver", "Task04_Hippocampus",
    "Task05_Prostate", "Task06_Lung", "Task07_Pancreas", "Task08_HepaticVessel",
    "Task09_Spleen", "Task10_Colon",
)


@dataclass
class Decathlon:
    """One Decathlon task on disk: its metadata and the list of training cases.

    Indexing loads a case: ``image, labels = task[i]``, the image channels
    first for multi-modal tasks (Task01: FLAIR, T1w, T1gd, T2w).
    """

    root: Path
    name: str
    labels: dict[int, str]
    modality: dict[int, str]
    cases: list[tuple[Path, Path]]
    test_images: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, index: int) -> tuple[Image, np.ndarray]:
        image_path, label_path = self.cases[index]
        image, labels = load(image_path), load(label_path)
        check_pair(image, labels)
        return image, labels.array

    def __repr__(self) -> str:
        return (f"Decathlon({self.name!r}, {len(self)} training cases, "
                f"labels={self.labels}, root='{self.root}')")


def decathlon(task: str, root=None, *, download: bool = False, keep_archive: bool = False) -> Decathlon:
    """Open (and optionally download) a Medical Segmentation Decathlon task.

    Parameters
    ----------
    task : str
        ``"Task01_BrainTumour"``, ``"Task04_Hippocampus"``, ... (or just ``"Task04"``).
    root : path, optional
        Folder that holds (or will hold) ``<task>/dataset.json``. Defaults to
        :func:`labtools.datasets.data_dir`.
    download : bool
        Download and check the archive (MD5) when the task is not on disk.
    keep_archive : bool
        Keep the downloaded ``.tar`` after extracting it (Task01 is 7 GB twice over).

    Returns
    -------
    Decathlon

    Raises
    ------
    DatasetNotFoundError
        The task is unknown, or not on disk and `download` is False or the
        download failed; the message says where to put the files.
    ChecksumError
        The downloaded archive does not have MONAI's MD5 (it is deleted).

    Examples
    --------
    >>> task = decathlon("Task04_Hippocampus", "/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    labtools.errors.DatasetNotFoundError: Task04_Hippocampus is not in /nonexistent/Task04_Hippocampus...
    """
    from labtools.datasets.registry import data_dir

    task = _full_task_name(task)
    root = Path(root) if root is not None else data_dir()
    folder = root / task
    if not (folder / "dataset.json").is_file():
        if not download:
            raise DatasetNotFoundError(_where_to_put(task, folder, "pass download=True to fetch it"))
        _download(task, root, keep_archive=keep_archive)
    return _read_task(folder, task)


def _full_task_name(task: str) -> str:
    for name in DECATHLON_TASKS:
        if task in (name, name.split("_")[0]):
            return name
    raise DatasetNotFoundError(f"unknown Decathlon task {task!r}; choose one of {', '.join(DECATHLON_TASKS)}")


def _where_to_put(task: str, folder: Path, hint: str) -> str:
    return (f"{task} is not in {folder} ({hint}). Put the extracted task there so that "
            f"{folder / 'dataset.json'}, {folder / 'imagesTr'}/ and {folder / 'labelsTr'}/ exist, "
            "or set LABTOOLS_DATA to the folder that holds it.")


def _download(task: str, root: Path, *, keep_archive: bool) -> None:
    # MONAI's downloader shows progress and checks the MD5; we skip its
    # download_and_extract, whose extra HEAD request only guesses the file name.
    from monai.apps import DecathlonDataset
    from monai.apps.utils import download_url, extractall

    url, md5 = DecathlonDataset.resource[task], DecathlonDataset.md5[task]
    archive = root / f"{task}.tar"
    root.mkdir(parents=True, exist_ok=True)
    try:
        download_url(url, filepath=archive, hash_val=md5, hash_type="md5")
    except Exception as err:  # MONAI raises bare Exception/RuntimeError for network failures
        if "hash check" in str(err):
            archive.unlink(missing_ok=True)
            raise ChecksumError(f"{archive}: MD5 differs from MONAI's {md5} ({err}); the file "
                                "was deleted, try the download again.") from err
        hint = f"the download of {url} failed: {type(err).__name__}: {err}"
        raise DatasetNotFoundError(_where_to_put(task, root / task, hint)) from err
    extractall(archive, output_dir=root, file_type="tar", has_base=True)
    if not keep_archive:
        archive.unlink()


def _read_task(folder: Path, task: str) -> Decathlon:
    try:
        meta = json.loads((folder / "dataset.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptFileError(f"{folder / 'dataset.json'}: not valid JSON ({err})") from err
    missing_keys = {"training", "labels"} - set(meta)
    if missing_keys:
        raise CorruptFileError(f"{folder / 'dataset.json'}: missing keys {sorted(missing_keys)}; "
                               "is this a Decathlon dataset.json?")
    cases = []
    for entry in meta["training"]:
        pair = (folder / entry["image"], folder / entry["label"])
        absent = [str(p) for p in pair if not p.is_file()]
        if absent:
            raise DatasetNotFoundError(f"{task}: dataset.json lists {', '.join(absent)}, "
                                       "which is missing; the download may be incomplete.")
        cases.append(pair)
    return Decathlon(
        root=folder,
        name=meta.get("name", task),
        labels={int(k): v for k, v in meta["labels"].items()},
        modality={int(k): v for k, v in meta.get("modality", {}).items()},
        cases=cases,
        test_images=[folder / p for p in meta.get("test", [])],
    )
