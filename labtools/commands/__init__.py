"""Subcommands of the ``labtools`` command line (see :mod:`labtools.cli`)."""
