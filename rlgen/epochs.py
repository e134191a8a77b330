"""The one epoch trainer, for every model trained on a data set (autoencoders, classifiers, …): epochs of shuffled
(inputs, labels) batches, validation every epoch, the best weights kept, early stopping, and the whole training state
saved at every epoch boundary, so that `--resume` continues exactly (bit for bit on the CPU).

The data never passes through a per-item Dataset/DataLoader: each split is one tensor on the training device, each
epoch gathers a shuffled copy once and takes contiguous slices of it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Literal

import torch
from pydantic import Field
from torch import nn

from rlgen.data import Split, batch_inputs, to_inputs
from rlgen.distributed import SINGLE, World, all_sum, current
from rlgen.divergence import check_finite
from rlgen.metrics import ProgressBar
from rlgen.optim import TrainingOptimizer
from rlgen.rundir import RunDir
from rlgen.runstate import Mode, RunState, TrainResult, capture_rng, restore_rng
from rlgen.schema import Strict
from rlgen.threads import ThreadPolicy

Losses = dict[str, torch.Tensor]  # named scalar batch means; "loss" is what the optimizer minimises


class EpochTrainConfig(Strict):
    epochs: int = Field(default=10, ge=1, le=100_000)
    """Passes over the training split (after any pretraining phases)."""
    batch_size: int = Field(default=128, ge=1, le=10**7)
    patience: int | None = Field(default=None, ge=1, le=10**6)
    """Stop after this many epochs without a better validation score (None: never stop early)."""
    eval_batch_size: int = Field(default=1000, ge=1, le=10**7)
    """Batch size of validation and evaluation passes (no gradients, so it can be large)."""
    tensorboard_images: bool = True
    """After every epoch, pictures of the model in TensorBoard (an autoencoder's reconstructions of 8 validation
    images, a VAE's samples); false saves their few milliseconds."""
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """Matrix multiplies of training steps in bfloat16 (weights, optimizer state, losses and sampling stay float32)
    or float32; validation and evaluation use float32. `auto`: bf16 only where the device runs it natively and a
    short probe of this model's training steps at run creation finds it clearly faster (rlgen/precision.py); the
    choice and both timings are in meta.json and kept on --resume."""


class EpochModel(nn.Module):
    """What the epoch trainer asks of a model: named losses of a batch, and which validation metric picks the best
    weights. Models that want a warm-up (greedy layer-wise pretraining) list `pretraining` phases."""

    monitor: tuple[str, Mode] = ("loss", "min")
    learns = True
    """False for a baseline with nothing to learn (the naive forecast): the trainer then measures it without steps."""

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> Losses:
        raise NotImplementedError

    def validation_losses(self, x: torch.Tensor, y: torch.Tensor) -> Losses:
        """The metrics of a held-out batch; called in evaluation mode without gradients."""
        return self.losses(x, y)

    def pretraining(self) -> list["Phase"]:
        return []

    def pictures(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """Pictures of the model at work on a few validation images (x in [0, 1]): name → rows of (n, C, H, W)
        images, for TensorBoard after every epoch. Called in evaluation mode, without gradients, with the random
        number generators' states kept. None by default."""
        return {}


@dataclass
class Phase:
    """A warm-up before the epochs proper: `epochs` passes that train `module` alone on `loss`."""

    name: str
    module: nn.Module
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    epochs: int


def batches_per_epoch(examples: int, batch_size: int, world: World = SINGLE) -> int:
    """Optimizer steps per epoch: every batch alone; on several ranks whole global batches only."""
    return examples // batch_size if world.active else math.ceil(examples / batch_size)


def shuffled_batches(split: Split, batch_size: int, generator: torch.Generator,
                     world: World = SINGLE) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of a fresh random permutation: one gather per epoch into a shuffled copy, then contiguous slices
    (cheaper than gathering each batch). The permutation is drawn on a CPU generator so that resuming repeats it.
    On several ranks, `batch_size` is the global batch: every rank draws the same permutation and takes its own
    contiguous share of each batch; the last, incomplete batch is left out (a new permutation next epoch)."""
    order = torch.randperm(len(split), generator=generator).to(split.x.device)
    x, y = split.x[order], split.y[order]  # images: (N, 1, 28, 28) uint8, 47 MB for Fashion-MNIST's training split
    share = batch_size // world.size
    for step in range(batches_per_epoch(len(split), batch_size, world)):
        start = step * batch_size + world.rank * share
        end = start + share if world.active else start + batch_size
        yield x[start:end], y[start:end]


def fit_epoch(loss_fn: Callable[[torch.Tensor, torch.Tensor], Losses | torch.Tensor], optimizer: TrainingOptimizer,
              split: Split, batch_size: int, generator: torch.Generator, autocast_dtype: torch.dtype | None = None,
              on_batch: Callable[[int], None] | None = None, world: World = SINGLE) -> dict[str, float]:
    """One pass of shuffled batches; returns the mean of each named loss (over every rank's examples). Sums stay on
    the device until the end of the epoch (one host sync per epoch). With `autocast_dtype` the forward pass runs
    under autocast (matrix multiplies in that dtype); the backward pass and the optimizer step stay outside it. On
    several ranks `loss_fn` is the DistributedDataParallel wrapper, whose backward pass averages the gradients."""
    device_type = split.x.device.type
    keys: list[str] = []
    total: torch.Tensor | None = None
    seen = 0
    for i, (x, y) in enumerate(shuffled_batches(split, batch_size, generator, world)):
        with torch.autocast(device_type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            out = loss_fn(batch_inputs(split, x), y)
        terms = out if isinstance(out, dict) else {"loss": out}
        optimizer.step(terms["loss"])
        if total is None:
            keys = list(terms)
            total = torch.zeros(len(keys), device=split.x.device)
        total += torch.stack([terms[k].detach().float() for k in keys]) * len(x)
        seen += len(x)
        if on_batch is not None:
            on_batch(i)
    return _means(keys, total, seen)


def _means(keys: list[str], total: torch.Tensor, seen: int) -> dict[str, float]:
    """Example-weighted means from one rank's sums, over every rank's examples."""
    if current().active:
        summed = all_sum(torch.cat([total, torch.tensor([float(seen)], device=total.device)]))
        total, seen = summed[:-1], summed[-1].item()
    return dict(zip(keys, (total / seen).tolist()))


@torch.no_grad()
def validate(model: EpochModel, split: Split, batch_size: int, world: World = SINGLE) -> dict[str, float]:
    """The model's validation metrics over a whole split, in evaluation mode (example-weighted means). On several
    ranks each validates its share of the split and the sums are added up, so every rank gets the same numbers."""
    was_training = model.training
    model.eval()
    first, last = len(split) * world.rank // world.size, len(split) * (world.rank + 1) // world.size
    keys: list[str] = []
    total: torch.Tensor | None = None
    for start in range(first, last, batch_size):
        x, y = split.x[start : min(start + batch_size, last)], split.y[start : min(start + batch_size, last)]
        terms = model.validation_losses(to_inputs(x), y)
        if total is None:
            keys = list(terms)
            total = torch.zeros(len(keys), device=split.x.device)
        total += torch.stack([terms[k].float() for k in keys]) * len(x)
    if total is None:  # this rank's share is empty (a split smaller than the world): only the metric names
        with torch.random.fork_rng(devices=[]):
            keys = list(model.validation_losses(to_inputs(split.x[:1]), split.y[:1]))
        total = torch.zeros(len(keys), device=split.x.device)
    model.train(was_training)
    return _means(keys, total, last - first)


def train_epochs(model: EpochModel, optimizer: TrainingOptimizer, train: Split, val: Split, cfg: EpochTrainConfig,
                 run: RunDir, *, seed: int, device: torch.device, description: str, quiet: bool = False,
                 resumed: tuple[RunState, dict[str, torch.Tensor]] | None = None,
                 threads: ThreadPolicy | None = None, autocast_dtype: torch.dtype | None = None) -> TrainResult:
    """Train `model` for cfg.epochs on `train`, validating on `val` after every epoch; see the module's docstring.
    The caller builds model, optimizer (over cfg.epochs × batches per epoch) and data, seeded; to continue a run it
    loads the checkpoint into them first and passes the run state and RNG states it held as `resumed`. With an
    empty `val` the epoch's training metrics choose the best weights instead. `autocast_dtype`: the forward
    passes' autocast dtype (None: float32), chosen by the caller (rlgen/precision.py)."""
    generator = torch.Generator().manual_seed(seed)  # the shuffling order, the same on every rank
    timings = {"training": 0.0, "validation": 0.0}
    world = current()
    per_epoch = batches_per_epoch(len(train), cfg.batch_size, world)
    quiet = quiet or not world.is_main
    metric, mode = model.monitor
    judged_on = "val" if len(val) else "train"
    resume = resumed is not None
    state = RunState()
    if resumed is not None:
        state, rng = resumed
        restore_rng(rng, device, {"shuffle": generator}, str(run.path / "checkpoint.safetensors"))
    else:
        run.update_meta(unit="epochs", monitor=f"{judged_on}/{metric}",
                        info={"train_images": len(train)})
    logger = run.metrics_logger(keep_until_step=state.progress if resume else None)
    last: dict[str, float] = {}
    losses = data_parallel(model, model.losses, world)
    model.train()
    try:
        with ProgressBar(cfg.epochs * per_epoch, description, quiet) as bar:
            if resume:
                bar.update(state.progress * per_epoch, f"resumed at epoch {state.progress} ({state.status})")
            else:
                _pretrain(model, optimizer.cfg, train, cfg, generator, autocast_dtype, bar, world)
            while state.progress < cfg.epochs and not state.finished:
                epoch = state.progress + 1
                status = f"epoch {epoch}/{cfg.epochs}"
                done_before = state.progress * per_epoch
                tick = lambda i: bar.update(done_before + i + 1, status) if i % 50 == 0 else None  # noqa: E731
                thread_count = threads.update() if threads is not None else torch.get_num_threads()
                started = time.perf_counter()
                train_losses = fit_epoch(losses, optimizer, train, cfg.batch_size, generator, autocast_dtype, tick,
                                         world)
                elapsed = time.perf_counter() - started
                scores = validate(model, val, cfg.eval_batch_size, world) if len(val) else train_losses
                timings["training"] += elapsed
                timings["validation"] += time.perf_counter() - started - elapsed
                check_finite(train_losses["loss"] + scores["loss"], model.parameters(), where=f"epoch {epoch}",
                             last_finite=last.get("train/loss"), lr=("optimizer.lr", optimizer.cfg.lr),
                             clip=("optimizer.max_grad_norm", optimizer.cfg.max_grad_norm),
                             kept=_kept(run, state.progress))
                state.progress, state.iteration = epoch, optimizer.steps_done
                state.train_seconds += elapsed
                state.last_eval_at = epoch
                if state.record(scores[metric], mode):
                    run.save_weights(model, "model")
                if cfg.patience is not None and state.since_best >= cfg.patience:
                    state.status = "stopped early"
                elif epoch == cfg.epochs:
                    state.status = "done"
                last = {f"train/{k}": v for k, v in train_losses.items()}
                if len(val):
                    last.update({f"val/{k}": v for k, v in scores.items()})
                last.update({"train/lr": optimizer.lr, "time/samples_per_s": len(train) / elapsed,
                             "time/epoch_seconds": elapsed, "time/train_seconds": state.train_seconds,
                             "time/threads": thread_count})
                logger.log(epoch, last)
                if cfg.tensorboard_images and world.is_main:
                    logger.log_images(epoch, _pictures(model, val if len(val) else train))
                run.save_checkpoint(model, optimizer, state, capture_rng(device, {"shuffle": generator}))
                bar.update(epoch * per_epoch, f"{status} | train {train_losses['loss']:.4f} | {judged_on} {metric} "
                           f"{scores[metric]:.4f} | {len(train) / elapsed:,.0f} samples/s")
    finally:
        logger.close()
    return run.result(state, last, timings)


@torch.no_grad()
def _pictures(model: EpochModel, split: Split, count: int = 8) -> dict[str, list[torch.Tensor]]:
    """The model's pictures of the split's first images, leaving its mode and every RNG stream as they were (so
    that pictures change nothing a resumed run would repeat)."""
    if split.x.dtype != torch.uint8:  # cached features, not images
        return {}
    devices = [split.x.device] if split.x.device.type == "cuda" else []
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=devices):
            return model.pictures(to_inputs(split.x[:count]), split.y[:count])
    finally:
        model.train(was_training)


class _LossModule(nn.Module):
    """`fn(x, y)` as the forward pass of a module that holds the parameters it trains, for DistributedDataParallel
    (which averages gradients of what its forward pass used)."""

    def __init__(self, module: nn.Module, fn: Callable[[torch.Tensor, torch.Tensor], Losses | torch.Tensor]):
        super().__init__()
        self.module, self.fn = module, fn

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> Losses | torch.Tensor:
        return self.fn(x, y)


def data_parallel(module: nn.Module, fn: Callable[[torch.Tensor, torch.Tensor], Losses | torch.Tensor],
                  world: World) -> Callable[[torch.Tensor, torch.Tensor], Losses | torch.Tensor]:
    """`fn` itself alone; on several ranks, `fn` inside DistributedDataParallel over `module`'s parameters, so that
    the backward pass averages their gradients across the ranks (and rank 0's weights and buffers are broadcast
    when it is built: every replica starts alike)."""
    if not world.active:
        return fn
    from torch.nn.parallel import DistributedDataParallel

    device = next(module.parameters()).device
    return DistributedDataParallel(_LossModule(module, fn), device_ids=[device.index] if device.type == "cuda" else None)


def _kept(run: RunDir, epochs: int) -> str:
    if not epochs:
        return "No weights were saved yet."
    return f"The weights and checkpoint of epoch {epochs} are kept in {run.path}."


def _pretrain(model: EpochModel, optimizer_cfg, train: Split, cfg: EpochTrainConfig, generator: torch.Generator,
              autocast_dtype: torch.dtype | None, bar: ProgressBar, world: World) -> None:
    per_epoch = batches_per_epoch(len(train), cfg.batch_size, world)
    for phase in model.pretraining():
        optimizer = TrainingOptimizer(phase.module, optimizer_cfg, total_steps=phase.epochs * per_epoch)
        loss = data_parallel(phase.module, phase.loss, world)
        for epoch in range(phase.epochs):
            losses = fit_epoch(loss, optimizer, train, cfg.batch_size, generator, autocast_dtype, world=world)
            bar.update(0, f"{phase.name} epoch {epoch + 1}/{phase.epochs} | loss {losses['loss']:.5f}")
