"""The options every batch command shares: where its cases run (docs/scale.md)."""

from __future__ import annotations

__all__ = ["add_scale_arguments", "add_blockwise_arguments"]


def add_scale_arguments(parser) -> None:
    """Add ``--scheduler`` and ``--workers`` to a batch command's parser."""
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS|local|synchronous",
                        help="run the cases on this dask.distributed scheduler (e.g. tcp://10.0.0.5:8786); "
                             "default: $DASK_SCHEDULER_ADDRESS, else a local cluster with one worker per core; "
                             "'synchronous' runs them one by one in this process")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="worker processes of the local cluster (default: one per core)")


def add_blockwise_arguments(parser) -> None:
    """Add ``--blockwise`` and ``--block`` to a command that segments volumes."""
    parser.add_argument("--blockwise", action="store_true",
                        help="segment block by block, also images that fit in memory (Zarr stores always "
                             "are): memory stays at a few blocks whatever the volume")
    parser.add_argument("--block", type=int, default=None, metavar="VOXELS",
                        help="block edge for blockwise work (default 96 for the pixel classifier, four "
                             "patches for a network)")
