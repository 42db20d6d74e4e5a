"""Segment images with a trained network (sliding window); outputs keep each image's affine.

Each IMAGE gets DIR/<name>_seg<ext> with the class of every voxel. A 2D
network applied to a 3D image segments it slice by slice along the last axis.
An image that cannot be read is reported and skipped (exit status 1).
"""

from __future__ import annotations

import sys
from pathlib import Path

NAME = "predict"
HELP = "segment images with a trained checkpoint -> <name>_seg files"


def add_arguments(parser) -> None:
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="best.pt or last.pt from `labtools train`")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="images to segment")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from tqdm.auto import tqdm

    from labtools import io
    from labtools.commands.classify import output_name
    from labtools.errors import InvalidImageError, LabtoolsError
    from labtools.training.predict import inference_options, load_model, segment

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidImageError(f"--out {out} is a file; give a folder")
    model, config = load_model(args.checkpoint, device=args.device)
    out.mkdir(parents=True, exist_ok=True)
    failed = []
    bar = tqdm(args.images, desc="predict", unit="image", disable=args.quiet)
    for source in bar:
        try:
            image = io.load(source)
            labels = segment(model, image, **inference_options(config))
            io.save(image.with_array(labels, channel_axis=None), out / output_name(source))
        except LabtoolsError as err:
            failed.append(source)
            bar.write(f"failed {source}: {err}", file=sys.stderr)
    bar.close()
    print(f"{len(args.images) - len(failed)} of {len(args.images)} images segmented into {out}")
    return 1 if failed else 0
