"""The configs that ship inside the package (the repository's configs/ folder, installed as rlgen.configs), and the
one rule every command and API call uses to turn what the user typed into a config file:

- an existing file is that file (a path works as it always has);
- otherwise a bare name (`cartpole_ppo`, `cartpole_ppo.yaml`) is the shipped config of that name; sweeps and search
  spaces are found by their bare name too, or as `sweeps/NAME`;
- anything else is one line naming the closest shipped names.
"""

from __future__ import annotations

import difflib
import importlib.resources
from dataclasses import dataclass
from pathlib import Path

from rlgen.errors import ConfigError

SWEEPS = "sweeps"
SUFFIX = ".yaml"


def shipped_dir() -> Path:
    """The folder of the shipped configs (inside site-packages for a wheel, the clone's configs/ for a checkout)."""
    return Path(str(importlib.resources.files("rlgen.configs")))


@dataclass(frozen=True)
class Shipped:
    name: str  # "cartpole_ppo", or "sweeps/fashion_optimizers"
    path: Path

    @property
    def is_study(self) -> bool:
        """A sweep or a search space (configs/sweeps/), not a config to train."""
        return self.name.startswith(SWEEPS + "/")

    def description(self, width: int = 100) -> str:
        """The first sentence of the file's opening comment, cut to `width` characters."""
        words = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.startswith("#"):
                break
            words.append(line.lstrip("#").strip())
        text = " ".join(w for w in words if w)
        if ". " in text:
            text = text[: text.index(". ") + 1]
        return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def shipped() -> list[Shipped]:
    """Every shipped config, then every shipped sweep and search space, each group by name."""
    root = shipped_dir()
    configs = [Shipped(p.stem, p) for p in sorted(root.glob("*" + SUFFIX))]
    studies = [Shipped(f"{SWEEPS}/{p.stem}", p) for p in sorted((root / SWEEPS).glob("*" + SUFFIX))]
    return configs + studies


def shipped_configs() -> dict[str, str]:
    """Name → one-line description of every shipped config ("sweeps/…": the sweeps and search spaces); each name
    is what `rlgen.train` (or `rlgen.sweep`, `rlgen.tune`'s `space`) takes."""
    return {item.name: item.description() for item in shipped()}


def _bare(text: str) -> str | None:
    """The name a user's text asks for when it is a bare name (no folder but sweeps/), else None."""
    name = text[: -len(SUFFIX)] if text.endswith(SUFFIX) else text
    parts = name.split("/")
    if len(parts) == 2 and parts[0] == SWEEPS:
        parts = parts[1:]
    if len(parts) != 1 or not parts[0] or "\\" in name or name.startswith("."):
        return None
    return parts[0]


def find_config(config: str | Path, what: str = "config") -> Path:
    """The file `config` names: itself if it exists, else the shipped config of that name (`what` "sweep" or
    "search space": the shipped sweep or search space). A ConfigError names the closest shipped names otherwise."""
    path = Path(config)
    if path.is_file():
        return path
    text = str(config)
    study = what != "config"
    everything = [item for item in shipped() if item.is_study == study]
    bare = _bare(text)
    for item in everything:
        if item.name.split("/")[-1] == bare:
            return item.path
    if path.is_dir():
        raise ConfigError(f"{what} {text} is a folder; give a YAML file or a shipped name (rlgen configs lists them)")
    key = bare if bare is not None else path.stem
    names = [item.name.split("/")[-1] for item in everything]
    if key in names:  # a path to a file that is not here, named like a shipped one (a README command run elsewhere)
        hint = f"; a shipped {what} has that name: give just {key}"
    else:
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
        hint = f"; the closest shipped names: {', '.join(close)}" if close else ""
    problem = "is neither a file nor a shipped name" if bare is not None else "does not exist"
    raise ConfigError(f"{what} {text} {problem}{hint} (rlgen configs lists them)")
