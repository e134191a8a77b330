"""Writing user-named output files (images, videos, plots): checked before any work, and put in place atomically."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from rlgen.checkpoint import current_umask
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


@contextmanager
def atomic_output(out: Path) -> Iterator[Path]:
    """Yields a temporary path beside `out` with the same suffix; renamed over `out` only if the block succeeds."""
    out = Path(out)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=out.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
