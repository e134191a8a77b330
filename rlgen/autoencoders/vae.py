"""Variational autoencoder (Kingma & Welling, 2014): Gaussian encoder, Bernoulli decoder on logits.

loss = E_q[−log p(x|z)] + β·KL(q(z|x) ‖ N(0, I)), both summed over pixels / latent units and averaged over the
batch, so with β = 1 the loss is the negative ELBO in nats per image.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from rlgen.autoencoders.base import Autoencoder, AutoencoderOutput
from rlgen.autoencoders.config import AutoencoderNetConfig, VAEConfig
from rlgen.nets import build_mlp

LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) ‖ N(0, I)) summed over the last dim: ½·Σ(σ² + μ² − 1 − log σ²)."""
    return 0.5 * (logvar.exp() + mean.square() - 1.0 - logvar).sum(-1)


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


def gaussian_log_density(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * (LOG_2PI + logvar + (z - mean).square() / logvar.exp()).sum(-1)


class VariationalAutoencoder(Autoencoder):
    generative = True

    def __init__(self, net: AutoencoderNetConfig, cfg: VAEConfig, image_shape: tuple[int, ...]):
        super().__init__(image_shape)
        self.cfg = cfg
        *inner, last = net.hidden
        # trunk[0] flattens the images; the heads read the trunk's last layer
        self.trunk = nn.Sequential(
            nn.Flatten(), *build_mlp(net.mlp(inner, output_activation=net.activation), self.pixels, last))
        self.mean_head = build_mlp(net.mlp([]), last, net.latent)
        self.logvar_head = build_mlp(net.mlp([]), last, net.latent)
        self.decoder = build_mlp(net.mlp(net.hidden[::-1]), net.latent, self.pixels)
        self.latent = net.latent

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x) for images x: (B, C, H, W) → mean, log-variance, (B, latent) each."""
        h = self.trunk(x)
        return self.mean_head(h).float(), self.logvar_head(h).float()  # (B, latent) each; float32 under autocast too

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    def loss_terms(self, x: torch.Tensor, x_in: torch.Tensor) -> AutoencoderOutput:
        mean, logvar = self.posterior(x_in)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)  # reparameterisation trick
        logits = self.decoder(z).float()
        recon = bernoulli_nll(logits, x.flatten(1)).mean()
        kl = gaussian_kl(mean, logvar).mean()
        reg = self.cfg.beta * kl
        return AutoencoderOutput(recon + reg, recon, reg, logits, z)

    @torch.no_grad()
    def negative_elbo(self, x: torch.Tensor) -> torch.Tensor:
        """One-sample estimate of −ELBO per image (β = 1 whatever was trained): (B,)."""
        mean, logvar = self.posterior(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        return bernoulli_nll(self.decoder(z), x.flatten(1)) + gaussian_kl(mean, logvar)

    @torch.no_grad()
    def importance_sampled_nll(self, x: torch.Tensor, samples: int) -> torch.Tensor:
        """−log p(x) ≈ −log (1/K)·Σ_k p(x|z_k)·p(z_k)/q(z_k|x), z_k ~ q(z|x) (Burda et al., 2016): (B,)."""
        mean, logvar = self.posterior(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(samples, *mean.shape, device=x.device)  # (K, B, latent)
        log_px_z = -bernoulli_nll(self.decoder(z), x.flatten(1))  # (K, B)
        log_pz = -0.5 * (LOG_2PI + z.square()).sum(-1)
        log_qz = gaussian_log_density(z, mean, logvar)
        return -(torch.logsumexp(log_px_z + log_pz - log_qz, dim=0) - math.log(samples))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new images in [0, 1], (n, C, H, W): decode z ~ N(0, I)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent, generator=generator).to(device)
        return self.decode(z)
