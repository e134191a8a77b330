"""A policy (categorical or Gaussian, chosen from the action space: agents/distributions.py) with an optional value
head, both built by the core's network builder, either of them feed-forward or recurrent (agents/memory.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import gymnasium as gym
import torch
from torch import nn

from rlgen.agents.distributions import action_distribution
from rlgen.agents.memory import MemoryNet, PolicyNetConfig
from rlgen.agents.obs_norm import ObservationStats
from rlgen.nets import MLPConfig, build_mlp

if TYPE_CHECKING:
    from rlgen.agents.rollout import Rollout

Memory = dict[str, torch.Tensor]  # "actor" / "critic" → (K, layers, N, H): the state of the recurrent networks


def _network(spec: PolicyNetConfig | MLPConfig, in_features: int, out_features: int) -> nn.Module:
    """A recurrent network where the spec asks for one, else the MLP (a plain MLPConfig is a feed-forward spec)."""
    if getattr(spec, "recurrent", None) is not None:
        return MemoryNet(spec, in_features, out_features)
    return build_mlp(spec, in_features, out_features)


def _layers(net: nn.Module | None, obs_stats: ObservationStats | None) -> tuple[nn.Module, ...]:
    """A feed-forward network's layers without their Sequential wrappers, after the observation normalisation (none
    for a recurrent or missing network)."""
    if net is None or isinstance(net, MemoryNet):
        return ()
    layers = tuple(m for m in net.modules() if not isinstance(m, nn.Sequential))
    return layers if obs_stats is None else (obs_stats, *layers)


class ActorCritic(nn.Module):
    """π(a|s) from `actor`'s outputs ("logits" below: a categorical's logits, or a Gaussian's mean and maybe its
    log-std) read by `dist`; V(s) from a separate `critic` when the algorithm uses one.

    A feed-forward network maps observations of any leading shape; a recurrent one (`MemoryNet`) reads whole
    rollouts through `rollout_logits` / `rollout_values`, and steps through `step` with its state, so the updates
    call those two and never need to know which kind they have. With `obs_stats`, both networks read normalised
    observations (agents/obs_norm.py); every method here takes the env's own observations."""

    def __init__(self, obs_dim: int, action_space: gym.Space | int, policy: PolicyNetConfig | MLPConfig,
                 value: PolicyNetConfig | MLPConfig | None, obs_stats: ObservationStats | None = None):
        super().__init__()
        self.obs_stats = obs_stats
        self.reward_scale: nn.Module | None = None  # agents/obs_norm.py's RewardScale, where the run scales rewards
        self.dist = action_distribution(action_space, policy)
        self.actor = _network(policy, obs_dim, self.dist.outputs)
        self.critic = _network(value, obs_dim, 1) if value is not None else None
        self.memories = {name: net for name, net in (("actor", self.actor), ("critic", self.critic))
                         if isinstance(net, MemoryNet)}
        self.recurrent = bool(self.memories)
        # the actor's layers without their Sequential wrappers: on small batches each module call costs as much
        # as the layer's own work, so a rollout step calls only the layers (a plain tuple, not registered again)
        self._actor_layers, self._critic_layers = (_layers(net, obs_stats) for net in (self.actor, self.critic))

    def as_seen(self, obs: torch.Tensor) -> torch.Tensor:
        """The observations as the networks see them (normalised, where the run normalises)."""
        return obs if self.obs_stats is None else self.obs_stats(obs)

    # -- feed-forward networks: any leading shape ---------------------------------------------------------------------
    def logits(self, obs: torch.Tensor, seen: bool = False) -> torch.Tensor:
        """`seen`: obs are already as the networks see them (`as_seen`: an update normalises a rollout once)."""
        for layer in self._actor_layers[self._skip(seen):]:
            obs = layer(obs)
        return obs  # (..., A)

    def _skip(self, seen: bool) -> int:
        return int(seen and self.obs_stats is not None)

    def value(self, obs: torch.Tensor, seen: bool = False) -> torch.Tensor:
        if self.critic is None:
            return torch.zeros(obs.shape[:-1], device=obs.device)
        if not self._critic_layers:  # a recurrent critic stepped without its state: MemoryNet's own forward
            return self.critic(obs if seen else self.as_seen(obs)).squeeze(-1)
        for layer in self._critic_layers[self._skip(seen):]:
            obs = layer(obs)
        return obs.squeeze(-1)  # (...,)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, greedy: bool = False) -> torch.Tensor:
        """The most likely action (greedy) or a draw from π(·|obs), for each observation, as the env takes it."""
        return self.choose(self.logits(obs), greedy)

    def choose(self, logits: torch.Tensor, greedy: bool) -> torch.Tensor:
        """The env's action from the actor's outputs: the most likely one (greedy) or a fresh draw."""
        if greedy:
            action = self.dist.greedy(logits)
        else:
            action = self.dist.sample(logits, self.dist.noise(*logits.shape[:-1], self.dist.noise_width,
                                                              device=logits.device))
        return self.dist.to_env(action)

    def sample(self, obs: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """A draw from π(·|obs) with the caller's standard noise (Gumbel for a categorical: Gumbel-max, with no
        host sync; N(0, 1) for a Gaussian), as the rollout keeps it (`dist.to_env` maps it to the env's action).
        Call it under torch.no_grad()."""
        return self.dist.sample(self.logits(obs), noise)

    def log_prob_and_entropy(self, logits: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log π(a|s) of the rollout's actions and the policy's entropy, shaped like the actions' (T, N)."""
        return self.dist.log_prob_and_entropy(logits, actions)

    # -- either kind: what the rollout step and the updates call ---------------------------------------------------
    def initial_memory(self, copies: int, device: torch.device | str) -> Memory:
        """Zero states of the recurrent networks for `copies` env copies (empty for a feed-forward policy)."""
        return {name: net.initial_state(copies, device) for name, net in self.memories.items()}

    def step_logits(self, obs: torch.Tensor, memory: Memory, start: torch.Tensor) -> tuple[torch.Tensor, Memory]:
        """Logits of one step of N copies (obs (N, D); start (N,): obs is an episode's first) and the actor's new
        state; a recurrent critic's state is not stepped here (the collector replays it once per rollout)."""
        if "actor" not in memory:
            return self.logits(obs), memory
        logits, state = self.actor.step(self.as_seen(obs), memory["actor"], start)
        return logits, {**memory, "actor": state}

    def rollout_logits(self, rollout: "Rollout") -> torch.Tensor:
        """(T, N, A) logits of a rollout's observations, a recurrent actor from the state the rollout began in."""
        if "actor" in self.memories:
            return self.actor.sequence(self.as_seen(rollout.obs), rollout.starts, rollout.memory["actor"])[0]
        return self.logits(rollout.obs)

    def rollout_values(self, rollout: "Rollout", bootstrap: bool = True) -> torch.Tensor:
        """V of a rollout's observations, (T, N); with `bootstrap`, of its final observations too, (T + 1, N)."""
        obs = torch.cat([rollout.obs, rollout.last_obs.unsqueeze(0)]) if bootstrap else rollout.obs
        if "critic" not in self.memories:
            return self.value(obs)
        starts = torch.cat([rollout.starts, rollout.last_start.unsqueeze(0)]) if bootstrap else rollout.starts
        return self.critic.sequence(self.as_seen(obs), starts, rollout.memory["critic"])[0].squeeze(-1)

    def critic_state_after(self, rollout: "Rollout") -> torch.Tensor:
        """A recurrent critic's state after reading the rollout's observations (where the next rollout begins)."""
        return self.critic.sequence(self.as_seen(rollout.obs), rollout.starts, rollout.memory["critic"])[1]

