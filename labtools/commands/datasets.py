"""List the datasets labtools knows, where they live and whether they are on disk."""

from __future__ import annotations

from labtools.datasets import REGISTRY, data_dir

NAME = "datasets"
HELP = "list datasets and where they live"


def add_arguments(parser) -> None:
    parser.epilog = "Downloaded data goes to $LABTOOLS_DATA (default ~/.cache/labtools)."


def run(args) -> int:
    root = data_dir()
    print(f"data folder: {root}  (set LABTOOLS_DATA to change it)\n")
    for info in REGISTRY:
        if info.offline:
            status = "available offline"
        elif (root / info.name / "dataset.json").is_file():
            status = f"on disk: {root / info.name}"
        else:
            status = "not downloaded"
        print(f"{info.name:<20} {info.summary}")
        print(f"{'':<20} labtools.datasets.{info.function}")
        print(f"{'':<20} {info.size}; {info.license}; {status}; card: {info.card}\n")
    return 0
