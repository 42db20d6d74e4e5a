"""Segment images with a saved pixel classifier (ilastik-style headless batch mode).

Each IMAGE gets DIR/<name>_seg<ext>: the class of every voxel, in the
image's format and with its affine. An image that cannot be read or
classified is reported and skipped; the others go on (exit status 1 then).
"""

from __future__ import annotations

import sys
from pathlib import Path

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


def run(args) -> int:
    from tqdm.auto import tqdm

    from labtools.errors import InvalidImageError, LabtoolsError
    from labtools.pixel_classifier import PixelClassifier

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidImageError(f"--out {out} is a file; give a folder")
    targets = [(Path(image), out / output_name(image)) for image in args.images]
    _refuse_duplicate_outputs(targets)
    classifier = PixelClassifier.load(args.model, trust=args.trust)  # a bad model stops everything (status 2)
    out.mkdir(parents=True, exist_ok=True)

    failed = []
    bar = tqdm(targets, desc="classify", unit="image", disable=args.quiet)
    for source, target in bar:
        try:
            segment_file(classifier, source, target)
        except LabtoolsError as err:
            failed.append((source, err))
            bar.write(f"failed {source}: {err}", file=sys.stderr)
        finally:
            classifier.set_params()  # drop this image's cached features before the next one
    bar.close()
    done = len(targets) - len(failed)
    print(f"{done} of {len(targets)} images segmented into {out}"
          + (f"; {len(failed)} failed: {', '.join(str(s) for s, _ in failed)}" if failed else ""))
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


def segment_file(classifier, source, target) -> Path:
    """Segment the image in `source` and write the classes to `target` with its geometry."""
    from labtools import io

    image = io.load(source)
    segmentation = classifier.predict(image)
    return io.save(image.with_array(segmentation), target)


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
