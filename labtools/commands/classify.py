"""Segment images with a saved pixel classifier (ilastik-style headless batch mode).

Each IMAGE gets DIR/<name>_seg<ext>: the class of every voxel, in the
image's format and with its affine. An image that cannot be read or
classified is reported and skipped; the others go on (exit status 1 then).
Images run as Dask tasks (a local cluster, or --scheduler); finished ones are
recorded in DIR/classify.journal.jsonl and skipped by a rerun. A Zarr store
(or any image with --blockwise) is classified block by block (docs/scale.md).
"""

from __future__ import annotations

import functools
from pathlib import Path

from labtools.commands.scale_options import add_blockwise_arguments, add_scale_arguments

NAME = "classify"
HELP = "segment images with a saved PixelClassifier -> <name>_seg files"


def add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="classifier file written by PixelClassifier.save (.skops)")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="images to segment")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (created if missing); existing outputs are replaced")
    parser.add_argument("--trust", action="store_true",
                        help="also read a labtools 0.1 classifier (.joblib pickle): reading a pickle runs "
                             "code from the file, so only for files you made or trust")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_blockwise_arguments(parser)
    add_scale_arguments(parser)


def run(args) -> int:
    from labtools.errors import InvalidImageError
    from labtools.pixel_classifier import PixelClassifier
    from labtools.pixel_classifier.batch import classify_file

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidImageError(f"--out {out} is a file; give a folder")
    targets = [(Path(image), out / output_name(image)) for image in args.images]
    _refuse_duplicate_outputs(targets)
    PixelClassifier.load(args.model, trust=args.trust)  # a bad model stops everything here (status 2)
    out.mkdir(parents=True, exist_ok=True)
    return run_segmentation_cases(classify_file, args.model, targets, args, desc="classify",
                                  options={"trust": args.trust})


def run_segmentation_cases(function, model, targets, args, *, desc: str, options: dict) -> int:
    """Run ``function(model, source, target, **options)`` for every image as Dask tasks, resumably.

    Shared by ``classify`` and ``predict``: the journal DIR/<desc>.journal.jsonl
    keys each image by the content hash of model, image and options.
    """
    from labtools.scale import Case, CaseJournal, content_hash, run_cases

    out = Path(args.out)
    options = {**options, "blockwise": True if args.blockwise else None, "chunks": args.block}
    model_hash = content_hash(model)  # once, not per image: a model file can be large
    cases = [Case(str(source), content_hash(source, options={"model": model_hash, "target": target.name,
                                                              **options}),
                  (model, source, target))
             for source, target in targets]
    failed = [outcome.case.name for outcome in run_cases(
        functools.partial(function, **options), cases, scheduler=args.scheduler, workers=args.workers, desc=desc,
        progress=not args.quiet,
        journal=CaseJournal(out / f"{desc}.journal.jsonl"),
        still_valid=lambda result: Path(result["output"]).exists()) if outcome.error]
    print(f"{len(targets) - len(failed)} of {len(targets)} images segmented into {out}"
          + (f"; {len(failed)} failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def output_name(image_path) -> str:
    """The output file name of `image_path`: ``_seg`` before the extension.

    Examples
    --------
    >>> output_name("data/sub-01_T1w.nii.gz")
    'sub-01_T1w_seg.nii.gz'
    >>> output_name("slice.PNG")
    'slice_seg.PNG'
    """
    from labtools.errors import FileFormatError
    from labtools.io import file_format

    name = Path(image_path).name
    try:
        suffix_length = len(file_format(name))
    except FileFormatError:  # reported when the image is read
        suffix_length = len("".join(Path(name).suffixes[-1:]))
    return f"{name[: len(name) - suffix_length]}_seg{name[len(name) - suffix_length:]}"


def _refuse_duplicate_outputs(targets) -> None:
    from labtools.errors import InvalidImageError

    seen, inputs = {}, {source.resolve() for source, _ in targets}
    for source, target in targets:
        if target in seen:
            raise InvalidImageError(
                f"{seen[target]} and {source} would both be written to {target}; "
                "classify them into different --out folders")
        if target.resolve() in inputs:
            raise InvalidImageError(f"the output {target} of {source} is also an input; "
                                    "choose another --out folder")
        seen[target] = source
