"""Write a Gradescope autograder zip that grades an assignment with `labtools grade`.

FOLDER is the assignment folder (the instructor's source notebooks, nbgrader
or otter format, and optionally assignment.toml and reference files); it is
copied into the zip, where only Gradescope sees it. The zip's setup.sh
installs this labtools and exact versions of what grading needs from this
environment; its run_autograder grades the submitted notebook and writes
Gradescope's results.json (score 0 and the error when grading fails). Upload
the zip as a "Zip file upload" autograder.
"""

from __future__ import annotations

import sys

NAME = "gradescope"
HELP = "write a Gradescope autograder zip for an assignment folder"


def add_arguments(parser) -> None:
    parser.add_argument("folder", metavar="FOLDER",
                        help="assignment folder (source notebooks, assignment.toml, references)")
    parser.add_argument("--out", required=True, metavar="ZIP",
                        help="the zip to write, e.g. autograder.zip (replaced if it exists)")
    parser.add_argument("--python", default="3.11", metavar="3.X",
                        help="Python version that setup.sh installs on Gradescope (default 3.11)")
    parser.add_argument("--extra-requirement", action="append", default=[], metavar="NAME",
                        dest="extra_requirements",
                        help="one more installed distribution to pin, with its dependencies "
                             "(repeatable), e.g. torch when the references need it")


def run(args) -> int:
    import warnings

    from labtools.grading.gradescope import build_autograder

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = build_autograder(args.folder, args.out, python_version=args.python,
                               extra_requirements=args.extra_requirements)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    print(f"wrote {out}; upload it on Gradescope: Configure Autograder > Zip file upload")
    return 0
