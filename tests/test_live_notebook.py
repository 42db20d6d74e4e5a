"""Live curves in a real Jupyter kernel (nbclient): one output, replaced in place, final frame kept."""

from __future__ import annotations

import base64

import nbformat
import pytest
from nbclient import NotebookClient

TRAIN_CELL = """
from labtools import datasets, models
from labtools.training import NotebookCurves, fit
pairs = [datasets.phantom((32, 32), seed=s) for s in range(3)]
net = models.make_model("tiny_unet", 2, 1, 5, channels=(4, 8))
curves = NotebookCurves(min_interval=0.0, max_share=1e9)   # no throttle: draw after every epoch
history = fit(net, pairs[:2], pairs[2:], epochs=4, steps_per_epoch=2, batch_size=2,
              patch_size=(32, 32), out="run", live=None, callbacks=[curves])
"""

DEFAULT_CELL = """
history = fit(net, pairs[:2], pairs[2:], epochs=3, steps_per_epoch=2, batch_size=2,
              patch_size=(32, 32), out="run-default")
"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(TRAIN_CELL),
        nbformat.v4.new_code_cell("print(curves.live.draws)"),
        nbformat.v4.new_code_cell(DEFAULT_CELL),
    ])
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    return notebook


def images(cell):
    return [o for o in cell.outputs if o.output_type == "display_data" and "image/png" in o.data]


def test_five_redraws_leave_a_single_output_holding_the_final_frame(executed):
    train, count, _ = executed.cells
    assert count.outputs[0].text.strip() == "5"  # 4 epochs + the final frame were published
    (output,) = images(train)                    # ...into one output, updated in place
    assert output.data["text/plain"].startswith("training finished: epoch 4")
    assert base64.b64decode(output.data["image/png"])[:4] == b"\x89PNG"
    assert [o.output_type for o in train.outputs] == ["display_data"]  # nothing appended


def test_live_auto_picks_the_notebook_frontend_inside_jupyter(executed):
    cell = executed.cells[2]
    (output,) = images(cell)
    assert output.data["text/plain"].startswith("training finished: epoch 3")
    # The only text is the device line; no progress bar floods the notebook.
    streams = "".join(o.text for o in cell.outputs if o.output_type == "stream")
    assert "training on cpu" in streams and "step/s" not in streams
