"""Grade students' submissions of an assignment in a sandbox.

SUBMISSIONS holds one <student_id>.ipynb (or .py) per student. Each graded
function is extracted without running the rest of the notebook, run on the
assignment's cases in a sandboxed process (time, CPU, memory limits; no
network; no files outside its own folder), and compared with the reference
in the grader. Writes DIR/grades.csv, DIR/feedback/<student>.md and
DIR/results/<student>.json (Gradescope format).
"""

from __future__ import annotations

import sys

NAME = "grade"
HELP = "grade submissions in a sandbox -> grades.csv, feedback, results"


def add_arguments(parser) -> None:
    parser.add_argument("folder", metavar="FOLDER", help="assignment folder (with assignment.toml)")
    parser.add_argument("submissions", metavar="SUBMISSIONS",
                        help="folder of <student_id>.ipynb or <student_id>.py files")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="submissions graded at once (default: one per CPU)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from tqdm.auto import tqdm

    from labtools.errors import AssignmentError
    from labtools.grading import find_submissions, grade, load_assignment

    if args.workers is not None and args.workers < 1:
        raise AssignmentError(f"--workers must be at least 1, got {args.workers}")
    load_assignment(args.folder)  # a bad assignment is reported before the submissions
    bar = tqdm(total=len(find_submissions(args.submissions)), desc="grade", unit="submission",
               disable=args.quiet)
    report = grade(args.folder, args.submissions, args.out, workers=args.workers,
                   progress=lambda _: bar.update())
    bar.close()
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    totals = [s.total for s in report.submissions]
    maximum = report.assignment.max_points
    print(f"graded {len(totals)} submissions in {report.seconds:.1f} s: mean "
          f"{sum(totals) / len(totals):.2f} of {maximum:g} points; results in {args.out} "
          "(grades.csv, feedback/, results/)")
    if report.layers:
        print(f"sandbox: {', '.join(report.layers)}")
    return 0
