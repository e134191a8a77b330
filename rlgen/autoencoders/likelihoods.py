"""Pixel likelihoods of the VAE's decoder, p(x | z), from per-pixel logits l; each is summed over pixels.

- `bernoulli`: −log p = Σ softplus(l) − x·l. A probability mass for binary x; on continuous pixels in [0, 1] it is
  the usual binary cross-entropy loss, which is not a normalised density, so its "nats" are not a likelihood.
- `continuous_bernoulli` (Loaiza-Ganem & Cunningham, 2019): the Bernoulli's form divided by its integral over [0, 1],
  a proper density on continuous pixels. With λ = sigmoid(l) the normaliser is
  C(λ) = 2·atanh(1 − 2λ) / (1 − 2λ), which in logits is C = l / tanh(l / 2) (2 at l = 0).

Pictures show each likelihood's mean: sigmoid(l) for the Bernoulli, and for the continuous Bernoulli
E[x] = λ / (2λ − 1) + 1 / (2·atanh(1 − 2λ)) = sigmoid(l) / tanh(l / 2) − 1 / l (½ at l = 0).
"""

from __future__ import annotations

import math
from typing import Callable, Literal

import torch
import torch.nn.functional as F

Likelihood = Literal["bernoulli", "continuous_bernoulli"]
LOG_2 = math.log(2.0)
_SMALL = 1e-3  # below this |l| the normaliser uses its Taylor series (0/0 at l = 0)
_SMALL_MEAN = 1e-2  # and the mean, whose two terms (each about 1/l) cancel near 0


class _BernoulliNLL(torch.autograd.Function):
    """Σ_pixels softplus(l) − x·l, with the gradient sigmoid(l) − x written out: one pass each way instead of the
    several that autograd through binary_cross_entropy_with_logits takes (this loss is on every training step)."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(logits, x)
        return (F.softplus(logits) - x * logits).sum(-1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        logits, x = ctx.saved_tensors
        return (torch.sigmoid(logits) - x) * grad.unsqueeze(-1), None


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """−log p(x|z) summed over pixels: binary cross-entropy with logits (x may be continuous in [0, 1]); (...,)."""
    if torch.is_grad_enabled() and x.shape == logits.shape and not x.requires_grad:
        return _BernoulliNLL.apply(logits, x)
    return F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)


def continuous_bernoulli_log_norm(logits: torch.Tensor) -> torch.Tensor:
    """log C per pixel, C = l / tanh(l/2): the continuous Bernoulli's log normaliser, elementwise."""
    small = logits.abs() < _SMALL
    safe = torch.where(small, torch.ones_like(logits), logits)
    exact = torch.log(safe / torch.tanh(safe / 2))  # l / tanh(l/2) > 0 for every l ≠ 0
    taylor = LOG_2 + logits.square() / 12  # log 2·(1 + l²/12 + O(l⁴))
    return torch.where(small, taylor, exact)


def continuous_bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """−log p(x|z) of the continuous Bernoulli, summed over pixels: the Bernoulli's minus Σ log C; (...,)."""
    return bernoulli_nll(logits, x) - continuous_bernoulli_log_norm(logits).sum(-1)


def continuous_bernoulli_mean(logits: torch.Tensor) -> torch.Tensor:
    """E[x] of the continuous Bernoulli with logits l, elementwise, in (0, 1)."""
    small = logits.abs() < _SMALL_MEAN
    safe = torch.where(small, torch.ones_like(logits), logits)
    exact = torch.sigmoid(safe) / torch.tanh(safe / 2) - 1 / safe
    return torch.where(small, 0.5 + logits / 12, exact)


NLL: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "bernoulli": bernoulli_nll,
    "continuous_bernoulli": continuous_bernoulli_nll,
}
MEAN: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "bernoulli": torch.sigmoid,
    "continuous_bernoulli": continuous_bernoulli_mean,
}
LABELS = {"bernoulli": "Bernoulli", "continuous_bernoulli": "continuous Bernoulli"}
