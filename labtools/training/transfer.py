"""Starting a network from another one's weights: pretrained, or trained on another task.

Transfer learning copies what fits and says what does not: every tensor of
the checkpoint whose name and shape match a tensor of the new network is
copied bit for bit; the others (a classification head for another number of
classes, the reconstruction or projection head of self-supervised
pretraining, layers the new network lacks) are listed with the reason. The
copied layers may be frozen for the first epochs, so that a new head settles
before it sends large gradients into the pretrained layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from labtools.errors import TrainingError

__all__ = ["TransferReport", "load_matching", "frozen", "is_encoder", "PARTS"]

#: What ``load_matching(part=...)`` copies: every matching tensor, or only the encoder's.
PARTS = ("all", "encoder")

# The contracting path (and bottleneck) of each make_model network, by parameter name.
_ENCODER_PREFIXES = {
    "tiny_unet": ("down.", "bottom."),
    "basic_unet": ("conv_0.", "down_"),
    "dynunet": ("input_block.", "downsamples.", "bottleneck."),
    "swinunetr": ("swinViT.", "encoder"),
}


@dataclass
class TransferReport:
    """What :func:`load_matching` copied (names) and skipped (name -> reason)."""

    source: str
    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line per skipped tensor after a count, for people.

        Examples
        --------
        >>> print(TransferReport("a.pt", ["w"], {"head.weight": "not in the checkpoint"}).summary())
        init from a.pt: 1 tensors copied, 1 skipped
          head.weight: not in the checkpoint
        """
        lines = [f"init from {self.source}: {len(self.loaded)} tensors copied, {len(self.skipped)} skipped"]
        lines += [f"  {name}: {reason}" for name, reason in self.skipped.items()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"source": self.source, "loaded": len(self.loaded), "skipped": dict(self.skipped)}


def is_encoder(model_name: str, parameter: str) -> bool:
    """Whether `parameter` (a state-dict name) belongs to the encoder of a :func:`make_model` network.

    The encoder is the contracting path with the bottleneck; the decoder (the
    expanding path) and the output layer are the rest. MONAI's UNet nests each
    level as ``model.1.submodule.``: its block ``0`` goes down, ``2`` up.

    Examples
    --------
    >>> names = ("model.0.conv.unit0.conv.weight", "model.1.submodule.0.conv.unit0.conv.weight",
    ...          "model.1.submodule.1.submodule.conv.unit0.conv.weight", "model.1.submodule.2.0.conv.weight",
    ...          "model.2.0.conv.weight")        # down, down, bottom, up, up (and output)
    >>> [is_encoder("unet", n) for n in names]
    [True, True, True, False, False]
    >>> is_encoder("tiny_unet", "down.0.0.weight"), is_encoder("tiny_unet", "head.weight")
    (True, False)
    """
    if model_name == "unet":
        rest = parameter.removeprefix("model.")
        while rest.startswith("1.submodule."):
            rest = rest[len("1.submodule."):]
        first = rest.split(".")[0]
        return first == "0" or not first.isdigit()  # not a digit: the bottom block's own names
    if model_name not in _ENCODER_PREFIXES:
        raise TrainingError(f"encoder-only transfer is not defined for {model_name!r} networks; "
                            f"it is for {', '.join(['unet', *_ENCODER_PREFIXES])}: use part='all'")
    return parameter.startswith(_ENCODER_PREFIXES[model_name])


def load_matching(model: torch.nn.Module, checkpoint, *, part: str = "all") -> TransferReport:
    """Copy into `model` every tensor of `checkpoint` with the same name and shape; report the rest.

    With ``part="encoder"`` only the encoder's tensors are copied (:func:`is_encoder`); the
    decoder keeps its fresh weights and is listed as "decoder: not copied".

    Parameters
    ----------
    model : torch.nn.Module
        The network to start (changed in place).
    checkpoint : str or pathlib.Path
        A labtools checkpoint (``last.pt``/``best.pt`` of :func:`~labtools.training.fit`
        or :func:`~labtools.training.pretrain.pretrain`), read safely.
    part : {"all", "encoder"}
        Copy every matching tensor, or the encoder's only.

    Returns
    -------
    TransferReport

    Raises
    ------
    TrainingError
        When nothing matches (another architecture or channel widths).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from labtools.models import make_model
    >>> from labtools.training.checkpoint import save_checkpoint
    >>> old = make_model("tiny_unet", 2, 1, 5, channels=(4, 8))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "old.pt"
    >>> _ = save_checkpoint(path, model=old, optimizer=torch.optim.SGD(old.parameters(), 0.1), epoch=1,
    ...                     step=1, history=[], best=0.0, config={})
    >>> new = make_model("tiny_unet", 2, 1, 3, channels=(4, 8))    # 3 classes, not 5
    >>> report = load_matching(new, path)
    >>> sorted(report.skipped)
    ['head.bias', 'head.weight']
    >>> bool(torch.equal(new.down[0][0].weight, old.down[0][0].weight))
    True
    """
    from labtools.training.checkpoint import load_checkpoint

    if part not in PARTS:
        raise TrainingError(f"part must be one of {PARTS}, got {part!r}")
    state = load_checkpoint(checkpoint)["model"]
    own = model.state_dict()
    report = TransferReport(str(checkpoint))
    spec = getattr(model, "labtools_spec", None) or {}
    if part == "encoder" and not spec:
        raise TrainingError("encoder-only transfer needs a network built by labtools.models.make_model")
    for name, tensor in own.items():
        if part == "encoder" and not is_encoder(spec["name"], name):
            report.skipped[name] = "decoder: not copied (part='encoder')"
        elif name not in state:
            report.skipped[name] = "not in the checkpoint"
        elif tuple(state[name].shape) != tuple(tensor.shape):
            report.skipped[name] = (f"shape {tuple(state[name].shape)} in the checkpoint, "
                                    f"{tuple(tensor.shape)} here")
        else:
            report.loaded.append(name)
    if not report.loaded:
        raise TrainingError(f"no layer of {checkpoint} fits this network (other architecture or widths); "
                            "pretrain or train the same make_model network")
    with torch.no_grad():
        for name in report.loaded:
            own[name].copy_(state[name])
    return report


def frozen(model: torch.nn.Module, names, freeze: bool) -> None:
    """Stop (or restart) the gradients of the parameters in `names`."""
    names = set(names)
    for name, parameter in model.named_parameters():
        if name in names:
            parameter.requires_grad_(not freeze)
