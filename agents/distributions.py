"""Action distributions: what the actor's outputs mean, chosen from the environment's action space.

    Discrete(n)       → Categorical: n logits; a draw is argmax(logits + Gumbel noise), no host sync.
    Box(low, high)    → DiagonalGaussian: the mean of each action dimension (and, with `state_dependent_std`, its
                        log standard deviation; else one learned log-std per dimension, as in CleanRL's
                        continuous PPO). The sample u ~ N(mean, std²) is what the rollout keeps and what log π is
                        of; the env receives clip(u, low, high).
    Box, squash: true → SquashedGaussian: the same Gaussian, its sample u sent as
                        a = low + (tanh(u) + 1)(high − low)/2, and
                        log π(a) = log N(u) − Σ log((high − low)/2 · (1 − tanh²(u))) (the change of variables).

Every distribution draws from standard noise that the caller supplies (Gumbel for the categorical, N(0, 1) for
the Gaussians), so that the rollout collector can draw noise for many steps at once and save it with its state.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from rlgen.agents.memory import PolicyNetConfig
from rlgen.errors import ConfigError

LOG_2PI = math.log(2 * math.pi)


class ActorNetConfig(PolicyNetConfig):
    """The policy network, with what a continuous action space's Gaussian needs (ignored by a Discrete space)."""

    log_std_init: float = Field(default=0.0, ge=-5.0, le=2.0)
    """Initial log standard deviation of a Gaussian policy (0: std 1, CleanRL's and SB3's default)."""
    state_dependent_std: bool = False
    """The actor outputs each dimension's log-std beside its mean (default: one learned log-std per dimension)."""
    log_std_bounds: tuple[float, float] = (-20.0, 2.0)
    """A state-dependent log-std is clamped to this range."""
    squash: bool = False
    """Send tanh-squashed Gaussian actions, scaled to the space's bounds, instead of clipped ones."""


def gumbel_noise(*shape: int, device: torch.device | str) -> torch.Tensor:
    """Gumbel(0, 1) samples, −log(−log U), for drawing categorical actions by Gumbel-max."""
    u = torch.rand(*shape, device=device).clamp_(min=1e-20)
    return u.log_().neg_().log_().neg_()


def normal_noise(*shape: int, device: torch.device | str) -> torch.Tensor:
    return torch.randn(*shape, device=device)


class Categorical(nn.Module):
    """π(a|s) = softmax(logits)[a] over n actions."""

    def __init__(self, n: int):
        super().__init__()
        self.outputs = self.noise_width = n
        self.noise = gumbel_noise

    def sample(self, logits: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return (logits + noise).argmax(dim=-1)  # log-softmax only shifts each row: the same argmax

    def greedy(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(dim=-1)

    def log_prob_and_entropy(self, logits: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return log_prob_and_entropy(logits, actions)

    def to_env(self, actions: torch.Tensor) -> torch.Tensor:
        return actions


class DiagonalGaussian(nn.Module):
    """π(u|s) = Π_i N(u_i; mean_i(s), std_i²), with std_i learned per dimension or output by the actor."""

    def __init__(self, low: np.ndarray, high: np.ndarray, spec: ActorNetConfig):
        super().__init__()
        dims = len(low)
        self.state_dependent = spec.state_dependent_std
        self.outputs = 2 * dims if self.state_dependent else dims
        self.noise_width = dims
        self.noise = normal_noise
        self.log_std_init = spec.log_std_init
        self.log_std_bounds = spec.log_std_bounds
        if not self.state_dependent:
            self.log_std = nn.Parameter(torch.full((dims,), float(spec.log_std_init)))
        self.register_buffer("low", torch.as_tensor(low, dtype=torch.float32), persistent=False)
        self.register_buffer("high", torch.as_tensor(high, dtype=torch.float32), persistent=False)

    def mean_and_log_std(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.state_dependent:
            return outputs, self.log_std.expand_as(outputs)
        mean, log_std = outputs.chunk(2, dim=-1)
        # the head starts near 0, so the log-std starts near log_std_init
        return mean, (log_std + self.log_std_init).clamp(*self.log_std_bounds)

    def sample(self, outputs: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        mean, log_std = self.mean_and_log_std(outputs)
        return mean + log_std.exp() * noise

    def greedy(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.mean_and_log_std(outputs)[0]

    def log_prob_and_entropy(self, outputs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log π(u|s) of the unclipped samples and the entropy, both summed over the action's dimensions."""
        mean, log_std = self.mean_and_log_std(outputs)
        z = (actions - mean) * torch.exp(-log_std)
        logp = (-0.5 * z.square() - log_std - 0.5 * LOG_2PI).sum(-1)
        entropy = (log_std + 0.5 * (1.0 + LOG_2PI)).sum(-1)
        return logp, entropy

    def to_env(self, actions: torch.Tensor) -> torch.Tensor:
        return torch.maximum(torch.minimum(actions, self.high), self.low)


class SquashedGaussian(DiagonalGaussian):
    """The Gaussian's sample u sent as a = centre + half_range · tanh(u) (the greedy action: the squashed mean);
    log π(a) by the change of variables. Its entropy has no closed form: the entropy returned is the one-sample
    estimate −log π(a) of the given actions."""

    def log_prob_and_entropy(self, outputs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logp, _ = super().log_prob_and_entropy(outputs, actions)
        # log(1 − tanh²(u)) = 2 (log 2 − u − softplus(−2u)), stable for large |u|
        log_det = 2.0 * (math.log(2.0) - actions - F.softplus(-2.0 * actions)) + torch.log((self.high - self.low) / 2)
        logp = logp - log_det.sum(-1)
        return logp, -logp

    def to_env(self, actions: torch.Tensor) -> torch.Tensor:
        return self.low + (torch.tanh(actions) + 1.0) * (self.high - self.low) / 2


ActionDistribution = Categorical | DiagonalGaussian


def action_distribution(space: gym.Space | int, spec: PolicyNetConfig) -> ActionDistribution:
    """The distribution of `space`'s actions (Discrete, or an int: that many actions, or a bounded 1-D Box), with
    one-line errors otherwise."""
    if isinstance(space, int) and not isinstance(space, bool):
        space = gym.spaces.Discrete(space)
    squash = getattr(spec, "squash", False)
    if isinstance(space, gym.spaces.Discrete):
        if squash:
            raise ConfigError("policy.squash: a Discrete action space has no bounds to squash into; leave it false")
        return Categorical(int(space.n))
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        low, high = space.low.astype(np.float64), space.high.astype(np.float64)
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise ConfigError(f"the action space {space} is unbounded; rlgen's Gaussian policies clip or squash "
                             "actions into finite bounds")
        if not (low < high).all():
            raise ConfigError(f"the action space {space} has an empty range (low must be below high)")
        if not isinstance(spec, ActorNetConfig):
            spec = ActorNetConfig(**spec.model_dump())
        return (SquashedGaussian if squash else DiagonalGaussian)(low, high, spec)
    raise ConfigError(f"a {type(space).__name__} action space {space}: rlgen agents act in Discrete or 1-D Box "
                     "spaces")


def action_info(space: gym.Space) -> dict:
    """What meta.json says of the action space: the number of actions, or a Box's size and bounds."""
    if isinstance(space, gym.spaces.Discrete):
        return {"n_actions": int(space.n)}
    return {"action_dim": int(np.prod(space.shape)), "action_low": np.asarray(space.low).ravel().tolist(),
            "action_high": np.asarray(space.high).ravel().tolist()}


def log_prob_and_entropy(logits: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A categorical's log π(a|s) of the taken actions and its entropy, both shaped like `actions`."""
    logp_all = torch.log_softmax(logits, dim=-1)
    logp = logp_all.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp, entropy
