"""Child process of the kill -9 test: paint through the labeling dock, then wait to be killed.

Usage: ``python _labeling_kill_child.py IMAGE.nii.gz REFERENCE.npy``. Opens the
image in a real napari viewer, starts the labeling dock on it, paints a few
brush drags on the scribbles layer (each one autosaved by the session), saves
what the layer shows to REFERENCE.npy, prints ``READY`` and sleeps. Live
update stays on, so a refit may be running when the parent kills it.
"""

from __future__ import annotations

import sys
import time


def paint_drag(layer, points, label: int) -> None:
    """Paint like one mouse drag: one history item, hence one napari paint event."""
    with layer.block_history():
        for point in points:
            layer.paint(point, label, refresh=False)
    layer.refresh()


def main(image_path: str, reference_path: str) -> None:
    import napari
    import numpy as np
    from qtpy.QtWidgets import QApplication

    from napari_plugin.labeling_dock import LabelingDock

    viewer = napari.Viewer(show=False)
    (layer,) = viewer.open(image_path, plugin="labtools")
    dock = LabelingDock(viewer)
    if dock.start(layer) is None:
        sys.exit("the dock refused the image")
    scribbles = dock.scribbles_layer
    scribbles.brush_size = 3
    paint_drag(scribbles, [(5, 5, 4), (6, 6, 4), (7, 7, 4)], 1)
    paint_drag(scribbles, [(20, 22, 6), (21, 22, 6)], 2)
    paint_drag(scribbles, [(30, 10, 8)], 3)
    paint_drag(scribbles, [(6, 6, 4)], 0)  # an erase is a stroke too
    QApplication.processEvents()  # deliver queued session signals before the snapshot
    np.save(reference_path, np.asarray(scribbles.data))
    print("READY", flush=True)
    time.sleep(600)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
