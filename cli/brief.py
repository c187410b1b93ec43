"""Short ``--help``: a command lists its main options and says how many more there are;
``--help-all`` lists every option. The detail of each lives in the documentation (docs/)."""

from __future__ import annotations

import click

DOCS = "the documentation (docs/, or mkdocs serve)"


def _help_all(ctx, param, value):
    if value and not ctx.resilient_parsing:
        ctx.meta["kerasser.help_all"] = True
        click.echo(ctx.get_help(), color=ctx.color)
        ctx.exit()


class Brief(click.Command):
    """A command whose ``--help`` shows the options named in ``main`` (and ``--help``); the others
    are counted and shown by ``--help-all``."""

    def __init__(self, *args, main: tuple[str, ...] = (), page: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.main, self.page = set(main), page
        self.params.append(click.Option(["--help-all"], is_flag=True, expose_value=False, is_eager=True,
                                        callback=_help_all, help="Show every option and exit."))

    def format_options(self, ctx, formatter):
        every = ctx.meta.get("kerasser.help_all", False)
        shown, hidden = [], 0
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if every or param.name in self.main or param.name == "help_all" or set(param.opts) & set(ctx.help_option_names):
                shown.append(record)
            else:
                hidden += 1
        with formatter.section("Options"):
            formatter.write_dl(shown)
        if hidden:
            where = f"docs/{self.page}" if self.page else DOCS
            with formatter.section("More"):
                formatter.write_text(f"{hidden} more options: kerasser {ctx.info_name} --help-all; all "
                                     f"explained in {where}.")
