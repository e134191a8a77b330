"""The one autoencoder training loop: epochs of shuffled index batches over uint8 tensors on the device,
validation every epoch, early stopping, best checkpoint, and resumable state saved at every epoch boundary.

The data never passes through a per-item Dataset/DataLoader: each split is one uint8 tensor on the training device,
and a batch is `images[indices].float() / 255`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from rlgen.autoencoders.base import Autoencoder
from rlgen.autoencoders.build import build_autoencoder
from rlgen.autoencoders.config import AERunConfig
from rlgen.device import resolve_device, resolve_precision
from rlgen.errors import RlgenError
from rlgen.fashion_mnist import load_fashion_mnist
from rlgen.metrics import MetricsLogger, ProgressBar
from rlgen.optim import TrainingOptimizer
from rlgen.rundir import RunDir
from rlgen.seeding import seed_everything


@dataclass
class AETrainResult:
    epochs_done: int
    best_val_loss: float
    train_seconds: float
    stopped_early: bool


def to_pixels(batch: torch.Tensor) -> torch.Tensor:
    return batch.float().div_(255.0)  # uint8 (B, 784) → float in [0, 1]


def shuffled_batches(images: torch.Tensor, batch_size: int, generator: torch.Generator):
    """Batches of a fresh random permutation: one gather per epoch into a shuffled copy, then contiguous slices
    (cheaper than gathering each batch). The permutation is drawn on a CPU generator so that resuming repeats it."""
    order = torch.randperm(len(images), generator=generator).to(images.device)
    shuffled = images[order]  # (N, 784) uint8: 47 MB for Fashion-MNIST's training split
    for start in range(0, len(images), batch_size):
        yield shuffled[start : start + batch_size]


def fit_epoch(
    loss_fn: Callable[[torch.Tensor], torch.Tensor | object],
    optimizer: TrainingOptimizer,
    images: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    on_batch: Callable[[int], None] | None = None,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """One pass of shuffled batches; `loss_fn` returns a loss tensor or an AutoencoderOutput. Sums stay on the device
    until the end of the epoch (one host sync per epoch). With `autocast_dtype`, the forward pass runs under autocast
    (matrix multiplies in that dtype); the backward pass and the optimizer step stay outside it."""
    keys = ("loss",)
    total = torch.zeros((), device=images.device)
    count = 0
    for i, batch in enumerate(shuffled_batches(images, batch_size, generator)):
        with torch.autocast(images.device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
            out = loss_fn(to_pixels(batch))
        if isinstance(out, torch.Tensor):
            loss = terms = out
        else:
            keys = ("loss", "recon_loss", "reg_loss")
            loss, terms = out.loss, torch.stack([out.loss, out.recon_loss, out.reg_loss])
        optimizer.step(loss)
        total = total + terms.detach() * len(batch)
        count += len(batch)
        if on_batch is not None:
            on_batch(i)
    return dict(zip(keys, (total / count).reshape(-1).tolist()))


@torch.no_grad()
def validation_losses(model: Autoencoder, images: torch.Tensor, batch_size: int) -> dict[str, float]:
    """The training objective on held-out images, in evaluation mode (denoisers still see corrupted inputs)."""
    model.eval()
    totals = torch.zeros(3, device=images.device)
    for start in range(0, len(images), batch_size):
        x = to_pixels(images[start : start + batch_size])
        out = model(x, x_in=model.corrupt(x))
        totals += torch.stack([out.loss, out.recon_loss, out.reg_loss]) * len(x)
    model.train()
    loss, recon, reg = (totals / len(images)).tolist()
    return {"loss": loss, "recon_loss": recon, "reg_loss": reg}


def _rng_state(generator: torch.Generator, device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state(), "shuffle": generator.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, generator: torch.Generator, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["shuffle"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _layerwise_pretrain(model, cfg: AERunConfig, images, generator, bar: ProgressBar, per_epoch: int,
                        autocast_dtype: torch.dtype | None) -> None:
    """Greedy layer-wise training: one shallow autoencoder per layer, outermost first, each on the codings of the
    already-trained layers before it (Hinton & Salakhutdinov, 2006; Bengio et al., 2007)."""
    epochs = model.pretrain_epochs
    for k in range(model.num_layers()):
        optimizer = TrainingOptimizer(model.layer_pair(k), cfg.optimizer, total_steps=epochs * per_epoch)
        for epoch in range(epochs):
            losses = fit_epoch(model.layer_loss(k), optimizer, images, cfg.train.batch_size, generator,
                               autocast_dtype=autocast_dtype)
            bar.update(0, f"pretraining layer {k + 1}/{model.num_layers()} epoch {epoch + 1} | loss {losses['loss']:.5f}")


def train_autoencoder(cfg: AERunConfig, run: RunDir, quiet: bool = False, resume: bool = False) -> AETrainResult:
    device = resolve_device(cfg.device)
    autocast_dtype = resolve_precision(cfg.train.precision, device)
    seed_everything(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    data = load_fashion_mnist(cfg.data.dir, cfg.data.validation, device, limit=cfg.data.limit)
    model = build_autoencoder(cfg).to(device)
    tc = cfg.train
    per_epoch = math.ceil(len(data.train_x) / tc.batch_size)
    optimizer = TrainingOptimizer(model, cfg.optimizer, total_steps=tc.epochs * per_epoch)

    start_epoch, best, bad_epochs, train_seconds, stopped_early = 0, math.inf, 0, 0.0, False
    if resume:
        if not run.has("checkpoint"):
            raise RlgenError(f"{run.path} has no saved epoch to resume from (it stopped before its first epoch ended)")
        state = run.load_checkpoint(model, optimizer)
        _set_rng_state(state["rng"], generator, device)
        start_epoch, best, bad_epochs = int(state["epochs_done"]), float(state["best_val_loss"]), int(state["bad_epochs"])
        train_seconds, stopped_early = float(state["train_seconds"]), bool(state["stopped_early"])
    else:
        run.write_meta({"kind": "autoencoder", "algo": cfg.algo, "generative": model.generative,
                        "data_source": str(data.source), "precision": str(autocast_dtype or torch.float32)})
    logger = MetricsLogger(run.path, keep_until_step=start_epoch if resume else None)
    model.train()
    try:
        with ProgressBar(tc.epochs * per_epoch, f"{cfg.algo} fashion-mnist", quiet) as bar:
            if model.pretrain_epochs and start_epoch == 0:
                _layerwise_pretrain(model, cfg, data.train_x, generator, bar, per_epoch, autocast_dtype)
            for epoch in range(start_epoch, tc.epochs):
                if stopped_early:
                    break
                started = time.perf_counter()
                done_before = epoch * per_epoch
                tick = lambda i: bar.update(done_before + i + 1, status) if i % 50 == 0 else None  # noqa: E731
                status = f"epoch {epoch + 1}/{tc.epochs}"
                train_losses = fit_epoch(model, optimizer, data.train_x, tc.batch_size, generator, tick, autocast_dtype)
                elapsed = time.perf_counter() - started
                train_seconds += elapsed
                val = validation_losses(model, data.val_x, tc.eval_batch_size)
                improved = val["loss"] < best
                if improved:
                    best, bad_epochs = val["loss"], 0
                    run.save_weights(model, "model")
                else:
                    bad_epochs += 1
                stopped_early = tc.patience is not None and bad_epochs >= tc.patience
                metrics = {f"train/{k}": v for k, v in train_losses.items()}
                metrics.update({f"val/{k}": v for k, v in val.items()})
                metrics.update({"train/lr": optimizer.lr, "time/samples_per_s": len(data.train_x) / elapsed,
                                "time/epoch_seconds": elapsed, "time/train_seconds": train_seconds})
                logger.log(epoch + 1, metrics)
                _save_epoch(run, model, optimizer, generator, device, epoch + 1, best, bad_epochs, train_seconds,
                            stopped_early)
                bar.update((epoch + 1) * per_epoch, f"epoch {epoch + 1}/{tc.epochs} | train {train_losses['loss']:.4f}"
                           f" | val {val['loss']:.4f} | {len(data.train_x) / elapsed:,.0f} samples/s")
    finally:
        logger.close()
    return AETrainResult(int(run.meta.get("epochs_done", 0)), best, train_seconds, stopped_early)


def _save_epoch(run, model: nn.Module, optimizer, generator, device, epochs_done, best, bad_epochs, train_seconds,
                stopped_early) -> None:
    """Everything needed to continue exactly from this epoch boundary, in one atomic file."""
    trainer = {"epochs_done": epochs_done, "best_val_loss": best, "bad_epochs": bad_epochs,
               "train_seconds": train_seconds, "stopped_early": stopped_early, "rng": _rng_state(generator, device)}
    run.save_checkpoint(model, optimizer, trainer)
    run.write_meta({"epochs_done": epochs_done, "best_val_loss": best, "train_seconds": round(train_seconds, 3)})
