"""Few labels, first part (issue 15): InfoNCE, self-supervised pretraining, and fit(init=) transfer.

InfoNCE is checked against a straightforward double loop (and its gradient against autograd through
that loop); pretraining against its own loss; init= against the checkpoint's tensors, bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from labtools import datasets
from labtools.errors import TrainingError
from labtools.models import make_model
from labtools.training import fit, load_checkpoint
from labtools.training.contrastive import info_nce
from labtools.training.pretrain import mask_patches, pretrain

FAST = {"steps_per_epoch": 3, "batch_size": 2, "patch_size": (16, 16), "live": None}


def _reference_info_nce(z1, z2, temperature):
    """InfoNCE written as in the paper: a loop over anchors, explicit sums of exponentials."""
    def cosine(a, b):
        return (a * b).sum() / (a.norm() * b.norm())

    total = 0.0
    for anchors, others in ((z1, z2), (z2, z1)):
        for i in range(len(anchors)):
            scores = torch.stack([cosine(anchors[i], others[j]) / temperature for j in range(len(others))])
            total = total - torch.log(torch.exp(scores[i]) / torch.exp(scores).sum())
    return total / (2 * len(z1))


@pytest.mark.parametrize("temperature", [0.07, 0.5, 2.0])
def test_info_nce_equals_the_reference_and_its_gradient_autograd_through_it(temperature):
    generator = torch.Generator().manual_seed(3)
    z1 = torch.randn(6, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(6, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    ours = info_nce(z1, z2, temperature)
    reference = _reference_info_nce(z1, z2, temperature)
    assert float(ours) == pytest.approx(float(reference), rel=1e-12)
    ours_grad = torch.autograd.grad(ours, (z1, z2))
    reference_grad = torch.autograd.grad(reference, (z1, z2))
    for a, b in zip(ours_grad, reference_grad):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(lambda a, b: info_nce(a, b, temperature), (z1, z2))


def test_info_nce_limits_and_bad_input():
    assert float(info_nce(torch.ones(8, 4), torch.ones(8, 4))) == pytest.approx(math.log(8))
    with pytest.raises(Exception, match="same shape"):
        info_nce(torch.ones(3, 4), torch.ones(2, 4))


def test_masks_cover_the_asked_share_in_cubes():
    masked, mask = mask_patches(torch.ones(3, 1, 16, 16, 16), 0.25, np.random.default_rng(1))
    assert mask.float().mean().item() == pytest.approx(0.25)
    assert torch.equal(masked, (~mask).float())


@pytest.mark.parametrize("method", ["masked", "contrastive"])
def test_pretraining_lowers_its_own_loss_on_the_phantom(method, tmp_path):
    torch.manual_seed(0)
    images = [datasets.phantom((48, 48), seed=s)[0] for s in range(4)]
    network = make_model("tiny_unet", 2, 1, 5, channels=(8, 16))
    history = pretrain(images, network, method=method, epochs=6, steps_per_epoch=8, batch_size=8,
                       patch_size=(32, 32), lr=3e-3, out=tmp_path, live=None)
    losses = [record["train_loss"] for record in history]
    assert np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2]), losses
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["config"]["pretrain"] == method and state["epoch"] == 6


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("pretrained")
    torch.manual_seed(0)
    pretrain([datasets.phantom((32, 32), seed=s)[0] for s in range(2)], make_model("tiny_unet", 2, 1, 5,
             channels=(4, 8)), epochs=1, steps_per_epoch=2, batch_size=2, patch_size=(16, 16), out=out,
             live=None)
    return out / "last.pt"


def test_init_copies_matching_layers_bit_for_bit_and_names_the_head_it_skips(pretrained, tmp_path):
    source = load_checkpoint(pretrained)["model"]
    network = make_model("tiny_unet", 2, 1, 5, channels=(4, 8))
    fit(network, [datasets.phantom((32, 32), seed=3)], epochs=1, out=tmp_path, init=pretrained,
        freeze_epochs=1, **FAST)
    skipped = load_checkpoint(tmp_path / "last.pt")["config"]["init"]["skipped"]
    # make_model wants 2 output channels at least: the reconstruction head has 2, the first is used.
    assert skipped == {"head.weight": "shape (2, 4, 1, 1) in the checkpoint, (5, 4, 1, 1) here",
                       "head.bias": "shape (2,) in the checkpoint, (5,) here"}
    trained = network.state_dict()
    for name, tensor in source.items():
        if name not in skipped:  # frozen during the only epoch: still the pretrained bits
            assert torch.equal(trained[name], tensor), name
    assert not torch.equal(trained["head.weight"][:2], source["head.weight"])


def test_frozen_layers_learn_after_freeze_epochs(pretrained, tmp_path):
    source = load_checkpoint(pretrained)["model"]
    network = make_model("tiny_unet", 2, 1, 5, channels=(4, 8))
    fit(network, [datasets.phantom((32, 32), seed=3)], epochs=2, out=tmp_path, init=pretrained,
        freeze_epochs=1, **FAST)
    assert not torch.equal(network.state_dict()["down.0.0.weight"], source["down.0.0.weight"])
    assert all(p.requires_grad for p in network.parameters())


def test_init_errors_are_clear(pretrained, tmp_path):
    pairs = [datasets.phantom((32, 32), seed=3)]
    with pytest.raises(TrainingError, match="freeze_epochs freezes the layers copied from init"):
        fit(make_model("tiny_unet", 2, 1, 5, channels=(4, 8)), pairs, epochs=1, out=tmp_path / "a",
            freeze_epochs=2, **FAST)
    with pytest.raises(TrainingError, match="no layer of .* fits this network"):
        fit(make_model("tiny_unet", 2, 1, 5, channels=(6, 12)), pairs, epochs=1, out=tmp_path / "b",
            init=pretrained, **FAST)
    with pytest.raises(TrainingError, match="unknown pretraining method"):
        pretrain([pairs[0][0]], make_model("tiny_unet", 2, 1, 5, channels=(4, 8)), method="jigsaw")


def test_pretrain_then_train_with_init_on_the_command_line(tmp_path, capsys):
    from labtools import cli

    common = ["--data", "phantom", "--dims", "2", "--model", "tiny_unet", "--channels", "4,8",
              "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2", "--patch-size", "32,32",
              "--device", "cpu", "--quiet"]
    assert cli.main(["pretrain", *common, "--method", "contrastive", "--out", str(tmp_path / "ssl")]) == 0
    assert "labtools train --data phantom --dims 2 --init" in capsys.readouterr().out
    assert cli.main(["train", *common, "--out", str(tmp_path / "run"), "--init", str(tmp_path / "ssl" / "last.pt"),
                     "--freeze-epochs", "1"]) == 0
    config = load_checkpoint(tmp_path / "run" / "last.pt")["config"]
    assert config["freeze_epochs"] == 1 and set(config["init"]["skipped"]) == {"head.weight", "head.bias"}
    assert load_checkpoint(tmp_path / "ssl" / "last.pt")["config"]["normalization"] == config["normalization"]


def test_encoder_only_transfer_copies_the_contracting_path_and_leaves_the_decoder_fresh(tmp_path):
    from labtools.training.checkpoint import save_checkpoint
    from labtools.training.transfer import is_encoder, load_matching

    torch.manual_seed(1)
    trained = make_model("tiny_unet", 2, 1, 5, channels=(4, 8, 16))
    save_checkpoint(tmp_path / "a.pt", model=trained, optimizer=torch.optim.SGD(trained.parameters(), 0.1),
                    epoch=1, step=1, history=[], best=0.0, config={})
    torch.manual_seed(2)
    fresh = make_model("tiny_unet", 2, 1, 5, channels=(4, 8, 16))
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    report = load_matching(fresh, tmp_path / "a.pt", part="encoder")
    encoder = {f"{prefix}.{name}" for prefix, module in (("down", fresh.down), ("bottom", fresh.bottom))
               for name, _ in module.named_parameters()}
    assert set(report.loaded) == encoder
    for name, tensor in fresh.state_dict().items():
        expected = trained.state_dict()[name] if name in encoder else before[name]
        assert torch.equal(tensor, expected), name
    assert report.skipped["head.weight"] == "decoder: not copied (part='encoder')"
    # MONAI's UNet nests its levels: down blocks and the bottom are the encoder, up blocks the decoder.
    unet = make_model("unet", 2, 1, 3, channels=(8, 16, 32))
    encoder_modules = [unet.model[0], unet.model[1].submodule[0], unet.model[1].submodule[1].submodule]
    expected = {id(p) for module in encoder_modules for p in module.parameters()}
    named = dict(unet.named_parameters())
    assert {name for name in named if is_encoder("unet", name)} == {n for n, p in named.items() if id(p) in expected}
    with pytest.raises(TrainingError, match="not defined for 'attention_unet'"):
        is_encoder("attention_unet", "model.0.conv.0.conv.weight")
