"""Compare predicted segmentations with references: one CSV row per case and class, and a summary.

PRED and REF are two files or two folders; folder files are paired by name.
Spacing comes from the reference headers (--spacing auto) unless given.
A case whose files cannot be read or do not share a grid is reported and skipped.
Cases run as Dask tasks (a local cluster, or --scheduler); each finished case
is recorded in <out>.journal.jsonl, so a rerun skips it (docs/scale.md).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from labtools.commands.scale_options import add_scale_arguments

NAME = "evaluate"
HELP = "metrics of predictions against references (files or folders) -> CSV"


def add_arguments(parser) -> None:
    parser.add_argument("pred", metavar="PRED", help="prediction file or folder")
    parser.add_argument("ref", metavar="REF", help="reference file or folder")
    parser.add_argument("--spacing", default="auto", metavar="auto|X,Y[,Z]",
                        help="voxel size in mm; 'auto' reads each reference header (default)")
    parser.add_argument("--labels", default=None, metavar="1,2,...",
                        help="classes to evaluate (default: every non-zero value found)")
    parser.add_argument("--tolerance", type=float, default=1.0, metavar="MM",
                        help="NSD tolerance in mm (default 1)")
    parser.add_argument("--metrics", default=None, metavar="dice,hd95,...|all",
                        help="which metrics (default: overlap, distances, volumes, lesion counts); "
                             "'all' adds the rates (MCC, kappa, ...) and directed distances; "
                             "names: python -c 'import labtools.metrics as m; print(m.AVAILABLE_METRICS)'")
    parser.add_argument("--inf-policy", default="diagonal", metavar="diagonal|exclude|VALUE",
                        help="what the summary does with infinite distances (one mask empty): "
                             "replace by the image diagonal (default), leave out, or a number")
    parser.add_argument("--out", default="metrics.csv", metavar="CSV",
                        help="per-case table (default metrics.csv); the summary goes next to it "
                             "as <name>_summary.csv")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_scale_arguments(parser)


def run(args) -> int:
    from labtools.errors import InvalidImageError
    from labtools.metrics.batch import evaluate_files, pair_files, summarize, write_csv

    spacing = "auto" if args.spacing == "auto" else _numbers(args.spacing, float, "--spacing")
    labels = None if args.labels is None else _numbers(args.labels, int, "--labels")
    from labtools.metrics.evaluate import selected_metrics

    chosen = None if args.metrics is None else selected_metrics(
        "all" if args.metrics == "all" else args.metrics.split(","))
    inf_policy = args.inf_policy
    if inf_policy not in ("diagonal", "exclude"):
        try:
            inf_policy = float(inf_policy)
        except ValueError:
            raise InvalidImageError(f"--inf-policy must be 'diagonal', 'exclude' or a number of mm, "
                                    f"got {args.inf_policy!r}") from None
    pairs, unmatched_pred, unmatched_ref = pair_files(args.pred, args.ref)
    for path in unmatched_ref:
        print(f"warning: no prediction for {path.name}", file=sys.stderr)
    for path in unmatched_pred:
        print(f"warning: no reference for {path.name}", file=sys.stderr)
    if not pairs:
        raise InvalidImageError(f"no files with the same name in {args.pred} and {args.ref}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = evaluate_files(pairs, spacing=spacing, labels=labels, tolerance=args.tolerance,
                          progress=not args.quiet, metrics=chosen, scheduler=args.scheduler,
                          workers=args.workers, journal=journal_path(out))
    summary = summarize(rows, inf_policy=inf_policy)
    write_csv(out, rows)
    summary_path = out.with_name(out.stem + "_summary.csv")
    write_csv(summary_path, summary)
    _print_report(rows, summary, out, summary_path, chosen)
    return 1 if any(r["error"] for r in rows) else 0


def journal_path(out: Path) -> Path:
    """Where the finished cases of a run writing `out` are recorded.

    Examples
    --------
    >>> journal_path(Path("results/metrics.csv")).as_posix()
    'results/metrics.journal.jsonl'
    """
    return out.with_name(out.stem + ".journal.jsonl")


def _numbers(text: str, kind, option: str) -> list:
    from labtools.errors import InvalidImageError

    try:
        return [kind(part) for part in text.split(",")]
    except ValueError:
        raise InvalidImageError(f"{option} expects comma-separated numbers, got {text!r}") from None


def _print_report(rows, summary, out: Path, summary_path: Path, chosen=None) -> None:
    failed = [r for r in rows if r["error"]]
    cases = {r["case"] for r in rows}
    print(f"{len(cases)} cases, {len(failed)} failed; per case: {out}; summary: {summary_path}")
    for row in failed:
        print(f"  failed {row['case']}: {row['error']}")
    shown = chosen or ("dice", "hd95", "assd", "nsd", "volume_ref_ml", "volume_pred_ml")
    print(f"{'label':>5} {'metric':<15}{'mean':>10}{'std':>10}{'median':>10}{'n':>5}"
          f"{'both empty':>12}{'one empty':>11}")
    for item in summary:
        if item["metric"] in shown:
            print(f"{item['label']:>5} {item['metric']:<15}" + "".join(
                f"{item[k]:>10.4g}" if not math.isnan(item[k]) else f"{'nan':>10}"
                for k in ("mean", "std", "median"))
                + f"{item['n']:>5}{item['n_both_empty']:>12}{item['n_one_empty']:>11}")
