"""Benchmark: `labtools grade` on 100 generated submissions x 3 functions.

Target (issue 8): 100 submissions of a 3-function assignment graded in at most
2 minutes on 2 cores, each submission in its own sandboxed process. The
assignment is course/assignments/transposed-convolution (output_size,
zero_insert, conv_transpose2d; 12 + 12 + 16 cases). The submissions are a mix:
correct notebooks, wrong ones (off-by-one output size, zeros in the wrong
place) and partly right ones (padding not cropped), as .ipynb and .py files.
There is no other grader to run side by side that is immune to the same
attacks (nbgrader and otter run submissions in-process), so the script prints
the time, the per-submission rate and the target instead of a ratio.

Run:  .venv/bin/python benchmarks/grading.py [--submissions 100] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

ASSIGNMENT = Path(__file__).resolve().parents[1] / "course" / "assignments" / "transposed-convolution"
TARGET_SECONDS = 120.0

OUTPUT_SIZE = {
    "correct": "def output_size(size, kernel, stride, padding):\n"
               "    return (size - 1) * stride - 2 * padding + kernel\n",
    "wrong": "def output_size(size, kernel, stride, padding):\n"
             "    return size * stride - 2 * padding + kernel\n",
}
ZERO_INSERT = {
    "correct": "import numpy as np\ndef zero_insert(x, stride):\n"
               "    n, c, h, w = x.shape\n"
               "    out = np.zeros((n, c, (h - 1) * stride + 1, (w - 1) * stride + 1), x.dtype)\n"
               "    out[:, :, ::stride, ::stride] = x\n    return out\n",
    "wrong": "import numpy as np\ndef zero_insert(x, stride):\n"
             "    return np.kron(x, np.ones((1, 1, stride, stride)))\n",
}
CONV = {
    "correct": "import numpy as np\ndef conv_transpose2d(x, weight, stride, padding):\n"
               "    n, _, h, w = x.shape\n    k = weight.shape[2]\n"
               "    full = np.zeros((n, weight.shape[1], (h - 1) * stride + k, (w - 1) * stride + k))\n"
               "    for i in range(h):\n        for j in range(w):\n"
               "            full[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += \\\n"
               "                np.einsum('nc,cokl->nokl', x[:, :, i, j], weight)\n"
               "    return full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]\n",
    "partial": "import numpy as np\ndef conv_transpose2d(x, weight, stride, padding):\n"
               "    n, _, h, w = x.shape\n    k = weight.shape[2]\n"
               "    full = np.zeros((n, weight.shape[1], (h - 1) * stride + k, (w - 1) * stride + k))\n"
               "    for i in range(h):\n        for j in range(w):\n"
               "            full[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += \\\n"
               "                np.einsum('nc,cokl->nokl', x[:, :, i, j], weight)\n"
               "    return full\n",
}


def make_submissions(folder: Path, count: int) -> None:
    """`count` submissions cycling through the variants; every third one is a notebook."""
    for index in range(count):
        parts = [OUTPUT_SIZE[("correct", "wrong")[index % 2]],
                 ZERO_INSERT[("correct", "correct", "wrong")[index % 3]],
                 CONV[("correct", "partial")[(index // 2) % 2]],
                 "print(output_size(3, 2, 2, 0))\n"]  # top-level code the grader never runs
        if index % 3 == 0:
            cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                      "source": part} for part in parts]
            (folder / f"student{index:03d}.ipynb").write_text(
                json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
        else:
            (folder / f"student{index:03d}.py").write_text("\n# %%\n".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=100)
    parser.add_argument("--workers", type=int, default=None, help="default: one per CPU")
    args = parser.parse_args()
    from labtools.grading import grade

    with tempfile.TemporaryDirectory() as work:
        submissions = Path(work) / "submissions"
        submissions.mkdir()
        make_submissions(submissions, args.submissions)
        start = time.perf_counter()
        report = grade(ASSIGNMENT, submissions, Path(work) / "out", workers=args.workers)
        seconds = time.perf_counter() - start
    totals = [s.total for s in report.submissions]
    print(f"# {platform.node()} | {platform.machine()} | {os.cpu_count()} CPUs | "
          f"{time.strftime('%Y-%m-%d')} | sandbox: {', '.join(report.layers)}")
    print(f"{len(totals)} submissions x {len(report.assignment.functions)} functions graded in "
          f"{seconds:.1f} s ({seconds / len(totals):.3f} s per submission, "
          f"{len(totals) / seconds:.2f} submissions/s); target <= {TARGET_SECONDS:.0f} s: "
          f"{'met' if seconds <= TARGET_SECONDS else 'NOT met'}")
    print(f"scores: min {min(totals):g}, mean {sum(totals) / len(totals):.2f}, max {max(totals):g} "
          f"of {report.assignment.max_points:g}; full marks: {sum(t == report.assignment.max_points for t in totals)}")


if __name__ == "__main__":
    main()
