"""rlgen's torch Pendulum against gymnasium's Pendulum-v1: one step, whole episodes, resets, start states, state."""

import math

import gymnasium as gym
import numpy as np
import torch

from rlgen.envs.make import EnvConfig, make_vec_env
from rlgen.envs.torch_pendulum import TorchPendulumVectorEnv


def gymnasium_pendulum(seed):
    env = gym.make("Pendulum-v1")
    env.reset(seed=seed)
    return env


def test_one_step_from_the_same_state_is_gymnasiums():
    rng = np.random.default_rng(0)
    n = 256
    theta, theta_dot = rng.uniform(-4, 4, n), rng.uniform(-9, 9, n)  # beyond the speed limit and ±π too
    torque = rng.uniform(-3, 3, n)  # beyond ±2: both clip
    ours = TorchPendulumVectorEnv(n)
    ours.reset(seed=0)
    ours.state = torch.tensor(np.stack([theta, theta_dot]))
    obs, reward, terminated, truncated, _ = ours.step(torch.tensor(torque).reshape(n, 1))
    theirs = gymnasium_pendulum(0)
    for i in range(n):
        theirs.unwrapped.state = np.array([theta[i], theta_dot[i]])
        expected_obs, expected_reward, term, trunc, _ = theirs.step(np.array([torque[i]]))
        assert np.allclose(obs[i].numpy(), expected_obs, atol=1e-6), i
        assert math.isclose(float(reward[i]), expected_reward, rel_tol=1e-6, abs_tol=1e-6), i
        assert not term and not terminated[i] and not truncated[i]  # (gymnasium's TimeLimit counts these steps)


def test_a_whole_episode_from_gymnasiums_start_ends_where_gymnasiums_does_and_the_next_step_resets():
    theirs = gymnasium_pendulum(3)
    ours = TorchPendulumVectorEnv(1)
    ours.reset(seed=3)
    ours.state = torch.tensor(theirs.unwrapped.state, dtype=torch.float64).reshape(2, 1)
    rng = np.random.default_rng(1)
    total_theirs = total_ours = 0.0
    for t in range(200):
        u = rng.uniform(-2, 2, 1).astype(np.float32)
        expected_obs, r, term, trunc, _ = theirs.step(u)
        obs, reward, terminated, truncated, _ = ours.step(torch.tensor(u).reshape(1, 1))
        total_theirs, total_ours = total_theirs + r, total_ours + float(reward[0])
        assert np.allclose(obs[0].numpy(), expected_obs, atol=1e-5), t
        assert bool(truncated[0]) == trunc == (t == 199) and not terminated[0] and not term
    assert math.isclose(total_ours, total_theirs, rel_tol=1e-5)
    obs, reward, terminated, truncated, _ = ours.step(torch.zeros(1, 1))  # the reset step: a new episode's start
    assert float(reward[0]) == 0.0 and not truncated[0] and int(ours.steps[0]) == 0
    assert abs(float(ours.state[0, 0])) <= math.pi and abs(float(ours.state[1, 0])) <= 1.0


def test_start_states_are_gymnasiums_distribution_and_seeded():
    env = TorchPendulumVectorEnv(20_000)
    env.reset(seed=5)
    theta, theta_dot = env.state
    assert theta.abs().max() <= math.pi and theta_dot.abs().max() <= 1.0
    # uniform: mean 0, standard deviation high/√3
    assert abs(float(theta.mean())) < 0.05 and abs(float(theta.std()) - math.pi / math.sqrt(3)) < 0.02
    assert abs(float(theta_dot.mean())) < 0.02 and abs(float(theta_dot.std()) - 1 / math.sqrt(3)) < 0.01
    again = TorchPendulumVectorEnv(20_000)
    again.reset(seed=5)
    assert torch.equal(env.state, again.state)


def test_a_saved_state_continues_the_same_episodes():
    env = TorchPendulumVectorEnv(6)
    env.reset(seed=2)
    actions = torch.rand(300, 6, 1, generator=torch.Generator().manual_seed(0)) * 4 - 2
    for a in actions[:150]:
        env.step(a)
    saved = env.get_state()
    first = [env.step(a)[:4] for a in actions[150:]]
    env.set_state(saved)
    second = [env.step(a)[:4] for a in actions[150:]]
    assert all(torch.equal(x, y) for a, b in zip(first, second) for x, y in zip(a, b))
    assert sum(int(step[3].sum()) for step in first) == 6  # each copy's episode ended once, at step 200


def test_the_torch_backend_builds_it_and_gymnasium_makes_its_single_copy():
    envs = make_vec_env(EnvConfig(id="Pendulum-v1", backend="torch", num_envs=3))
    assert isinstance(envs, TorchPendulumVectorEnv) and envs.single_action_space.shape == (1,)
    env = gym.make("rlgen/Pendulum-v1")
    obs, _ = env.reset(seed=0)
    steps = 0
    while True:
        obs, reward, terminated, truncated, _ = env.step(np.array([0.5], dtype=np.float32))
        steps += 1
        if terminated or truncated:
            break
    assert steps == 200 and obs.shape == (3,) and reward <= 0
