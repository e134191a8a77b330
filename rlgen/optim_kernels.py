"""Gradient clipping and the Adam step with less per-step Python than torch's own functions.

A PPO update on Pendulum takes 400 steps of a few thousand parameters each: there, torch's `clip_grad_norm_`
(grouping tensors by device and dtype at every call) and `Optimizer.step` (hooks, profiler labels, state checks
per parameter) cost about as much as the arithmetic of the two small networks. These do the same arithmetic, by the
same torch kernels in the same order, so results are the same bit for bit (tests/test_optim.py checks it); they
apply only where that holds: every parameter dense, on one device, in one dtype.
"""

from __future__ import annotations

import torch
from torch import nn


def uniform(params: list[torch.Tensor]) -> bool:
    """Whether the fast paths apply: dense tensors sharing one device and one floating dtype."""
    return bool(params) and all(p.layout == torch.strided and p.device == params[0].device
                                and p.dtype == params[0].dtype and p.dtype.is_floating_point for p in params)


def clip_grad_norm(params: list[torch.Tensor], max_norm: float, same_kind: bool) -> torch.Tensor:
    """`torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)`: the 2-norm of all gradients together
    (returned), and every gradient scaled by min(1, max_norm / (norm + 1e-6))."""
    grads = [p.grad for p in params if p.grad is not None]
    if not same_kind or not grads:
        return nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
    torch._foreach_mul_(grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return total


class FusedAdamSteps:
    """Steps a fused torch Adam or AdamW (fused=True, no amsgrad) by its own kernel, `torch._fused_adam_`, once the
    optimizer holds its state (its first step, and any step where a gradient is missing, go through torch's
    `step`). The state stays the torch optimizer's: saving and loading it are unchanged."""

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self._kernel = _kernel_of(optimizer)
        self._groups: list[tuple[dict, list, list, list, list]] | None = None

    @staticmethod
    def applies(optimizer: torch.optim.Optimizer, params: list[torch.Tensor]) -> bool:
        return _kernel_of(optimizer) is not None and uniform(params)

    def forget(self) -> None:
        """The optimizer's state tensors were replaced (a loaded state): list them again at the next step."""
        self._groups = None

    def step(self) -> None:
        if self._groups is None and not self._listed():
            self.optimizer.step()
            return
        for group, params, exp_avgs, exp_avg_sqs, steps in self._groups:
            grads = [p.grad for p in params]
            if any(g is None for g in grads):
                self.optimizer.step()  # torch skips parameters without gradients; so does its own step
                return
        for group, params, exp_avgs, exp_avg_sqs, steps in self._groups:
            beta1, beta2 = group["betas"]
            torch._foreach_add_(steps, 1)
            self._kernel(params, [p.grad for p in params], exp_avgs, exp_avg_sqs, [], steps, lr=group["lr"],
                         beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                         amsgrad=False, maximize=group["maximize"])

    def _listed(self) -> bool:
        state = self.optimizer.state
        groups = []
        for group in self.optimizer.param_groups:
            params = group["params"]
            if not all(p in state and "exp_avg" in state[p] for p in params):
                return False
            groups.append((group, params, [state[p]["exp_avg"] for p in params],
                           [state[p]["exp_avg_sq"] for p in params], [state[p]["step"] for p in params]))
        self._groups = groups
        return True


def _kernel_of(optimizer: torch.optim.Optimizer):
    """torch's fused kernel for this optimizer's update rule, or None where the fast path does not apply."""
    if type(optimizer) not in (torch.optim.Adam, torch.optim.AdamW):
        return None
    defaults = optimizer.defaults
    if not defaults.get("fused") or defaults.get("amsgrad") or defaults.get("capturable") \
            or defaults.get("differentiable") or any(isinstance(g["lr"], torch.Tensor) for g in optimizer.param_groups):
        return None
    decoupled = type(optimizer) is torch.optim.AdamW or defaults.get("decoupled_weight_decay")
    return getattr(torch, "_fused_adamw_" if decoupled else "_fused_adam_", None)
