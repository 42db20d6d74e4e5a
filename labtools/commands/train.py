"""Train a segmentation network; writes checkpoints, history.csv and curves.png to --out.

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
    # The names only: importing labtools.models would load torch whenever any command's
    # parser is built (the grader and its Gradescope bundle run without torch).
    from labtools.model_names import MODEL_NAMES

    parser.add_argument("--data", required=True, metavar="SOURCE",
                        help="phantom | mni152 | decathlon:PATH | DIR (with images/ and labels/)")
    parser.add_argument("--dims", type=int, choices=(2, 3), default=2,
                        help="2D network on slices, or 3D network on volumes (default 2)")
    parser.add_argument("--model", choices=MODEL_NAMES, default="unet", help="network (default unet)")
    parser.add_argument("--channels", metavar="N,N,...",
                        help="features per level, e.g. 16,32,64,128 (default: the model's)")
    parser.add_argument("--epochs", type=int, default=50, help="epochs in all (default 50)")
    parser.add_argument("--steps-per-epoch", type=int, default=20, metavar="N",
                        help="optimizer steps per epoch (default 20)")
    parser.add_argument("--batch-size", type=int, default=8, metavar="N", help="patches per step (default 8)")
    parser.add_argument("--patch-size", metavar="N,N[,N]", help="patch size (default: from the data)")
    parser.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    parser.add_argument("--loss", default="dice_ce", choices=("dice_ce", "cross_entropy", "dice"),
                        help="loss (default dice_ce)")
    parser.add_argument("--max-time", type=float, metavar="S",
                        help="stop before an epoch would end later than S seconds")
    parser.add_argument("--patience", type=int, metavar="N",
                        help="early stopping: epochs without a better validation Dice")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps")
    parser.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    parser.add_argument("--no-augment", action="store_true", help="no random flips/intensity changes")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from labtools.models import make_model
    from labtools.training import fit, seed_everything
    from labtools.training.sources import load_source

    data = load_source(args.data, args.dims, seed=args.seed)
    for note in data.notes:
        print(f"note: {note}")
    seed_everything(args.seed)  # the same seed gives the same initial weights
    model = make_model(args.model, args.dims, data.in_channels, data.n_classes,
                       channels=_ints(args.channels, "--channels"))
    try:
        history = fit(model, data.train, data.val, loss=args.loss, epochs=args.epochs,
                      steps_per_epoch=args.steps_per_epoch, batch_size=args.batch_size,
                      patch_size=_ints(args.patch_size, "--patch-size"), lr=args.lr,
                      augment=not args.no_augment, max_time=args.max_time, patience=args.patience,
                      seed=args.seed, device=args.device, amp=not args.no_amp, compile=args.compile,
                      out=args.out, resume=args.resume, live=None if args.quiet else "terminal")
    except KeyboardInterrupt:
        print(f"the finished epochs are saved in {args.out}; to continue, run the same command "
              "with --resume", file=sys.stderr)
        raise
    best = history.best("val_dice")
    if best is not None:
        print(f"best validation Dice {best['val_dice']:.4f} at epoch {best['epoch']}; "
              f"checkpoints and history.csv in {args.out}")
    return 0


def _ints(text, option: str):
    if text is None:
        return None
    from labtools.errors import TrainingError

    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError as err:
        raise TrainingError(f"{option} takes whole numbers separated by commas, got {text!r}") from err
