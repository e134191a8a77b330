"""Variational autoencoder (Kingma & Welling, 2014): Gaussian encoder q(z|x), decoder p(x|z) with a per-pixel
likelihood on logits (rlgen.autoencoders.likelihoods), prior N(0, I); MLP or convolutional (rlgen.autoencoders.nets).

loss = E_q[−log p(x|z)] + β·KL(q(z|x) ‖ N(0, I)), both summed over pixels / latent units and averaged over the
batch, so with β = 1 the loss is the negative ELBO in nats per image.

The conditional VAE (Sohn et al., 2015) sees the label y in both networks, q(z|x, y) and p(x|z, y), with the same
N(0, I) prior: its likelihoods are p(x | y), and asking the decoder for class k gives clothes of class k.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rlgen.autoencoders.base import Autoencoder, AutoencoderOutput
from rlgen.autoencoders.config import AutoencoderNetConfig, VAEConfig
from rlgen.autoencoders.likelihoods import MEAN, NLL
from rlgen.autoencoders.nets import build_decoder, build_encoder, decode_logits, with_label_planes
from rlgen.nets import build_mlp

LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) ‖ N(0, I)) summed over the last dim: ½·Σ(σ² + μ² − 1 − log σ²)."""
    return 0.5 * (logvar.exp() + mean.square() - 1.0 - logvar).sum(-1)


def gaussian_log_density(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * (LOG_2PI + logvar + (z - mean).square() / logvar.exp()).sum(-1)


class VariationalAutoencoder(Autoencoder):
    generative = True

    def __init__(self, net: AutoencoderNetConfig, cfg: VAEConfig, image_shape: tuple[int, ...], num_classes: int = 0):
        super().__init__(image_shape)
        self.cfg = cfg
        self.conditional = cfg.conditional
        self.num_classes = num_classes if cfg.conditional else 0
        self.conv = bool(net.conv)
        *inner, last = net.hidden
        # the trunk reads images (with label planes when conditional) up to the last hidden layer; the heads read it
        self.trunk = build_encoder(net, image_shape, last, self.num_classes, net.activation, inner)
        self.mean_head = build_mlp(net.mlp([]), last, net.latent)
        self.logvar_head = build_mlp(net.mlp([]), last, net.latent)
        self.decoder = build_decoder(net, image_shape, net.latent + self.num_classes)
        self.latent = net.latent
        self.nll = NLL[cfg.likelihood]

    def onehot(self, y: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
        """The label as the networks see it: one-hot float (…, classes); None for an unconditional model. Float y
        of shape (…, classes) passes as it is (a mix of classes, as in a walk from one class to another)."""
        if not self.conditional:
            return None
        if y is None:
            raise ValueError("a conditional VAE needs the images' labels")
        if y.is_floating_point():
            return y.to(like.dtype)
        return F.one_hot(y, self.num_classes).to(like.dtype)

    def posterior(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x[, y]) for images x: (B, C, H, W) → mean, log-variance, (B, latent) each."""
        h = self.trunk(with_label_planes(x, self.onehot(y, x), self.conv))
        return self.mean_head(h).float(), self.logvar_head(h).float()  # (B, latent) each; float32 under autocast too

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.posterior(x, y)[0]

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Pixel logits of p(x|z[, y]): z (…, latent), y broadcast to z's leading dims → (…, D)."""
        onehot = self.onehot(y, z)
        if onehot is not None:
            z = torch.cat([z, onehot.expand(*z.shape[:-1], -1)], -1)
        return decode_logits(self.decoder, z)

    def pixel_mean(self, logits: torch.Tensor) -> torch.Tensor:
        return MEAN[self.cfg.likelihood](logits)

    def loss_terms(self, x: torch.Tensor, x_in: torch.Tensor, y: torch.Tensor | None = None) -> AutoencoderOutput:
        mean, logvar = self.posterior(x_in, y)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)  # reparameterisation trick
        logits = self.decode_logits(z, y).float()
        recon = self.nll(logits, x.flatten(1)).mean()
        kl = gaussian_kl(mean, logvar).mean()
        reg = self.cfg.beta * kl
        return AutoencoderOutput(recon + reg, recon, reg, logits, z)

    @torch.no_grad()
    def negative_elbo(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """One-sample estimate of −ELBO per image (β = 1 whatever was trained): (B,)."""
        mean, logvar = self.posterior(x, y)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        return self.nll(self.decode_logits(z, y).float(), x.flatten(1)) + gaussian_kl(mean, logvar)

    @torch.no_grad()
    def importance_sampled_nll(self, x: torch.Tensor, samples: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """−log p(x) ≈ −log (1/K)·Σ_k p(x|z_k)·p(z_k)/q(z_k|x), z_k ~ q(z|x) (Burda et al., 2016): (B,).
        Conditional: −log p(x|y), with q(z|x, y) and p(x|z, y)."""
        mean, logvar = self.posterior(x, y)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(samples, *mean.shape, device=x.device)  # (K, B, latent)
        log_px_z = -self.nll(self.decode_logits(z, y).float(), x.flatten(1))  # (K, B)
        log_pz = -0.5 * (LOG_2PI + z.square()).sum(-1)
        log_qz = gaussian_log_density(z, mean, logvar)
        return -(torch.logsumexp(log_px_z + log_pz - log_qz, dim=0) - math.log(samples))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, labels: torch.Tensor | None = None
               ) -> torch.Tensor:
        """n new images in [0, 1], (n, C, H, W): decode z ~ N(0, I) (of class `labels[i]` when conditional)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent, generator=generator).to(device)
        return self.decode(z, labels.to(device) if labels is not None else None)
