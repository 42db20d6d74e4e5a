"""Curricula (issue 15): each changes the sampling order or the weights as documented, on toy data
whose difficulties are known; curriculum by smoothing blurs as scipy's Gaussian filter does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from labtools import datasets
from labtools.models import make_model
from labtools.training import fit, load_checkpoint
from labtools.training.curriculum import PredefinedCurriculum, SelfPaced, SmoothingCurriculum, gaussian_blur
from labtools.training.data import Case
from labtools.training.sampling import PatchSampler


def _toy_sampler(n_cases=5):
    """Case k holds the constant image k: a patch tells which case it came from."""
    cases = [Case(torch.full((1, 16, 16), float(k)), torch.zeros(16, 16, dtype=torch.int16), f"c{k}")
             for k in range(n_cases)]
    return PatchSampler(cases, patch_size=(16, 16), batch_size=8, fg_ratio=0.0, augment=False)


def _cases_drawn(sampler, steps=30):
    return {int(images[i, 0, 0, 0]) for step in range(steps) for images in [sampler.batch(step)[0]]
            for i in range(len(images))}


def test_predefined_curriculum_draws_the_easiest_cases_first_then_all():
    sampler = _toy_sampler()
    difficulty = [0.9, 0.1, 0.5, 0.3, 0.7]  # easiest to hardest: 1, 3, 2, 4, 0
    curriculum = PredefinedCurriculum(difficulty, start=0.4, full_at=0.5)
    curriculum.start(None, sampler)
    curriculum.epoch(1, 0.0)
    assert _cases_drawn(sampler) == {1, 3}
    curriculum.epoch(2, 0.25)  # share 0.4 + 0.6 * 0.5 = 0.7 -> 4 cases
    assert _cases_drawn(sampler) == {1, 3, 2, 4}
    curriculum.epoch(3, 0.5)
    assert _cases_drawn(sampler) == {0, 1, 2, 3, 4}
    curriculum.close()
    assert sampler.eligible is None


def test_self_paced_weights_follow_the_growing_threshold():
    spl = SelfPaced(start_quantile=0.25, growth=2.0)
    losses = torch.tensor([0.2, 0.4, 0.8, 1.6, 3.2])
    spl.epoch(1, 0.0)
    first = spl.weights(losses)  # λ = the first quartile of the first batch's losses: 0.4
    assert spl.threshold == pytest.approx(0.4) and first.tolist() == [1, 1, 0, 0, 0]
    spl.epoch(2, 0.3)  # λ = 0.8
    assert spl.weights(losses).tolist() == [1, 1, 1, 0, 0]
    spl.epoch(4, 0.6)  # two epochs later: λ = 3.2
    assert spl.weights(losses).tolist() == [1, 1, 1, 1, 1]
    assert spl.weights(torch.tensor([9.0, 8.0])).tolist() == [0, 1]  # never an empty batch


@pytest.mark.parametrize("sigma", [0.6, 1.0, 1.7])
def test_gaussian_blur_equals_scipy_away_from_the_edges(sigma):
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(2, 3, 20, 18))).float()
    radius = int(np.ceil(2 * sigma))
    expected = ndi.gaussian_filter(x.numpy(), sigma=(0, 0, sigma, sigma), truncate=radius / sigma, mode="nearest")
    np.testing.assert_allclose(gaussian_blur(x, sigma).numpy(), expected, atol=1e-5)


def test_smoothing_curriculum_blurs_every_convolution_but_the_last_and_anneals():
    torch.manual_seed(0)
    net = make_model("tiny_unet", 2, 1, 3, channels=(4, 8)).eval()
    x = torch.randn(1, 1, 16, 16)
    seen = {}

    def record(name):
        return lambda module, inputs, output: seen.__setitem__(name, output)

    with torch.no_grad():
        watch = net.down[0][0].register_forward_hook(record("first"))
        plain_logits = net(x)
        plain = seen["first"].clone()
        watch.remove()
        curriculum = SmoothingCurriculum(sigma=1.0, decay=0.5)
        curriculum.start(net, sampler=None)
        # Registered after the curriculum's hooks: sees what the next layer receives.
        net.down[0][0].register_forward_hook(record("first"))
        net.head.register_forward_hook(record("head"))
        curriculum.epoch(1, 0.0)
        net(x)
        torch.testing.assert_close(seen["first"], gaussian_blur(plain, 1.0))
        blurred_head = seen["head"]
        curriculum.epoch(5, 0.9)  # σ = 1/16 < 0.1: no blur any more
        logits = net(x)
        torch.testing.assert_close(seen["first"], plain)
        torch.testing.assert_close(logits, plain_logits)
        assert not torch.equal(blurred_head, seen["head"])  # the blur did change the result
        convolutions = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        assert len(curriculum._handles) == len(convolutions) - 1 and convolutions[-1] is net.head
        assert len(net.head._forward_hooks) == 1  # only this test's recorder: logits never blurred
        curriculum.close()
        torch.testing.assert_close(net(x), plain_logits)


@pytest.mark.parametrize("curriculum", [PredefinedCurriculum([0.2, 0.1, 0.5]), SelfPaced(), SmoothingCurriculum()],
                         ids=["predefined", "self_paced", "smoothing"])
def test_fit_trains_with_each_curriculum_and_records_it(curriculum, tmp_path):
    pairs = [datasets.phantom((32, 32), seed=s) for s in range(3)]
    history = fit(make_model("tiny_unet", 2, 1, 5, channels=(4, 8)), pairs, epochs=2, steps_per_epoch=2,
                  batch_size=2, patch_size=(16, 16), out=tmp_path, live=None, curriculum=curriculum)
    assert len(history) == 2 and np.isfinite(history[-1]["train_loss"])
    recorded = load_checkpoint(tmp_path / "last.pt")["config"]["curriculum"]
    assert recorded["name"] in ("predefined", "self_paced", "smoothing")


def test_a_curriculum_for_another_number_of_cases_is_refused(tmp_path):
    from labtools.errors import TrainingError

    pairs = [datasets.phantom((32, 32), seed=s) for s in range(2)]
    with pytest.raises(TrainingError, match="scores 3 cases, training has 2"):
        fit(make_model("tiny_unet", 2, 1, 5, channels=(4, 8)), pairs, epochs=1, steps_per_epoch=1,
            batch_size=2, patch_size=(16, 16), out=tmp_path, live=None,
            curriculum=PredefinedCurriculum([1.0, 2.0, 3.0]))
