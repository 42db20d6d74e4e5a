"""Opening a 40-volume 4D NIfTI in napari: one layer with a time slider vs one layer per volume.

labtools 0.1 opened every 4D file as channel layers (40 blended layers, a white picture); a
series now opens as one layer with a time axis. Both ways run here in one viewer process on the
same file (the old way through napari's own ``channel_axis`` split, as the reader did), under
Xvfb when there is no display: ``xvfb-run -a python benchmarks/napari_open_4d.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    import napari
    import nibabel as nib

    from labtools import io

    folder = Path(tempfile.mkdtemp())
    series = np.random.default_rng(0).random((128, 128, 64, 40)).astype(np.float32)  # 40 volumes
    header = nib.Nifti1Header()
    header.set_xyzt_units("mm", "sec")
    image = nib.Nifti1Image(series, np.diag([1.5, 1.5, 3.0, 1.0]), header)
    image.header["pixdim"][4] = 2.0
    path = folder / "dce.nii.gz"
    nib.save(image, path)

    viewer = napari.Viewer(show=True)
    times = {}
    for name, how in (("one layer, time slider (labtools)", "labtools"),
                      ("40 channel layers (labtools 0.1)", "channels")):
        viewer.layers.clear()
        start = time.perf_counter()
        if how == "labtools":
            layers = viewer.open(str(path), plugin="labtools")
        else:
            loaded = io.load(path)
            layers = viewer.add_image(loaded.array, channel_axis=0, scale=loaded.spacing)
        napari.qt.get_qapp().processEvents()
        viewer.screenshot(canvas_only=True, flash=False)  # drawn, not only added
        times[name] = time.perf_counter() - start
        print(f"{name:40s} {time.perf_counter() - start:6.2f} s, {len(layers)} layer(s)")
    ours, theirs = times.values()
    print(f"ratio (labtools / 0.1): {ours / theirs:.2f}; target: one layer in <= 2 s")
    viewer.close()


if __name__ == "__main__":
    main()
