"""Variational autoencoder (Kingma & Welling, 2014): Gaussian encoder q(z|x), decoder p(x|z) with a per-pixel
likelihood on logits (rlgen.autoencoders.likelihoods), prior N(0, I) or the VampPrior (rlgen.autoencoders.priors);
MLP or convolutional (rlgen.autoencoders.nets).

loss = E_q[−log p(x|z)] + β·KL(q(z|x) ‖ p(z)), both summed over pixels / latent units and averaged over the batch,
so with β = 1 the loss is the negative ELBO in nats per image. The KL is exact for N(0, I) and a one-sample
estimate, log q(z|x) − log p(z) at the z that was decoded, for the VampPrior.

The conditional VAE (Sohn et al., 2015) sees the label y in both networks, q(z|x, y) and p(x|z, y), with the
N(0, I) prior or a VampPrior of per-class pseudo-inputs p(z | y): its likelihoods are p(x | y), and asking the
decoder for class k gives clothes of class k.

Class guidance (`vae.class_guidance: λ`, in the spirit of the classifier network of CVAE-GAN, Bao et al. 2017):
a guide classifier learns the real images' labels, and each step also decodes one image from z ~ p(z | y) per
batch label y, which adds λ·CE(guide(image), y) to the loss through the decoder and the prior (not the guide): the
model is pushed to draw clothes whose class can be told, not only images with a high likelihood. The loss is then
no longer the −ELBO (evaluation reports the −ELBO and the NLL themselves).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.func import functional_call

from rlgen.autoencoders.base import Autoencoder, AutoencoderOutput
from rlgen.autoencoders.config import AutoencoderNetConfig, VAEConfig
from rlgen.autoencoders.likelihoods import MEAN, NLL
from rlgen.autoencoders.nets import build_decoder, build_encoder, decode_logits, with_label_planes
from rlgen.autoencoders.priors import VampPrior, gaussian_log_density, standard_log_density
from rlgen.nets import build_mlp


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) ‖ N(0, I)) summed over the last dim: ½·Σ(σ² + μ² − 1 − log σ²)."""
    return 0.5 * (logvar.exp() + mean.square() - 1.0 - logvar).sum(-1)


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
        self.decoder = build_decoder(net, image_shape, net.latent + self.num_classes,
                                     self.num_classes if cfg.label_every_layer else 0)
        self.latent = net.latent
        self.nll = NLL[cfg.likelihood]
        self.vamp = VampPrior(cfg.pseudo_inputs, image_shape, self.num_classes) if cfg.prior == "vamp" else None
        self.guide = (build_encoder(net, image_shape, self.num_classes, hidden=[cfg.guide_hidden])
                      if cfg.class_guidance else None)

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

    def prior_components(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The VampPrior's components: the encoder's posteriors at the pseudo-inputs, mean and log-variance (K, D)
        each (recomputed whenever the networks may have changed); None for N(0, I)."""
        return None if self.vamp is None else self.posterior(*self.vamp.inputs())

    def log_prior(self, z: torch.Tensor, y: torch.Tensor | None = None,
                  components: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """log p(z) (log p(z | y) for a conditional VampPrior), summed over latent units: z (…, B, D) → (…, B)."""
        if self.vamp is None:
            return standard_log_density(z)
        if components is None:
            components = self.prior_components()
        if y is not None and y.is_floating_point():
            y = y.argmax(-1)
        return self.vamp.log_density(z, *components, y)

    def kl(self, z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor, y: torch.Tensor | None,
           components: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """KL(q(z|x) ‖ p(z)) per image: exact for N(0, I), else log q(z|x) − log p(z) at the sampled z: (B,)."""
        if self.vamp is None:
            return gaussian_kl(mean, logvar)
        return gaussian_log_density(z, mean, logvar) - self.log_prior(z, y, components)

    def loss_terms(self, x: torch.Tensor, x_in: torch.Tensor, y: torch.Tensor | None = None) -> AutoencoderOutput:
        mean, logvar = self.posterior(x_in, y)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)  # reparameterisation trick
        logits = self.decode_logits(z, y).float()
        components = self.prior_components()
        recon = self.nll(logits, x.flatten(1)).mean()
        reg = self.cfg.beta * self.kl(z, mean, logvar, y, components).mean()
        if self.guide is None:
            return AutoencoderOutput(recon + reg, recon, reg, logits, z)
        guide_real = F.cross_entropy(self.guide(x).float(), y)  # trains the guide
        drawn = self.prior_draw(torch.randn_like(mean), y, components)
        images = self.pixel_mean(self.decode_logits(drawn, y).float()).unflatten(-1, self.image_shape)
        frozen = {name: p.detach() for name, p in self.guide.named_parameters()}  # judges, does not learn, here
        guide = F.cross_entropy(functional_call(self.guide, frozen, (images,)).float(), y)
        loss = recon + reg + self.cfg.class_guidance * guide + guide_real
        return AutoencoderOutput(loss, recon, reg, logits, z, {"guide_loss": guide, "guide_real_loss": guide_real})

    @torch.no_grad()
    def negative_elbo(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """One-sample estimate of −ELBO per image (β = 1 whatever was trained): (B,)."""
        mean, logvar = self.posterior(x, y)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        return self.nll(self.decode_logits(z, y).float(), x.flatten(1)) + self.kl(z, mean, logvar, y)

    @torch.no_grad()
    def importance_sampled_nll(self, x: torch.Tensor, samples: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """−log p(x) ≈ −log (1/K)·Σ_k p(x|z_k)·p(z_k)/q(z_k|x), z_k ~ q(z|x) (Burda et al., 2016): (B,).
        Conditional: −log p(x|y), with q(z|x, y) and p(x|z, y)."""
        mean, logvar = self.posterior(x, y)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(samples, *mean.shape, device=x.device)  # (K, B, latent)
        log_px_z = -self.nll(self.decode_logits(z, y).float(), x.flatten(1))  # (K, B)
        log_pz = self.log_prior(z, y)
        log_qz = gaussian_log_density(z, mean, logvar)
        return -(torch.logsumexp(log_px_z + log_pz - log_qz, dim=0) - math.log(samples))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, labels: torch.Tensor | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """n new images in [0, 1], (n, C, H, W): decode z ~ p(z) (of class `labels[i]` when conditional).
        `temperature` T scales the Gaussian noise: z = μ + T·σ·ε (T < 1 trades variety for typical images, as in
        Kingma & Dhariwal 2018 and BigGAN's truncation; T = 1 samples the model itself)."""
        device = next(self.parameters()).device
        noise = temperature * torch.randn(n, self.latent, generator=generator).to(device)
        labels = labels.to(device) if labels is not None else None
        return self.decode(self.prior_draw(noise, labels, self.prior_components(), generator), labels)

    def prior_draw(self, noise: torch.Tensor, labels: torch.Tensor | None,
                   components: tuple[torch.Tensor, torch.Tensor] | None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ p(z) (p(z | labels)) from standard normal `noise` (n, latent): the noise itself for N(0, I); for the
        VampPrior a component each (drawn with `generator`, else on the noise's device), then μ_k + σ_k·noise."""
        if components is None:
            return noise
        mean, logvar = components
        k = self.vamp.pick(len(noise), generator, labels).to(noise.device)  # a component each, then z ~ q(z | u_k)
        return mean[k] + torch.exp(0.5 * logvar[k]) * noise
