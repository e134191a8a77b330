"""The collector on gymnasium's real CartPole vector env: masks, episode bookkeeping and reset handling."""

import numpy as np
import pytest
import torch

from rlgen.agents.policy import ActorCritic
from rlgen.agents.rollout import RolloutCollector
from rlgen.envs.make import EnvConfig, make_vec_env
from rlgen.nets import MLPConfig


def collector(vectorization="vector_entry_point", num_envs=6, seed=0):
    torch.manual_seed(seed)
    envs = make_vec_env(EnvConfig(num_envs=num_envs, vectorization=vectorization))
    policy = ActorCritic(4, 2, MLPConfig(hidden=[8]), None)
    return RolloutCollector(envs, policy, torch.device("cpu"), seed=seed)


@pytest.mark.parametrize("vectorization", ["vector_entry_point", "sync"])
def test_whole_episode_mode_plays_one_episode_per_env(vectorization):
    rollout = collector(vectorization).collect(None)
    T, N = rollout.valid.shape
    lengths = rollout.valid.sum(0)
    assert len(rollout.ep_returns) == N
    assert sorted(rollout.ep_lengths) == sorted(lengths.tolist())
    assert rollout.num_steps == int(lengths.sum())
    for i in range(N):
        L = int(lengths[i])
        assert rollout.valid[:L, i].all() and not rollout.valid[L:, i].any()  # a valid prefix, then padding
        assert rollout.terminated[L - 1, i] or rollout.truncated[L - 1, i]
    # CartPole pays 1 per step, so each episode's return is its length
    assert sorted(rollout.ep_returns) == sorted(float(x) for x in lengths)


def test_step_mode_masks_the_reset_step_after_each_episode():
    c = collector(num_envs=4)
    first = c.collect(64)
    second = c.collect(64)
    for r in (first, second):
        assert r.obs.shape == (64, 4, 4) and r.actions.shape == (64, 4)
        done = (r.terminated | r.truncated)
        # the step right after an episode end is gymnasium's autoreset step: reward 0 and not a transition
        after = torch.zeros_like(done)
        after[1:] = done[:-1]
        assert not r.valid[after].any()
        assert (r.rewards[after] == 0).all()
        assert r.valid[~after].all()
        assert r.num_steps == int(r.valid.sum())
    assert first.ep_returns  # random CartPole episodes last ~20 steps


def test_next_obs_of_a_finished_episode_is_its_final_observation():
    r = collector(num_envs=3).collect(80)
    nxt = torch.cat([r.obs[1:], r.last_obs.unsqueeze(0)])  # s_{t+1} for every t, as the critic targets use it
    done = r.terminated | r.truncated
    t, i = [int(x) for x in torch.nonzero(done)[0]]
    final = nxt[t, i]
    # CartPole terminates when the pole angle passes 12 degrees or the cart leaves ±2.4
    assert abs(final[2].item()) > 0.2094 or abs(final[0].item()) > 2.4


def test_same_seed_same_rollout():
    a = collector(seed=3).collect(40)
    b = collector(seed=3).collect(40)
    assert torch.equal(a.obs, b.obs) and torch.equal(a.actions, b.actions)
    assert np.allclose(a.ep_returns, b.ep_returns)


def test_episode_returns_and_lengths_span_step_mode_rollouts():
    c = collector(num_envs=4, seed=5)
    rollouts = [c.collect(n) for n in (7, 30, 1, 45)]  # short rollouts: most episodes span two or more
    returns, lengths = [], []
    running = np.zeros(4), np.zeros(4, dtype=int)
    for r in rollouts:  # the same bookkeeping, one step and one copy at a time
        for t in range(r.valid.shape[0]):
            for i in range(4):
                if r.valid[t, i]:
                    running[0][i] += float(r.rewards[t, i])
                    running[1][i] += 1
                    if r.terminated[t, i] or r.truncated[t, i]:
                        returns.append(running[0][i])
                        lengths.append(running[1][i])
                        running[0][i], running[1][i] = 0.0, 0
    assert sum(len(r.ep_returns) for r in rollouts) == len(returns) > 5
    assert [x for r in rollouts for x in r.ep_returns] == returns
    assert [x for r in rollouts for x in r.ep_lengths] == lengths


def test_dropping_torch_copies_leaves_the_kept_ones_playing_on_as_they_were():
    torch.manual_seed(0)
    policy = ActorCritic(4, 2, MLPConfig(hidden=[8]), None)
    full, part = (RolloutCollector(make_vec_env(EnvConfig(num_envs=6, backend="torch")), policy, torch.device("cpu"),
                                   seed=3) for _ in range(2))
    for c in (full, part):  # the same 8 steps; both then have 56 steps of the same Gumbel noise left
        torch.manual_seed(1)
        c.collect(8)
    keep = torch.tensor([5, 1, 2])
    part.keep(keep)
    assert part.num_envs == part.envs.num_envs == 3 and part.envs.state.shape == (4, 3)
    a, b = full.collect(8), part.collect(8)
    # the physics and the actions of kept copies are theirs; only fresh start states after a reset are drawn anew
    no_reset = ~(a.terminated | a.truncated)[:, keep].cumsum(0).bool()
    no_reset = torch.cat([torch.ones(1, 3, dtype=torch.bool), no_reset[:-1]])  # up to and including the first end
    for name in ("obs", "actions", "rewards", "terminated", "valid"):
        full_kept, kept = getattr(a, name)[:, keep], getattr(b, name)
        assert torch.equal(full_kept[no_reset], kept[no_reset]), name
    assert no_reset.sum() > 10
    with pytest.raises(Exception, match="only the torch CartPole"):
        collector(num_envs=2).keep(torch.tensor([0]))
