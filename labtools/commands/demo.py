"""Run the end-to-end demo on the phantom and MNI152; writes a report and a montage."""

from __future__ import annotations

NAME = "demo"
HELP = "end-to-end demo on the phantom and MNI152 (writes ./labtools-demo/)"


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="labtools-demo", metavar="DIR",
                        help="output folder (default: ./labtools-demo)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or step log")


def run(args) -> int:
    from labtools.demo import run_demo

    run_demo(args.out, progress=not args.quiet)
    return 0
