"""Segment images with a trained network (sliding window); outputs keep each image's affine.

Each IMAGE gets DIR/<name>_seg<ext> with the class of every voxel. A 2D
network applied to a 3D image segments it slice by slice along the last axis.
An image that cannot be read is reported and skipped (exit status 1).
Images run as Dask tasks (a local cluster, or --scheduler); finished ones are
recorded in DIR/predict.journal.jsonl and skipped by a rerun. A Zarr store
(or any image with --blockwise) is segmented block by block (docs/scale.md).
"""

from __future__ import annotations

from pathlib import Path

from labtools.commands.scale_options import add_blockwise_arguments, add_scale_arguments

NAME = "predict"
HELP = "segment images with a trained checkpoint -> <name>_seg files"


def add_arguments(parser) -> None:
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="best.pt or last.pt from `labtools train`")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="images to segment")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_blockwise_arguments(parser)
    add_scale_arguments(parser)


def run(args) -> int:
    from labtools.commands.classify import output_name, run_segmentation_cases
    from labtools.errors import InvalidImageError
    from labtools.training.predict import load_model, segment_file

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidImageError(f"--out {out} is a file; give a folder")
    load_model(args.checkpoint, device=args.device)  # a bad checkpoint stops everything here (status 2)
    out.mkdir(parents=True, exist_ok=True)
    targets = [(Path(image), out / output_name(image)) for image in args.images]
    return run_segmentation_cases(segment_file, args.checkpoint, targets, args, desc="predict",
                                  options={"device": args.device})
