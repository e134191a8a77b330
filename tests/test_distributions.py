"""Action distributions against torch.distributions: log-probabilities, entropies, draws and the env's actions."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.distributions import AffineTransform, Categorical as TorchCategorical, Normal, TanhTransform
from torch.distributions import TransformedDistribution

from rlgen.agents.distributions import (ActorNetConfig, Categorical, DiagonalGaussian, SquashedGaussian,
                                  action_distribution, action_info)
from rlgen.agents.policy import ActorCritic
from rlgen.errors import ConfigError
from tests.test_cli import assert_one_line_error, invoke
from tests.conftest import CONFIGS

BOX = gym.spaces.Box(low=np.array([-2.0, 0.0], np.float32), high=np.array([2.0, 1.0], np.float32))


def gaussian(state_dependent=False, squash=False, log_std_init=-0.3):
    spec = ActorNetConfig(state_dependent_std=state_dependent, squash=squash, log_std_init=log_std_init)
    return action_distribution(BOX, spec)


@pytest.mark.parametrize("state_dependent", [False, True])
def test_the_gaussians_log_probability_and_entropy_are_torchs(state_dependent):
    torch.manual_seed(0)
    dist = gaussian(state_dependent)
    assert isinstance(dist, DiagonalGaussian) and dist.outputs == (4 if state_dependent else 2)
    if not state_dependent:
        dist.log_std.data = torch.tensor([-0.5, 0.4])
    outputs = torch.randn(5, 3, dist.outputs)
    actions = torch.randn(5, 3, 2) * 2
    logp, entropy = dist.log_prob_and_entropy(outputs, actions)
    mean, log_std = dist.mean_and_log_std(outputs)
    if state_dependent:  # the second half, shifted by the initial log-std
        assert torch.allclose(log_std, outputs[..., 2:] - 0.3)
    reference = Normal(mean, log_std.exp())
    assert logp.shape == entropy.shape == (5, 3)
    assert torch.allclose(logp, reference.log_prob(actions).sum(-1), atol=1e-5)
    assert torch.allclose(entropy, reference.entropy().sum(-1), atol=1e-5)


def test_a_gaussian_draw_is_mean_plus_std_times_the_noise_and_the_env_gets_it_clipped():
    dist = gaussian()
    outputs, noise = torch.tensor([[0.5, 0.5], [-3.0, 2.0]]), torch.tensor([[1.0, -1.0], [0.0, 0.0]])
    std = float(np.exp(-0.3))
    sample = dist.sample(outputs, noise)
    assert torch.allclose(sample, torch.tensor([[0.5 + std, 0.5 - std], [-3.0, 2.0]]))
    assert torch.equal(dist.to_env(sample)[1], torch.tensor([-2.0, 1.0]))  # clipped to the bounds
    assert torch.allclose(dist.to_env(sample)[0], sample[0].clamp(torch.tensor([-2.0, 0.0]), torch.tensor([2.0, 1.0])))
    assert torch.equal(dist.greedy(outputs), outputs)


def test_the_squashed_gaussians_log_probability_is_the_change_of_variables():
    torch.manual_seed(1)
    dist = gaussian(squash=True)
    assert isinstance(dist, SquashedGaussian)
    outputs = torch.randn(64, 2)
    u = dist.sample(outputs, torch.randn(64, 2) * 3)  # far into tanh's flat tails too
    a = dist.to_env(u)
    assert (a >= torch.tensor([-2.0, 0.0])).all() and (a <= torch.tensor([2.0, 1.0])).all()
    mean, log_std = dist.mean_and_log_std(outputs)
    centre, half = torch.tensor([0.0, 0.5]), torch.tensor([2.0, 0.5])
    reference = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform(), AffineTransform(centre, half)])
    logp, entropy = dist.log_prob_and_entropy(outputs, u)
    moderate = u.abs().max(-1).values < 4  # where torch's inverse of tanh is still accurate in float32
    assert moderate.sum() > 20
    assert torch.allclose(logp[moderate], reference.log_prob(a).sum(-1)[moderate], atol=1e-3)
    assert torch.isfinite(logp).all() and torch.equal(entropy, -logp)  # a one-sample entropy estimate
    assert torch.allclose(dist.to_env(dist.greedy(outputs)), torch.tanh(mean) * half + centre)


def test_the_categorical_is_torchs():
    torch.manual_seed(2)
    dist = action_distribution(gym.spaces.Discrete(3), ActorNetConfig())
    assert isinstance(dist, Categorical) and dist.outputs == 3
    logits, actions = torch.randn(4, 5, 3), torch.randint(0, 3, (4, 5))
    logp, entropy = dist.log_prob_and_entropy(logits, actions)
    reference = TorchCategorical(logits=logits)
    assert torch.allclose(logp, reference.log_prob(actions)) and torch.allclose(entropy, reference.entropy())
    assert torch.equal(dist.to_env(actions), actions)


def test_a_gaussian_policy_learns_its_log_std_and_saves_it():
    policy = ActorCritic(3, BOX, ActorNetConfig(hidden=[8], log_std_init=-1.0), None)
    assert torch.equal(policy.dist.log_std.detach(), torch.full((2,), -1.0))
    assert "dist.log_std" in policy.state_dict() and policy.logits(torch.zeros(3)).shape == (2,)
    obs = torch.randn(10, 3)
    logp, _ = policy.log_prob_and_entropy(policy.logits(obs), policy.sample(obs, torch.randn(10, 2)))
    logp.sum().backward()
    assert policy.dist.log_std.grad is not None and policy.dist.log_std.grad.abs().sum() > 0
    acted = policy.act(obs)
    assert acted.shape == (10, 2) and (acted >= torch.tensor([-2.0, 0.0])).all()
    assert action_info(BOX) == {"action_dim": 2, "action_low": [-2.0, 0.0], "action_high": [2.0, 1.0]}


@pytest.mark.parametrize("space, message", [
    (gym.spaces.Box(-np.inf, np.inf, (2,)), "is unbounded"),
    (gym.spaces.Box(-1.0, 1.0, (2, 2)), "Discrete or 1-D Box"),
    (gym.spaces.MultiBinary(3), "a MultiBinary action space"),
    (gym.spaces.Dict({"a": gym.spaces.Discrete(2)}), "a Dict action space"),
])
def test_action_spaces_rlgen_cannot_act_in_are_one_line(space, message):
    with pytest.raises(ConfigError, match=message):
        action_distribution(space, ActorNetConfig())


def test_squashing_a_discrete_space_and_an_unreasonable_log_std_are_bad_input(tmp_path):
    run = tmp_path / "never"
    for args, needle in [(["--set", "policy.squash=true"], "policy.squash: a Discrete action space"),
                         (["--set", "policy.log_std_init=7"], "policy.log_std_init")]:
        result = invoke("train", CONFIGS / "cartpole_ppo.yaml", "--device", "cpu", "--run-dir", run, *args)
        assert_one_line_error(result, 2, needle)
        assert not run.exists()
