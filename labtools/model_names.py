"""The networks :func:`labtools.models.make_model` builds, by name (no torch import).

Examples
--------
>>> "unet" in MODEL_NAMES
True
"""

MODEL_NAMES = ("unet", "basic_unet", "attention_unet", "dynunet", "swinunetr", "tiny_unet")
