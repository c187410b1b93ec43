"""``python -m kerasser_cli``: the same as the ``kerasser`` command."""

from kerasser_cli.main import cli

cli(prog_name="kerasser")
