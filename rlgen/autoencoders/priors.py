"""Priors p(z) of the VAE's latent space.

"standard": N(0, I), the VAE of Kingma & Welling (2014).

"vamp": the VampPrior (Tomczak & Welling, 2018), p(z) = (1/K)·Σ_k q(z | u_k), a mixture of the encoder's own
posteriors at K learned pseudo-inputs u_k (images, trained with the model). It fits the aggregate posterior
better than N(0, I), which raises the ELBO and leaves fewer regions of the prior that decode to nothing. For a
conditional VAE each pseudo-input belongs to one class (k mod classes) and p(z | y) mixes that class's posteriors,
so that a sample asked for class y starts from where class y's images are encoded.
"""

from __future__ import annotations

import math

import torch
from torch import nn

LOG_2PI = math.log(2 * math.pi)


def gaussian_log_density(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mean, diag exp(logvar)) summed over the last dim (broadcasting)."""
    return -0.5 * (LOG_2PI + logvar + (z - mean).square() / logvar.exp()).sum(-1)


def standard_log_density(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last dim."""
    return -0.5 * (LOG_2PI + z.square()).sum(-1)


def pairwise_log_density(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z_n; mean_k, diag exp(logvar_k)) for every z_n (…, D) and every component k of mean, logvar (K, D):
    (…, K). Expands Σ_d (z_d − m_kd)²/v_kd into z²·(1/v)ᵀ − 2·z·(m/v)ᵀ + Σ m²/v, two matrix products, so
    that no (…, K, D) tensor is made (the importance-sampled NLL scores 20,000 z's against K components at
    once)."""
    precision = (-logvar).exp()  # (K, D)
    flat = z.reshape(-1, z.shape[-1]).to(mean.dtype)
    squares = flat.square() @ precision.T - 2.0 * flat @ (mean * precision).T + (mean.square() * precision).sum(-1)
    constant = z.shape[-1] * LOG_2PI + logvar.sum(-1)  # (K,)
    return (-0.5 * (squares + constant)).reshape(*z.shape[:-1], -1)


class VampPrior(nn.Module):
    """K learned pseudo-inputs in [0, 1] (sigmoid of free parameters), with their classes when conditional."""

    def __init__(self, count: int, image_shape: tuple[int, ...], num_classes: int = 0):
        super().__init__()
        self.logits = nn.Parameter(0.1 * torch.randn(count, *image_shape))  # grey images of faint noise at the start
        labels = torch.arange(count) % num_classes if num_classes else torch.zeros(0, dtype=torch.long)
        self.register_buffer("labels", labels, persistent=False)
        self.num_classes = num_classes

    def inputs(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return torch.sigmoid(self.logits), (self.labels if self.num_classes else None)

    def log_density(self, z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor,
                    y: torch.Tensor | None = None) -> torch.Tensor:
        """log p(z) for z (…, B, D) given the components' posteriors mean, logvar (K, D); conditional: log p(z | y)
        with y (B,), mixing only class y's components: (…, B)."""
        log_q = pairwise_log_density(z, mean, logvar)  # (…, B, K)
        if not self.num_classes:
            return torch.logsumexp(log_q, -1) - math.log(len(mean))
        own = self.labels == y.unsqueeze(-1)  # (B, K)
        log_q = log_q.masked_fill(~own, -math.inf)
        return torch.logsumexp(log_q, -1) - own.sum(-1).to(log_q.dtype).log()

    def pick(self, n: int, generator: torch.Generator | None, labels: torch.Tensor | None) -> torch.Tensor:
        """Indices of the components to sample from: uniform over all, or over each asked class's own. Drawn with
        `generator` on the CPU, or without one on the labels' device (no host sync in a training step)."""
        device = torch.device("cpu") if generator is not None or labels is None else labels.device
        if labels is None or not self.num_classes:
            return torch.randint(len(self.logits), (n,), generator=generator, device=device)
        labels = labels.to(device)  # class c owns components c, c + classes, c + 2·classes, …
        counts = torch.bincount(self.labels.to(device), minlength=self.num_classes)[labels]  # (n,)
        offset = (torch.rand(n, generator=generator, device=device) * counts).long().clamp(max=counts - 1)
        return labels + offset * self.num_classes
