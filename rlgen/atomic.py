"""The one way rlgen writes a file: into a temporary file beside the target, flushed to disk, then renamed over the
target in one step. A crash or an error leaves the old file (or no file), never a half-written one."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from rlgen.errors import RlgenError


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yields a temporary path beside `path` with the same suffix, for any writer (imageio, matplotlib, our own);
    when the block succeeds the file is fsynced and renamed over `path`, else it is removed. A failure of the file
    system (a full disk, a folder that takes no files) is one RlgenError naming the file; the old file stays."""
    path = Path(path)
    try:
        # the name keeps the target's suffix last, for writers that choose the format by it (ffmpeg)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
        os.close(fd)
    except OSError as exc:
        raise RlgenError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:  # the writer may have closed it without syncing: make the bytes durable
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except OSError as exc:
        raise RlgenError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())
