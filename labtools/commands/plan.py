"""Print the training plan for a dataset: every choice `labtools train` would make, and why.

The plan follows nnU-Net's idea: a fixed recipe plus rules that read the
dataset (spacings, shapes, foreground intensities, modality, class
frequencies). Any option of `labtools train` overrides its choice only; give
the same options here to see the result. --json prints it as `plan.json`.
"""

from __future__ import annotations

import json

NAME = "plan"
HELP = "print the training plan for a dataset (nnU-Net-style rules, with the reason for each choice)"


def add_arguments(parser) -> None:
    from labtools.commands.train import add_plan_arguments

    add_plan_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")


def run(args) -> int:
    from labtools.commands.train import plan_from_args
    from labtools.training.sources import load_source

    data = load_source(args.data, args.dims)
    chosen = plan_from_args(args, data)
    if args.json:
        print(json.dumps(chosen.to_dict(), indent=2))
        return 0
    print(f"plan for {data.description}: {len(data.train)} training and {len(data.val)} validation "
          f"pairs, {data.n_classes} classes")
    print(chosen.describe())
    return 0
