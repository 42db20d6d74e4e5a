"""Pretrain the planned network on the data's images without their labels (self-supervised).

Writes last.pt, history.csv and curves.png to --out. The network is the one
`labtools train` would build for the same data and options (the plan), with a
pretraining head, so that `labtools train ... --init OUT/last.pt` starts from
it: every layer but the head is copied, and what is skipped is listed.
Methods: masked (reconstruct blanked-out cubes) or contrastive (InfoNCE
between two augmented views of each patch). See docs/training.md.
"""

from __future__ import annotations

NAME = "pretrain"
HELP = "self-supervised pretraining on unlabelled images -> last.pt for `labtools train --init`"


def add_arguments(parser) -> None:
    from labtools.commands.train import add_plan_arguments

    add_plan_arguments(parser)
    parser.add_argument("--method", choices=("masked", "contrastive"), default="masked",
                        help="masked reconstruction (default) or contrastive (InfoNCE)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from labtools.commands.train import plan_from_args
    from labtools.training import pretrain, seed_everything
    from labtools.training.resample import resample_data
    from labtools.training.sources import load_source

    data = load_source(args.data, args.dims, seed=args.seed)
    chosen = plan_from_args(args, data)
    data, _ = resample_data(data, chosen.spacing)
    seed_everything(args.seed)
    options = chosen.fit_options()
    images = [image for image, _ in data.train]  # the labels stay unused; validation images stay unseen
    history = pretrain(images, chosen.make_model(data.in_channels, data.n_classes), method=args.method,
                       epochs=options["epochs"], steps_per_epoch=options["steps_per_epoch"],
                       batch_size=options["batch_size"], patch_size=options["patch_size"], lr=options["lr"],
                       normalization=options["normalization"], seed=args.seed, device=args.device,
                       out=args.out, live=None if args.quiet else "terminal")
    print(f"pretrained ({args.method}) for {len(history)} epochs, loss {history[0]['train_loss']:.4g} -> "
          f"{history[-1]['train_loss']:.4g}; start training from it with "
          f"`labtools train --data {args.data} --dims {args.dims} --init {args.out}/last.pt ...`")
    return 0
