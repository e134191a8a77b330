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
from rlgen.device import resolve_precision
from rlgen.divergence import check_finite
from rlgen.metrics import MetricsLogger, ProgressBar
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
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """Matrix multiplies of training steps in bfloat16 (weights, optimizer state, losses and sampling stay float32)
    or float32; auto picks bf16 where the hardware runs it natively. Validation and evaluation use float32."""


class EpochModel(nn.Module):
    """What the epoch trainer asks of a model: named losses of a batch, and which validation metric picks the best
    weights. Models that want a warm-up (greedy layer-wise pretraining) list `pretraining` phases."""

    monitor: tuple[str, Mode] = ("loss", "min")

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> Losses:
        raise NotImplementedError

    def validation_losses(self, x: torch.Tensor, y: torch.Tensor) -> Losses:
        """The metrics of a held-out batch; called in evaluation mode without gradients."""
        return self.losses(x, y)

    def pretraining(self) -> list["Phase"]:
        return []


@dataclass
class Phase:
    """A warm-up before the epochs proper: `epochs` passes that train `module` alone on `loss`."""

    name: str
    module: nn.Module
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    epochs: int


def shuffled_batches(split: Split, batch_size: int, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of a fresh random permutation: one gather per epoch into a shuffled copy, then contiguous slices
    (cheaper than gathering each batch). The permutation is drawn on a CPU generator so that resuming repeats it."""
    order = torch.randperm(len(split), generator=generator).to(split.x.device)
    x, y = split.x[order], split.y[order]  # images: (N, 1, 28, 28) uint8, 47 MB for Fashion-MNIST's training split
    for start in range(0, len(split), batch_size):
        yield x[start : start + batch_size], y[start : start + batch_size]


def fit_epoch(loss_fn: Callable[[torch.Tensor, torch.Tensor], Losses | torch.Tensor], optimizer: TrainingOptimizer,
              split: Split, batch_size: int, generator: torch.Generator, autocast_dtype: torch.dtype | None = None,
              on_batch: Callable[[int], None] | None = None) -> dict[str, float]:
    """One pass of shuffled batches; returns the mean of each named loss. Sums stay on the device until the end of
    the epoch (one host sync per epoch). With `autocast_dtype` the forward pass runs under autocast (matrix
    multiplies in that dtype); the backward pass and the optimizer step stay outside it."""
    device_type = split.x.device.type
    keys: list[str] = []
    total: torch.Tensor | None = None
    for i, (x, y) in enumerate(shuffled_batches(split, batch_size, generator)):
        with torch.autocast(device_type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            out = loss_fn(batch_inputs(split, x), y)
        terms = out if isinstance(out, dict) else {"loss": out}
        optimizer.step(terms["loss"])
        if total is None:
            keys = list(terms)
            total = torch.zeros(len(keys), device=split.x.device)
        total += torch.stack([terms[k].detach().float() for k in keys]) * len(x)
        if on_batch is not None:
            on_batch(i)
    return dict(zip(keys, (total / len(split)).tolist()))


@torch.no_grad()
def validate(model: EpochModel, split: Split, batch_size: int) -> dict[str, float]:
    """The model's validation metrics over a whole split, in evaluation mode (example-weighted means)."""
    was_training = model.training
    model.eval()
    keys: list[str] = []
    total: torch.Tensor | None = None
    for start in range(0, len(split), batch_size):
        x, y = split.x[start : start + batch_size], split.y[start : start + batch_size]
        terms = model.validation_losses(to_inputs(x), y)
        if total is None:
            keys = list(terms)
            total = torch.zeros(len(keys), device=split.x.device)
        total += torch.stack([terms[k].float() for k in keys]) * len(x)
    model.train(was_training)
    return dict(zip(keys, (total / len(split)).tolist()))


def train_epochs(model: EpochModel, optimizer: TrainingOptimizer, train: Split, val: Split, cfg: EpochTrainConfig,
                 run: RunDir, *, seed: int, device: torch.device, description: str, quiet: bool = False,
                 resumed: tuple[RunState, dict[str, torch.Tensor]] | None = None,
                 threads: ThreadPolicy | None = None) -> TrainResult:
    """Train `model` for cfg.epochs on `train`, validating on `val` after every epoch; see the module's docstring.
    The caller builds model, optimizer (over cfg.epochs × batches per epoch) and data, seeded; to continue a run it
    loads the checkpoint into them first and passes the run state and RNG states it held as `resumed`. With an
    empty `val` the epoch's training metrics choose the best weights instead."""
    autocast_dtype = resolve_precision(cfg.precision, device)
    generator = torch.Generator().manual_seed(seed)  # the shuffling order
    timings = {"training": 0.0, "validation": 0.0}
    per_epoch = math.ceil(len(train) / cfg.batch_size)
    metric, mode = model.monitor
    judged_on = "val" if len(val) else "train"
    resume = resumed is not None
    state = RunState()
    if resumed is not None:
        state, rng = resumed
        restore_rng(rng, device, {"shuffle": generator}, str(run.path / "checkpoint.safetensors"))
    else:
        run.update_meta(unit="epochs", monitor=f"{judged_on}/{metric}",
                        info={"precision": str(autocast_dtype or torch.float32), "train_images": len(train)})
    logger = MetricsLogger(run.path, keep_until_step=state.progress if resume else None)
    last: dict[str, float] = {}
    model.train()
    try:
        with ProgressBar(cfg.epochs * per_epoch, description, quiet) as bar:
            if resume:
                bar.update(state.progress * per_epoch, f"resumed at epoch {state.progress} ({state.status})")
            else:
                _pretrain(model, optimizer.cfg, train, cfg, generator, autocast_dtype, bar)
            while state.progress < cfg.epochs and not state.finished:
                epoch = state.progress + 1
                status = f"epoch {epoch}/{cfg.epochs}"
                done_before = state.progress * per_epoch
                tick = lambda i: bar.update(done_before + i + 1, status) if i % 50 == 0 else None  # noqa: E731
                thread_count = threads.update() if threads is not None else torch.get_num_threads()
                started = time.perf_counter()
                train_losses = fit_epoch(model.losses, optimizer, train, cfg.batch_size, generator, autocast_dtype,
                                         tick)
                elapsed = time.perf_counter() - started
                scores = validate(model, val, cfg.eval_batch_size) if len(val) else train_losses
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
                run.save_checkpoint(model, optimizer, state, capture_rng(device, {"shuffle": generator}))
                bar.update(epoch * per_epoch, f"{status} | train {train_losses['loss']:.4f} | {judged_on} {metric} "
                           f"{scores[metric]:.4f} | {len(train) / elapsed:,.0f} samples/s")
    finally:
        logger.close()
    return run.result(state, last, timings)


def _kept(run: RunDir, epochs: int) -> str:
    if not epochs:
        return "No weights were saved yet."
    return f"The weights and checkpoint of epoch {epochs} are kept in {run.path}."


def _pretrain(model: EpochModel, optimizer_cfg, train: Split, cfg: EpochTrainConfig, generator: torch.Generator,
              autocast_dtype: torch.dtype | None, bar: ProgressBar) -> None:
    per_epoch = math.ceil(len(train) / cfg.batch_size)
    for phase in model.pretraining():
        optimizer = TrainingOptimizer(phase.module, optimizer_cfg, total_steps=phase.epochs * per_epoch)
        for epoch in range(phase.epochs):
            losses = fit_epoch(phase.loss, optimizer, train, cfg.batch_size, generator, autocast_dtype)
            bar.update(0, f"{phase.name} epoch {epoch + 1}/{phase.epochs} | loss {losses['loss']:.5f}")
