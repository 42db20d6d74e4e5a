"""The :class:`Image` container: a voxel array with its geometry."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labtools.errors import InvalidImageError

__all__ = ["Image", "affine_from_spacing", "spacing_from_affine", "is_lazy_array"]


def is_lazy_array(array) -> bool:
    """Whether `array` is a Dask collection (computed on demand) rather than data in memory.

    Examples
    --------
    >>> import dask.array as da
    >>> is_lazy_array(np.zeros(3)), is_lazy_array(da.zeros(3))
    (False, True)
    """
    return hasattr(array, "__dask_graph__")


def affine_from_spacing(spacing) -> np.ndarray:
    """Return the 4x4 affine of an axis-aligned grid with the given spacing.

    Parameters
    ----------
    spacing : sequence of float or None
        Voxel size in mm along each spatial axis (2 or 3 values); None means 1 mm.

    Returns
    -------
    numpy.ndarray
        A float64 (4, 4) matrix with the spacing on the diagonal.

    Examples
    --------
    >>> affine_from_spacing((0.5, 0.5, 2.0)).diagonal().tolist()
    [0.5, 0.5, 2.0, 1.0]
    """
    zooms = np.ones(3)
    if spacing is not None:
        spacing = np.asarray(spacing, dtype=float).ravel()
        zooms[: spacing.size] = spacing
    return np.diag(np.append(zooms, 1.0))


def spacing_from_affine(affine: np.ndarray, ndim: int = 3) -> tuple[float, ...]:
    """Voxel size in mm along each of the first `ndim` axes (column norms of the affine).

    Examples
    --------
    >>> spacing_from_affine(affine_from_spacing((0.8, 0.8, 2.5)))
    (0.8, 0.8, 2.5)
    """
    norms = np.sqrt((np.asarray(affine, dtype=float)[:3, :3] ** 2).sum(axis=0))
    return tuple(float(n) for n in norms[:ndim])


@dataclass(eq=False)
class Image:
    """A voxel array together with its voxel size and voxel-to-world affine.

    Axis order is the file's (nibabel's i, j, k); nothing is reoriented. An
    image with several channels (a 4D NIfTI, an RGB PNG) stores them first:
    ``array.shape == (channels, *spatial)`` and ``channel_axis == 0``.

    Parameters
    ----------
    array : numpy.ndarray or dask.array.Array
        Voxel values, 2D or 3D spatial, optionally with a leading channel axis.
    spacing : tuple of float, optional
        Voxel size in mm per spatial axis. Defaults to the affine's column
        norms, or 1 mm per axis when there is no affine either.
    affine : numpy.ndarray, optional
        4x4 voxel-to-world matrix (mm). Defaults to ``diag(spacing, 1)``.
    path : pathlib.Path, optional
        The file the image was loaded from, if any.
    channel_axis : int or None
        0 when the first axis holds channels, None for a single-channel image.
    meta : dict
        Format-specific extras (e.g. the NIfTI header under ``"nifti_header"``).

    Examples
    --------
    >>> import numpy as np
    >>> img = Image(np.zeros((4, 5, 6)), spacing=(1.0, 1.0, 2.5))
    >>> img.shape, img.spacing, img.affine[2, 2].item()
    ((4, 5, 6), (1.0, 1.0, 2.5), 2.5)
    >>> img.voxel_volume_ml
    0.0025
    """

    array: np.ndarray
    spacing: tuple[float, ...] | None = None
    affine: np.ndarray | None = None
    path: Path | None = None
    channel_axis: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not is_lazy_array(self.array):  # a Dask array stays lazy (Zarr stores, blockwise results)
            self.array = np.asarray(self.array)
        if self.channel_axis not in (None, 0):
            raise InvalidImageError(
                f"channel_axis must be 0 (channels first) or None, got {self.channel_axis!r}; "
                "move the channel axis first with numpy.moveaxis(array, axis, 0)."
            )
        nspatial = self.array.ndim - (self.channel_axis is not None)
        if nspatial not in (2, 3):
            raise InvalidImageError(
                f"an Image has 2 or 3 spatial axes, got array of shape {self.array.shape}"
                + (" with a channel axis" if self.channel_axis is not None else "")
                + "; pass channel_axis=0 for a multi-channel array."
            )
        if self.affine is None:
            self.affine = affine_from_spacing(self.spacing)
        else:
            self.affine = np.array(self.affine, dtype=float)
            if self.affine.shape != (4, 4):
                raise InvalidImageError(f"affine must be 4x4, got shape {self.affine.shape}")
        if self.spacing is None:
            self.spacing = spacing_from_affine(self.affine, nspatial)
        self.spacing = tuple(float(s) for s in np.ravel(self.spacing))
        if len(self.spacing) != nspatial or min(self.spacing) <= 0:
            raise InvalidImageError(
                f"spacing must hold {nspatial} positive voxel sizes in mm, got {self.spacing}"
            )
        if self.path is not None:
            self.path = Path(self.path)

    @property
    def is_lazy(self) -> bool:
        """True when the array is a Dask array: read or computed only where it is used."""
        return is_lazy_array(self.array)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the whole array (channels first when present)."""
        return self.array.shape

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape of the spatial axes only."""
        return self.array.shape[1:] if self.channel_axis == 0 else self.array.shape

    @property
    def ndim(self) -> int:
        """Number of spatial axes (2 or 3)."""
        return len(self.spatial_shape)

    @property
    def n_channels(self) -> int:
        """Number of channels (1 for a single-channel image)."""
        return self.array.shape[0] if self.channel_axis == 0 else 1

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres (mm^3 / 1000); area in cm^2/10 for 2D."""
        return float(np.prod(self.spacing)) / 1000.0

    @property
    def orientation(self) -> str:
        """Axis codes of the affine, e.g. ``"RAS"`` (nibabel's ``aff2axcodes``)."""
        import nibabel as nib

        codes = nib.aff2axcodes(self.affine)
        return "".join(c or "?" for c in codes[: max(self.ndim, 3)])

    def with_array(self, array: np.ndarray, channel_axis: int | None = None) -> "Image":
        """A new Image with the same geometry and another array (e.g. a label map).

        Examples
        --------
        >>> import numpy as np
        >>> img = Image(np.zeros((3, 3)), spacing=(0.5, 2.0))
        >>> img.with_array(np.ones((3, 3), dtype=np.uint8)).spacing
        (0.5, 2.0)
        """
        array = array if is_lazy_array(array) else np.asarray(array)
        spatial = array.shape[1:] if channel_axis == 0 else array.shape
        if spatial != self.spatial_shape:
            from labtools.errors import ShapeMismatchError

            raise ShapeMismatchError(
                f"new array has spatial shape {spatial}, the image has {self.spatial_shape}"
            )
        return Image(array, spacing=self.spacing, affine=self.affine.copy(), path=None,
                     channel_axis=channel_axis, meta=dict(self.meta))

    def __repr__(self) -> str:
        where = f", path='{self.path}'" if self.path else ""
        chans = f", channels={self.n_channels}" if self.channel_axis == 0 else ""
        return (f"Image(shape={self.spatial_shape}{chans}, dtype={self.array.dtype}, "
                f"spacing={tuple(round(s, 4) for s in self.spacing)}{where})")
