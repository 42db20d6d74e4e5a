"""The widgets in a real Jupyter kernel (nbclient): they display, and slider callbacks fire.

Without a browser nothing moves a slider, so a later cell sets one, as the
environment notes say: that runs the same observers a user's drag does.
"""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from labtools import datasets, metrics
from labtools.widgets import perturb

SETUP = """
from labtools import datasets
from labtools.widgets import MetricExplorer, SliceViewer
image, labels = datasets.phantom((32, 32, 24), seed=0)
viewer = SliceViewer(image, labels, title="phantom")
viewer
"""
EXPLORER = """
explorer = MetricExplorer(labels == 3, spacing=image.spacing)
explorer
"""
MOVE = """
import json
before = viewer.image_widget.value
explorer.shift_sliders[0].value = 2
viewer.index = 5
print(json.dumps({"values": explorer.values, "index": viewer.index,
                  "redrawn": viewer.image_widget.value != before}))
"""
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)
                                               for source in (SETUP, EXPLORER, MOVE)])
    folder = tmp_path_factory.mktemp("widgets-notebook")
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    return notebook


def test_widgets_display_as_widget_views(executed):
    for cell in executed.cells[:2]:
        (output,) = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert WIDGET_VIEW in output.data
        assert output.data[WIDGET_VIEW]["model_id"]


def test_setting_a_slider_in_a_later_cell_updates_the_metrics(executed):
    (stream,) = [o for o in executed.cells[2].outputs if o.output_type == "stream"]
    result = json.loads(stream.text)
    assert result["index"] == 5 and result["redrawn"]
    image, labels = datasets.phantom((32, 32, 24), seed=0)
    reference = labels == 3
    moved = perturb(reference, shift=(2, 0, 0))
    spacing = image.spacing
    expected = {"dice": metrics.dice(moved, reference), "iou": metrics.iou(moved, reference),
                "hausdorff": metrics.hausdorff(moved, reference, spacing),
                "hd95": metrics.hd95(moved, reference, spacing),
                "assd": metrics.assd(moved, reference, spacing),
                "nsd": metrics.nsd(moved, reference, 1.0, spacing)}
    assert result["values"].keys() == expected.keys()
    np.testing.assert_allclose([result["values"][k] for k in expected], list(expected.values()),
                               rtol=1e-12)
    assert result["values"]["dice"] < 1.0  # the slider did move the prediction
