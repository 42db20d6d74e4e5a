"""fit(): the training loop, written to be read top to bottom.

Patches are sampled from cases cached in memory (on the GPU when they fit), so
there is no DataLoader and no worker process; each step is forward, loss,
backward, optimizer step. Once per epoch the loop reads the loss back from the
device, validates whole volumes, saves checkpoints and reports to callbacks.
"""

from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path

import torch

from labtools import losses
from labtools.errors import TrainingError
from labtools.models import size_divisor, unwrap
from labtools.training import checkpoint as ckpt
from labtools.training.callbacks import call, default_callbacks
from labtools.training.data import UNLABELLED, prepare_cases
from labtools.training.devices import DistributedContext, describe_device, seed_everything
from labtools.training.history import History
from labtools.training.normalization import Normalization
from labtools.training.sampling import PatchSampler, default_patch_size
from labtools.training.schedule import learning_rate
from labtools.training.transfer import frozen, load_matching
from labtools.training.validation import validate

__all__ = ["fit", "LOSSES"]

LOSSES = {"dice_ce": losses.dice_ce_loss, "cross_entropy": losses.cross_entropy, "dice": losses.dice_loss}


def fit(model, train, val=None, *, loss="dice_ce", epochs: int = 50, steps_per_epoch: int = 50,
        batch_size: int = 8, patch_size=None, fg_ratio: float = 0.5, lr: float = 1e-3,
        weight_decay: float = 1e-5, schedule: str | None = "cosine", augment=True,
        in_plane: bool = False, normalization: Normalization | None = None,
        max_time: float | None = None, patience: int | None = None, seed: int = 0, device="auto",
        amp: bool = True, compile: bool = False, out=None, resume=False, live="auto", callbacks=(),
        plan=None, init=None, init_part: str = "all", freeze_epochs: int = 0, curriculum=None) -> History:
    """Train a segmentation network on (image, labels) pairs; returns the per-epoch history.

    Parameters
    ----------
    model : torch.nn.Module
        Maps (B, C, *spatial) to (B, K, *spatial) logits, e.g. from
        :func:`labtools.models.make_model` (then checkpoints can rebuild it).
    train, val : sequence of (image, labels)
        Images as :class:`~labtools.io.Image` or arrays; labels as class
        indices 0..K-1, and ``UNLABELLED`` (-1) for voxels without a label
        (scribbles: see :func:`~labtools.training.labels_from_scribbles`),
        which get no loss and no gradient. Checked before training starts.
        Validation runs on whole volumes after every epoch; a 2D network may
        be validated on 3D volumes (slice by slice along the last axis).
    loss : {"dice_ce", "cross_entropy", "dice"} or callable
        A :mod:`labtools.losses` function by name, or ``loss(logits, labels)``.
    epochs, steps_per_epoch : int
        An epoch is ``steps_per_epoch`` optimizer steps (patches make the
        usual "one pass over the data" meaningless).
    batch_size, patch_size, fg_ratio
        Patches per step, their size (default: the images' size up to 128 in
        2D / 96 in 3D, a multiple of what the network needs), and the share of
        patches centred on a foreground voxel.
    lr, weight_decay : float
        AdamW's peak learning rate and weight decay.
    schedule : {"cosine", "poly", "constant"} or None
        Learning rate over training (:func:`~labtools.training.schedule.learning_rate`):
        fitted to ``epochs * steps_per_epoch`` steps, or with `max_time` to
        the time budget, so it reaches its final rate as training ends.
    augment : bool or sequence of str
        MONAI transforms by name (``labtools.training.sampling.AUGMENTATIONS``);
        True for the default set, False for none.
    in_plane : bool
        Rotate 3D patches about the last axis only (thick slices).
    normalization : Normalization, optional
        Intensity normalisation (default: z-score per image); recorded in the
        checkpoints so that prediction repeats it.
    max_time : float, optional
        Seconds for this call. The last epoch is cut short (fewer steps) so
        that its validation and checkpoint still fit in the budget.
    patience : int, optional
        Stop after this many epochs without a better validation Dice.
    seed : int
        Seeds the generators; patches depend only on (seed, step).
    device : str
        "auto" (CUDA, then MPS, then CPU), or a torch device name.
    amp : bool
        bf16 autocast on CUDA (ignored elsewhere).
    compile : bool
        ``torch.compile`` the network (checkpoints keep the plain module).
    out : path, optional
        Folder for ``last.pt``, ``best.pt``, ``history.csv``, ``curves.png``
        (default ``runs/<date-time>``).
    resume : bool or path
        Continue from ``out/last.pt`` (or the given checkpoint): weights,
        optimizer, step, history and random state, up to ``epochs`` in all.
    live : {"auto", "notebook", "terminal", None}
        Progress display; "auto" chooses the notebook inside Jupyter.
    callbacks : sequence
        More callbacks (see :mod:`labtools.training.callbacks`).
    plan : dict, optional
        The :class:`~labtools.training.planning.Plan` these options came from
        (``Plan.to_dict()``), recorded in the checkpoints and written to
        ``out/plan.json``.
    init : path, optional
        Start from the weights of this checkpoint (self-supervised pretraining,
        :func:`~labtools.training.pretrain.pretrain`, or a network trained on
        another task): every tensor with the same name and shape is copied
        bit for bit, the others (a head for another number of classes) keep
        their fresh values and are listed (printed, and in the checkpoints'
        ``config["init"]``; :mod:`labtools.training.transfer`).
    init_part : {"all", "encoder"}
        With `init`: copy every matching tensor, or the encoder's only (the
        contracting path; the decoder starts fresh).
    freeze_epochs : int
        With `init`: the copied layers do not learn during the first
        `freeze_epochs` epochs (the new head settles first; with
        ``init_part="encoder"``, the encoder is frozen while the decoder learns).
    curriculum : Curriculum, optional
        Easy things first (:mod:`labtools.training.curriculum`):
        ``PredefinedCurriculum(difficulty)`` (easiest cases first),
        ``SelfPaced()`` (a patch counts once its loss is small enough) or
        ``SmoothingCurriculum()`` (blurred feature maps, sharpened over the epochs).

    Returns
    -------
    History

    Examples
    --------
    >>> from labtools import datasets, models
    >>> from labtools.training import fit
    >>> pairs = [datasets.phantom((32, 32), seed=s) for s in range(3)]
    >>> net = models.make_model("tiny_unet", 2, 1, 5, channels=(4, 8))
    >>> history = fit(net, pairs[:2], pairs[2:], epochs=2, steps_per_epoch=3, batch_size=2,
    ...               out=getfixture("tmp_path"), live=None)
    >>> [record["epoch"] for record in history], "val_dice" in history[-1]
    ([1, 2], True)
    """
    # --- where, and on what ---------------------------------------------------------------------
    _check_options(epochs=epochs, steps_per_epoch=steps_per_epoch, batch_size=batch_size, lr=lr,
                   weight_decay=weight_decay, max_time=max_time, patience=patience)
    context = DistributedContext(device)
    device, is_main = context.device, context.is_main
    seed_everything(seed + context.rank)
    dims, in_channels, n_classes = _model_io(model)
    transferred = _start_from(model, init, init_part, freeze_epochs, resume, context.world_size)
    if transferred is not None and is_main and live is not None:
        print(transferred.summary(), flush=True)
    normalization = normalization or Normalization()
    train_cases = prepare_cases(train, n_classes=n_classes, in_channels=in_channels,
                                spatial_dims=dims, what="training", normalization=normalization)
    val_cases = [] if val is None else prepare_cases(
        val, n_classes=n_classes, in_channels=in_channels, spatial_dims=dims, what="validation",
        normalization=normalization, extra_dims=1 if dims == 2 else 0)
    learning_rate(schedule, lr, 0.0)  # an unknown schedule fails here, before any work
    patch_size = _check_patch(patch_size or default_patch_size(train_cases, size_divisor(model), dims),
                              dims, size_divisor(model))
    sampler = PatchSampler(train_cases, patch_size, batch_size, fg_ratio=fg_ratio, augment=augment,
                           seed=seed, rank=context.rank, device=device, in_plane=in_plane)
    if _fits_on(device, train_cases + val_cases):
        # Cache the volumes on the GPU: neither a step nor a validation copies from the host.
        sampler.to(device)
        val_cases = [case.to(device) for case in val_cases]
    loss_fn = _loss_function(loss, ignore_index=UNLABELLED if sampler.has_unlabelled else None)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)

    # --- a new run, or the continuation of an interrupted one -----------------------------------
    out = _run_folder(out, resume)
    if plan and is_main:  # next to the checkpoints, for people (the checkpoints record it too)
        from labtools.training.planning import Plan

        Plan.from_dict(plan).save(out)
    history, start_epoch, step, best = History(), 0, 0, -math.inf
    if resume:
        state = ckpt.load_checkpoint(out / "last.pt" if resume is True else resume)
        ckpt.check_resumable(state, model)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:  # the moments come back; the rates are today's choice
            group.update(lr=lr, weight_decay=weight_decay)
        history, start_epoch, step, best = History(state["history"]), state["epoch"], state["step"], state["best"]
        ckpt.set_rng_state(state["rng"])
    if patience and not val:
        raise TrainingError("patience (early stopping) watches the validation Dice: give validation data")
    if start_epoch >= epochs:
        raise TrainingError(f"the run in {out} already has {start_epoch} epochs; ask for more than "
                            f"{start_epoch} epochs to continue it")
    config = {"epochs": epochs, "steps_per_epoch": steps_per_epoch, "batch_size": batch_size,
              "patch_size": list(patch_size), "fg_ratio": fg_ratio, "lr": lr, "loss": str(loss),
              "seed": seed, "augment": augment if isinstance(augment, bool) else list(augment),
              "schedule": schedule, "weight_decay": weight_decay,
              "normalization": normalization.to_dict(), "sparse": sampler.sparse,
              "world_size": context.world_size, **({"plan": plan} if plan else {}),
              **({"init": {**transferred.to_dict(), "part": init_part}, "freeze_epochs": freeze_epochs}
                 if transferred else {}),
              **({"curriculum": curriculum.describe()} if curriculum is not None else {})}

    use_amp = amp and device.type == "cuda"   # bf16 keeps float32's range: no loss scaling needed
    cudnn_benchmark = torch.backends.cudnn.benchmark  # restored at the end: it is process-wide
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch size: let cuDNN pick its fastest kernels
    network = context.wrap(torch.compile(model) if compile else model)
    callbacks = [*default_callbacks(out, live), *callbacks] if is_main else []
    if is_main and live is not None:
        print(f"labtools.training.fit: training on {describe_device(device)}"
              + (f" x {context.world_size} processes" if context.world_size > 1 else ""), flush=True)
    call(callbacks, "on_train_begin", {
        "out": out, "device": describe_device(device), "epochs": epochs, "steps_per_epoch": steps_per_epoch,
        "start_epoch": start_epoch, "start_step": step,
        "parameters": sum(p.numel() for p in model.parameters())})

    # --- the loop ------------------------------------------------------------------------------
    previous_time = history[-1]["time"] if len(history) else 0.0
    started, reason = time.perf_counter(), f"reached {epochs} epoch{'s' * (epochs != 1)}"
    budget, finished = _TimeBudget(max_time, started), False
    total_steps = epochs * steps_per_epoch
    try:
        if curriculum is not None:
            curriculum.start(model, sampler)
        for epoch in range(start_epoch + 1, epochs + 1):
            epoch_start = time.perf_counter()
            if curriculum is not None:
                curriculum.epoch(epoch, budget.progress(step, total_steps) if context.world_size == 1
                                 else step / total_steps)
            if transferred is not None and freeze_epochs:
                frozen(model, transferred.loaded, freeze=epoch <= freeze_epochs)
            network.train()
            loss_sum, steps_done = torch.zeros((), device=device), 0
            for _ in range(steps_per_epoch):
                if steps_done and context.world_size == 1:
                    budget.step_seconds = (time.perf_counter() - epoch_start) / steps_done
                    if budget.no_time_for_a_step():
                        break  # end this epoch early, leaving time to validate and save it
                # Several processes must agree on the rate: they follow the steps, not their clocks.
                progress = (budget.progress(step, total_steps) if context.world_size == 1
                            else step / total_steps)
                rate = learning_rate(schedule, lr, progress)
                for group in optimizer.param_groups:
                    group["lr"] = rate
                images, labels = sampler.batch(step)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    logits = network(images)
                if curriculum is not None and curriculum.per_sample:  # one loss per patch, weighted
                    losses = torch.stack([loss_fn(logits[i:i + 1].float(), labels[i:i + 1])
                                          for i in range(len(logits))])
                    weights = curriculum.weights(losses)
                    loss_value = (weights * losses).sum() / weights.sum()
                else:
                    loss_value = loss_fn(logits.float(), labels)  # the loss itself in float32
                optimizer.zero_grad(set_to_none=True)
                loss_value.backward()
                optimizer.step()
                loss_sum += loss_value.detach()  # stays on the device: no wait for the GPU here
                step, steps_done = step + 1, steps_done + 1
                call(callbacks, "on_step_end", step)
            # The one GPU synchronisation per epoch (and, with several processes, their mean).
            train_loss = context.mean(float(loss_sum) / steps_done)
            train_seconds = time.perf_counter() - epoch_start
            budget.step_seconds = train_seconds / steps_done
            if not math.isfinite(train_loss):
                raise TrainingError(
                    f"the training loss became {train_loss} in epoch {epoch}: lower the learning rate "
                    f"(lr={lr}) or check the images; {out / 'last.pt'} holds the last good epoch")

            record = {"epoch": epoch, "step": step, "time": None, "train_loss": train_loss,
                      "lr": optimizer.param_groups[0]["lr"], "steps_per_s": steps_done / train_seconds}
            if val_cases and is_main:
                record.update(validate(model, val_cases, patch_size, loss_fn=loss_fn, n_classes=n_classes,
                                       device=device, batch_size=batch_size, amp=use_amp))
            record["time"] = previous_time + time.perf_counter() - started
            history.append(record)

            stop = False
            if is_main:
                score = record["val_dice"] if val_cases else -train_loss  # no validation: lowest loss
                score = -math.inf if math.isnan(score) else score  # NaN: no foreground anywhere yet
                improved = score > best or not (out / "best.pt").exists()
                best = max(best, score)
                _save(out / "last.pt", model, optimizer, epoch, step, history, best, config)
                if improved:  # best.pt becomes a second name of this very file: no second write
                    ckpt.link_as(out / "last.pt", out / "best.pt")
                stop = call(callbacks, "on_epoch_end", record, history)
                reason = "stopped by a callback" if stop else reason
                budget.tail_seconds = time.perf_counter() - epoch_start - train_seconds
                stop, reason = _should_stop(stop, reason, history, patience, budget)
            if context.agree(stop):
                break
        finished = True
    except BaseException as error:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise
    finally:
        call(callbacks, "on_train_end", history, reason)
        if curriculum is not None:
            curriculum.close()
        context.close(finished=finished)
        torch.backends.cudnn.benchmark = cudnn_benchmark
    return history


# --- helpers the loop calls once ------------------------------------------------------------------

def _model_io(model) -> tuple[int, int, int]:
    """(spatial dims, input channels, classes) of a network, from make_model's record or its layers."""
    spec = getattr(unwrap(model), "labtools_spec", None)
    if spec:
        return spec["spatial_dims"], spec["in_channels"], spec["out_channels"]
    convolutions = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d))]
    if not convolutions:
        raise TrainingError("cannot tell the network's input and output channels: build it with "
                            "labtools.models.make_model, or use a network made of Conv2d/Conv3d layers")
    dims = 2 if isinstance(convolutions[0], torch.nn.Conv2d) else 3
    return dims, convolutions[0].in_channels, convolutions[-1].out_channels


def _start_from(model, init, part: str, freeze_epochs: int, resume, world_size: int):
    """Copy the matching weights of `init` into `model` (a TransferReport), or None without `init`."""
    if freeze_epochs < 0:
        raise TrainingError(f"freeze_epochs must not be negative, got {freeze_epochs}")
    if init is None:
        if freeze_epochs:
            raise TrainingError("freeze_epochs freezes the layers copied from init=: give init too")
        return None
    if resume:
        raise TrainingError("init= starts a new run from other weights; resume= continues this run's own: "
                            "use one of them")
    if freeze_epochs and world_size > 1:
        raise TrainingError("freeze_epochs is not supported under torchrun (DDP needs every parameter "
                            "to learn); drop it or train on one process")
    return load_matching(unwrap(model), init, part=part)


def _check_options(**options) -> None:
    """Numbers that must be positive (or not negative), checked before any work."""
    for name in ("epochs", "steps_per_epoch", "batch_size"):
        if options[name] < 1:
            raise TrainingError(f"{name} must be at least 1, got {options[name]}")
    for name in ("lr", "weight_decay", "max_time", "patience"):
        if options[name] is not None and options[name] < 0:
            raise TrainingError(f"{name} must not be negative, got {options[name]}")


def _check_patch(patch_size, dims: int, divisor: int) -> tuple[int, ...]:
    patch_size = tuple(int(p) for p in patch_size)
    if len(patch_size) != dims or any(p % divisor or p < divisor for p in patch_size):
        raise TrainingError(f"patch_size {patch_size} must have {dims} sizes, each a positive multiple "
                            f"of {divisor} (the network halves the grid {int(math.log2(divisor))} times)")
    return patch_size


def _fits_on(device: torch.device, cases) -> bool:
    """Whether caching every case on `device` leaves most of its memory to the network."""
    if device.type == "cpu":
        return False  # already there
    size = sum(c.image.numel() * c.image.element_size() + c.labels.numel() * 2 for c in cases)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return size < 0.3 * free
    return size < 2**30


def _loss_function(loss, ignore_index):
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise TrainingError(f"unknown loss {loss!r}; choose {', '.join(LOSSES)} or pass a function")
    # The labels were checked once by prepare_cases; check=False spares a GPU sync per step.
    return partial(LOSSES[loss], ignore_index=ignore_index, check=False)


def _run_folder(out, resume) -> Path:
    out = Path(out) if out is not None else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    if resume is True and not (out / "last.pt").is_file():
        raise TrainingError(f"nothing to resume: {out / 'last.pt'} does not exist; start without resume")
    if not resume and (out / "last.pt").exists():
        raise TrainingError(f"{out} already holds a training run (last.pt); resume it with "
                            "resume=True (--resume), or choose another output folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _save(path, model, optimizer, epoch, step, history, best, config) -> None:
    ckpt.save_checkpoint(path, model=model, optimizer=optimizer, epoch=epoch, step=step,
                         history=history, best=best, config=config)


def _should_stop(stop, reason, history, patience, budget):
    """Early stopping and the time budget, after an epoch; returns (stop, reason)."""
    if stop:
        return stop, reason
    if patience and len(history) > patience:
        best = history.best("val_dice")
        if best is not None and history[-1]["epoch"] - best["epoch"] >= patience:
            return True, (f"early stopping: no better validation Dice for {patience} epochs "
                          f"(best {best['val_dice']:.4f} at epoch {best['epoch']})")
    if budget.no_time_for_a_step():
        return True, budget.reason()
    return False, reason


class _TimeBudget:
    """``max_time`` seconds from `started`: is there time for one more step and the epoch's end?"""

    def __init__(self, max_time, started: float):
        self.max_time, self.started = max_time, started
        # Measured as training goes: one step, and what follows the steps of an epoch
        # (validation, checkpoint, callbacks). Until the first epoch's end is measured, a
        # tenth of the budget is kept for it, so that even the first validation fits.
        self.step_seconds = 0.0
        self.tail_seconds = 0.1 * max_time / 1.5 if max_time else 0.0

    def no_time_for_a_step(self) -> bool:
        if self.max_time is None:
            return False
        # 1.5 x the last epoch's end: validation time varies when other programs share the CPU.
        needed = self.step_seconds + 1.5 * self.tail_seconds
        return time.perf_counter() - self.started + needed > self.max_time

    def progress(self, step: int, total_steps: int) -> float:
        """Share of training done: of the steps, or with a budget of the time left for steps."""
        if self.max_time is None:
            return step / total_steps
        # The time for steps ends where the last epoch's validation and checkpoint must begin.
        for_steps = self.max_time - self.step_seconds - 1.5 * self.tail_seconds
        return (time.perf_counter() - self.started) / max(for_steps, 1e-9)

    def reason(self) -> str:
        return f"time budget of {self.max_time:g} s reached after {time.perf_counter() - self.started:.0f} s"
