"""Grade students' submissions of an assignment: their code in a sandbox, your tests outside it.

SUBMISSIONS holds one <student_id>.ipynb (or .py) per student, or one folder
per student (nbgrader's submitted/<student>/<assignment>/ layout works). Each
student's code runs in a sandboxed process (bubblewrap: no network, no files
but its own, time and memory limits); the instructor's tests run in a trusted
process where student functions are stubs returning plain data. Writes
DIR/grades.csv, DIR/feedback/<student>.md, DIR/results/<student>.json
(Gradescope format) and, for manually graded questions, DIR/review/ and
DIR/manual.csv.
"""

from __future__ import annotations

import sys

NAME = "grade"
HELP = "grade submissions in a sandbox -> grades.csv, feedback, results, review"


def add_arguments(parser) -> None:
    parser.add_argument("folder", metavar="FOLDER",
                        help="assignment folder (source notebooks; assignment.toml optional)")
    parser.add_argument("submissions", metavar="SUBMISSIONS",
                        help="folder of <student_id>.ipynb files or <student_id>/ folders")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="submissions graded at once (default: one per CPU)")
    parser.add_argument("--unsafe", action="store_true",
                        help="grade without walls when bubblewrap cannot run here (never on "
                             "untrusted code)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from tqdm.auto import tqdm

    from labtools.errors import AssignmentError
    from labtools.grading import find_submissions, grade, load_assignment

    if args.workers is not None and args.workers < 1:
        raise AssignmentError(f"--workers must be at least 1, got {args.workers}")
    load_assignment(args.folder)  # a bad assignment is reported before the submissions
    # disable=None: no bar when the output is not a terminal (a log file would fill with \r).
    bar = tqdm(total=len(find_submissions(args.submissions)), desc="grade", unit="submission",
               disable=True if args.quiet else None)
    report = grade(args.folder, args.submissions, args.out, workers=args.workers,
                   progress=lambda _: bar.update(), unsafe=args.unsafe)
    bar.close()
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    totals = [s.total for s in report.submissions]
    maximum = report.assignment.max_points
    print(f"graded {len(totals)} submission{'s' if len(totals) != 1 else ''} in "
          f"{report.seconds:.1f} s: mean {sum(totals) / len(totals):.2f} of {maximum:g} "
          f"point{'' if maximum == 1 else 's'}; "
          f"results in {args.out} (grades.csv, feedback/, results/)")
    if report.layers:
        print(f"sandbox: {'; '.join(report.layers)}")
    return 0
