"""``python -m kerasser``: the ``kerasser`` command line."""

from kerasser_cli.main import cli

if __name__ == "__main__":
    cli(prog_name="kerasser")
