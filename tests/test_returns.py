"""Discounted returns against hand-computed values."""

import pytest
import torch

from rlgen.agents.returns import discounted_returns, masked_mean, masked_normalize

F, T_ = False, True


def col(*values):
    return torch.tensor(values, dtype=torch.float32).unsqueeze(1)  # (T, 1)


def flags(*values):
    return torch.tensor(values).unsqueeze(1)


def test_single_terminated_episode():
    g = discounted_returns(col(1, 1, 1), flags(F, F, T_), flags(F, F, F), gamma=0.9)
    assert torch.allclose(g[:, 0], torch.tensor([2.71, 1.9, 1.0]))


def test_returns_restart_after_each_episode():
    # episode 1: rewards 1, 2 (terminated); episode 2: 3, 4, 5 (terminated)
    g = discounted_returns(col(1, 2, 3, 4, 5), flags(F, T_, F, F, T_), flags(F, F, F, F, F), gamma=0.5)
    assert torch.allclose(g[:, 0], torch.tensor([1 + 0.5 * 2, 2, 3 + 0.5 * 4 + 0.25 * 5, 4 + 0.5 * 5, 5]))


def test_several_envs_with_different_lengths():
    rewards = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])  # env 1 ends after 2 steps, row 3 is padding
    terminated = torch.tensor([[F, F], [F, T_], [T_, F]])
    truncated = torch.zeros(3, 2, dtype=torch.bool)
    g = discounted_returns(rewards, terminated, truncated, gamma=0.9)
    assert torch.allclose(g[:, 0], torch.tensor([2.71, 1.9, 1.0]))
    assert torch.allclose(g[:2, 1], torch.tensor([1.9, 1.0]))


def test_truncated_episode_without_critic_is_cut():
    g = discounted_returns(col(1, 1, 1, 1), flags(F, F, F, F), flags(F, T_, F, F), gamma=0.9)
    # steps 0-1: truncated at 1, no bootstrap; steps 2-3: cut by the rollout's end
    assert torch.allclose(g[:, 0], torch.tensor([1.9, 1.0, 1.9, 1.0]))


def test_truncated_episode_bootstraps_from_critic():
    next_values = col(7, 10, 7, 20)  # V(s_{t+1}); used only where the episode was cut
    g = discounted_returns(col(1, 1, 1, 1), flags(F, F, F, F), flags(F, T_, F, F), gamma=0.9, next_values=next_values)
    expected_1 = 1 + 0.9 * 10
    expected_3 = 1 + 0.9 * 20
    assert torch.allclose(g[:, 0], torch.tensor([1 + 0.9 * expected_1, expected_1, 1 + 0.9 * expected_3, expected_3]))


def test_terminated_never_bootstraps():
    g = discounted_returns(col(1, 1), flags(F, T_), flags(F, F), gamma=0.9, next_values=col(100, 100))
    assert torch.allclose(g[:, 0], torch.tensor([1.9, 1.0]))


def test_gamma_one_sums_rewards_and_gamma_zero_keeps_reward():
    r, d, z = col(1, 2, 3), flags(F, F, T_), flags(F, F, F)
    assert torch.allclose(discounted_returns(r, d, z, 1.0)[:, 0], torch.tensor([6.0, 5.0, 3.0]))
    assert torch.allclose(discounted_returns(r, d, z, 0.0)[:, 0], torch.tensor([1.0, 2.0, 3.0]))


def test_masked_normalize_uses_only_valid_entries():
    x = torch.tensor([[1.0, 100.0], [3.0, -50.0]])
    mask = torch.tensor([[T_, F], [T_, F]])
    out = masked_normalize(x, mask)
    assert out[mask].mean().item() == pytest.approx(0.0, abs=1e-6)
    assert out[mask].std(unbiased=False).item() == pytest.approx(1.0, abs=1e-5)
    assert masked_mean(x, mask).item() == pytest.approx(2.0)
