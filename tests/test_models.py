"""labtools.models: every named network builds, runs, and can be rebuilt from its checkpoint spec."""

import pytest
import torch

from labtools.errors import InvalidImageError
from labtools.models import DEFAULT_CHANNELS, MODEL_NAMES, TinyUNet, make_model, model_from_spec, size_divisor

SMALL = {"unet": (4, 8, 16), "basic_unet": (4, 4, 8, 8, 16), "attention_unet": (4, 8, 16),
         "dynunet": (4, 8, 16), "swinunetr": (12,), "tiny_unet": (4, 8, 16)}


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_maps_images_to_logits_of_the_same_grid(name, dims):
    model = make_model(name, dims, in_channels=2, out_channels=3, channels=SMALL[name])
    size = 64 if name == "swinunetr" and dims == 3 else 2 * size_divisor(model)
    size = max(size, 16)
    images = torch.randn(2, 2, *[size] * dims)
    logits = model(images)
    assert logits.shape == (2, 3, *[size] * dims)
    logits.sum().backward()  # every parameter takes part in the output
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_from_spec_rebuilds_the_same_network(name):
    model = make_model(name, 2, 1, 4, channels=SMALL[name]).eval()
    twin = model_from_spec(model.labtools_spec).eval()
    twin.load_state_dict(model.state_dict())  # same parameter names and shapes
    images = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(images), twin(images))


def test_default_channels_build_every_model():
    for name in MODEL_NAMES:
        model = make_model(name, 2, 1, 2)
        assert model.labtools_spec["channels"] == list(DEFAULT_CHANNELS[name])


def test_make_model_passes_monai_options_through():
    from monai.networks.nets import UNet

    model = make_model("unet", 2, 1, 2, channels=(4, 8), num_res_units=0, dropout=0.3)
    assert isinstance(model, UNet)
    assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.3 for m in model.modules())
    assert not any(type(m).__name__ == "ResidualUnit" for m in model.modules())


def test_tiny_unet_has_one_level_per_feature_count_and_skip_connections():
    net = TinyUNet(2, 1, 2, features=(4, 8, 16, 32))
    assert len(net.down) == 3 and len(net.up) == 3
    # The decoder's first convolution sees upsampled + skip features: twice the level's width.
    assert [block[0].in_channels for block in net.up] == [32, 16, 8]
    # Pooling three times: an input that is not a multiple of 8 cannot be put back together.
    with pytest.raises(RuntimeError):
        net(torch.zeros(1, 1, 20, 20))


def test_tiny_unet_learns_a_simple_segmentation():
    torch.manual_seed(0)
    images = torch.rand(4, 1, 16, 16)
    target = (images[:, 0] > 0.5).long()  # threshold: learnable exactly
    net = TinyUNet(2, 1, 2, features=(8, 16))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(net(images), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    accuracy = (net(images).argmax(1) == target).float().mean()
    assert accuracy > 0.97


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "vnet"}, "unknown model"),
    ({"spatial_dims": 4}, "spatial_dims"),
    ({"out_channels": 1}, "out_channels >= 2"),
    ({"channels": (8,)}, "2 levels"),
    ({"name": "basic_unet", "channels": (8, 16)}, "5 channel counts"),
    ({"name": "swinunetr", "channels": (16,)}, "multiple of 12"),
    ({"name": "tiny_unet", "dropout": 0.1}, "no extra options"),
])
def test_bad_model_arguments_are_explained(kwargs, message):
    arguments = {"name": "unet", "spatial_dims": 2, "in_channels": 1, "out_channels": 3, **kwargs}
    with pytest.raises(InvalidImageError, match=message):
        make_model(**arguments)
