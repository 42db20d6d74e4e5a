"""``python -m labtools`` runs the ``labtools`` command (useful where the script is not on PATH)."""

import sys

from labtools.cli import main

if __name__ == "__main__":
    sys.exit(main())
