"""TinyUNet: the U-Net of Ronneberger et al. (2015) in one screen, for the lesson."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TinyUNet"]


class TinyUNet(nn.Module):
    """A small 2D or 3D U-Net: an encoder that halves the grid, a decoder that doubles it back.

    Each level applies two 3x3(x3) convolutions, each followed by instance
    normalisation and ReLU (normalisation is the one change from the 2015 paper:
    it lets small batches train). Going down, max pooling halves the grid and
    the next level doubles the features; going up, a transposed convolution
    doubles the grid and the encoder's features at that level are concatenated
    (the skip connection that restores fine detail). A 1x1 convolution maps
    the last features to one logit per class. Inputs must have spatial sizes
    divisible by ``2 ** (len(features) - 1)``.

    Parameters
    ----------
    spatial_dims : int
        2 or 3.
    in_channels, out_channels : int
        Image channels and number of classes (background included).
    features : sequence of int
        Features per level, from the top (full resolution) down.

    Examples
    --------
    >>> import torch
    >>> net = TinyUNet(2, in_channels=1, out_channels=3, features=(8, 16, 32))
    >>> net(torch.zeros(2, 1, 32, 32)).shape
    torch.Size([2, 3, 32, 32])
    """

    def __init__(self, spatial_dims: int = 2, in_channels: int = 1, out_channels: int = 2,
                 features=(16, 32, 64, 128)):
        super().__init__()
        conv, norm, pool, up = {
            2: (nn.Conv2d, nn.InstanceNorm2d, nn.MaxPool2d, nn.ConvTranspose2d),
            3: (nn.Conv3d, nn.InstanceNorm3d, nn.MaxPool3d, nn.ConvTranspose3d),
        }[spatial_dims]

        def block(n_in, n_out):  # two convolutions, each followed by normalisation and ReLU
            return nn.Sequential(conv(n_in, n_out, 3, padding=1), norm(n_out, affine=True), nn.ReLU(),
                                 conv(n_out, n_out, 3, padding=1), norm(n_out, affine=True), nn.ReLU())

        features = list(features)
        self.down = nn.ModuleList([block(n_in, n_out) for n_in, n_out
                                   in zip([in_channels] + features[:-2], features[:-1])])
        self.pool = pool(2)
        self.bottom = block(features[-2], features[-1])
        self.upsample = nn.ModuleList([up(n_in, n_out, kernel_size=2, stride=2) for n_in, n_out
                                       in zip(features[:0:-1], features[-2::-1])])
        # After concatenating the skip connection the decoder block sees twice the features.
        self.up = nn.ModuleList([block(2 * n, n) for n in features[-2::-1]])
        self.head = conv(features[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)          # kept for the decoder at the same resolution
            x = self.pool(x)
        x = self.bottom(x)
        for upsample, block, skip in zip(self.upsample, self.up, reversed(skips)):
            x = block(torch.cat([upsample(x), skip], dim=1))
        return self.head(x)
