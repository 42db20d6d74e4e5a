"""make_model: the segmentation networks labtools trains, by name, over MONAI's implementations."""

from __future__ import annotations

from torch import nn

from labtools.errors import InvalidImageError
from labtools.models.tiny_unet import TinyUNet

__all__ = ["make_model", "model_from_spec", "MODEL_NAMES", "DEFAULT_CHANNELS", "size_divisor", "unwrap",
           "count_parameters"]

# In a module of its own so that the CLI lists the names without importing torch.
from labtools.model_names import MODEL_NAMES  # noqa: E402
DEFAULT_CHANNELS = {"unet": (16, 32, 64, 128), "basic_unet": (16, 16, 32, 64, 128),
                    "attention_unet": (16, 32, 64, 128), "dynunet": (16, 32, 64, 128),
                    "swinunetr": (24,), "tiny_unet": (16, 32, 64, 128)}


def make_model(name: str, spatial_dims: int, in_channels: int, out_channels: int, *,
               channels=None, **options) -> nn.Module:
    """Build a segmentation network that maps (B, in, *spatial) images to (B, out, *spatial) logits.

    ======================  =====================================================================
    ``name``                network
    ======================  =====================================================================
    ``"unet"``              ``monai.networks.nets.UNet``, residual units (2 per level)
    ``"basic_unet"``        ``monai.networks.nets.BasicUNet`` (the original two-conv blocks)
    ``"attention_unet"``    ``monai.networks.nets.AttentionUnet`` (Oktay et al. 2018)
    ``"dynunet"``           ``monai.networks.nets.DynUNet``, nnU-Net's architecture
    ``"swinunetr"``         ``monai.networks.nets.SwinUNETR`` (transformer encoder; sizes % 32)
    ``"tiny_unet"``         :class:`labtools.models.TinyUNet`, the lesson's one-screen U-Net
    ======================  =====================================================================

    ``channels`` sets the features per level (the number of levels follows from
    its length; default ``DEFAULT_CHANNELS[name]``); ``swinunetr`` uses
    ``channels[0]`` as its feature size (a multiple of 12). Other keywords go to the MONAI constructor unchanged, e.g.
    ``dropout=0.1``. The returned module remembers how it was built
    (``model.labtools_spec``), so a checkpoint can rebuild it with
    :func:`model_from_spec`.

    Parameters
    ----------
    name : str
        One of ``MODEL_NAMES``.
    spatial_dims : int
        2 or 3.
    in_channels, out_channels : int
        Image channels; number of classes including background.
    channels : sequence of int, optional
        Features per resolution level, top first.

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> net = make_model("unet", 2, in_channels=1, out_channels=3, channels=(8, 16, 32))
    >>> net(torch.zeros(1, 1, 64, 64)).shape
    torch.Size([1, 3, 64, 64])
    >>> size_divisor(net)          # patch sizes must be multiples of this
    4
    """
    if name not in MODEL_NAMES:
        raise InvalidImageError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    if spatial_dims not in (2, 3):
        raise InvalidImageError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
    if in_channels < 1 or out_channels < 2:
        raise InvalidImageError(f"need in_channels >= 1 and out_channels >= 2 (background and one "
                                f"class at least), got {in_channels} and {out_channels}")
    channels = tuple(int(c) for c in (DEFAULT_CHANNELS[name] if channels is None else channels))
    if len(channels) < 2 and name != "swinunetr":
        raise InvalidImageError(f"{name} needs features for 2 levels at least, got channels={channels}")
    model, divisor = _BUILDERS[name](spatial_dims, in_channels, out_channels, channels, options)
    model.labtools_spec = {"name": name, "spatial_dims": spatial_dims, "in_channels": in_channels,
                           "out_channels": out_channels, "channels": list(channels),
                           "options": dict(options), "divisor": divisor}
    return model


def model_from_spec(spec: dict) -> nn.Module:
    """Rebuild the (untrained) network that :func:`make_model` described in `spec`.

    Examples
    --------
    >>> net = make_model("tiny_unet", 2, 1, 2, channels=(4, 8))
    >>> type(model_from_spec(net.labtools_spec)).__name__
    'TinyUNet'
    """
    return make_model(spec["name"], spec["spatial_dims"], spec["in_channels"], spec["out_channels"],
                      channels=spec["channels"], **spec.get("options", {}))


def size_divisor(model: nn.Module) -> int:
    """The number every spatial size of the network's input must be a multiple of (1 if unknown)."""
    return int(getattr(unwrap(model), "labtools_spec", {}).get("divisor", 1))


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under DistributedDataParallel and torch.compile wrappers.

    A checkpoint stores this one, so it loads into a model built without them.

    Examples
    --------
    >>> net = nn.Linear(2, 2)
    >>> unwrap(net) is net
    True
    >>> wrapper = nn.Module(); wrapper.module = net   # what DistributedDataParallel looks like
    >>> unwrap(wrapper) is net
    True
    """
    model = getattr(model, "module", model)       # DistributedDataParallel
    return getattr(model, "_orig_mod", model)     # torch.compile


# --- one builder per name: (spatial_dims, in, out, channels, options) -> (module, divisor) ------

def _unet(dims, n_in, n_out, channels, options):
    from monai.networks.nets import UNet

    options = {"num_res_units": 2, **options}
    strides = (2,) * (len(channels) - 1)
    return UNet(dims, n_in, n_out, channels=channels, strides=strides, **options), 2 ** len(strides)


def _basic_unet(dims, n_in, n_out, channels, options):
    from monai.networks.nets import BasicUNet

    if len(channels) != 5:
        # BasicUNet has exactly four downsamplings; its sixth entry is the last decoder's width.
        raise InvalidImageError(f"basic_unet needs 5 channel counts (4 downsamplings), got {channels}")
    return BasicUNet(dims, n_in, n_out, features=(*channels, channels[0]), **options), 16


def _attention_unet(dims, n_in, n_out, channels, options):
    from monai.networks.nets import AttentionUnet

    strides = (2,) * (len(channels) - 1)
    return AttentionUnet(dims, n_in, n_out, channels=channels, strides=strides, **options), 2 ** len(strides)


def _dynunet(dims, n_in, n_out, channels, options):
    from monai.networks.nets import DynUNet

    # nnU-Net's plan for isotropic data: 3x3(x3) kernels, the first level at full resolution.
    levels = len(channels)
    strides = [1] + [2] * (levels - 1)
    model = DynUNet(dims, n_in, n_out, kernel_size=[3] * levels, strides=strides,
                    upsample_kernel_size=strides[1:], filters=channels, **options)
    return model, 2 ** (levels - 1)


def _swinunetr(dims, n_in, n_out, channels, options):
    from monai.networks.nets import SwinUNETR

    if channels[0] % 12:
        raise InvalidImageError(f"swinunetr's feature size (channels[0]) must be a multiple of 12, "
                                f"got {channels[0]}; e.g. channels=(24,)")
    options = {"feature_size": channels[0], **options}
    return SwinUNETR(in_channels=n_in, out_channels=n_out, spatial_dims=dims, **options), 32


def _tiny_unet(dims, n_in, n_out, channels, options):
    if options:
        raise InvalidImageError(f"tiny_unet takes no extra options, got {sorted(options)}")
    return TinyUNet(dims, n_in, n_out, features=channels), 2 ** (len(channels) - 1)


_BUILDERS = {"unet": _unet, "basic_unet": _basic_unet, "attention_unet": _attention_unet,
             "dynunet": _dynunet, "swinunetr": _swinunetr, "tiny_unet": _tiny_unet}


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters.

    Examples
    --------
    >>> count_parameters(nn.Linear(3, 2))
    8
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
