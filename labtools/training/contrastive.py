"""InfoNCE, the loss of contrastive self-supervised learning (SimCLR's NT-Xent), written out.

Two augmented views of the same patch should have similar embeddings, and
views of different patches different ones. For a batch of B patches, view 1's
embedding ``z1[i]`` must pick out its partner ``z2[i]`` among the B
embeddings of view 2: a B-way classification whose logits are cosine
similarities divided by a temperature τ, scored by cross-entropy, and the
same from view 2 to view 1 (van den Oord et al. 2018; Chen et al. 2020).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from labtools.errors import ParameterError

__all__ = ["info_nce"]


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Symmetric InfoNCE loss of two batches of embeddings, ``(B, D)`` each; row i of both is one patch.

    .. math::

        \\ell = \\frac{1}{2B} \\sum_i \\Big[ -\\log \\frac{e^{s(z1_i, z2_i)/τ}}{\\sum_j e^{s(z1_i, z2_j)/τ}}
                                       -\\log \\frac{e^{s(z2_i, z1_i)/τ}}{\\sum_j e^{s(z2_i, z1_j)/τ}} \\Big]

    with ``s`` the cosine similarity. Its minimum approaches 0 when every
    patch's two views match each other and no other patch; with embeddings
    that carry no information it is ``log B``.

    Parameters
    ----------
    z1, z2 : torch.Tensor
        Embeddings of the first and the second view, ``(B, D)``, B ≥ 2.
    temperature : float
        τ > 0; smaller values weigh the hardest negatives more.

    Returns
    -------
    torch.Tensor
        A scalar.

    Examples
    --------
    >>> z = torch.eye(4)                          # four patches, perfectly told apart
    >>> round(float(info_nce(z, z, temperature=0.05)), 6)
    0.0
    >>> round(float(info_nce(torch.ones(4, 3), torch.ones(4, 3))), 4)   # no information: log 4
    1.3863
    """
    if z1.shape != z2.shape or z1.ndim != 2 or z1.shape[0] < 2:
        raise ParameterError(f"info_nce needs two (B, D) batches of the same shape with B >= 2, "
                             f"got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if not temperature > 0:
        raise ParameterError(f"temperature must be positive, got {temperature}")
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    logits = z1 @ z2.T / temperature               # logits[i, j] = s(z1_i, z2_j) / τ
    targets = torch.arange(len(z1), device=z1.device)  # the partner of view-1 patch i is view-2 patch i
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))
