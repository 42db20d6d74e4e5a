"""labtools.viz: the same label colours and class names as napari and the notebook widgets."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from labtools import datasets  # noqa: E402
from labtools.colors import label_colors  # noqa: E402
from labtools.labeling import ClassTable  # noqa: E402
from labtools.viz import label_colormap, plot_planes  # noqa: E402
from labtools.widgets.render import overlay  # noqa: E402


def test_montage_colours_and_legend_follow_the_class_table():
    image, truth = datasets.phantom((24, 24, 16), n_lesions=0, seed=0)
    table = ClassTable.default(["background", "CSF", "grey matter", "white matter"])
    fig, axes = plt.subplots(1, 3)
    plot_planes(axes, image, truth, classes=table)
    names = [text.get_text() for text in axes[-1].get_legend().get_texts()]
    assert names == ["CSF", "grey matter", "white matter"]  # background (0) is not drawn
    cmap = label_colormap(4, table)
    for value, rgb in table.value_colors().items():
        if value:
            np.testing.assert_allclose(np.array(cmap(value)[:3]) * 255, rgb, atol=0.5)
    plt.close(fig)


def test_without_a_table_viz_and_the_notebook_colour_a_value_alike():
    cmap = label_colormap(6)
    labels = np.arange(6).reshape(1, 6)
    notebook = overlay(np.zeros((1, 6)), labels, opacity=1.0)  # the widgets' overlay, black image
    for value in range(1, 6):
        np.testing.assert_allclose(np.array(cmap(value)[:3]) * 255, label_colors(6)[value], atol=0.5)
        np.testing.assert_array_equal(notebook[0, value], label_colors(6)[value])


def test_show_labels_names_classes_and_leaves_the_background_transparent():
    from labtools.viz import show_labels

    labels = np.array([[1, 2], [3, 1]])
    fig, ax = plt.subplots()
    show_labels(ax, labels, datasets.MNI152_CLASSES, background=1)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["CSF/other", "grey matter"]  # 4 absent
    drawn = ax.get_images()[-1].get_array()
    assert drawn.mask.T.tolist() == (labels == 1).tolist()           # the background is not drawn
    table = ClassTable.from_values([1, 2, 3], background=1)
    assert label_colormap(4, table)(1)[3] == 0.0                      # nor coloured by a table
    plt.close(fig)
