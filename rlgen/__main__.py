"""`python -m rlgen …` is the `rlgen` command (and what `torchrun -m rlgen` starts)."""

from rlgen.cli import entry

entry()
