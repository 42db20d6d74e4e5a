"""Benchmark: cold `import labtools` against importing its own dependencies.

Acceptance (issue 2): `import labtools` takes < 1 s and pulls in neither torch
nor a GUI toolkit. Each import runs in a fresh interpreter (cold module cache,
warm OS file cache), repeated; we report the median and the ratio to numpy,
the cheapest thing any labtools user already imports, and to torch and monai,
which labtools defers until a function needs them.

Run:  .venv/bin/python benchmarks/import_time.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time

STATEMENTS = {
    "labtools": "import labtools",
    "labtools.io + datasets": "import labtools.io, labtools.datasets",
    "numpy": "import numpy",
    "torch": "import torch",
    "monai": "import monai",
}


def cold_import_seconds(statement: str, repeat: int) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"# {platform.node()} | {platform.processor() or platform.machine()} | "
          f"Python {platform.python_version()} | {time.strftime('%Y-%m-%d')}")
    results = {name: cold_import_seconds(stmt, args.repeat) for name, stmt in STATEMENTS.items()}
    base = results["labtools"]
    print(f"{'import':<26}{'median s':>10}{'ratio to labtools':>20}")
    for name, seconds in results.items():
        print(f"{name:<26}{seconds:>10.4f}{seconds / base:>20.1f}")
    print(f"labtools vs numpy: {base / results['numpy']:.2f}x; target < 1 s: "
          f"{'met' if base < 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
