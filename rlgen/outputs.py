"""User-named output files (images, videos, plots) are checked before any work is done; they are then written with
`rlgen.atomic.atomic_output`."""

from __future__ import annotations

import os
from pathlib import Path

from rlgen.errors import RlgenError


def check_output_path(out: Path, suffixes: tuple[str, ...]) -> None:
    """Fail before any work if `out` cannot be written: wrong suffix, missing or read-only folder, a folder."""
    out = Path(out)
    if out.suffix.lower() not in suffixes:
        raise RlgenError(f"--out {out}: the file name must end in {' or '.join(suffixes)}")
    parent = out.parent
    if not parent.is_dir():
        raise RlgenError(f"--out {out}: folder {parent} does not exist")
    if out.is_dir():
        raise RlgenError(f"--out {out}: is a folder")
    if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise RlgenError(f"--out {out}: not writable")
