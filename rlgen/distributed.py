"""Data-parallel training on PyTorch's own distributed engine: processes started by `torchrun` (or by
`rlgen train --nproc N`, which starts torchrun), joined in one `torch.distributed` process group, gloo on the CPU and
NCCL on CUDA. Each process (rank) trains a replica of one model on its shard of the data; gradients are averaged
across ranks before every optimizer step, so every replica takes the same step. Rank 0 alone writes the run
directory; decisions (best weights, early stopping, the end of training) are computed from all-reduced numbers, so
every rank takes them alike.

torchrun tells each process who it is through the environment: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
MASTER_ADDR and MASTER_PORT.
"""

from __future__ import annotations

import datetime
import os
import signal
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist

from rlgen.errors import RlgenError


@dataclass(frozen=True)
class World:
    """Where this process stands among the ranks of a data-parallel run (one rank when not launched by torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files, logs and shows progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


SINGLE = World()


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise RlgenError(f"{name}={text!r} is not a whole number (it is set by torchrun)")
    return int(text)


def launched_world() -> World:
    """The world torchrun describes in the environment (one rank when it is not set)."""
    size = _env_int("WORLD_SIZE", 1)
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    local_size = _env_int("LOCAL_WORLD_SIZE", size)
    if size < 1 or not 0 <= rank < size or not 0 <= local_rank < max(local_size, 1):
        raise RlgenError(f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={size}, LOCAL_RANK={local_rank}")
    return World(rank, size, local_rank, max(local_size, 1))


@contextmanager
def planned(nproc: int) -> Iterator[None]:
    """Within this block `launched_world()` is the world `nproc` processes will form: checks made before launching
    them (a batch they cannot share) see it."""
    saved = os.environ.get("WORLD_SIZE")
    os.environ["WORLD_SIZE"] = str(nproc)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("WORLD_SIZE", None)
        else:
            os.environ["WORLD_SIZE"] = saved


def join(world: World, device: torch.device, timeout_s: float = 300.0) -> torch.device:
    """Join the process group of a launched world (NCCL for CUDA, gloo for the CPU) and return the device this rank
    trains on (cuda:LOCAL_RANK for CUDA). A single process returns the device unchanged."""
    if not world.active:
        return device
    _die_with_launcher()
    if device.type == "cuda":
        if not torch.cuda.is_available() or not dist.is_nccl_available():
            raise RlgenError("NCCL (device cuda) needs CUDA GPUs and a torch built with NCCL; this machine has none: "
                             "use --device cpu, which trains on gloo")
        if world.local_rank >= torch.cuda.device_count():
            raise RlgenError(f"rank {world.rank} has local rank {world.local_rank} but this node has only "
                             f"{torch.cuda.device_count()} GPU(s): start at most that many processes per node")
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return device


def _die_with_launcher() -> None:
    """torchrun starts every process in a session of its own, so a launcher killed outright (kill -9, an out-of-memory
    kill) would leave its processes training on, still holding the run directory's lock. On Linux, ask the kernel to
    kill this process when its launcher dies (and die now if it already has)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    PR_SET_PDEATHSIG = 1
    launcher = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != launcher:  # it died before the request was made
        os.kill(os.getpid(), signal.SIGKILL)


def leave() -> None:
    """Leave the process group once every rank is done with it: a rank that tore down its gloo connections while a
    peer was still finishing the last collective could make that peer abort ("terminate called without an active
    exception")."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def current() -> World:
    """The world of the joined process group, or a single rank."""
    if not (dist.is_available() and dist.is_initialized()):
        return SINGLE
    size = dist.get_world_size()
    return World(dist.get_rank(), size, _env_int("LOCAL_RANK", 0), _env_int("LOCAL_WORLD_SIZE", size))


def all_sum(values: torch.Tensor) -> torch.Tensor:
    """Elementwise sum over the ranks, outside autograd (the tensor itself when training alone)."""
    if current().active:
        values = values.detach().clone()
        dist.all_reduce(values)
    return values


def average_gradients(parameters) -> None:
    """Replace each gradient by its mean over the ranks: one all-reduce of all gradients flattened together."""
    world = current()
    if not world.active:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def agree(flag: bool) -> bool:
    """Rank 0's decision, for every rank."""
    if not current().active:
        return flag
    value = torch.tensor([1 if flag else 0], dtype=torch.int64, device=_device())
    dist.broadcast(value, 0)
    return bool(value.item())


def _device() -> torch.device:
    """Where collective tensors live: the current GPU for NCCL, the CPU for gloo."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def from_main(text: str | None, error: str | None = None) -> str:
    """Rank 0's `text` for every rank; when rank 0 failed (`error`), every other rank fails too, naming the cause
    (instead of waiting for a message that never comes)."""
    if not current().active:
        return text or ""
    payload = (f"\x00{error}" if error is not None else text or "").encode("utf-8") if current().is_main else b""
    length = torch.tensor([len(payload)], dtype=torch.int64, device=_device())
    dist.broadcast(length, 0)
    data = torch.zeros(int(length.item()), dtype=torch.uint8, device=_device())
    if current().is_main:
        data.copy_(torch.frombuffer(bytearray(payload), dtype=torch.uint8))
    dist.broadcast(data, 0)
    received = bytes(data.cpu().tolist()).decode("utf-8")
    if received.startswith("\x00"):
        raise RlgenError(f"rank 0 failed: {received[1:]}")
    return received


def launch(nproc: int, args: list[str]) -> int:
    """Run `rlgen ARGS` as `nproc` data-parallel processes on this machine, as torchrun does (its own launcher, run
    in this process); returns the exit code of the first process that failed, or 0. When one process fails, the
    launcher stops the others rather than leave them waiting for it."""
    import logging

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    from rlgen.threads import cpu_count

    # torchrun would give each process one thread; a share of the cores is the better default (OMP_NUM_THREADS or
    # --threads, when given, still decide)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cpu_count() // nproc)))
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # the processes' own lines say why
    # torchrun's per-process log folders (empty: the processes write to this terminal) go in a folder removed after
    with tempfile.TemporaryDirectory(prefix="rlgen-torchrun-") as logs:
        try:
            run(parse_args(["--standalone", f"--nproc-per-node={nproc}", f"--log-dir={logs}", "-m", "rlgen", *args]))
        except ChildFailedError as exc:
            return exc.get_first_failure()[1].exitcode or 1
    return 0
