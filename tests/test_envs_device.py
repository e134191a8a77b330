"""Environment construction errors, device choice and seeding."""

import gymnasium as gym
import pytest
import torch

from rlgen.envs.make import EnvConfig, check_spaces, make_env, make_vec_env
from rlgen.device import resolve_device
from rlgen.errors import RlgenError
from rlgen.seeding import seed_everything


def test_cartpole_builds_with_time_limit():
    env = make_env("CartPole-v1")
    assert env.spec.max_episode_steps == 500
    envs = make_vec_env(EnvConfig(num_envs=3))
    assert envs.num_envs == 3 and type(envs).__name__ == "CartPoleVectorEnv"


def test_other_discrete_env_and_fallback_to_sync():
    envs = make_vec_env(EnvConfig(id="Acrobot-v1", num_envs=2))  # no numpy vector version: falls back to sync
    assert envs.single_action_space.n == 3


def test_unknown_id_is_a_clear_error():
    with pytest.raises(RlgenError, match="unknown environment id 'CartPoel-v1'"):
        make_env("CartPoel-v1")


def test_box_actions_are_accepted_and_other_action_spaces_rejected():
    assert make_vec_env(EnvConfig(id="Pendulum-v1", num_envs=1, vectorization="sync")).single_action_space.shape == (1,)
    flat = gym.spaces.Box(-1.0, 1.0, (3,))
    for space in (gym.spaces.MultiBinary(3), gym.spaces.Box(-1.0, 1.0, (2, 2))):
        with pytest.raises(RlgenError, match="rlgen agents act in Discrete or 1-D Box spaces"):
            check_spaces("Some-v0", space, flat)


def test_device_choice():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(RlgenError, match="not one of"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on machines without CUDA")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(RlgenError, match="no CUDA device is available"):
        resolve_device("cuda")
    with pytest.raises(RlgenError, match="no CUDA device"):
        resolve_device("cuda:1")


def test_seed_everything_repeats_streams():
    seed_everything(5)
    a = torch.rand(3)
    seed_everything(5)
    assert torch.equal(a, torch.rand(3))
