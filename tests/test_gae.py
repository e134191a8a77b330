"""GAE against a hand computation and against stable-baselines3's RolloutBuffer."""

import numpy as np
import pytest
import torch

from rlgen.agents.returns import gae

F, T_ = False, True


def test_gae_by_hand():
    # one env, three steps, episode terminates at t = 2
    r = torch.tensor([[1.0], [2.0], [3.0]])
    v = torch.tensor([[0.5], [1.0], [1.5]])
    nv = torch.tensor([[1.0], [1.5], [9.0]])  # V(s_{t+1}); the 9.0 after a terminal state must be ignored
    term = torch.tensor([[F], [F], [T_]])
    trunc = torch.zeros(3, 1, dtype=torch.bool)
    g, lam = 0.9, 0.8
    d2 = 3.0 - 1.5
    d1 = 2.0 + g * 1.5 - 1.0
    d0 = 1.0 + g * 1.0 - 0.5
    a2 = d2
    a1 = d1 + g * lam * a2
    a0 = d0 + g * lam * a1
    adv, ret = gae(r, v, nv, term, trunc, g, lam)
    assert torch.allclose(adv[:, 0], torch.tensor([a0, a1, a2]))
    assert torch.allclose(ret, adv + v)


def test_truncation_bootstraps_and_cuts_the_trace():
    r = torch.ones(3, 1)
    v = torch.zeros(3, 1)
    nv = torch.tensor([[0.0], [10.0], [0.0]])
    term = torch.zeros(3, 1, dtype=torch.bool)
    trunc = torch.tensor([[F], [T_], [F]])
    adv, _ = gae(r, v, nv, term, trunc, 0.5, 1.0)
    assert adv[1, 0] == pytest.approx(1 + 0.5 * 10)  # truncated: bootstrap from the final state's value
    assert adv[0, 0] == pytest.approx(1 + 0.5 * 0 + 0.5 * adv[1, 0])
    assert adv[2, 0] == pytest.approx(1.0)  # a new episode: nothing flows back across the cut


def test_lambda_one_gives_discounted_returns_minus_values():
    from rlgen.agents.returns import discounted_returns

    torch.manual_seed(0)
    r = torch.rand(6, 3)
    term = torch.rand(6, 3) < 0.2
    trunc = torch.zeros(6, 3, dtype=torch.bool)
    v = torch.rand(6, 3)
    next_values = torch.cat([v[1:], torch.zeros(1, 3)])  # V(s_{t+1}) telescopes away; 0 after the rollout's end
    adv, ret = gae(r, v, next_values, term, trunc, 0.9, 1.0)
    assert torch.allclose(ret, discounted_returns(r, term, trunc, 0.9), atol=1e-6)


def test_matches_stable_baselines3_rollout_buffer():
    from gymnasium import spaces
    from stable_baselines3.common.buffers import RolloutBuffer

    T, N, gamma, lam = 16, 4, 0.98, 0.8
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(T, N)).astype(np.float32)
    values = rng.normal(size=(T, N)).astype(np.float32)
    dones = rng.random((T, N)) < 0.15  # terminations (SB3 folds truncation into the reward instead)
    last_values = rng.normal(size=N).astype(np.float32)

    buffer = RolloutBuffer(T, spaces.Box(-1, 1, (2,)), spaces.Discrete(2), "cpu", gae_lambda=lam, gamma=gamma, n_envs=N)
    episode_start = np.zeros(N, dtype=bool)
    for t in range(T):
        buffer.add(np.zeros((N, 2)), np.zeros((N, 1)), rewards[t], episode_start, torch.tensor(values[t]), torch.zeros(N))
        episode_start = dones[t]  # SB3 resets in the same step: the next step starts a new episode
    buffer.compute_returns_and_advantage(torch.tensor(last_values), dones[-1])

    v = torch.tensor(values)
    next_values = torch.cat([v[1:], torch.tensor(last_values)[None]])  # V(s_{t+1}); ignored after a termination
    adv, ret = gae(torch.tensor(rewards), v, next_values, torch.tensor(dones), torch.zeros(T, N, dtype=torch.bool),
                   gamma, lam)
    np.testing.assert_allclose(adv.numpy(), buffer.advantages, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret.numpy(), buffer.returns, rtol=1e-5, atol=1e-5)
