"""The `rlgen` command line: parse, then call the Python API (rlgen.api). No training logic here."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from rlgen import __version__
from rlgen.cli_options import RUN_DIR
from rlgen.errors import RlgenError


def one_line(message: str) -> str:
    """A message as a single printable line: control characters (a newline in a user's key, say) are escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in message)


class RlgenGroup(click.Group):
    """Turns rlgen's own errors, and click's usage errors, into one line on stderr and a non-zero exit code, without
    a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:  # --help, --version
            sys.exit(exc.exit_code)
        except click.ClickException as exc:  # a bad option value, a missing argument, an unknown command
            where = f"{exc.ctx.command_path}: " if getattr(exc, "ctx", None) is not None else ""
            click.echo(one_line(f"rlgen: error: {where}{exc.format_message()} (see --help)"), err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("rlgen: interrupted", err=True)
            sys.exit(130)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RlgenError as exc:
            if os.environ.get("RANK", "0") in ("", "0"):
                click.echo(one_line(f"rlgen: error: {exc}"), err=True)
            else:  # a data-parallel run's ranks fail alike: rank 0 says why, and its exit ends the others
                time.sleep(5)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("rlgen: interrupted", err=True)
            sys.exit(130)


@click.group(cls=RlgenGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="rlgen")
def main() -> None:
    """rlgen: policy-gradient agents, autoencoders and classifiers on one small PyTorch core.

    \b
    Examples:
      rlgen train configs/cartpole_reinforce.yaml
      rlgen train configs/fashion_mlp.yaml --set train.epochs=3 --run-dir runs/mlp
      rlgen evaluate runs/mlp
      rlgen summary configs/fashion_cnn.yaml
      rlgen render runs/cartpole_reinforce/<run> --out cartpole.gif
    """


@main.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config field (repeatable).")
def summary(source: Path, overrides: tuple[str, ...]):
    """A per-layer table of the model a CONFIG file or a RUN directory builds: output shapes and parameter counts.

    \b
    Examples:
      rlgen summary configs/fashion_mlp.yaml
      rlgen summary configs/fashion_cnn.yaml --set train.batch_size=64
      rlgen summary runs/fashion_vae/<run>
    """
    from rlgen import api

    if source.is_dir() and overrides:
        raise RlgenError("--set applies to a CONFIG file; a run dir's saved config is used as it is")
    click.echo(api.summary(source, list(overrides)))


@main.group()
def data() -> None:
    """Datasets used by rlgen."""


@data.command("fetch")
@click.option("--name", "name", type=click.Choice(["fashion_mnist", "mnist"]), default="fashion_mnist",
              show_default=True, help="The data set.")
@click.option("--data-dir", type=RUN_DIR,
              help="Folder to use; downloaded into when it holds none of the files (default: search, then download "
                   "into the cache).")
def data_fetch(name: str, data_dir: Path | None):
    """Find a data set (or download it) and check every file against its official checksums.

    \b
    Examples:
      rlgen data fetch
      rlgen data fetch --name mnist
      rlgen data fetch --name mnist --data-dir data/mnist
    """
    from rlgen.idx_data import DATA_SETS, fetch, load_image_set

    data_set = DATA_SETS[name]
    data = load_image_set(fetch(data_dir, data_set=data_set), validation=0, data_set=data_set)
    click.echo(f"{data_set.title}: {data.source} ({len(data.train_x) + len(data.val_x):,} training and "
               f"{len(data.test_x):,} test images, checksums good)")


def _add_commands() -> None:
    from rlgen.config_commands import configs
    from rlgen.export_command import export
    from rlgen.image_commands import interpolate, reconstruct, sample
    from rlgen.look_commands import evaluate, plot, render
    from rlgen.studies.commands import sweep, tune
    from rlgen.train_command import train

    for command in (train, evaluate, render, plot, sample, reconstruct, interpolate, sweep, tune, configs, export):
        main.add_command(command)


_add_commands()


def entry() -> None:
    """The `rlgen` command. Once the command has finished and its output is flushed, the process ends at once:
    every file rlgen writes is complete by then (atomic writes, closed TensorBoard writers), and tearing down
    torch's module graph would add ~0.6 s to every command."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
