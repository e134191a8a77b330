"""Proximal policy optimisation with the clipped surrogate (Schulman et al., 2017)."""

from __future__ import annotations

import torch
from pydantic import Field

from rlgen.agents.a2c import critic_targets
from rlgen.agents.returns import MaskedMeans, masked_normalize, ranks_mean
from rlgen.agents.rollout import Rollout
from rlgen.agents.update import Update
from rlgen.schema import Strict


class PPOConfig(Strict):
    gamma: float = Field(default=0.99, ge=0.0, le=1.0)
    gae_lambda: float = Field(default=0.95, ge=0.0, le=1.0)
    clip_range: float = Field(default=0.2, gt=0.0, le=1e3)
    """ε of the clipped surrogate: the ratio π/π_old is kept within [1 − ε, 1 + ε]."""
    clip_range_vf: float | None = Field(default=None, gt=0.0, le=1e3)
    """Clip the new value prediction to within this of the old one (None: unclipped value loss)."""
    anneal_clip_range: bool = False
    """Decay ε linearly to 0 over training, like the learning rate's linear schedule."""
    value_coef: float = Field(default=0.5, ge=0.0, le=1e3)
    entropy_coef: float = Field(default=0.0, ge=0.0, le=1e3)
    epochs: int = Field(default=10, ge=1, le=100_000)
    """Passes over each rollout."""
    minibatches: int = Field(default=4, ge=1, le=10**6)
    """Minibatches per pass: the rollout's T·N samples split evenly; for a recurrent policy its N env copies (whole
    sequences), so at most env.num_envs."""
    normalize_advantages: bool = True
    """Normalise advantages within each minibatch."""
    target_kl: float | None = Field(default=None, gt=0.0, le=1e3)
    """Stop the epochs early once the approximate KL to the old policy passes 1.5 × this (None: never)."""


class PPO(Update):
    cfg: PPOConfig

    def clip_range(self) -> float:
        if not self.cfg.anneal_clip_range:
            return self.cfg.clip_range
        return self.cfg.clip_range * max(0.0, 1.0 - self.optimizer.fraction_done())

    def update(self, rollout: Rollout) -> dict[str, torch.Tensor]:
        """`epochs` passes over the rollout in `minibatches` minibatches: of single transitions, shuffled, for a
        feed-forward policy; of whole env-copy sequences with the states they began in (time order kept inside
        each) for a recurrent one, as sb3-contrib's RecurrentPPO and CleanRL's LSTM PPO do."""
        cfg = self.cfg
        old_values, advantages, returns = critic_targets(self.policy, rollout, cfg.gamma, cfg.gae_lambda)
        with torch.no_grad():  # the policy that collected the rollout, which is unchanged until the first step below
            old_logits = self.policy.rollout_logits(rollout)
            old_logp, _ = self.policy.log_prob_and_entropy(old_logits, rollout.actions)  # (T, N)
        # what the loss weighs and compares with, a row each, so that one index picks all five for a minibatch
        targets = torch.stack((rollout.valid.float(), old_logp, old_values, advantages, returns))  # (5, T, N)
        recurrent = self.policy.recurrent
        if recurrent:  # minibatches of env copies: each index picks a whole column of the (T, N) tensors
            units = rollout.valid.shape[1]
        else:  # minibatches of transitions: the (T, N) tensors flattened
            units = rollout.valid.numel()
            flat = lambda x: x.reshape(-1, *x.shape[2:])  # (T, N, ...) → (T·N, ...)  # noqa: E731
            obs, actions = self.policy.as_seen(flat(rollout.obs)), flat(rollout.actions)  # normalised once
            targets = targets.reshape(5, -1)
        device = rollout.valid.device
        size = -(-units // cfg.minibatches)  # ceil
        eps = self.clip_range()
        sums = torch.zeros(4, device=device)  # loss, policy loss, value loss, entropy
        approx_kl = clip_fraction = torch.zeros((), device=device)
        updates = 0
        for epoch in range(cfg.epochs):
            order = torch.randperm(units, device=device)
            if not recurrent:  # shuffled once per epoch, so that each minibatch is a slice of it
                shuffled_obs, shuffled_actions, shuffled = obs[order], actions[order], targets[:, order]
            stop = False
            for start in range(0, units, size):
                if recurrent:
                    idx = order[start : start + size]
                    part = rollout.select(idx)
                    logits, values = self.policy.rollout_logits(part), self.policy.rollout_values(part, False)
                    taken = part.actions
                    weight, old_lp, old_v, adv, ret = targets[:, :, idx]
                else:
                    rows = slice(start, start + size)
                    seen, taken = shuffled_obs[rows], shuffled_actions[rows]
                    logits, values = self.policy.logits(seen, True), self.policy.value(seen, True)
                    weight, old_lp, old_v, adv, ret = shuffled[:, rows]
                mean = MaskedMeans(weight)
                logp, entropy = self.policy.log_prob_and_entropy(logits, taken)
                log_ratio = logp - old_lp
                ratio = log_ratio.exp()
                neg_adv = -(masked_normalize(adv, weight) if cfg.normalize_advantages else adv)
                pg_loss = mean(torch.max(neg_adv * ratio, neg_adv * ratio.clamp(1 - eps, 1 + eps)))
                if cfg.clip_range_vf is not None:
                    values = old_v + (values - old_v).clamp(-cfg.clip_range_vf, cfg.clip_range_vf)
                value_loss = mean((ret - values).square())
                entropy_mean = mean(entropy)
                last = epoch == cfg.epochs - 1 and start + size >= units
                if cfg.target_kl is not None or last:  # reported: the last minibatch's
                    with torch.no_grad():
                        approx_kl = mean((ratio - 1) - log_ratio)  # Schulman's k3 estimator
                        clip_fraction = mean(((ratio - 1).abs() > eps).float())
                if cfg.target_kl is not None and float(ranks_mean(approx_kl)) > 1.5 * cfg.target_kl:  # all agree
                    stop = True
                    break
                loss = pg_loss + cfg.value_coef * value_loss
                if cfg.entropy_coef > 0:  # else left out of the graph: its backward would only add zeros
                    loss = loss - cfg.entropy_coef * entropy_mean
                self.optimizer.step(loss)
                sums += torch.stack([loss.detach(), pg_loss.detach(), value_loss.detach(), entropy_mean.detach()])
                updates += 1
            if stop:
                break
        means = sums / max(updates, 1)
        return {"train/loss": means[0], "train/policy_loss": means[1], "train/value_loss": means[2],
                "train/entropy": means[3], "train/approx_kl": approx_kl, "train/clip_fraction": clip_fraction,
                "train/clip_range": torch.tensor(eps), "train/updates": torch.tensor(float(updates))}
