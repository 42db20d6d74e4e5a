"""The straightforward scipy.ndimage version of the ilastik feature bank (the reference).

One scipy call per filter and ``numpy.linalg.eigvalsh`` for eigenvalues, as a
student would write it. Used by tests (to check values) and benchmarks (to
compare speed); it must stay obviously correct, not fast.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

T = 3.5


def naive_feature_stack(image, sigmas=(0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0), spacing=None):
    image = np.asarray(image, dtype=np.float32)
    ndim = image.ndim
    spacing = np.ones(ndim) if spacing is None else np.asarray(spacing, dtype=float)
    out = []
    for sigma in sigmas:
        s = sigma / spacing

        def derivative(*axes):
            order = [0] * ndim
            for a in axes:
                order[a] += 1
            return ndi.gaussian_filter(image, s, order=order, truncate=T) / np.prod([spacing[a] for a in axes])

        out.append(ndi.gaussian_filter(image, s, truncate=T))
        if sigma < 0.5:
            continue
        out.append(sum(derivative(a, a) for a in range(ndim)))
        out.append(np.sqrt(sum(derivative(a) ** 2 for a in range(ndim))))
        out.append(ndi.gaussian_filter(image, s, truncate=T) - ndi.gaussian_filter(image, 0.66 * s, truncate=T))
        gradient = [derivative(a) for a in range(ndim)]
        tensor = np.empty(image.shape + (ndim, ndim))
        hessian = np.empty(image.shape + (ndim, ndim))
        for i in range(ndim):
            for j in range(ndim):
                tensor[..., i, j] = ndi.gaussian_filter(gradient[i] * gradient[j], 0.5 * s, truncate=T)
                hessian[..., i, j] = derivative(i, j)
        out += list(np.moveaxis(np.linalg.eigvalsh(tensor)[..., ::-1], -1, 0))
        out += list(np.moveaxis(np.linalg.eigvalsh(hessian)[..., ::-1], -1, 0))
    return np.stack(out).astype(np.float32)
