"""The training plan (nnU-Net-style rules), the time-fitted schedule, normalisation, augmentation,
and whole-image validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from labtools import cli, datasets, metrics
from labtools.errors import TrainingError
from labtools.io import Image
from labtools.models import make_model
from labtools.training import fit, load_model
from labtools.training.normalization import Normalization
from labtools.training.planning import Plan, load_plan, plan
from labtools.training.predict import inference_options, predict, segment
from labtools.training.sampling import PatchSampler
from labtools.training.data import Case
from labtools.training.schedule import learning_rate
from labtools.training.sources import load_source
from labtools.training.validation import sliding_window_logits, volume_logits


def fake_ct(seed=0, shape=(40, 96, 96), spacing=(3.0, 0.8, 0.8)):
    """A body of soft tissue (~40 HU) with a liver-like organ (~60 HU) in air (-1000 HU)."""
    rng = np.random.default_rng(seed)
    image = np.full(shape, -1000.0) + rng.normal(0, 5, shape)
    zz, yy, xx = np.indices(shape)
    body = ((yy - 48) / 40) ** 2 + ((xx - 48) / 44) ** 2 < 1
    image[body] = 40 + rng.normal(0, 20, body.sum())
    organ = body & (((yy - 40) / 15) ** 2 + ((xx - 55) / 18) ** 2 + ((zz - 20) / 12) ** 2 < 1)
    image[organ] = 60 + rng.normal(0, 15, organ.sum())
    image[body & (yy > 80)] = 700  # a bone: far above the organ's intensities
    return Image(image.astype(np.float32), spacing=spacing), organ.astype(np.uint8)


# --- the plan's rules, on the three kinds of data ---------------------------------------------

def test_phantom_plan_is_whole_slices_with_a_zscore_per_image():
    data = load_source("phantom", 2)
    chosen = plan(data, dims=2, device="cpu")
    assert chosen.normalization == {"scheme": "zscore"}      # the phantom has no air around it
    assert chosen.patch_size == (128, 128)                    # the whole median slice fits the budget
    assert chosen.batch_size == 2**17 // (128 * 128)          # the CPU budget fills the batch
    # 128 / 2**5 = 4 voxels per axis at the bottom; features double from 16, capped at 320.
    assert chosen.channels == (16, 32, 64, 128, 256, 320)
    assert chosen.modality == "other"


def test_mni152_plan_normalises_inside_the_body_and_knows_it_is_mri():
    data = load_source("mni152", 2)
    chosen = plan(data, dims=2, device="cpu")
    assert chosen.modality == "MRI" and "dataset" in chosen.reasons["modality"]
    assert chosen.normalization == {"scheme": "zscore_body"}
    assert chosen.spacing == (2.0, 2.0)
    median = np.median([np.shape(labels) for _, labels in data.train], axis=0)
    assert chosen.patch_size == tuple(int(math.ceil(m / 8) * 8) for m in median)
    three_d = plan(load_source("mni152", 3), dims=3, device="cpu")
    assert np.prod(three_d.patch_size) * 2 <= 1.2 * 225_000 and three_d.batch_size >= 2
    assert all(p % 2 ** (len(three_d.channels) - 1) == 0 for p in three_d.patch_size)


def test_ct_plan_clips_to_foreground_percentiles_and_uses_dataset_statistics():
    pairs = [fake_ct(seed) for seed in range(2)]
    chosen = plan(pairs, dims=3, device="cpu")
    assert chosen.modality == "CT" and "Hounsfield" in chosen.reasons["modality"]
    foreground = np.concatenate([image.array[labels > 0] for image, labels in pairs])
    low, high = np.percentile(foreground, [0.5, 99.5])
    (clip_low, clip_high), = chosen.normalization["clip"]
    # The plan samples up to 10,000 foreground voxels per case: percentiles agree to sampling error.
    assert abs(clip_low - low) < 3 and abs(clip_high - high) < 3
    assert abs(chosen.normalization["mean"][0] - foreground.mean()) < 1
    assert chosen.spacing == (3.0, 0.8, 0.8)
    assert chosen.in_plane  # 3 mm slices against 0.8 mm pixels: rotate in-plane only
    # The bone (700 HU) is clipped to the organ's range, so it cannot dominate the inputs.
    normalise = Normalization.from_dict(chosen.normalization)
    image = normalise(pairs[0][0].array[None])
    assert image.max() == pytest.approx((clip_high - chosen.normalization["mean"][0])
                                        / chosen.normalization["std"][0], rel=1e-5)


def test_a_given_modality_wins_over_the_intensities():
    chosen = plan([fake_ct()], dims=3, device="cpu", modality="MRI")
    assert chosen.modality == "MRI" and chosen.reasons["modality"] == "given"
    assert chosen.normalization["scheme"] in ("zscore", "zscore_body")


@pytest.mark.parametrize("override", [
    {"batch_size": 3}, {"lr": 1e-4}, {"patch_size": (64, 64)}, {"augment": ("flip",)},
    {"normalization": {"scheme": "zscore"}}, {"epochs": 7}])
def test_an_override_changes_that_choice_only(override):
    data = load_source("mni152", 2)
    default = plan(data, dims=2, device="cpu")
    changed = plan(data, dims=2, device="cpu", **override)
    (name, value), = override.items()
    assert getattr(changed, name) == value and changed.reasons[name] == "given"
    for field in default.to_dict():
        if field not in (name, "reasons"):
            assert getattr(changed, field) == getattr(default, field), field


def test_unknown_plan_options_are_named():
    with pytest.raises(TrainingError, match="unknown plan option bach_size"):
        plan(load_source("phantom", 2), dims=2, device="cpu", bach_size=3)


def test_plan_command_prints_every_choice_with_its_reason(capsys):
    assert cli.main(["plan", "--data", "mni152", "--dims", "2", "--batch-size", "5"]) == 0
    text = capsys.readouterr().out
    assert "zscore_body" in text and "inside the body" in text
    assert "batch_size      5" in text and "given" in text
    assert cli.main(["plan", "--data", "phantom", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["normalization"] == {"scheme": "zscore"}


# --- schedule and time budget --------------------------------------------------------------------

def test_cosine_schedule_warms_up_then_decays_to_its_final_rate():
    rates = [learning_rate("cosine", 1.0, p) for p in np.linspace(0, 1, 101)]
    peak = int(np.argmax(rates))
    assert rates[peak] == pytest.approx(1.0) and peak == 5
    assert all(a <= b for a, b in zip(rates[:peak], rates[1:peak + 1]))   # warm-up rises
    assert all(a >= b for a, b in zip(rates[peak:], rates[peak + 1:]))    # then only falls
    assert rates[-1] == pytest.approx(0.01)
    # Halfway through the decay, cosine gives the mean of the peak and final rates.
    assert learning_rate("cosine", 1.0, 0.05 + 0.95 / 2) == pytest.approx(0.505)


def test_max_time_is_used_to_the_end_and_the_schedule_reaches_its_final_rate(tmp_path):
    pairs = [datasets.phantom((48, 48), n_lesions=1, seed=s) for s in range(3)]
    torch.manual_seed(0)
    net = make_model("tiny_unet", 2, 1, 5, channels=(4, 8))
    history = fit(net, pairs[:2], pairs[2:], out=tmp_path, max_time=20, epochs=10_000, steps_per_epoch=20,
                  batch_size=2, patch_size=(32, 32), lr=1e-3, live=None)
    epoch = history[-1]["time"] - history[-2]["time"]
    assert abs(history[-1]["time"] - 20) <= epoch            # ends at the budget, not before
    assert history[-1]["time"] <= 20 + 1                      # and the last validation within it
    assert history[-1]["lr"] <= 1e-3 * 0.02                   # the decay reached its end
    assert max(r["lr"] for r in history) > 0.5e-3             # after the warm-up's peak


def test_without_max_time_the_schedule_spans_the_epochs(tmp_path):
    pairs = [datasets.phantom((32, 32), seed=s) for s in range(2)]
    net = make_model("tiny_unet", 2, 1, 5, channels=(4, 8))
    history = fit(net, pairs, None, out=tmp_path, epochs=4, steps_per_epoch=5, batch_size=2,
                  patch_size=(32, 32), lr=1e-2, live=None)
    # The last record holds the rate of the last step: step 19 of 20.
    assert history[-1]["lr"] == pytest.approx(learning_rate("cosine", 1e-2, 19 / 20))


# --- validation and prediction ------------------------------------------------------------------

def test_sliding_window_equals_a_forward_pass_when_the_image_fits_one_patch():
    torch.manual_seed(0)
    net = make_model("unet", 2, 1, 3, channels=(8, 16, 32)).eval()
    image = torch.randn(1, 1, 32, 48)
    with torch.no_grad():
        expected = net(image)
    assert torch.allclose(sliding_window_logits(net, image, (32, 48)), expected, atol=1e-5)
    volume = torch.randn(1, 1, 32, 48, 3)  # a 2D network validated on a volume, slice by slice
    with torch.no_grad():
        per_slice = torch.stack([net(volume[..., k]) for k in range(3)], dim=-1)
    assert torch.allclose(volume_logits(net, volume, (32, 48)), per_slice, atol=1e-5)


def test_the_plan_is_saved_and_prediction_repeats_its_normalisation(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--data", "mni152", "--dims", "2", "--epochs", "1", "--steps-per-epoch", "2",
                     "--channels", "4,8", "--batch-size", "2", "--out", str(out), "--quiet"]) == 0
    saved = load_plan(out)
    assert isinstance(saved, Plan) and saved.channels == (4, 8) and saved.batch_size == 2
    _, config = load_model(out / "best.pt")
    assert config["normalization"] == {"scheme": "zscore_body"} == saved.normalization
    assert inference_options(config)["normalization"] == Normalization("zscore_body")
    assert "plan (" in capsys.readouterr().out


def test_zscore_body_leaves_air_at_zero_and_standardises_the_body():
    rng = np.random.default_rng(0)
    image = np.zeros((1, 30, 30), np.float32)
    image[0, 5:25, 5:25] = rng.normal(100, 10, (20, 20))
    out = Normalization("zscore_body")(image)
    inside = out[0, 5:25, 5:25]
    assert np.all(out[0, :5] == 0) and abs(inside.mean()) < 1e-5 and inside.std() == pytest.approx(1, abs=1e-4)


# --- augmentation -------------------------------------------------------------------------------

def test_rotations_keep_image_and_labels_aligned_and_mark_new_voxels_unlabelled():
    # An image of ones with labels of ones: wherever a rotation brings in padding, the
    # image is 0 (outside) and the label must be UNLABELLED there, and only there.
    image = torch.ones(1, 64, 64)
    labels = torch.ones(64, 64, dtype=torch.int16)
    sampler = PatchSampler([Case(image, labels, "a")], (64, 64), 4, augment=["rotate_scale"])
    seen_padding = False
    for step in range(30):
        images, targets = sampler.batch(step)
        outside = targets == -1
        seen_padding |= bool(outside.any())
        inside_image = images[:, 0] > 0.5
        assert (outside ^ inside_image).float().mean() > 0.99  # nearest vs bilinear at the rim
    assert seen_padding and sampler.has_unlabelled


def test_unknown_augmentations_are_named():
    with pytest.raises(TrainingError, match="unknown augmentation sheer"):
        PatchSampler([Case(torch.ones(1, 8, 8), torch.ones(8, 8, dtype=torch.int16), "a")], (8, 8), 2,
                     augment=["flip", "sheer"])


# --- spacing: training on the plan's grid, predictions on the image's ---------------------------

class SignOfInput(torch.nn.Module):
    """Logits (-x, x): class 1 where the normalised image is positive; remembers what it saw."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(()))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.shape[0])  # windows in this batch
        return torch.cat([-x, x], dim=1) * self.weight


def test_prediction_runs_on_the_plans_grid_and_returns_the_images_grid():
    yy, xx = np.indices((60, 80))
    disc = (((yy - 30) / 20) ** 2 + ((xx - 40) / 25) ** 2 < 1).astype(np.float32)
    image = Image(disc, spacing=(0.5, 0.5))
    net = SignOfInput()
    direct = predict(net, image, patch_size=(32, 32))
    windows, net.seen = sum(net.seen), []
    coarse = predict(net, image, patch_size=(32, 32), target_spacing=(1.0, 1.0))
    assert coarse.shape == (60, 80)
    # The network saw the 30 x 40 grid of 1 mm voxels: a quarter of the area, far fewer windows.
    assert sum(net.seen) < windows / 3
    assert metrics.dice(coarse == 1, direct == 1) > 0.97  # the same disc, back on the 0.5 mm grid
    near = predict(SignOfInput(), image, patch_size=(32, 32), target_spacing=(0.52, 0.5))
    assert np.array_equal(near, direct)  # within 10 %: no resampling at all


def test_training_pairs_of_another_spacing_are_resampled_to_the_plans():
    from labtools.training.resample import resample_data
    from labtools.training.sources import TrainingData

    thick = np.zeros((20, 20, 10), np.uint8)
    thick[5:15, 5:15, 2:8] = 1
    pairs = [(Image(thick.astype(np.float32), spacing=(1.0, 1.0, 3.0)), thick),
             (Image(thick.astype(np.float32), spacing=(1.0, 1.0, 1.5)), thick)]
    data = TrainingData(pairs, [], {0: "background", 1: "box"})
    chosen = plan(data, dims=3, device="cpu")
    assert chosen.spacing == (1.0, 1.0, 2.25)  # the median of 3.0 and 1.5
    resampled, note = resample_data(data, chosen.spacing)
    assert [labels.shape for _, labels in resampled.train] == [(20, 20, 13), (20, 20, 7)]
    assert "2 pairs resampled" in note
    # Nearest neighbour keeps the labels' values; the box keeps its extent in mm (18 mm deep).
    for (_, labels), spacing in zip(resampled.train, (3.0, 1.5)):
        assert set(np.unique(labels)) == {0, 1}
        assert abs(labels[10, 10].sum() * 2.25 - 6 * spacing) <= 2.25


def test_a_2d_network_validated_on_a_volume_scores_what_segment_gives(tmp_path):
    # Training slices are normalised one by one; so must the validation volume's slices be, or
    # validation scores another input than the network learnt from and `segment` will give.
    volume, labels = datasets.phantom((48, 48, 16), n_lesions=1, seed=3)
    slices = [(volume.array[..., k] * (1 + k / 4), labels[..., k]) for k in range(16)]  # varied scales
    torch.manual_seed(0)
    net = make_model("tiny_unet", 2, 1, 5, channels=(4, 8))
    history = fit(net, slices[:8], [(volume.array, labels)], out=tmp_path, epochs=2, steps_per_epoch=4,
                  batch_size=4, patch_size=(48, 48), normalization=Normalization("zscore_body"), live=None)
    model, config = load_model(tmp_path / "last.pt")
    prediction = segment(model, volume.array, axis=-1, **inference_options(config))
    for k in range(5):
        expected = metrics.dice(prediction == k, labels == k)
        assert history[-1][f"val_dice_{k}"] == pytest.approx(expected, abs=1e-6, nan_ok=True), k
