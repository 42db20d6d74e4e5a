"""Child process of the close-while-busy tests: close napari while the docks work, then exit.

Usage: ``python _close_while_busy_child.py IMAGE.nii.gz WHAT`` with WHAT one of
``refit``, ``volume`` or ``training``. Opens the image in a shown napari
viewer with the labeling dock (and the training dock), paints strokes, starts
the work named, and closes the viewer while it runs; prints ``CLOSED`` when
``viewer.close()`` returned. The parent checks the exit status (0) and that
the scribbles are on disk.
"""

from __future__ import annotations

import sys
import tempfile


def main(image_path: str, what: str) -> None:
    import napari
    from _labeling_kill_child import paint_drag  # run as a script: its folder is on sys.path
    from qtpy.QtWidgets import QApplication

    from napari_plugin.labeling_dock import LabelingDock
    from napari_plugin.training_dock import TrainingDock

    viewer = napari.Viewer(show=True)
    (layer,) = viewer.open(image_path, plugin="labtools")
    dock = LabelingDock(viewer)
    viewer.window.add_dock_widget(dock, name="Pixel classification")
    training = TrainingDock(viewer)
    viewer.window.add_dock_widget(training, name="Training")
    dock.live_check.setChecked(what == "refit")
    if dock.start(layer) is None:
        sys.exit("the dock refused the image")
    scribbles = dock.scribbles_layer
    scribbles.brush_size = 3
    for z in range(0, layer.data.shape[2], 3):
        paint_drag(scribbles, [(5, 5, z), (6, 6, z), (7, 7, z)], 1)
        paint_drag(scribbles, [(30, 22, z), (31, 22, z)], 2)
    QApplication.processEvents()
    if what == "refit":
        dock.request_update(force=True)
        assert dock.jobs.running == "update"
    elif what == "volume":
        dock.predict_volume()
        assert dock.jobs.running == "volume"
    else:
        training.image_choice.setCurrentText(layer.name)
        training.labels_choice.setCurrentText(scribbles.name)
        training.scribbles.setChecked(True)
        training.out.setText(tempfile.mkdtemp())
        training.start_training()
        assert training._train_worker is not None
    QApplication.processEvents()
    viewer.close()
    print("CLOSED", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
