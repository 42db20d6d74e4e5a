"""Segmentation networks: :func:`make_model` over MONAI, and the lesson's :class:`TinyUNet`.

Examples
--------
>>> from labtools.models import make_model
>>> net = make_model("tiny_unet", 2, in_channels=1, out_channels=5, channels=(8, 16))
>>> type(net).__name__
'TinyUNet'
"""

from labtools.models.factory import (DEFAULT_CHANNELS, MODEL_NAMES, count_parameters, make_model,
                                     model_from_spec, size_divisor, unwrap)
from labtools.models.tiny_unet import TinyUNet

__all__ = ["make_model", "model_from_spec", "size_divisor", "count_parameters", "MODEL_NAMES",
           "DEFAULT_CHANNELS", "TinyUNet", "unwrap"]
