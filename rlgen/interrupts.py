"""Ctrl-C held back over code that must not be stopped midway."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """A Ctrl-C (SIGINT) during the block is raised as KeyboardInterrupt once the block has finished.

    For torch.func.vmap: a KeyboardInterrupt raised while it enters or leaves its nesting level leaves functorch's
    layer stack inconsistent, and its clean-up then fails with an internal assertion (a traceback instead of the
    run's "what was learned so far is saved" and exit 130). Outside the main thread, or where someone else handles
    SIGINT, the block runs as it is."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
