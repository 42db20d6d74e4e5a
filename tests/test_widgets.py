"""The notebook widgets, driven from code as a notebook (or a browser) would, without a frontend."""

from __future__ import annotations

import importlib.util
import io as bytes_io

import ipywidgets
import numpy as np
import pytest
from PIL import Image as PILImage
from scipy import ndimage
from skimage.draw import line
from skimage.morphology import disk

from labtools import datasets, io, metrics
from labtools.errors import InvalidImageError, LabtoolsError, ShapeMismatchError
from labtools.labeling import LabelingSession
from labtools.pixel_classifier import PixelClassifier
from labtools.training import NotebookCurves
from labtools.training.history import History
from labtools.widgets import MetricExplorer, ScribbleCanvas, SliceViewer, live_curves, perturb, view3d
from labtools.widgets.render import heatmap, label_colors, overlay, plane, window


def decode(png: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(bytes_io.BytesIO(png)).convert("RGB"))


@pytest.fixture(scope="module")
def volume():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(12, 14, 10))
    labels = rng.integers(0, 4, size=image.shape)
    return image, labels


# ------------------------------------------------------------------------------ SliceViewer
def test_slice_viewer_shows_exactly_the_chosen_plane_of_the_volume(volume):
    image, labels = volume
    viewer = SliceViewer(image, labels, opacity=0.3)
    assert isinstance(viewer, ipywidgets.VBox)
    grey = window(image)
    for axis in (2, 1, 0):
        viewer.axis = axis
        for index in (0, 3, image.shape[axis] - 1):
            viewer.index = index
            expected = overlay(plane(grey, axis, index), plane(labels, axis, index), opacity=0.3)
            np.testing.assert_array_equal(viewer.rgb(), expected)
            assert viewer.sliders[axis].value == index


def test_slice_viewer_picture_is_the_volume_slice_in_display_orientation(volume):
    image, _ = volume
    viewer = SliceViewer(image, size=image.shape[1])  # axial picture: 14 rows x 12 columns
    viewer.index = 4
    # Independent of render.plane: numpy's rot90 puts axis 0 left-right, axis 1 bottom-up.
    expected_grey = np.rint(np.rot90(window(image)[:, :, 4]) * 255)
    np.testing.assert_array_equal(viewer.rgb()[..., 0], expected_grey)
    np.testing.assert_array_equal(decode(viewer.image_widget.value), viewer.rgb())  # the PNG on show


def test_slice_viewer_slider_and_dropdown_drive_the_picture(volume):
    image, labels = volume
    viewer = SliceViewer(image, labels)
    before = viewer.image_widget.value
    viewer.sliders[2].value = 1            # as if the user dragged the slider
    assert viewer.index == 1 and viewer.image_widget.value != before
    viewer.plane_dropdown.value = "coronal"
    assert viewer.axis == 1
    viewer.opacity_slider.value = 1.0
    labelled = plane(labels, 1, viewer.index) > 0
    colors = label_colors(4)[plane(labels, 1, viewer.index)[labelled]]
    np.testing.assert_array_equal(viewer.rgb()[labelled], colors)
    viewer.plane_dropdown.value = "all three"
    assert viewer.show_all and viewer.axis == 1
    assert len(viewer._panels.children) == 3
    for axis in range(3):
        assert viewer.rgb(axis).shape[:2] == plane(image, axis, 0).shape


def test_slice_viewer_keeps_the_physical_aspect_and_takes_spacing_from_an_image():
    array = np.random.default_rng(1).normal(size=(20, 10, 8))
    viewer = SliceViewer(io.Image(array, spacing=(1.0, 1.0, 3.0)), axis="coronal", size=120)
    assert viewer.spacing == (1.0, 1.0, 3.0)
    picture = decode(viewer.image_widget.value)
    # coronal: columns = axis 0 (20 x 1 mm), rows = axis 2 (8 x 3 mm) -> 24 mm tall, 20 mm wide
    assert picture.shape[:2] == (120, 100)


def test_set_labels_redraws_and_checks_the_shape(volume):
    image, labels = volume
    viewer = SliceViewer(image)
    plain = viewer.rgb().copy()
    viewer.set_labels(labels)
    assert not np.array_equal(viewer.rgb(), plain)
    assert "3" in viewer.legend.value
    viewer.set_labels(None)
    np.testing.assert_array_equal(viewer.rgb(), plain)
    with pytest.raises(ShapeMismatchError):
        viewer.set_labels(labels[:-1])
    with pytest.raises(InvalidImageError, match="plane"):
        viewer.axis = "transverse"


def test_slice_viewer_2d():
    image, labels = datasets.phantom((32, 40), seed=0)
    viewer = SliceViewer(image, labels, names={1: "csf"})
    np.testing.assert_array_equal(viewer.rgb(), overlay(window(image.array), labels, opacity=0.4))
    assert viewer.axis is None and viewer.index is None and viewer.plane_dropdown is None
    assert "csf" in viewer.legend.value


# ------------------------------------------------------------------------------ ScribbleCanvas
def class_points(truth: np.ndarray, label: int, step: int) -> np.ndarray:
    """Every `step`-th pixel of class `label`, as (row, col) picture points."""
    return np.argwhere(truth == label)[::step]


def class_drags(truth: np.ndarray, label: int, every: int) -> list:
    """Horizontal mouse drags over every run of class `label` in every `every`-th row."""
    drags = []
    for row in range(0, truth.shape[0], every):
        cols = np.flatnonzero(truth[row] == label)
        for run in np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1) if cols.size else []:
            drags.append([(row, run[0]), (row, run[-1])])
    return drags


@pytest.fixture
def phantom2d():
    image, truth = datasets.phantom((48, 48), n_lesions=0, seed=0)
    truth = np.where(truth == 0, 4, truth)  # background painted as class 4 (0 erases)
    return image, truth


def new_canvas(image, **kwargs) -> ScribbleCanvas:
    session = LabelingSession(image, classifier=PixelClassifier(n_estimators=20, n_jobs=1))
    return ScribbleCanvas(session, **kwargs)


def test_painting_strokes_per_class_predicts_the_phantom(phantom2d):
    image, truth = phantom2d
    canvas = new_canvas(image, classes=["csf", "grey", "white", "outside"])
    for label in (1, 2, 3, 4):
        for drag in class_drags(truth, label, every=5):  # with a one-pixel brush
            canvas.paint(drag, label=label, radius=0)
    assert set(canvas.session.class_counts()) == {1, 2, 3, 4}
    assert (canvas.session.scribbles[canvas.session.scribbles > 0]
            == truth[canvas.session.scribbles > 0]).all()  # the drags stayed inside their class
    prediction = canvas.session.prediction
    assert prediction.shape == truth.shape
    for label in (1, 2, 3, 4):  # label values: scribble class k exports as k - 1 (the class table)
        assert metrics.dice(prediction == label - 1, truth == label) > 0.8, label
    assert canvas.session.classes.names() == {0: "csf", 1: "grey", 2: "white", 3: "outside"}
    colors = label_colors(4)
    colors[1:4] = [canvas.session.classes.value_colors()[v] for v in (1, 2, 3)]
    np.testing.assert_array_equal(
        canvas.prediction_rgb(), overlay(window(image.array), prediction, opacity=0.4, colors=colors))
    assert "predicted the image in" in canvas.status.value


def test_a_stroke_is_the_skimage_line_through_the_points_widened_by_the_brush(phantom2d):
    image, _ = phantom2d
    canvas = new_canvas(image)
    assert canvas.paint([(5.7, 3.2), (9, 12), (20, 12)], label=2, radius=0) > 0
    expected = np.zeros((48, 48), bool)
    expected[line(5, 3, 9, 12)] = True
    expected[line(9, 12, 20, 12)] = True
    np.testing.assert_array_equal(canvas.session.scribbles == 2, expected)
    canvas.paint([(30, 30), (30, 40)], label=1, radius=2)
    stroke = np.zeros((48, 48), bool)
    stroke[line(30, 30, 30, 40)] = True
    np.testing.assert_array_equal(canvas.session.scribbles == 1,
                                  ndimage.binary_dilation(stroke, structure=disk(2).astype(bool)))


def test_undo_restores_the_previous_scribbles_and_redo_repeats(phantom2d):
    image, _ = phantom2d
    canvas = new_canvas(image)
    canvas.paint([(10, 10), (10, 20)], label=1, radius=1)
    before = canvas.session.scribbles.copy()
    canvas.paint([(30, 5), (30, 40)], label=2, radius=2)
    after = canvas.session.scribbles.copy()
    canvas.undo_button.click()
    np.testing.assert_array_equal(canvas.session.scribbles, before)
    canvas.redo_button.click()
    np.testing.assert_array_equal(canvas.session.scribbles, after)
    assert canvas.redo() is False and "nothing to redo" in canvas.status.value


def test_a_message_from_the_frontend_paints_like_paint(phantom2d):
    image, _ = phantom2d
    by_message, by_call = new_canvas(image), new_canvas(image)
    strokes = [([[4.5, 4.5], [4.5, 30.2], [12, 30]], 1, 1), ([[40, 2], [40, 45]], 2, 0)]
    for points, label, radius in strokes:
        # The comm message the JavaScript's model.send({...}) produces.
        by_message.canvas._handle_msg({"content": {"data": {"method": "custom", "content": {
            "type": "stroke", "points": points, "label": label, "radius": radius}}}, "buffers": []})
        by_call.paint(points, label=label, radius=radius)
    np.testing.assert_array_equal(by_message.session.scribbles, by_call.session.scribbles)
    assert by_message.session.class_counts() == by_call.session.class_counts() != {}
    np.testing.assert_array_equal(by_message.session.prediction, by_call.session.prediction)
    np.testing.assert_array_equal(by_message.rgb(), by_call.rgb())


def test_session_errors_go_to_the_status_line_not_to_the_frontend(phantom2d):
    image, _ = phantom2d
    canvas = new_canvas(image)
    canvas.handle_message({"type": "stroke", "points": [[5, 5], [5, 9]], "label": 1, "radius": 0})
    assert canvas.session.class_counts() == {1: 5}
    assert "two classes" in canvas.status.value and canvas.prediction_rgb() is None
    assert canvas.paint([(5, 5)], label=300) == 0
    assert "label" in canvas.status.value
    canvas.handle_message({"type": "something else"})  # ignored
    assert canvas.session.class_counts() == {1: 5}


def test_picker_and_brush_reach_the_canvas_and_the_uncertainty_view(phantom2d):
    image, truth = phantom2d
    canvas = new_canvas(image)
    canvas.class_picker.value = 2
    canvas.brush_slider.value = 3
    assert (canvas.canvas.label, canvas.canvas.radius) == (2, 3)
    assert canvas.canvas.color == "#e41a1c"  # class 2 exports as 1: label 1's red, as in napari and viz
    canvas.paint([tuple(class_points(truth, 2, 50)[0])])                 # picker's class and brush
    canvas.paint([tuple(class_points(truth, 4, 50)[0])], label=4, radius=1)
    assert set(canvas.session.class_counts()) == {2, 4}
    canvas.view_toggle.value = "uncertainty"
    grey = window(image.array)
    colors = label_colors(256)  # strokes in their class's colour (the class table's)
    for scribble, rgb in canvas.session.classes.scribble_colors().items():
        colors[scribble] = rgb
    expected = overlay(heatmap(grey, canvas.session.uncertainty, opacity=0.4),
                       canvas.session.scribbles, opacity=1.0, colors=colors)
    np.testing.assert_array_equal(canvas.rgb(), expected)
    assert canvas.canvas.src.startswith("data:image/png;base64,")


def test_scribble_canvas_on_a_3d_volume_paints_the_slice_on_screen():
    image, _ = datasets.phantom((24, 24, 16), n_lesions=0, seed=1)
    canvas = new_canvas(image, axis=2, index=6)
    assert canvas.index == 6 and canvas.slice_slider.max == 15
    canvas.paint([(3, 5)], label=1, radius=0)
    # picture row 3, column 5 of an axial slice = voxel (5, 24 - 1 - 3, 6)
    assert canvas.session.scribbles[5, 20, 6] == 1 and canvas.session.class_counts() == {1: 1}
    canvas.paint([(12, 0), (12, 23)], label=2, radius=0)
    predicted = canvas.session.prediction
    assert canvas.session.prediction_roi == (slice(0, 24), slice(0, 24), slice(6, 7))
    np.testing.assert_array_equal(canvas.prediction_rgb(),
                                  overlay(plane(window(image.array), 2, 6), plane(predicted, 2, 0),
                                          opacity=0.4, colors=label_colors(256)))
    canvas.slice_slider.value = 2          # a new slice is predicted on arrival
    assert canvas.session.prediction_roi[2] == slice(2, 3)
    best = canvas.suggest()
    assert 0 <= best < 16 and canvas.index == best


def test_scribble_canvas_rejects_what_is_not_a_session():
    with pytest.raises(InvalidImageError, match="LabelingSession"):
        ScribbleCanvas(np.zeros((4, 4)))


# ------------------------------------------------------------------------------ MetricExplorer
def square(shape=(40, 40), low=10, high=26) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[tuple(slice(low, high) for _ in shape)] = True
    return mask


def reference_metrics(pred, ref, spacing, tolerance=1.0) -> dict:
    return {"dice": metrics.dice(pred, ref), "iou": metrics.iou(pred, ref),
            "hausdorff": metrics.hausdorff(pred, ref, spacing), "hd95": metrics.hd95(pred, ref, spacing),
            "assd": metrics.assd(pred, ref, spacing), "nsd": metrics.nsd(pred, ref, tolerance, spacing)}


def test_unperturbed_prediction_scores_perfectly():
    explorer = MetricExplorer(square(), spacing=(0.5, 2.0))
    assert explorer.values == {"dice": 1.0, "iou": 1.0, "hausdorff": 0.0, "hd95": 0.0,
                               "assd": 0.0, "nsd": 1.0}
    assert [s.description for s in explorer.shift_sliders] == ["shift axis 0", "shift axis 1"]
    assert explorer.grow_slider.description == "grow / shrink"


def test_shifting_a_square_gives_the_analytic_dice_and_hausdorff():
    explorer = MetricExplorer(square(), spacing=(0.5, 2.0))
    explorer.shift_sliders[0].value = 3
    assert explorer.values["dice"] == pytest.approx((16 - 3) / 16)   # overlap 13 of 16 rows
    assert explorer.values["hausdorff"] == pytest.approx(3 * 0.5)
    explorer.shift_sliders[0].value = 0
    explorer.shift_sliders[1].value = -2
    assert explorer.values["hausdorff"] == pytest.approx(2 * 2.0)


@pytest.mark.parametrize("change", [
    {"shift": (2, -1)}, {"grow": 2}, {"grow": -3}, {"shift": (1, 1), "grow": -1, "blob": True},
])
def test_slider_changes_give_exactly_labtools_metrics_of_perturb(change):
    reference = square((48, 44), 12, 30)
    spacing = (0.8, 1.3)
    explorer = MetricExplorer(reference, spacing=spacing, tolerance=1.5)
    for slider, k in zip(explorer.shift_sliders, change.get("shift", (0, 0))):
        slider.value = k
    explorer.grow_slider.value = change.get("grow", 0)
    explorer.blob_checkbox.value = change.get("blob", False)
    blob = explorer.blob if change.get("blob") else None
    expected_mask = perturb(reference, shift=change.get("shift", (0, 0)), grow=change.get("grow", 0),
                            blob=blob)
    np.testing.assert_array_equal(explorer.prediction, expected_mask)
    assert explorer.values == reference_metrics(expected_mask, reference, spacing, tolerance=1.5)
    assert f"{explorer.values['hd95']:.3f}" in explorer.table.value


def test_the_blob_is_a_false_positive_far_from_the_reference():
    reference = square((48, 48), 6, 18)
    explorer = MetricExplorer(reference)
    explorer.blob_checkbox.value = True
    extra = explorer.prediction & ~reference
    assert extra.any() and not (explorer.prediction & ~extra ^ reference).any()
    # The blob lies far away: Hausdorff jumps, Dice barely moves.
    assert explorer.values["hausdorff"] > 20 and explorer.values["dice"] > 0.9


def test_metric_explorer_3d_scores_the_volume_and_shows_the_middle_axial_slice():
    reference = np.zeros((20, 22, 18), bool)
    reference[5:15, 6:16, 4:12] = True
    explorer = MetricExplorer(io.Image(reference.astype(np.uint8), spacing=(1.0, 1.0, 2.5)))
    assert explorer.spacing == (1.0, 1.0, 2.5) and len(explorer.shift_sliders) == 3
    explorer.shift_sliders[2].value = 2
    expected = perturb(reference, shift=(0, 0, 2))
    assert explorer.values == reference_metrics(expected, reference, (1.0, 1.0, 2.5))
    assert explorer.values["hausdorff"] == pytest.approx(5.0)
    assert explorer.rgb().shape == (22, 20, 3)  # axial slice 7 = middle of 4..11


def test_shrinking_everything_away_shows_infinite_distances():
    explorer = MetricExplorer(square((20, 20), 8, 11))
    explorer.grow_slider.value = -2
    assert not explorer.prediction.any()
    assert explorer.values["dice"] == 0.0 and explorer.values["hausdorff"] == float("inf")
    assert "∞" in explorer.table.value


def test_metric_explorer_checks_its_input():
    with pytest.raises(InvalidImageError, match="binary"):
        MetricExplorer(np.array([[0, 2], [1, 0]]))
    with pytest.raises(ShapeMismatchError):
        MetricExplorer(square(), square((30, 30)))


# ------------------------------------------------------------------------------ live_curves
def test_live_curves_is_fits_notebook_callback_with_its_options():
    frames = []
    curves = live_curves(publish=lambda png, text: frames.append((png[:4], text)), min_interval=0.0)
    assert isinstance(curves, NotebookCurves) and curves.live.min_interval == 0.0
    curves.on_train_begin({"epochs": 2})
    history = History([{"epoch": 1, "step": 3, "train_loss": 0.5}])
    curves.on_epoch_end(history[-1], history)
    curves.on_train_end(history, "done")
    assert frames == [(b"\x89PNG", "training: epoch 1, step 3, train_loss 0.5000"),
                      (b"\x89PNG", "training finished: epoch 1, step 3, train_loss 0.5000")]



def test_live_curves_name_the_classes_in_the_dice_legend():
    curves = live_curves(publish=lambda png, text: None, min_interval=0.0, class_names={0: "background", 4: "lesion"})
    history = History([{"epoch": 1, "step": 3, "train_loss": 0.5, "val_dice": 0.4, "val_dice_0": 0.9,
                        "val_dice_3": 0.2, "val_dice_4": 0.1}])
    curves.on_epoch_end(history[-1], history)
    legend = [text.get_text() for text in curves.live.figure.dice_axes.get_legend().get_texts()]
    assert legend == ["mean (foreground)", "background", "class 3", "lesion"]


# ------------------------------------------------------------------------------ view3d
def test_view3d_slices_is_a_slice_viewer_with_three_planes(volume):
    image, labels = volume
    viewer = view3d(image, labels, backend="slices")
    assert isinstance(viewer, SliceViewer) and viewer.show_all
    np.testing.assert_array_equal(viewer.rgb(0), overlay(plane(window(image), 0, 6),
                                                         plane(labels, 0, 6), opacity=0.5))
    assert isinstance(view3d(np.zeros((8, 9)), backend="auto"), SliceViewer)  # 2D


def test_view3d_itk_without_itkwidgets_says_how_to_install_it(volume):
    assert importlib.util.find_spec("itkwidgets") is None  # the case this test is about
    with pytest.raises(LabtoolsError) as error:
        view3d(volume[0], backend="itk")
    message = str(error.value)
    assert 'pip install "labtools[itk]"' in message and "offline" in message
    assert "backend='niivue'" in message


def test_view3d_niivue_loads_the_image_and_labels_with_their_affine():
    from ipyniivue import NiiVue

    affine = np.array([[-1.5, 0, 0, 30], [0, 1.5, 0, -20], [0, 0, 2.0, 5], [0, 0, 0, 1]])
    rng = np.random.default_rng(3)
    image = io.Image(rng.normal(size=(10, 12, 8)).astype(np.float32), affine=affine)
    labels = rng.integers(0, 3, size=(10, 12, 8)).astype(np.uint8)
    viewer = view3d(image, labels, backend="niivue", height=300)
    assert isinstance(viewer, NiiVue) and len(viewer.volumes) == 2 and viewer.height == 300
    for volume, expected in zip(viewer.volumes, (image.array, labels)):
        loaded = io.load(volume.path)
        np.testing.assert_array_equal(loaded.array, expected)
        np.testing.assert_allclose(loaded.affine, affine)
    lut = np.asarray(viewer.volumes[1].colormap_label.lut).reshape(-1, 4)
    np.testing.assert_array_equal(lut[:3, :3], label_colors(3))
    assert lut[0, 3] == 0 and (lut[1:, 3] == 255).all()  # background transparent
    assert isinstance(view3d(image, backend="auto"), NiiVue)  # ipyniivue is installed here


def test_view3d_rejects_an_unknown_backend_and_2d_for_niivue():
    with pytest.raises(InvalidImageError, match="backend"):
        view3d(np.zeros((4, 4, 4)), backend="vtk")
    with pytest.raises(InvalidImageError, match="3D"):
        view3d(np.zeros((4, 4)), backend="niivue")


# ------------------------------------------------------------------------------ layering
def test_labtools_exposes_widgets_lazily():
    import labtools

    assert "widgets" in dir(labtools) and labtools.widgets.SliceViewer is SliceViewer
    for name in labtools.widgets.__all__:
        assert callable(getattr(labtools.widgets, name)), name  # functions and classes, not modules


def test_feature_grid_widget_gives_the_session_a_classifier_with_the_ticked_features(phantom2d):
    from labtools.widgets import FeatureGrid

    image, truth = phantom2d
    canvas = new_canvas(image)
    grid = FeatureGrid(canvas.session)
    assert all(box.disabled for box in grid._cells.values())  # a preset is shown read-only
    grid.preset.value = "custom"
    grid.scales.value = "0.7, 3.5"
    assert sorted({s for _, s in grid._cells}) == [0.7, 3.5] and not grid.cell("gaussian", 0.7).disabled
    for (name, scale), box in grid._cells.items():
        box.value = (name, scale) in (("gaussian", 0.7), ("gaussian", 3.5), ("gradient", 3.5))
    grid.unit.value = "mm"
    grid.cell("2D", 3.5).value = True
    assert grid.apply()
    classifier = canvas.session.classifier
    assert classifier.features == {"gaussian": (0.7, 3.5), "gradient": (3.5,)}
    assert classifier.in_plane == (3.5,)  # (a 2D image computes every scale in its plane anyway)
    assert classifier.sigma_unit == "mm" and classifier.n_estimators == 20  # the rest kept
    for label in (1, 2, 3, 4):
        for drag in class_drags(truth, label, every=5):
            canvas.paint(drag, label=label, radius=0)
    assert canvas.session.classifier.n_features_in_ == 3
    for box in grid._cells.values():
        box.value = False
    assert not grid.apply() and "tick at least one" in grid.status.value
