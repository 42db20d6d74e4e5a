"""Benchmark: what labtools' planned training reaches against a plain MONAI loop, same data, same time.

Each row trains both sides on the same split for the same wall time (2 torch
threads unless --threads), then scores both with the same function: the best
network of each (chosen on its own validation, inside its budget) segments the
validation cases, and the Dice of each foreground class is pooled over them
(one volume for MNI152: its right half); the row's number is the mean over
the foreground (tissue) classes.

- **labtools**: ``plan(data)`` then ``fit(..., **plan.fit_options(max_time=S))``,
  exactly what ``labtools train --data D --dims N --max-time S`` runs.
- **MONAI**: the plain loop of issue 14, written below in ~30 lines as a
  MONAI user would: ``monai.networks.nets.UNet`` 16-32-64-128 with one
  residual unit, ``DiceCELoss``, Adam lr 2e-3; 2D: whole slices padded to a
  multiple of 16, batch 16; 3D: random 48^3 patches, batch 2; per-image z-score
  (``NormalizeIntensity``); validation (sliding window in 3D) every 100 (2D) /
  50 (3D) steps and at the deadline, the best weights kept.

Rows: MNI152 2 mm in 2D (axial slices of the left half train, the right half
validates), the phantom in 2D (16 + 4 subjects), MNI152 2 mm in 3D; each at
60 s and 120 s.

Run:  .venv/bin/python -m benchmarks.training_quality [--rows mni152-2d,phantom-2d,mni152-3d]
                                                      [--seconds 60,120] [--device cpu]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import tempfile
import time

import numpy as np
import torch

ROWS = {"mni152-2d": ("mni152", 2), "phantom-2d": ("phantom", 2), "mni152-3d": ("mni152", 3)}


def plain_monai_loop(data, dims: int, seconds: float, device, seed: int = 0):
    """The plain MONAI loop; returns (best network, optimizer steps)."""
    from monai.inferers import sliding_window_inference
    from monai.losses import DiceCELoss
    from monai.networks.nets import UNet
    from monai.transforms import DivisiblePad, NormalizeIntensity

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = UNet(dims, 1, data.n_classes, channels=(16, 32, 64, 128), strides=(2, 2, 2),
               num_res_units=1).to(device)
    loss_fn, optimizer = DiceCELoss(to_onehot_y=True, softmax=True), torch.optim.Adam(net.parameters(), 2e-3)
    norm, pad = NormalizeIntensity(), DivisiblePad(16)
    images = [torch.as_tensor(norm(np.asarray(_array(i), np.float32)[None])) for i, _ in data.train]
    labels = [torch.as_tensor(np.asarray(lab, np.int64))[None] for _, lab in data.train]
    if dims == 2:  # whole slices, padded to a common multiple of 16
        shape = np.max([im.shape[1:] for im in images], axis=0)
        images = torch.stack([pad(torch.nn.functional.pad(im, _to(im.shape[1:], shape))) for im in images])
        labels = torch.stack([pad(torch.nn.functional.pad(lab, _to(lab.shape[1:], shape))) for lab in labels])

    def batch():
        if dims == 2:
            pick = rng.integers(len(images), size=16)
            return images[pick].to(device), labels[pick].to(device)
        xs, ys = [], []
        for _ in range(2):
            k = rng.integers(len(images))
            corner = [rng.integers(s - 48 + 1) for s in images[k].shape[1:]]
            window = tuple(slice(c, c + 48) for c in corner)
            xs.append(images[k][(slice(None), *window)])
            ys.append(labels[k][(slice(None), *window)])
        return torch.stack(xs).to(device), torch.stack(ys).to(device)

    def predict(image):  # (1, *spatial) z-scored -> classes; 2D nets go slice by slice
        with torch.no_grad():
            x = image[None].to(device)
            if image.ndim == dims + 2:  # a volume for a 2D net
                x = x[0].movedim(-1, 0)
            out = sliding_window_inference(x, (48,) * 3 if dims == 3 else _mult16(x.shape[2:]), 4, net)
            out = out.argmax(1)
            return (out.movedim(0, -1) if image.ndim == dims + 2 else out[0]).cpu().numpy()

    val = [(torch.as_tensor(norm(np.asarray(_array(i), np.float32)[None])), lab) for i, lab in data.val]
    best, best_state, steps, every = -1.0, None, 0, 100 if dims == 2 else 50
    start = time.perf_counter()
    while True:
        net.train()
        x, y = batch()
        loss = loss_fn(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        steps += 1
        out_of_time = time.perf_counter() - start > seconds * 0.97
        if steps % every == 0 or out_of_time:
            net.eval()
            score = pooled_tissue_dice([predict(i) for i, _ in val], [lab for _, lab in val], data.n_classes)
            if score > best:
                best, best_state = score, copy.deepcopy(net.state_dict())
        if out_of_time:
            break
    net.load_state_dict(best_state)
    return net.eval(), predict, steps


def labtools_run(data, dims: int, seconds: float, device, seed: int = 0):
    """`labtools train` as a function: plan, then fit within the budget; (predict, steps)."""
    from labtools.training import fit, load_model, seed_everything, segment
    from labtools.training.planning import plan
    from labtools.training.predict import inference_options
    from labtools.training.resample import resample_data

    chosen = plan(data, dims=dims, device=str(device))
    data, _ = resample_data(data, chosen.spacing)  # as `labtools train` does (no change on these rows)
    seed_everything(seed)
    model = chosen.make_model(data.in_channels, data.n_classes)
    with tempfile.TemporaryDirectory() as out:
        history = fit(model, data.train, data.val, **chosen.fit_options(max_time=seconds), seed=seed,
                      device=device, out=out, live=None)
        best, config = load_model(f"{out}/best.pt", device=device)
    options = inference_options(config)

    def predict(image):
        return segment(best, image, axis=-1, **options)

    return predict, history[-1]["step"], history[-1]["time"]


def pooled_tissue_dice(predictions, references, n_classes: int) -> float:
    """Mean over classes 1..K-1 of the Dice pooled over all cases (labtools.metrics.dice)."""
    from labtools.metrics import dice

    prediction = np.concatenate([np.ravel(p) for p in predictions])[None]  # (1, N): a 2D mask
    reference = np.concatenate([np.ravel(r) for r in references])[None]
    return float(np.nanmean([dice(prediction == k, reference == k) for k in range(1, n_classes)]))


def _array(image):
    return image.array if hasattr(image, "array") else image


def _to(shape, target):
    return [amount for s, t in zip(reversed(shape), reversed(target)) for amount in (0, int(t - s))]


def _mult16(shape):
    return tuple(int(-(-s // 16) * 16) for s in shape)


def main(argv=None) -> None:
    from labtools.training.sources import load_source

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--seconds", default="60,120")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} threads, {os.cpu_count()} cores, device {device}, {time.strftime('%Y-%m-%d')}")
    print(f"{'row':<12}{'seconds':>8}{'labtools':>10}{'MONAI':>8}{'diff':>8}{'steps':>14}")
    for row in args.rows.split(","):
        source, dims = ROWS[row]
        data = load_source(source, dims)
        references = [np.asarray(lab) for _, lab in data.val]
        for seconds in (float(s) for s in args.seconds.split(",")):
            ours, our_steps, _ = labtools_run(data, dims, seconds, device, args.seed)
            ours = pooled_tissue_dice([ours(_array(i)) for i, _ in data.val], references, data.n_classes)
            _, theirs, their_steps = plain_monai_loop(data, dims, seconds, device, args.seed)
            from monai.transforms import NormalizeIntensity

            norm = NormalizeIntensity()
            theirs = pooled_tissue_dice(
                [theirs(torch.as_tensor(norm(np.asarray(_array(i), np.float32)[None]))) for i, _ in data.val],
                references, data.n_classes)
            print(f"{row:<12}{seconds:>8.0f}{ours:>10.3f}{theirs:>8.3f}{ours - theirs:>+8.3f}"
                  f"{our_steps:>7}/{their_steps:<6}", flush=True)


if __name__ == "__main__":
    main()
