"""rlgen's torch CartPole against gymnasium's CartPole-v1: one step, whole trajectories, resets, registration."""

import shutil

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlgen.envs  # noqa: F401  (registers rlgen/CartPole-v1)
from rlgen.envs.torch_cartpole import TorchCartPoleVectorEnv

needs_cxx = pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile on the CPU needs a C++ compiler")


def random_states(n, seed=0):
    rng = np.random.default_rng(seed)
    high = np.array([2.3, 2.0, 0.2, 2.0])
    return rng.uniform(-high, high, size=(n, 4))


@pytest.mark.parametrize("compile", [False, pytest.param(True, marks=needs_cxx)], ids=["eager", "compiled"])
def test_one_step_agrees_with_gymnasium_to_float32_precision(compile):
    states = random_states(500)
    actions = np.random.default_rng(1).integers(0, 2, size=500)
    env = gym.make("CartPole-v1").unwrapped
    env.reset(seed=0)
    expected_obs, expected_term = [], []
    for state, action in zip(states, actions):
        env.state = state.copy()
        env.steps_beyond_terminated = None  # each state is a fresh step, not the continuation of an ended episode
        obs, reward, terminated, truncated, _ = env.step(int(action))
        expected_obs.append(obs)
        expected_term.append(terminated)
        assert reward == 1.0 and not truncated
    torch_env = TorchCartPoleVectorEnv(500, compile=compile)
    torch_env.reset(seed=0)
    torch_env.state = torch.tensor(states).T.contiguous()  # (4, N)
    obs, reward, terminated, truncated, _ = torch_env.step(torch.tensor(actions))
    np.testing.assert_allclose(obs.numpy(), np.array(expected_obs), rtol=1e-6, atol=1e-7)
    assert terminated.tolist() == expected_term and reward.eq(1).all() and not truncated.any()
    assert obs.dtype == torch.float32


def controller(obs: np.ndarray) -> int:
    """A hand-made balancing rule that keeps the pole up for the full 500 steps most of the time."""
    return int(obs[2] + 0.5 * obs[3] + 0.01 * obs[0] + 0.1 * obs[1] > 0)


@pytest.mark.parametrize("policy", ["random", "controller"])
def test_trajectories_end_at_the_same_steps(policy):
    rng = np.random.default_rng(2)
    episodes = 30
    torch_env = TorchCartPoleVectorEnv(1)
    torch_env.reset(seed=0)
    lengths, truncations = [], 0
    for k in range(episodes):
        env = gym.make("CartPole-v1")  # with gymnasium's own TimeLimit(500)
        obs, _ = env.reset(seed=k)
        torch_env.reset()
        torch_env.state = torch.tensor(env.unwrapped.state, dtype=torch.float64).unsqueeze(1)
        for step in range(1, 502):
            action = int(rng.integers(2)) if policy == "random" else controller(obs)
            obs, _, terminated, truncated, _ = env.step(action)
            t_obs, _, t_term, t_trunc, _ = torch_env.step(torch.tensor([action]))
            np.testing.assert_allclose(t_obs[0].numpy(), obs, rtol=1e-5, atol=1e-6)
            assert (bool(t_term[0]), bool(t_trunc[0])) == (terminated, truncated), (k, step)
            if terminated or truncated:
                lengths.append(step)
                truncations += truncated
                break
    assert len(lengths) == episodes
    if policy == "controller":
        assert truncations >= 10  # the 500-step time limit was reached, and at the same step, many times


def test_next_step_autoreset():
    env = TorchCartPoleVectorEnv(64)
    env.reset(seed=3)
    after_done = torch.zeros(64, dtype=torch.bool)
    seen_reset = False
    for _ in range(200):
        obs, reward, terminated, truncated, _ = env.step(torch.randint(0, 2, (64,)))
        assert (reward[after_done] == 0).all() and not (terminated | truncated)[after_done].any()
        assert (obs[after_done].abs() <= 0.05).all()  # a fresh start state
        assert (reward[~after_done] == 1).all()
        seen_reset |= bool(after_done.any())
        after_done = terminated | truncated
    assert seen_reset


def test_seeded_reset_distribution():
    a, _ = TorchCartPoleVectorEnv(10_000).reset(seed=5)
    b, _ = TorchCartPoleVectorEnv(10_000).reset(seed=5)
    c, _ = TorchCartPoleVectorEnv(10_000).reset(seed=6)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.abs().max() <= 0.05 and a.mean().abs() < 0.002 and abs(a.std().item() - 0.1 / 12**0.5) < 0.001


def test_truncates_after_500_steps():
    env = TorchCartPoleVectorEnv(2)
    env.reset(seed=0)
    for step in range(1, 501):
        env.state = torch.zeros(4, 2, dtype=torch.float64)  # hold the pole upright: never terminates
        _, _, terminated, truncated, _ = env.step(torch.tensor([0, 1]))
        assert bool(truncated.all()) == (step == 500) and not terminated.any()


def test_registered_with_gymnasium():
    vec = gym.make_vec("rlgen/CartPole-v1", num_envs=4, vectorization_mode="vector_entry_point")
    assert isinstance(vec, TorchCartPoleVectorEnv) and vec.num_envs == 4
    single = gym.make("rlgen/CartPole-v1")
    obs, _ = single.reset(seed=0)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = single.step(1)
        total += reward
        done = terminated or truncated
    assert obs.shape == (4,) and 5 <= total < 50  # always pushing right topples the pole quickly


def test_every_reset_gets_its_own_start_state():
    env = TorchCartPoleVectorEnv(256)
    env.reset(seed=4)
    after_done = torch.zeros(256, dtype=torch.bool)
    starts = []
    for _ in range(120):  # several pool refills
        obs, _, terminated, truncated, _ = env.step(torch.randint(0, 2, (256,)))
        starts.append(obs[after_done])
        after_done = terminated | truncated
    starts = torch.cat(starts)
    assert len(starts) > 500
    assert len(torch.unique(starts, dim=0)) == len(starts)  # no start state handed out twice


@needs_cxx
def test_compiled_step_follows_the_eager_step():
    compiled, eager = TorchCartPoleVectorEnv(256, compile=True), TorchCartPoleVectorEnv(256)
    compiled.reset(seed=7)
    eager.reset(seed=7)
    generator = torch.Generator().manual_seed(0)
    ends = 0
    for _ in range(200):  # many episode ends and resets, from the same start states in both
        actions = torch.randint(0, 2, (256,), generator=generator)
        obs_c, rew_c, term_c, trunc_c, _ = compiled.step(actions)
        obs_e, rew_e, term_e, trunc_e, _ = eager.step(actions)
        torch.testing.assert_close(obs_c, obs_e, rtol=1e-6, atol=1e-7)
        assert torch.equal(rew_c, rew_e) and torch.equal(term_c, term_e) and torch.equal(trunc_c, trunc_e)
        ends += int(term_e.sum())
    assert ends > 1000


def test_a_failed_compile_is_one_clear_error():
    from torch._inductor import config

    from rlgen.errors import RlgenError

    env = TorchCartPoleVectorEnv(77, compile=True)
    env.reset(seed=0)
    with config.patch({"cpp.cxx": (None, "no-such-c++-compiler"), "fx_graph_cache": False}):
        with pytest.raises(RlgenError, match="torch.compile could not build the CartPole step.*env.compile: false"):
            env.step(torch.zeros(77, dtype=torch.int64))
