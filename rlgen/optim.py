"""Optimizer factory: the update rule, learning-rate schedule, gradient clipping, max-norm and l1/l2 penalties.

Models and agents never build a torch optimizer themselves; they ask for a `TrainingOptimizer` and call
`step(loss)`, so every model gets the same options with the same meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from rlgen.distributed import average_gradients
from rlgen.errors import RlgenError
from rlgen.nets import penalized_weights
from rlgen.optim_kernels import FusedAdamSteps, clip_grad_norm, uniform
from rlgen.optim_state import check_optimizer_state
from rlgen.schema import Strict

OptimizerName = Literal["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam"]
Schedule = Literal["constant", "linear", "exponential", "inverse_time"]


class OptimizerConfig(Strict):
    """The update rule and everything applied around it at each step."""

    name: OptimizerName = "adam"
    """sgd | momentum (heavy ball) | nesterov | adagrad | rmsprop | adam | adamw | nadam."""
    lr: float = Field(default=1e-3, gt=0, le=1e6)
    """Initial learning rate lr0."""
    momentum: float = Field(default=0.9, ge=0, lt=1)
    """Momentum for momentum/nesterov, and rmsprop's optional momentum when `rmsprop_momentum` is set."""
    rmsprop_momentum: bool = False
    """Use `momentum` inside RMSProp as well."""
    rho: float = Field(default=0.9, gt=0, lt=1)
    """RMSProp's decay of the squared-gradient average."""
    betas: tuple[float, float] = (0.9, 0.999)
    """Adam-family decay rates of the first and second moments."""
    eps: float = Field(default=1e-8, gt=0, le=1.0)
    """Denominator term of the adaptive methods."""
    weight_decay: float = Field(default=0.0, ge=0, le=1e3)
    """AdamW's decoupled weight decay (ignored by the others; use `l2` for a loss penalty)."""
    schedule: Schedule = "constant"
    """constant | linear (lr0 → lr_final over the run) | exponential lr0·decay^(t/decay_steps) |
    inverse_time lr0 / (1 + decay·t/decay_steps); t counts optimizer steps."""
    lr_final: float = Field(default=0.0, ge=0, le=1e6)
    """End learning rate of the linear schedule."""
    decay: float = Field(default=0.1, gt=0, le=1e6)
    """Decay factor of the exponential and inverse-time schedules."""
    decay_steps: int = Field(default=1, ge=1, le=10**12)
    """Steps over which `decay` applies once."""
    max_grad_norm: float | None = Field(default=None, gt=0, le=1e9)
    """Clip the global gradient norm to this value before each step (None disables)."""
    max_norm: float | None = Field(default=None, gt=0, le=1e9)
    """Max-norm constraint: after each step, rescale each unit's incoming weights (a weight row, or a conv filter)
    to norm ≤ this."""
    l1: float = Field(default=0.0, ge=0, le=1e3)
    """Adds l1·Σ|w| over linear and conv weights (biases excluded) to the loss."""
    l2: float = Field(default=0.0, ge=0, le=1e3)
    """Adds l2·Σw² over linear and conv weights (biases excluded) to the loss."""

    @model_validator(mode="after")
    def _betas_in_range(self) -> "OptimizerConfig":
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError("betas must both lie in [0, 1)")
        return self


def make_torch_optimizer(params: Any, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """The torch optimizer for `cfg`, using torch's fused kernels where one exists (one pass over all parameters
    instead of several per tensor; the same update rule), else the multi-tensor (foreach) implementation."""
    name, lr = cfg.name, cfg.lr
    fast = {"fused": True}
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, **fast)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, **fast)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, nesterov=True, **fast)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=cfg.eps, **fast)
    if name == "rmsprop":
        momentum = cfg.momentum if cfg.rmsprop_momentum else 0.0
        return torch.optim.RMSprop(params, lr=lr, alpha=cfg.rho, eps=cfg.eps, momentum=momentum, foreach=True)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=cfg.betas, eps=cfg.eps, **fast)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay, **fast)
    if name == "nadam":
        return torch.optim.NAdam(params, lr=lr, betas=cfg.betas, eps=cfg.eps, foreach=True)
    raise ValueError(f"unknown optimizer {name!r}")


def scheduled_lr(cfg: OptimizerConfig, t: int, fraction: float) -> float:
    """Learning rate after `t` optimizer steps, `fraction` (0 → 1) of the way through the run."""
    if cfg.schedule == "constant":
        return cfg.lr
    if cfg.schedule == "linear":
        return cfg.lr + (cfg.lr_final - cfg.lr) * min(max(fraction, 0.0), 1.0)
    if cfg.schedule == "exponential":
        return cfg.lr * cfg.decay ** (t / cfg.decay_steps)
    if cfg.schedule == "inverse_time":
        return cfg.lr / (1.0 + cfg.decay * t / cfg.decay_steps)
    raise ValueError(f"unknown schedule {cfg.schedule!r}")


@dataclass
class ParamGroup:
    """Part of a model trained at its own learning rate: `lr_scale` × the schedule's (0.1 to fine-tune pretrained
    layers gently, say). The ratio holds through every schedule."""

    module: nn.Module
    lr_scale: float = 1.0


class TrainingOptimizer:
    """A torch optimizer plus schedule, clipping, max-norm and penalties over a model's trainable parameters.

    `model` is a module or a list of ParamGroups. Frozen parameters (requires_grad False) are left out of the update
    and the penalties. The linear schedule runs over `total_steps` optimizer steps, or over the fraction of the run
    that `follow` reports (a loop whose step count is not known in advance, such as whole-episode rollouts)."""

    def __init__(self, model: nn.Module | list[ParamGroup], cfg: OptimizerConfig, total_steps: int | None = None,
                 average_across_ranks: bool = False):
        """`average_across_ranks`: replace each gradient by its mean over a data-parallel run's ranks before
        clipping and stepping (loops that do not wrap their model in DistributedDataParallel: the agents)."""
        self.cfg = cfg
        self.total_steps = total_steps
        self.average_across_ranks = average_across_ranks
        groups = model if isinstance(model, list) else [ParamGroup(model)]
        seen: set[int] = set()
        torch_groups = []
        for group in groups:
            params = [p for p in group.module.parameters() if p.requires_grad and id(p) not in seen]
            seen.update(id(p) for p in params)
            if params:
                torch_groups.append({"params": params, "lr": cfg.lr * group.lr_scale, "lr_scale": group.lr_scale})
        if not torch_groups:
            raise RlgenError("nothing to train: every parameter of the model is frozen")
        self.optimizer = make_torch_optimizer(torch_groups, cfg)
        self.steps_done = 0
        self.lr = cfg.lr  # the schedule's current rate (group k trains at lr × its lr_scale)
        # listed once: walking the module tree every step costs ~0.1 ms
        self._params = [p for group in torch_groups for p in group["params"]]
        self._same_kind = uniform(self._params)
        self._fused = FusedAdamSteps(self.optimizer) if FusedAdamSteps.applies(self.optimizer, self._params) else None
        self._weights = [(w, dim) for g in groups for w, dim in penalized_weights(g.module) if id(w) in seen]
        self._fraction: Callable[[], float] | None = None

    def follow(self, fraction: Callable[[], float]) -> None:
        """Drive the linear schedule (and anything else asking `fraction_done`) by the caller's measure of progress."""
        self._fraction = fraction

    def fraction_done(self) -> float:
        if self._fraction is not None:
            return self._fraction()
        return self.steps_done / self.total_steps if self.total_steps else 0.0

    def penalty(self) -> torch.Tensor | float:
        """l1·Σ|w| + l2·Σw² over the penalised weights; 0.0 when both are off."""
        total: torch.Tensor | float = 0.0
        if self.cfg.l1 > 0:
            total = total + self.cfg.l1 * sum(w.abs().sum() for w, _ in self._weights)
        if self.cfg.l2 > 0:
            total = total + self.cfg.l2 * sum(w.square().sum() for w, _ in self._weights)
        return total

    def step(self, loss: torch.Tensor) -> torch.Tensor | None:
        """Backpropagate loss + penalty, clip, update, apply max-norm, advance the schedule.

        Returns the gradient norm before clipping when clipping is on (a device tensor: no host sync), else None.
        """
        self.begin()
        if self.cfg.l1 > 0 or self.cfg.l2 > 0:
            loss = loss + self.penalty()
        loss.backward()
        return self.finish()

    def begin(self) -> None:
        """The first half of `step`: set the scheduled learning rate and clear the gradients. Whoever calls it
        backpropagates a loss (with `penalty()`) into this optimizer's parameters, then calls `finish` (several
        seeds trained at once share one backward pass; see agents/seeds.py)."""
        self.lr = scheduled_lr(self.cfg, self.steps_done, self.fraction_done())
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr * group["lr_scale"]
        for p in self._params:  # zero_grad(set_to_none=True), without its per-call bookkeeping
            p.grad = None

    def finish(self) -> torch.Tensor | None:
        """The second half of `step`, once the gradients are in: clip, update, max-norm, count the step."""
        if self.average_across_ranks:
            average_gradients(self._params)
        grad_norm = None
        if self.cfg.max_grad_norm is not None:
            grad_norm = clip_grad_norm(self._params, self.cfg.max_grad_norm, self._same_kind)
        if self._fused is not None:
            self._fused.step()
        else:
            self.optimizer.step()
        if self.cfg.max_norm is not None:
            with torch.no_grad():
                for w, dim in self._weights:  # each output unit's incoming weights: a row, or a conv filter
                    w.copy_(torch.renorm(w, p=2, dim=dim, maxnorm=self.cfg.max_norm))
        self.steps_done += 1
        return grad_norm

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "steps_done": self.steps_done}

    def load_state_dict(self, state: dict[str, Any], source: str = "optimizer state") -> None:
        """Load a saved state after checking every tensor in it against what this optimizer holds (see
        `rlgen.optim_state`): a file can never hand a fused kernel a buffer of the wrong shape."""
        if not isinstance(state, dict) or set(state) != {"optimizer", "steps_done"}:
            raise RlgenError(f"{source}: not a training optimizer's state")
        steps = state["steps_done"]
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise RlgenError(f"{source}: steps_done is {steps!r}, not a count")
        check_optimizer_state(self.optimizer, state["optimizer"], source)
        self.optimizer.load_state_dict(state["optimizer"])
        if self._fused is not None:
            self._fused.forget()
        self.steps_done = steps


class FixedModelOptimizer:
    """What a model with nothing to learn (a baseline such as the naive forecast) trains with: the epoch trainer
    measures it like any model, and every step leaves it as it is."""

    def __init__(self, cfg: OptimizerConfig):
        self.cfg = cfg
        self.lr = 0.0
        self.steps_done = 0

    def step(self, loss: torch.Tensor) -> None:
        self.steps_done += 1

    def state_dict(self) -> dict[str, Any]:
        return {"steps_done": self.steps_done}

    def load_state_dict(self, state: dict[str, Any], source: str = "optimizer state") -> None:
        steps = state.get("steps_done") if isinstance(state, dict) else None
        if set(state or {}) != {"steps_done"} or not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
            raise RlgenError(f"{source}: not the state of a model with nothing to learn")
        self.steps_done = steps
