"""Write the student version of an assignment: solutions replaced by stubs, hidden tests removed.

FOLDER holds assignment.toml and the solution notebook. Before writing, the
solution's graded functions are run in the sandbox on the assignment's cases
and must earn full marks (--no-check skips that). The student notebook
DIR/<name>.ipynb runs until its first stub; public files are copied next to it.
"""

from __future__ import annotations

NAME = "assign"
HELP = "write the student notebook of an assignment folder"


def add_arguments(parser) -> None:
    parser.add_argument("folder", metavar="FOLDER", help="assignment folder (with assignment.toml)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (created if missing); existing files are replaced")
    parser.add_argument("--no-check", action="store_true",
                        help="do not grade the solution before writing the student version")


def run(args) -> int:
    from labtools.grading import assign

    written = assign(args.folder, args.out, check_solution=not args.no_check)
    for path in written:
        print(f"wrote {path}")
    return 0
