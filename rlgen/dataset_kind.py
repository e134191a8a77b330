"""What every kind of run trained on a data set shares: build the model, load the splits, train with the one epoch
trainer, load the trained model. A kind (autoencoders, classifiers, forecasters) says only how its model is built
and evaluated, and, where its data is not Fashion-MNIST, how its splits are made.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from rlgen.data import IMAGE_SHAPE, NUM_CLASSES, DataConfig, Split, Splits, check_data, load_splits, to_inputs
from rlgen.device import resolve_device
from rlgen.distributed import agree, current, launched_world
from rlgen.epochs import EpochModel, batches_per_epoch, train_epochs
from rlgen.errors import RlgenError
from rlgen.nets import check_size
from rlgen.optim import FixedModelOptimizer, ParamGroup, TrainingOptimizer
from rlgen.precision import choose_precision, probe
from rlgen.registry import RunKind, require_model
from rlgen.rundir import RunDir
from rlgen.runstate import TrainResult
from rlgen.seeding import seed_everything
from rlgen.threads import ThreadPolicy


class DatasetKind(RunKind):
    """A kind whose runs train an EpochModel on a data set (Fashion-MNIST unless the kind says otherwise); configs
    have seed, device, data, optimizer, train."""

    data_name = ""
    """What the progress bar calls the data (empty: the data set `data.name` names)."""

    def load_data(self, cfg: Any, device: torch.device) -> Splits:
        """The run's train / validation / test splits on `device`."""
        return load_splits(cfg.data, device, cfg.seed)

    def example_batch(self, cfg: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Two made-up inputs and targets of the data's shapes (for `rlgen summary`)."""
        return torch.rand(2, *IMAGE_SHAPE), torch.arange(2) % NUM_CLASSES

    def build_model(self, cfg: Any, run: RunDir | None = None) -> EpochModel:
        """The untrained model of `cfg` (`run`: the run it belongs to, when there is one)."""
        raise NotImplementedError

    def check(self, cfg: Any) -> None:
        if isinstance(getattr(cfg, "data", None), DataConfig):
            check_data(cfg.data)
        check_size(lambda: self.build_model(cfg, None), f"the {cfg.algo} model")
        _check_global_batch(cfg.train.batch_size, launched_world().size)

    def prepare_run(self, cfg: Any, run: RunDir) -> None:
        """Before a new run's model is first built: record in the run what rebuilding it will need."""

    def init_weights(self, cfg: Any, model: EpochModel, run: RunDir) -> None:
        """A new run's starting weights beyond the builder's initialisation (pretrained layers, say)."""

    def param_groups(self, cfg: Any, model: EpochModel) -> nn.Module | list[ParamGroup]:
        """What the optimizer trains (all of the model by default)."""
        return model

    def training_splits(self, cfg: Any, model: EpochModel, splits: Splits, autocast: torch.dtype | None
                        ) -> tuple[Split, Split]:
        """The (train, validation) splits as the model trains on them; a kind may transform them once here (in the
        run's precision, `autocast`)."""
        return splits.train, splits.val

    adaptive_threads = True

    def train(self, cfg: Any, run: RunDir, quiet: bool = False, resume: bool = False,
              threads: ThreadPolicy | None = None) -> TrainResult:
        device = resolve_device(cfg.device)
        world = current()
        _check_global_batch(cfg.train.batch_size, world.size)
        seed_everything(cfg.seed)
        splits = self.load_data(cfg, device)
        if not resume:
            self.prepare_run(cfg, run)
        model = self.build_model(cfg, run).to(device)
        if world.active:  # the same initial weights and shuffling on every rank, but their own dropout and noise
            torch.manual_seed(cfg.seed + 7919 * world.rank)
        per_epoch = batches_per_epoch(len(splits.train), cfg.train.batch_size, world)
        if model.learns:
            optimizer = TrainingOptimizer(self.param_groups(cfg, model), cfg.optimizer,
                                          total_steps=cfg.train.epochs * per_epoch)
        else:  # a baseline: measured by the same trainer, with steps that change nothing
            optimizer = FixedModelOptimizer(cfg.optimizer)
        # the weights are in place before the training splits are made: a kind may compute features with them
        resumed = run.load_checkpoint(model, optimizer)[:2] if resume else None
        if not resume:
            self.init_weights(cfg, model, run)
            run.load_initial_weights(model, device)
        autocast, precision = self.precision(cfg, model, splits.train, device, run.info if resume else None)
        train, val = self.training_splits(cfg, model, splits, autocast)
        if not resume:
            run.update_meta(info={"data_source": str(splits.source), **self.run_info(cfg, model), **precision})
        return train_epochs(model, optimizer, train, val, cfg.train, run, seed=cfg.seed, device=device,
                            description=f"{cfg.algo} {self.data_name or cfg.data.name}", quiet=quiet, resumed=resumed, threads=threads,
                            autocast_dtype=autocast)

    def precision(self, cfg: Any, model: EpochModel, train: Split, device: torch.device,
                  saved_info: dict[str, Any] | None) -> tuple[torch.dtype | None, dict[str, Any]]:
        """The autocast dtype of the run's matrix multiplies (rlgen/precision.py): as asked, as recorded when
        resuming, or (auto) measured on the model's first training batch."""
        batch = min(cfg.train.batch_size, len(train))

        def measure() -> dict[str, float]:
            x, y = to_inputs(train.x[:batch]), train.y[:batch]
            return probe(model, lambda m, xs, ys: m.losses(xs, ys), x, y, device)

        asked = cfg.train.precision if model.learns else "fp32"  # a baseline has no gradients to time
        dtype, info = choose_precision(asked, device, saved_info, measure)
        if agree(dtype is not None) != (dtype is not None):  # data-parallel ranks compute alike: rank 0 decides
            dtype = torch.bfloat16 if dtype is None else None
        return dtype, info

    def run_info(self, cfg: Any, model: EpochModel) -> dict[str, Any]:
        return {}

    def load_model(self, run: RunDir, cfg: Any, device: torch.device) -> EpochModel:
        """The run's best weights in the model its config builds, in evaluation mode."""
        require_model(run)
        model = self.build_model(cfg, run).to(device)
        if model.state_dict():  # (a baseline has no weights to load)
            run.load_weights(model, "model", device)
        model.eval()
        return model

    continuable = ("train.epochs", "train.patience")

    def continue_problem(self, cfg: Any, state) -> str | None:
        if state.progress >= cfg.train.epochs:
            return (f"it has trained {state.progress} of train.epochs {cfg.train.epochs}: give more epochs to continue "
                    f"it (--set train.epochs={state.progress + cfg.train.epochs})")
        return None

    def trained_model(self, run: RunDir, cfg: Any, device: torch.device) -> EpochModel:
        return self.load_model(run, cfg, device)

    def test_split(self, cfg: Any, device: torch.device) -> Split:
        return self.load_data(cfg, device).test

    def summary_model(self, cfg: Any, run: RunDir | None) -> tuple[nn.Module, Callable[[nn.Module], Any]]:
        model = self.build_model(cfg, run)
        inputs, targets = self.example_batch(cfg)
        return model, lambda m: m.losses(inputs, targets)


def _check_global_batch(batch_size: int, processes: int) -> None:
    if batch_size % processes:
        raise RlgenError(f"train.batch_size {batch_size} is the global batch, shared by {processes} processes: make "
                         f"it a multiple of {processes}")
