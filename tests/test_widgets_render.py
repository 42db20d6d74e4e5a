"""The widgets' GUI-free parts: rendering (render.py) and mask perturbation (perturb.py).

Compared with analytic cases and with numpy, scipy, scikit-image, Pillow and
matplotlib, never with numbers taken from our own output.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib import colormaps
from PIL import Image as PILImage
from scipy import ndimage
from skimage import morphology, segmentation

from labtools.errors import InvalidImageError, ShapeMismatchError
from labtools.widgets import render
from labtools.widgets.perturb import ball, perturb


def decode(png: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(png)).convert("RGB"))


# ------------------------------------------------------------------------------ window
def test_window_is_linear_between_the_percentiles_and_clipped_outside():
    x = np.arange(101, dtype=float)  # the p-th percentile of 0..100 is exactly p
    np.testing.assert_allclose(render.window(x, percentiles=(0, 100)), x / 100, atol=1e-7)
    np.testing.assert_allclose(render.window(x, percentiles=(10, 90)),
                               np.clip((x - 10) / 80, 0, 1), atol=1e-7)
    assert render.window(x).dtype == np.float32


def test_window_of_a_constant_image_is_black_and_bad_input_raises():
    assert not render.window(np.full((3, 3), 7.0)).any()
    with pytest.raises(InvalidImageError, match="NaN|finite"):
        render.window(np.array([0.0, np.nan]))
    with pytest.raises(InvalidImageError, match="percentiles"):
        render.window(np.zeros(3), percentiles=(90, 10))


# ------------------------------------------------------------------------------ colours
def test_label_colors_follow_the_documented_palette():
    colors = render.label_colors(12)
    assert colors.shape == (12, 3) and colors.dtype == np.uint8
    red, green, blue, yellow = (colors[k].astype(int) for k in (1, 2, 3, 4))
    # class 1 red-ish, 2 green, 3 blue: that channel leads clearly; 4 yellow: red and green, no blue
    for color, channel in ((red, 0), (green, 1), (blue, 2)):
        others = np.delete(color, channel)
        assert color[channel] > max(others) + 50 and color[channel] > 2 * min(others), color
    assert min(yellow[:2]) > 3 * yellow[2]
    assert len({tuple(c) for c in render.label_colors(40)[1:]}) == 39  # all distinct
    np.testing.assert_array_equal(render.label_colors(5), render.label_colors(12)[:5])  # stable


# ------------------------------------------------------------------------------ overlay
def test_overlay_blends_label_colours_with_the_grey_image():
    grey = np.array([[0.0, 0.5], [1.0, 0.2]])
    labels = np.array([[0, 1], [2, 3]])
    colors = render.label_colors(4).astype(float)
    level = np.rint(grey * 255)
    np.testing.assert_array_equal(render.overlay(grey), np.repeat(level[..., None], 3, axis=2))
    np.testing.assert_array_equal(render.overlay(grey, labels, opacity=0.0), render.overlay(grey))
    full = render.overlay(grey, labels, opacity=1.0)
    np.testing.assert_array_equal(full[labels > 0], colors[labels[labels > 0]])
    np.testing.assert_array_equal(full[0, 0], [0, 0, 0])  # label 0 is transparent
    half = render.overlay(grey, labels, opacity=0.5)
    expected = np.rint(0.5 * level[0, 1] + 0.5 * colors[1])
    np.testing.assert_array_equal(half[0, 1], expected)


def test_overlay_draws_on_an_rgb_picture_and_checks_its_input():
    grey = np.zeros((4, 4))
    first = render.overlay(grey, np.eye(4, dtype=int), opacity=1.0)
    second = render.overlay(first, np.fliplr(np.eye(4, dtype=int)) * 2, opacity=1.0)
    np.testing.assert_array_equal(second[0, 0], render.label_colors(2)[1])   # kept
    np.testing.assert_array_equal(second[0, 3], render.label_colors(3)[2])   # drawn on top
    with pytest.raises(ShapeMismatchError):
        render.overlay(grey, np.zeros((3, 4), int))
    with pytest.raises(InvalidImageError, match="no colour"):
        render.overlay(grey, np.full((4, 4), 5), colors=render.label_colors(3))
    with pytest.raises(InvalidImageError, match="opacity"):
        render.overlay(grey, np.ones((4, 4), int), opacity=1.5)
    with pytest.raises(InvalidImageError, match="2D"):
        render.overlay(np.zeros((2, 2, 2)))


def test_contour_colours_the_same_pixels_as_skimage_inner_boundaries():
    labels = np.zeros((20, 20), int)
    labels[3:10, 4:15] = 1
    labels[10:17, 6:12] = 2
    rgb = render.overlay(np.zeros((20, 20)), labels, contour=True)
    coloured = rgb.any(axis=2)
    boundary = segmentation.find_boundaries(labels, connectivity=1, mode="inner") & (labels > 0)
    np.testing.assert_array_equal(coloured, boundary)


def test_heatmap_uses_the_matplotlib_colour_map_weighted_by_the_value():
    grey = np.full((1, 3), 0.5)
    values = np.array([[0.0, 0.5, 1.0]])
    rgb = render.heatmap(grey, values, opacity=0.8, cmap="viridis").astype(float)
    base = np.rint(0.5 * 255)
    reference = np.asarray(colormaps["viridis"](values[0])[:, :3]) * 255
    weight = 0.8 * values[0][:, None]
    np.testing.assert_array_equal(rgb[0], np.rint((1 - weight) * base + weight * reference))


# ------------------------------------------------------------------------------ PNG
@pytest.mark.parametrize("aspect, size, expected_hw", [
    (1.0, None, (6, 4)), (2.0, None, (12, 4)), (0.5, None, (6, 8)), (1.0, 60, (60, 40)),
    (3.0, 36, (36, 8)),
])
def test_to_png_gives_pixels_their_physical_aspect(aspect, size, expected_hw):
    rgb = np.random.default_rng(0).integers(0, 256, (6, 4, 3), dtype=np.uint8)
    picture = decode(render.to_png(rgb, aspect=aspect, size=size))
    assert picture.shape[:2] == expected_hw


def test_to_png_enlarges_by_nearest_neighbour_without_changing_values():
    rgb = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode(render.to_png(rgb)), rgb)
    np.testing.assert_array_equal(decode(render.to_png(rgb, aspect=2.0)), np.repeat(rgb, 2, axis=0))
    np.testing.assert_array_equal(decode(render.to_png(rgb, aspect=1 / 3)), np.repeat(rgb, 3, axis=1))
    with pytest.raises(InvalidImageError, match="uint8"):
        render.to_png(rgb.astype(float))


# ------------------------------------------------------------------------------ planes
def test_plane_orientation_first_axis_left_to_right_second_bottom_to_top():
    volume = np.random.default_rng(2).normal(size=(5, 6, 7))
    for axis in range(3):
        for index in (0, volume.shape[axis] - 1):
            # numpy's rot90 turns (a, b) into rows = b reversed, columns = a
            np.testing.assert_array_equal(render.plane(volume, axis, index),
                                          np.rot90(np.take(volume, index, axis=axis)))
    marker = np.zeros((5, 6, 7))
    marker[0, 5, 3] = 1  # first voxel of axis 0 (left), last of axis 1 (anterior in RAS)
    assert render.plane(marker, 2, 3)[0, 0] == 1  # axial: top-left
    image2d = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(render.plane(image2d, None, None), image2d)  # as stored


def test_plane_to_voxels_inverts_plane_for_every_pixel():
    volume = np.arange(4 * 5 * 6).reshape(4, 5, 6)
    for axis in range(3):
        picture = render.plane(volume, axis, 2)
        rows, cols = np.indices(picture.shape)
        voxels = render.plane_to_voxels(volume.shape, axis, 2, rows, cols)
        np.testing.assert_array_equal(volume[voxels], picture)
        assert (voxels[axis] == 2).all()
    with pytest.raises(InvalidImageError, match="outside axis"):
        render.plane(volume, 0, 4)


def test_plane_aspect_is_row_spacing_over_column_spacing():
    spacing = (0.5, 2.0, 3.0)
    assert render.plane_aspect(spacing, 2) == 2.0 / 0.5  # rows axis 1, columns axis 0
    assert render.plane_aspect(spacing, 1) == 3.0 / 0.5
    assert render.plane_aspect(spacing, 0) == 3.0 / 2.0
    assert render.plane_aspect((2.0, 0.5)) == 4.0


def test_render_and_perturb_import_no_widget_library():
    code = ("import json, sys; import labtools.widgets.render, labtools.widgets.perturb; "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = {m.split(".")[0] for m in json.loads(out.stdout.splitlines()[-1])}
    assert not loaded & {"ipywidgets", "anywidget", "ipyniivue", "IPython"}
    assert "numpy" in loaded  # the check sees what was imported


# ------------------------------------------------------------------------------ perturb
def interior_mask(shape, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, bool)
    inner = tuple(slice(6, n - 6) for n in shape)
    mask[inner] = rng.random(mask[inner].shape) > 0.5
    return mask


@pytest.mark.parametrize("shape", [(30, 32), (20, 22, 24)])
def test_shift_there_and_back_is_identity_and_matches_scipy(shape):
    mask = interior_mask(shape)
    for shift in [(3,) + (0,) * (len(shape) - 1), tuple(range(-2, -2 + len(shape)))]:
        moved = perturb(mask, shift=shift)
        reference = ndimage.shift(mask.astype(np.uint8), shift, order=0, mode="constant", cval=0) > 0
        np.testing.assert_array_equal(moved, reference)
        np.testing.assert_array_equal(moved, np.roll(mask, shift, axis=tuple(range(len(shape)))))
        np.testing.assert_array_equal(perturb(moved, shift=tuple(-k for k in shift)), mask)


def test_shift_does_not_wrap_around_and_can_leave_the_grid():
    mask = np.zeros((6, 6), bool)
    mask[0:2, 0:2] = True
    assert not perturb(mask, shift=(-1, 0))[5].any()  # np.roll would bring row 0 to row 5
    assert perturb(mask, shift=(-1, 0)).sum() == 2
    assert not perturb(mask, shift=(6, 0)).any()


@pytest.mark.parametrize("radius", [0, 1, 2, 3])
def test_ball_equals_skimage_disk_and_ball(radius):
    np.testing.assert_array_equal(ball(radius, 2), morphology.disk(radius).astype(bool))
    np.testing.assert_array_equal(ball(radius, 3), morphology.ball(radius).astype(bool))


@pytest.mark.parametrize("shape, footprint", [((40, 40), morphology.disk), ((24, 26, 28), morphology.ball)])
@pytest.mark.parametrize("radius", [1, 2, 3])
def test_grow_and_shrink_equal_scipy_morphology_with_a_ball(shape, footprint, radius):
    mask = interior_mask(shape, seed=radius)
    structure = footprint(radius).astype(bool)
    np.testing.assert_array_equal(perturb(mask, grow=radius),
                                  ndimage.binary_dilation(mask, structure=structure))
    np.testing.assert_array_equal(perturb(mask, grow=-radius),
                                  ndimage.binary_erosion(mask, structure=structure))
    np.testing.assert_array_equal(perturb(mask), mask)


def test_shift_then_grow_then_blob_in_that_order():
    mask = np.zeros((30, 30), bool)
    mask[10:15, 10:15] = True
    out = perturb(mask, shift=(2, 0), grow=1, blob=((25, 5), 2))
    expected = ndimage.binary_dilation(np.roll(mask, 2, axis=0), structure=morphology.disk(1).astype(bool))
    expected[23:28, 3:8] |= morphology.disk(2).astype(bool)
    np.testing.assert_array_equal(out, expected)
    assert out is not mask and mask.sum() == 25  # the input is not modified


def test_perturb_rejects_label_maps_and_wrong_shift_lengths():
    with pytest.raises(InvalidImageError, match="binary"):
        perturb(np.array([[0, 2], [1, 0]]))
    with pytest.raises(InvalidImageError, match="one per axis"):
        perturb(np.zeros((4, 4), bool), shift=(1,))
    with pytest.raises(InvalidImageError, match="2D or 3D"):
        perturb(np.zeros(4, bool))
