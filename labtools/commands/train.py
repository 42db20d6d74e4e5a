"""Train a segmentation network; writes plan.json, checkpoints, history.csv and curves.png to --out.

Every choice (patch and batch size, network, normalisation, augmentation,
learning rate and schedule) comes from the plan that `labtools plan` prints
for the data; each option below overrides that one choice. With --max-time
the learning-rate schedule is fitted to the time budget.

Data: `phantom` (synthetic, offline), `mni152` (real MRI template, offline),
`decathlon:PATH` (a Medical Segmentation Decathlon task folder, or a task name
under the labtools data folder), or a folder with images/ and labels/.
Several GPUs: `torchrun --nproc_per_node=N -m labtools.train ...` (same options).
Interrupted runs continue with --resume (same --out).
"""

from __future__ import annotations

import sys

NAME = "train"
HELP = "train a segmentation network (U-Net and friends) -> checkpoints, history.csv, curves.png"


def add_arguments(parser) -> None:
    add_plan_arguments(parser)
    parser.add_argument("--max-time", type=float, metavar="S",
                        help="seconds of training: the schedule is fitted to them and the last "
                             "validation ends within them")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")
    parser.add_argument("--init", metavar="CHECKPOINT",
                        help="start from these weights (`labtools pretrain`, or a network trained on another "
                             "task): layers of the same name and shape are copied, the others listed")
    parser.add_argument("--init-part", choices=("all", "encoder"), default="all",
                        help="with --init: copy every matching layer (default) or the encoder's only")
    parser.add_argument("--freeze-epochs", type=int, default=0, metavar="N",
                        help="with --init: the copied layers do not learn during the first N epochs")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_plan_arguments(parser) -> None:
    """The data, and one option per choice of the plan (each overrides that choice only)."""
    # The names only: importing labtools.models would load torch whenever any command's
    # parser is built (the grader and its Gradescope bundle run without torch).
    from labtools.model_names import MODEL_NAMES

    parser.add_argument("--data", required=True, metavar="SOURCE",
                        help="phantom | mni152 | decathlon:PATH | DIR (with images/ and labels/)")
    parser.add_argument("--dims", type=int, choices=(2, 3), default=2,
                        help="2D network on slices, or 3D network on volumes (default 2)")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps")
    parser.add_argument("--modality", choices=("CT", "MRI", "other"),
                        help="image modality (default: from the dataset, or guessed from the intensities)")
    choices = parser.add_argument_group("choices of the plan (default: from `labtools plan`)")
    choices.add_argument("--model", choices=MODEL_NAMES, help="network (plan: unet)")
    choices.add_argument("--channels", metavar="N,N,...", help="features per level, e.g. 16,32,64,128")
    choices.add_argument("--patch-size", metavar="N,N[,N]", help="patch size")
    choices.add_argument("--batch-size", type=int, metavar="N", help="patches per step")
    choices.add_argument("--epochs", type=int, help="epochs in all")
    choices.add_argument("--steps-per-epoch", type=int, metavar="N", help="optimizer steps per epoch")
    choices.add_argument("--lr", type=float, help="AdamW's peak learning rate")
    choices.add_argument("--weight-decay", type=float, metavar="W", help="AdamW's weight decay")
    choices.add_argument("--schedule", choices=("cosine", "poly", "constant"), help="learning-rate schedule")
    choices.add_argument("--loss", choices=("dice_ce", "cross_entropy", "dice"), help="loss")
    choices.add_argument("--normalization", choices=("zscore", "zscore_body"),
                         help="intensity normalisation (CT's needs the dataset: use --modality CT)")
    choices.add_argument("--augment", metavar="NAME,...",
                         help="augmentations, from: flip, rotate_scale, elastic, intensity, gamma, "
                              "noise, bias_field, low_resolution; or none")
    choices.add_argument("--no-augment", action="store_true", help="same as --augment none")
    choices.add_argument("--fg-ratio", type=float, metavar="F", help="share of patches centred on foreground")
    choices.add_argument("--patience", type=int, metavar="N",
                         help="early stop after N epochs without a better validation Dice (0: never)")


def plan_from_args(args, data):
    """The plan for `data` with every option the user gave as an override."""
    from labtools.training.planning import plan

    overrides = {name: getattr(args, name) for name in (
        "model", "batch_size", "epochs", "steps_per_epoch", "lr", "weight_decay", "schedule", "loss",
        "fg_ratio", "patience") if getattr(args, name) is not None}
    for name, option in (("channels", "--channels"), ("patch_size", "--patch-size")):
        if getattr(args, name) is not None:
            overrides[name] = _ints(getattr(args, name), option)
    if args.normalization is not None:
        overrides["normalization"] = {"scheme": args.normalization}
    if args.no_augment or (args.augment or "").strip().lower() == "none":
        overrides["augment"] = ()
    elif args.augment is not None:
        overrides["augment"] = tuple(name.strip() for name in args.augment.split(",") if name.strip())
    return plan(data, dims=args.dims, device=args.device, modality=args.modality, **overrides)


def run(args) -> int:
    from labtools.training import fit, seed_everything
    from labtools.training.resample import resample_data
    from labtools.training.sources import load_source

    data = load_source(args.data, args.dims, seed=args.seed)
    for note in data.notes:
        print(f"note: {note}")
    chosen = plan_from_args(args, data)
    print(f"plan ({data.description}; `labtools plan` explains each choice):\n{chosen.describe()}")
    data, resampled = resample_data(data, chosen.spacing)
    if resampled:
        print(f"note: {resampled}")
    seed_everything(args.seed)  # the same seed gives the same initial weights
    model = chosen.make_model(data.in_channels, data.n_classes)
    try:
        history = fit(model, data.train, data.val, **chosen.fit_options(max_time=args.max_time),
                      seed=args.seed, device=args.device, amp=not args.no_amp,
                      compile=args.compile, out=args.out, resume=args.resume,
                      live=None if args.quiet else "terminal", init=args.init, init_part=args.init_part,
                      freeze_epochs=args.freeze_epochs)
    except KeyboardInterrupt:
        print(f"the finished epochs are saved in {args.out}; to continue, run the same command "
              "with --resume", file=sys.stderr)
        raise
    best = history.best("val_dice")
    if best is not None:
        print(f"best validation Dice {best['val_dice']:.4f} at epoch {best['epoch']}; "
              f"checkpoints, plan.json and history.csv in {args.out}")
    return 0


def _ints(text, option: str):
    if text is None:
        return None
    from labtools.errors import TrainingError

    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError as err:
        raise TrainingError(f"{option} takes whole numbers separated by commas, got {text!r}") from err
