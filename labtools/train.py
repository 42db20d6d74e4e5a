"""``python -m labtools.train``: the `labtools train` command, for launchers such as torchrun.

Examples: ``torchrun --nproc_per_node=4 -m labtools.train --data mni152 --dims 3 --out runs/a``.
Each process trains on its own GPU (or CPU with gloo) and DistributedDataParallel
keeps their weights equal; only the first process validates and writes files.
"""

import sys

from labtools.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
