"""Write the student version of an assignment: no solution, hidden test or hidden config.

FOLDER holds the instructor's source notebook(s): nbgrader source notebooks,
an otter-grader assign notebook, or a labtools notebook with an
assignment.toml. Each is released as its own tool would release it. Before
writing, the source notebooks are graded like a submission and must earn full
marks (--no-check skips that). Files the notebooks show (images, data) are
copied next to them, and the files the assignment lists (toml public_files,
otter's files and student_files); no other .py or .toml file is.
"""

from __future__ import annotations

NAME = "assign"
HELP = "write the student notebooks of an assignment folder (nbgrader, otter or labtools)"


def add_arguments(parser) -> None:
    parser.add_argument("folder", metavar="FOLDER",
                        help="assignment folder (source notebooks; assignment.toml optional)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (created if missing); existing files are replaced")
    parser.add_argument("--no-check", action="store_true",
                        help="do not grade the solution before writing the student version")
    parser.add_argument("--unsafe", action="store_true",
                        help="check the solution without the bubblewrap sandbox if it cannot run")


def run(args) -> int:
    from labtools.grading import assign

    written = assign(args.folder, args.out, check_solution=not args.no_check, unsafe=args.unsafe)
    for path in written:
        print(f"wrote {path}")
    return 0
