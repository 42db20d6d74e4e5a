"""labtools.training: data checks, patch sampling, the fit loop, checkpoints, resume, live curves."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labtools import datasets, metrics
from labtools.errors import InvalidImageError, ShapeMismatchError, TrainingError
from labtools.models import make_model
from labtools.training import (UNLABELLED, History, fit, fit_iter, labels_from_scribbles, load_checkpoint,
                               training_pair_from_session)
from labtools.training.data import Case, prepare_cases
from labtools.training.live import LiveCurves
from labtools.training.loop import _loss_function
from labtools.training.predict import load_model, predict
from labtools.training.sampling import PatchSampler

FAST = {"epochs": 2, "steps_per_epoch": 3, "batch_size": 2, "patch_size": (32, 32), "live": None}


def phantoms(n, size=48, first_seed=0):
    return [datasets.phantom((size, size), n_lesions=1, seed=first_seed + s) for s in range(n)]


def tiny(out_channels=5, **options):
    torch.manual_seed(0)
    return make_model("tiny_unet", 2, 1, out_channels, channels=(4, 8), **options)


# --- data checks: clear errors before training starts ---------------------------------------

@pytest.mark.parametrize("bad, error, message", [
    ("shape", ShapeMismatchError, "do not match the image"),
    ("label", InvalidImageError, "5 output channels"),
    ("empty", TrainingError, "training set is empty"),
    ("nan", InvalidImageError, "NaN"),
    ("fraction", InvalidImageError, "whole class numbers"),
    ("unlabelled", TrainingError, "every voxel is unlabelled"),
])
def test_bad_training_data_is_refused_before_any_step(tmp_path, bad, error, message):
    image, labels = datasets.phantom((32, 32), seed=0)
    array = image.array.copy()
    if bad == "shape":
        labels = labels[:-1]
    elif bad == "label":
        labels = labels.astype(int) + 1      # values 1..5 for a 5-channel network
    elif bad == "nan":
        array[3, 3] = np.nan
    elif bad == "fraction":
        labels = labels + 0.5
    elif bad == "unlabelled":
        labels = np.full(labels.shape, UNLABELLED)
    train = [] if bad == "empty" else [(array, labels)]
    with pytest.raises(error, match=message):
        fit(tiny(), train, out=tmp_path / "run", **FAST)
    assert not (tmp_path / "run").exists()  # nothing was written: the check came first


def test_bad_validation_data_is_named_as_such(tmp_path):
    train = phantoms(1, 32)
    image, labels = datasets.phantom((32, 32), seed=5)
    with pytest.raises(ShapeMismatchError, match="validation case 0"):
        fit(tiny(), train, [(image, labels[:, :-2])], out=tmp_path / "run", **FAST)


def test_patch_size_must_suit_the_network(tmp_path):
    with pytest.raises(TrainingError, match="multiple of 2"):
        fit(tiny(), phantoms(1, 32), out=tmp_path, **{**FAST, "patch_size": (31, 32)})


def test_images_are_normalised_per_channel():
    image = np.stack([np.arange(64.0).reshape(8, 8), 5 + 100 * np.arange(64.0).reshape(8, 8)])
    (case,) = prepare_cases([(image, np.zeros((8, 8), int))], n_classes=2, in_channels=2, spatial_dims=2)
    assert torch.allclose(case.image.mean(dim=(1, 2)), torch.zeros(2), atol=1e-5)
    assert torch.allclose(case.image.std(dim=(1, 2), unbiased=False), torch.ones(2), atol=1e-5)


# --- patch sampling --------------------------------------------------------------------------

def sampler_case(size=64):
    labels = torch.zeros(size, size, dtype=torch.int16)
    labels[5:9, 40:44] = 1                          # a small object, 16 of 4096 voxels
    image = torch.randn(1, size, size, generator=torch.Generator().manual_seed(0))
    return Case(image, labels, "case")


def foreground_share(sampler, steps=40):
    hits = [bool((sampler.batch(step)[1][i] == 1).any()) for step in range(steps)
            for i in range(sampler.batch_size)]
    return np.mean(hits)


def test_fg_ratio_sets_the_share_of_patches_on_foreground():
    always = PatchSampler([sampler_case()], (16, 16), 4, fg_ratio=1.0, augment=False)
    assert foreground_share(always) == 1.0
    # Uniform centres: a 16x16 patch contains the object for about 19*19/4096 of centres (+ border
    # clamping), far below the 0.5 asked for with fg_ratio=0.5.
    never = PatchSampler([sampler_case()], (16, 16), 4, fg_ratio=0.0, augment=False)
    half = PatchSampler([sampler_case()], (16, 16), 4, fg_ratio=0.5, augment=False)
    assert foreground_share(never) < 0.2
    assert 0.35 < foreground_share(half) < 0.75


def test_batches_depend_only_on_seed_rank_and_step():
    make = lambda **kw: PatchSampler([sampler_case()], (16, 16), 3, augment=True, **kw)  # noqa: E731
    first, again = make(seed=1).batch(7), make(seed=1).batch(7)
    assert type(first[0]) is torch.Tensor  # MONAI's MetaTensor does not leak into the step
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    other_rank = make(seed=1, rank=1).batch(7)
    assert not torch.equal(first[0], other_rank[0])


def test_small_cases_are_padded_with_unlabelled_voxels():
    case = Case(torch.randn(1, 10, 12), torch.ones(10, 12, dtype=torch.int16), "small")
    sampler = PatchSampler([case], (16, 16), 2, augment=False)
    images, labels = sampler.batch(0)
    assert images.shape == (2, 1, 16, 16)
    assert (labels[:, 10:, :] == UNLABELLED).all() and (labels[:, :10, :12] == 1).all()


def test_sparse_labels_centre_every_patch_on_a_labelled_voxel():
    labels = torch.full((64, 64), UNLABELLED, dtype=torch.int16)
    labels[50, 3], labels[10, 60] = 0, 1
    sampler = PatchSampler([Case(torch.randn(1, 64, 64), labels, "s")], (8, 8), 4, augment=False)
    assert sampler.sparse
    for step in range(10):
        assert ((sampler.batch(step)[1] != UNLABELLED).sum(dim=(1, 2)) >= 1).all()


# --- sparse-label training -------------------------------------------------------------------

def test_scribbles_become_training_labels_of_a_session():
    from labtools.labeling import LabelingSession

    image, _ = datasets.phantom((32, 32), seed=0)
    session = LabelingSession(image)
    session.add_stroke(([4, 5, 6], [4, 4, 4]), 1)
    session.add_stroke(([16], [16]), 3)
    _, labels = training_pair_from_session(session)
    assert labels.dtype == np.int16
    assert (labels == UNLABELLED).sum() == 32 * 32 - 4
    assert labels[4, 4] == 0 and labels[16, 16] == 2
    assert labels_from_scribbles(session.scribbles).tolist() == labels.tolist()


def test_fit_ignores_unlabelled_voxels_in_the_gradient():
    # The loss fit builds for sparse labels: logits at unlabelled voxels receive exactly zero gradient.
    loss_fn = _loss_function("dice_ce", ignore_index=UNLABELLED)
    logits = torch.randn(2, 3, 8, 8, requires_grad=True)
    labels = torch.randint(0, 3, (2, 8, 8))
    labels[:, ::2] = UNLABELLED
    loss_fn(logits, labels).backward()
    assert (logits.grad[:, :, ::2] == 0).all() and (logits.grad[:, :, 1::2] != 0).any()


def test_training_from_scribbles_only_learns_the_scribbled_classes(tmp_path):
    image, truth = datasets.phantom((48, 48), n_lesions=0, seed=0)
    scribbles = np.zeros(truth.shape, np.uint8)
    rng = np.random.default_rng(0)
    for k in range(4):  # 15 scribbled voxels per tissue class, the rest unlabelled
        chosen = rng.choice(np.flatnonzero(truth == k), 15, replace=False)
        scribbles.flat[chosen] = k + 1
    net = tiny(out_channels=4)
    fit(net, [(image, labels_from_scribbles(scribbles))], out=tmp_path, lr=1e-2,
        **{**FAST, "epochs": 15, "steps_per_epoch": 10, "augment": False})
    prediction = predict(net.eval(), image, patch_size=(48, 48))
    assert np.mean(prediction == truth) > 0.7  # from 60 labelled voxels of 2304


# --- the loop: outputs, checkpoints, validation numbers --------------------------------------

def test_fit_writes_history_curves_and_checkpoints(tmp_path):
    history = fit(tiny(), phantoms(2), phantoms(1, first_seed=50), out=tmp_path, **FAST)
    assert isinstance(history, History) and [r["epoch"] for r in history] == [1, 2]
    assert [r["step"] for r in history] == [3, 6]
    for name in ("history.csv", "curves.png", "last.pt", "best.pt"):
        assert (tmp_path / name).is_file()
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    saved = History.from_csv(tmp_path / "history.csv")
    assert saved.column("val_dice") == pytest.approx(history.column("val_dice"))
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 6 and state["epoch"] == 2
    assert set(state["versions"]) >= {"torch", "monai", "numpy", "labtools", "python"}
    assert state["model_spec"]["name"] == "tiny_unet"


def test_validation_dice_equals_labtools_metrics_on_the_saved_model(tmp_path):
    val = phantoms(2, first_seed=60)
    history = fit(tiny(), phantoms(2), val, out=tmp_path, **{**FAST, "epochs": 3})
    state = load_checkpoint(tmp_path / "best.pt")
    record = history[state["epoch"] - 1]
    model, config = load_model(tmp_path / "best.pt")
    per_class = {k: [] for k in range(5)}
    for image, labels in val:
        prediction = predict(model, image, patch_size=config["patch_size"], batch_size=config["batch_size"])
        for k in per_class:
            per_class[k].append(metrics.dice(prediction == k, labels == k))
    for k, values in per_class.items():
        assert record[f"val_dice_{k}"] == pytest.approx(np.nanmean(values), abs=1e-6)
    assert record["val_dice"] == pytest.approx(np.nanmean([np.nanmean(per_class[k]) for k in range(1, 5)]))
    assert record["val_dice"] == max(history.column("val_dice"))


def test_an_existing_run_is_not_overwritten(tmp_path):
    fit(tiny(), phantoms(1), out=tmp_path, **FAST)
    before = (tmp_path / "last.pt").read_bytes()
    with pytest.raises(TrainingError, match="already holds a training run"):
        fit(tiny(), phantoms(1), out=tmp_path, **FAST)
    assert (tmp_path / "last.pt").read_bytes() == before
    with pytest.raises(TrainingError, match="nothing to resume"):
        fit(tiny(), phantoms(1), out=tmp_path / "new", resume=True, **FAST)


def strip_timing(history):
    return [{k: v for k, v in r.items() if k not in ("time", "steps_per_s")} for r in history]


def test_resume_continues_exactly_where_the_run_stopped(tmp_path):
    # Dropout draws from torch's global generator: equal weights prove its state was restored too.
    train, val = phantoms(2), phantoms(1, first_seed=70)
    options = {**FAST, "epochs": 4}
    whole = make_model("unet", 2, 1, 5, channels=(4, 8), dropout=0.2)
    torch.manual_seed(0)
    whole = make_model("unet", 2, 1, 5, channels=(4, 8), dropout=0.2)
    full = fit(whole, train, val, out=tmp_path / "whole", **options)

    class InterruptAfterTwo:  # an interruption: the run (and its schedule) planned 4 epochs
        def on_epoch_end(self, record, history):
            return record["epoch"] == 2

    torch.manual_seed(0)
    first = make_model("unet", 2, 1, 5, channels=(4, 8), dropout=0.2)
    fit(first, train, val, out=tmp_path / "parts", callbacks=[InterruptAfterTwo()], **options)
    torch.manual_seed(123)  # a different global state: resume must bring back the saved one
    second = make_model("unet", 2, 1, 5, channels=(4, 8), dropout=0.2)
    resumed = fit(second, train, val, out=tmp_path / "parts", resume=True, **options)

    assert [r["step"] for r in resumed] == [3, 6, 9, 12]
    assert strip_timing(resumed) == strip_timing(full)
    for name, tensor in whole.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name


def test_resume_refuses_another_architecture(tmp_path):
    fit(tiny(), phantoms(1), out=tmp_path, **FAST)
    other = make_model("tiny_unet", 2, 1, 5, channels=(8, 16))
    with pytest.raises(TrainingError, match="resume with the same model"):
        fit(other, phantoms(1), out=tmp_path, resume=True, **{**FAST, "epochs": 3})


def test_nan_loss_stops_training_with_a_message_and_keeps_the_last_good_epoch(tmp_path):
    calls = []

    def loss_that_explodes(logits, labels):
        calls.append(1)
        loss = torch.nn.functional.cross_entropy(logits, labels.clamp(min=0))
        return loss * (math.inf if len(calls) > 4 else 1.0)  # finite in epoch 1, inf in epoch 2

    with pytest.raises(TrainingError, match=r"became (inf|nan) in epoch 2.*lower the learning rate"):
        fit(tiny(), phantoms(1), out=tmp_path, loss=loss_that_explodes, **{**FAST, "epochs": 5})
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1
    assert len(History.from_csv(tmp_path / "history.csv")) == 1


def test_early_stopping_after_patience_epochs_without_improvement(tmp_path):
    # lr = 0: the weights never change, so the validation Dice never improves after epoch 1.
    history = fit(tiny(), phantoms(1), phantoms(1, first_seed=9), out=tmp_path, lr=0.0, patience=2,
                  **{**FAST, "epochs": 10})
    assert len(history) == 3


def test_max_time_stops_before_the_next_epoch(tmp_path):
    history = fit(tiny(), phantoms(1), out=tmp_path, max_time=1e-3, **{**FAST, "epochs": 10})
    assert len(history) == 1


def test_a_callback_can_stop_training(tmp_path):
    class StopAtTwo:
        def on_epoch_end(self, record, history):
            return record["epoch"] == 2

    history = fit(tiny(), phantoms(1), out=tmp_path, callbacks=[StopAtTwo()], **{**FAST, "epochs": 9})
    assert len(history) == 2


def test_fit_iter_yields_records_and_stops_when_closed(tmp_path):
    records = []
    for record in fit_iter(tiny(), phantoms(1), out=tmp_path, **{**FAST, "epochs": 6}):
        records.append(record)
        if record["epoch"] == 2:
            break
    assert [r["epoch"] for r in records] == [1, 2]
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 2  # stopped after the epoch it was in


def test_fit_iter_raises_training_errors_in_the_consumer(tmp_path):
    with pytest.raises(TrainingError, match="empty"):
        list(fit_iter(tiny(), [], out=tmp_path, **FAST))


# --- live curves ---------------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_live_curves_redraw_at_most_once_per_interval_and_always_at_the_end(monkeypatch):
    import labtools.training.live as live

    clock = FakeClock()
    monkeypatch.setattr(live.time, "perf_counter", clock)
    frames = []
    curves = LiveCurves(lambda png, text: frames.append(text), min_interval=1.0, max_share=1.0)
    history = History()
    for epoch in range(1, 21):  # an epoch every 0.25 s: 5 s in all
        history.append({"epoch": epoch, "step": epoch, "train_loss": 1.0 / epoch})
        curves.update(history)
        clock.now += 0.25
    curves.update(history, final=True)
    assert len(frames) == 6  # t = 0, 1, 2, 3, 4 s, then the final frame
    assert frames[-1].startswith("training finished: epoch 20")


def test_live_curves_slow_down_when_drawing_is_expensive(monkeypatch):
    import labtools.training.live as live

    clock = FakeClock()
    monkeypatch.setattr(live.time, "perf_counter", clock)
    curves = LiveCurves(lambda png, text: setattr(clock, "now", clock.now + 0.1), max_share=0.01)
    history = History([{"epoch": 1, "step": 1, "train_loss": 1.0}])
    draws = sum(curves.update(history) for _ in range(200) if not setattr(clock, "now", clock.now + 0.5))
    # Drawing costs 0.1 s: at most 1 % of 100 s of wall time is 1 s, i.e. about 10 draws.
    assert draws <= 11


def test_dense_cases_smaller_than_the_patch_train_with_their_padding_ignored(tmp_path):
    # A 24x24 case under a 32x32 patch is padded with unlabelled voxels; the loss must skip them.
    small, large = datasets.phantom((24, 24), seed=1), datasets.phantom((48, 48), seed=2)
    for loss in ("dice_ce", "dice", "cross_entropy"):
        history = fit(tiny(), [small, large], out=tmp_path / loss, loss=loss, **FAST)
        assert math.isfinite(history[-1]["train_loss"])


def test_patience_without_validation_data_is_refused(tmp_path):
    with pytest.raises(TrainingError, match="give validation data"):
        fit(tiny(), phantoms(1), out=tmp_path, patience=3, **FAST)


def test_resume_uses_the_learning_rate_given_now(tmp_path):
    fit(tiny(), phantoms(1), out=tmp_path, schedule="constant", **FAST)
    history = fit(tiny(), phantoms(1), out=tmp_path, resume=True, lr=5e-4, schedule="constant",
                  **{**FAST, "epochs": 3})
    assert [r["lr"] for r in history] == [1e-3, 1e-3, 5e-4]


def test_a_validation_dice_of_nan_does_not_freeze_the_best_checkpoint(tmp_path):
    # Validation labels with no foreground at all: Dice is NaN (nothing to find) until the network
    # predicts some foreground; best.pt must still follow real scores once they come.
    image, labels = datasets.phantom((32, 32), seed=3)
    history = fit(tiny(), phantoms(1), [(image, np.zeros_like(labels))], out=tmp_path,
                  **{**FAST, "epochs": 3})
    best = load_checkpoint(tmp_path / "best.pt")
    finite = [r for r in history if not math.isnan(r["val_dice"])]
    if finite:  # the best checkpoint holds the best finite score
        assert best["best"] == max(r["val_dice"] for r in finite)
    else:
        assert best["best"] == -math.inf and best["epoch"] == 1


def test_split_of_one_volume_never_validates_on_training_voxels():
    from labtools.io import Image
    from labtools.training.split import split_one_image

    rng = np.random.default_rng(0)
    image = Image(rng.random((20, 12, 10)).astype(np.float32))
    labels = np.zeros((20, 12, 10), np.uint8)
    labels[2:18, 3:9, 3:9] = 1
    sliced = split_one_image(image, labels, dims=2, axis=0)
    assert (len(sliced.train), len(sliced.val)) == (13, 3)  # 16 labelled slices, every 5th validates
    seen = {pair[0].tobytes() for pair in sliced.train}
    assert not any(pair[0].tobytes() in seen for pair in sliced.val)
    halves = split_one_image(image, labels, dims=3)
    np.testing.assert_array_equal(halves.train[0][0], image.array[:10])
    np.testing.assert_array_equal(halves.val[0][0], image.array[10:])
    strokes = np.zeros_like(labels)
    strokes[3, 4, 4], strokes[4, 8, 8] = 1, 2  # strokes in the first half only
    sparse = split_one_image(image, strokes, dims=3, scribbles=True)
    assert sparse.val == [] and sparse.n_classes == 2
    assert sparse.train[0][1][3, 4, 4] == 0 and sparse.train[0][1][0, 0, 0] == -1
    assert "training without validation" in sparse.notes[-1]
