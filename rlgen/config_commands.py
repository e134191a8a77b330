"""`rlgen configs`: the shipped configs, sweeps and search spaces, listed and shown (rlgen/shipped.py finds them)."""

from __future__ import annotations

import click

from rlgen.config import read_yaml_mapping
from rlgen.errors import ConfigError
from rlgen.shipped import Shipped, find_config, shipped


def kind_of(item: Shipped) -> str:
    """What a shipped file is: a config's algo, or "sweep" / "search space"."""
    data = read_yaml_mapping(item.path)
    if item.is_study:
        return "search space" if "params" in data else "sweep"
    return str(data.get("algo", "?"))


@click.group(invoke_without_command=True)
@click.pass_context
def configs(ctx: click.Context) -> None:
    """List the configs, sweeps and search spaces that ship with rlgen, one line each.

    Every command that takes a config file also takes a shipped config's name, and `rlgen sweep` / `rlgen tune
    --space` a shipped sweep's or search space's name. A file of that name in the current folder comes first.

    \b
    Examples:
      rlgen configs
      rlgen configs show cartpole_ppo
      rlgen configs show cartpole_ppo > my_ppo.yaml    # then edit it and: rlgen train my_ppo.yaml
      rlgen train cartpole_ppo --set optimizer.lr=0.01
      rlgen sweep fashion_optimizers --jobs 2
    """
    if ctx.invoked_subcommand is not None:
        return
    items = shipped()
    width = max(len(item.name) for item in items)
    kinds = {item.name: kind_of(item) for item in items}
    kind_width = max(len(k) for k in kinds.values())
    click.echo(f"{'name':<{width}}  {'kind':<{kind_width}}  description")
    for item in items:
        described = item.description(max(40, 118 - width - kind_width))
        click.echo(f"{item.name:<{width}}  {kinds[item.name]:<{kind_width}}  {described}")
    click.echo(f"\n{len(items)} files in {items[0].path.parent}; `rlgen configs show NAME` prints one")


@configs.command()
@click.argument("name")
def show(name: str) -> None:
    """Print a shipped config (or sweep, or search space) as it is, to copy and edit.

    \b
    Examples:
      rlgen configs show fashion_vae
      rlgen configs show sweeps/fashion_optimizers
    """
    try:
        path = find_config(name, "sweep" if name.startswith("sweeps/") else "config")
    except ConfigError as not_a_config:
        try:  # a sweep's or search space's bare name
            path = find_config(name, "sweep")
        except ConfigError:
            raise not_a_config from None
    click.echo(path.read_text(encoding="utf-8"), nl=False)
