"""Where datasets live and what each one is (mirrors the cards in ``datasets/``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["data_dir", "DatasetInfo", "REGISTRY"]


def data_dir() -> Path:
    """Folder for downloaded datasets: ``$LABTOOLS_DATA`` or ``~/.cache/labtools``.

    Examples
    --------
    >>> import os
    >>> os.environ["LABTOOLS_DATA"] = "/data/labtools"
    >>> str(data_dir())
    '/data/labtools'
    >>> del os.environ["LABTOOLS_DATA"]
    """
    env = os.environ.get("LABTOOLS_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "labtools"


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset: a line for ``labtools datasets`` and a pointer to its card."""

    name: str
    function: str
    summary: str
    size: str
    license: str
    card: str
    offline: bool


REGISTRY = (
    DatasetInfo("phantom", "phantom(shape, n_lesions=, seed=, spacing=)",
                "synthetic brain, 4 tissues + tumour-like lesions, 2D/3D", "generated (~3 MB at default size)",
                "BSD-3-Clause (labtools)", "datasets/phantom.md", True),
    DatasetInfo("mni152", "mni152(resolution=1|2)",
                "MNI152 2009 T1 template + 4-class tissue map", "bundled with nilearn (~5 MB)",
                "MNI/ICBM license (free use with attribution)", "datasets/mni152.md", True),
    DatasetInfo("ct_like", "ct_like(shape=(512, 512, 800), spacing=, chunks=, seed=)",
                "synthetic CT-like volume (air, tissue, lungs, bone, liver), lazy, any size",
                "generated block by block (420 MB of int16 at default size)", "BSD-3-Clause (labtools)",
                "datasets/ct_like.md", True),
    DatasetInfo("Task01_BrainTumour", "decathlon('Task01_BrainTumour', download=True)",
                "MSD brain tumour: 484 multi-modal MRI (FLAIR, T1w, T1gd, T2w)", "7.1 GB download",
                "CC-BY-SA 4.0", "datasets/decathlon-task01-braintumour.md", False),
    DatasetInfo("Task04_Hippocampus", "decathlon('Task04_Hippocampus', download=True)",
                "MSD hippocampus: 260 T1 MRI crops, anterior/posterior", "27 MB download",
                "CC-BY-SA 4.0", "datasets/decathlon-task04-hippocampus.md", False),
)
