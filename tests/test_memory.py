"""Recurrent policies (agents/memory.py): the replayed sequence equals the steps that were played, the state is
zeroed exactly where episodes start (after terminated and truncated episodes alike), the collector carries it across
rollouts, PPO's minibatches are whole env-copy sequences, evaluation keeps each episode's state, and the masked
CartPole is the same on both backends."""

import numpy as np
import pytest
import torch

from rlgen.agents.algorithms import UPDATES, algo_section, build_policy
from rlgen.agents.config import RL_CONFIGS
from rlgen.agents.evaluate import PolicyActor, evaluate_actor
from rlgen.agents.memory import MemoryNet, PolicyNetConfig
from rlgen.agents.distributions import log_prob_and_entropy
from rlgen.agents.rollout import RolloutCollector
from rlgen.envs.make import EnvConfig, make_vec_env
from rlgen.envs.torch_cartpole import TorchCartPoleVectorEnv
from rlgen.config import load_config
from rlgen.optim import TrainingOptimizer
from tests.conftest import CONFIGS

MASKED = CONFIGS / "cartpole_masked_ppo.yaml"


def masked(algo="ppo", *overrides):
    base = MASKED if algo == "ppo" else CONFIGS / f"cartpole_masked_{algo}.yaml"
    return load_config(base, ["device=cpu", *overrides], RL_CONFIGS)


@pytest.mark.parametrize("core", [{"type": "lstm", "units": 6, "layers": 2}, {"type": "gru", "units": 5}])
def test_replaying_a_rollout_equals_stepping_through_it(core):
    torch.manual_seed(0)
    net = MemoryNet(PolicyNetConfig(hidden=[7], recurrent=core), 3, 4)
    T, N = 9, 5
    obs = torch.randn(T, N, 3)
    starts = torch.rand(T, N) < 0.25
    starts[0, 0], starts[0, 1] = True, False  # one copy starts an episode at step 0, another carries its state in
    state = torch.randn_like(net.initial_state(N, "cpu"))
    outputs, final = net.sequence(obs, starts, state)
    stepped, s = [], state
    for t in range(T):
        out, s = net.step(obs[t], s, starts[t])
        stepped.append(out)
    torch.testing.assert_close(outputs, torch.stack(stepped), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(final, s, rtol=1e-5, atol=1e-6)
    # a start zeroes the state: the step equals a fresh network's first step on the same observation
    fresh, _ = net.step(obs[3], net.initial_state(N, "cpu"), torch.zeros(N, dtype=torch.bool))
    started = starts[3]
    torch.testing.assert_close(outputs[3][started], fresh[started], rtol=1e-5, atol=1e-6)


class Recording:
    """Wraps a policy's `step_logits` to keep what the collector saw while acting."""

    def __init__(self, policy):
        self.logits, self.original = [], policy.step_logits
        policy.step_logits = self

    def __call__(self, obs, memory, start):
        logits, memory = self.original(obs, memory, start)
        self.logits.append(logits.clone())
        return logits, memory


def test_the_collector_marks_episode_starts_carries_the_state_and_the_update_replays_what_was_played():
    cfg = masked("ppo", "env.num_envs=3")
    torch.manual_seed(1)
    policy = build_policy(cfg, 2, 2)
    envs = TorchCartPoleVectorEnv(3, observe=[0, 2], max_episode_steps=12)  # truncations as well as terminations
    collector = RolloutCollector(envs, policy, torch.device("cpu"), seed=3)
    recording = Recording(policy)
    previous_done = critic_after = None
    for k in range(4):
        recording.logits.clear()
        rollout = collector.collect(16)
        done = rollout.terminated | rollout.truncated
        assert done.any()
        # obs[t] is an episode's first observation exactly two steps after an episode ended at t − 2 (step t − 1 is
        # the reset step, which still reads the ended episode's final observation with its state)
        assert torch.equal(rollout.starts[2:], done[:-2])
        if k == 0:
            assert rollout.starts[0].all() and not rollout.starts[1].any()
        else:
            assert torch.equal(rollout.starts[0], previous_done[-2]) and torch.equal(rollout.starts[1],
                                                                                     previous_done[-1])
        assert torch.equal(rollout.last_start, done[-2])
        # the update's replay of the whole rollout sees what the actor saw step by step
        with torch.no_grad():
            torch.testing.assert_close(policy.rollout_logits(rollout), torch.stack(recording.logits), rtol=1e-5,
                                       atol=1e-6)
            if k:  # the critic begins where its replay of the previous rollout ended
                torch.testing.assert_close(rollout.memory["critic"], critic_after, rtol=1e-5, atol=1e-6)
            critic_after = policy.critic_state_after(rollout)
        previous_done = done


def test_a_truncated_episodes_final_observation_is_valued_with_its_memory():
    cfg = masked("ppo", "env.num_envs=2")
    torch.manual_seed(2)
    policy = build_policy(cfg, 2, 2)
    envs = TorchCartPoleVectorEnv(2, observe=[0, 2], max_episode_steps=5)  # every episode is cut at 5 steps
    rollout = RolloutCollector(envs, policy, torch.device("cpu"), seed=0).collect(20)
    t, n = rollout.truncated.nonzero()[0].tolist()
    assert not rollout.starts[t + 1, n] and rollout.starts[t + 2, n]  # the reset step keeps the state
    with torch.no_grad():
        values = policy.rollout_values(rollout)  # (T + 1, N)
        net = policy.critic
        state = rollout.memory["critic"][:, :, n : n + 1]
        for step in range(t + 2):  # V(s_{t+1}) = V(final observation), read with the episode's state
            out, state = net.step(rollout.obs[step, n : n + 1], state, rollout.starts[step, n : n + 1])
        torch.testing.assert_close(values[t + 1, n], out[0, 0], rtol=1e-5, atol=1e-6)


def test_recurrent_ppo_minibatches_are_whole_env_copy_sequences(monkeypatch):
    """The first minibatch's loss by hand: the copies a permutation picks, each replayed step by step from the state
    it began in (the policy is unchanged, so the ratio is 1 and the loss is −Â + c·(R − V)² − β·H)."""
    cfg = masked("ppo", "env.num_envs=4", "ppo.minibatches=2", "ppo.epochs=1", "ppo.normalize_advantages=false",
                 "ppo.entropy_coef=0.01")
    torch.manual_seed(3)
    policy = build_policy(cfg, 2, 2)
    rollout = RolloutCollector(TorchCartPoleVectorEnv(4, observe=[0, 2], max_episode_steps=9), policy,
                               torch.device("cpu"), seed=1).collect(14)
    losses = []
    monkeypatch.setattr(TrainingOptimizer, "step", lambda self, loss: losses.append(loss.detach()))
    update = UPDATES["ppo"](algo_section(cfg), policy, TrainingOptimizer(policy, cfg.optimizer))
    from rlgen.agents.a2c import critic_targets

    _, advantages, returns = critic_targets(policy, rollout, cfg.ppo.gamma, cfg.ppo.gae_lambda)
    torch.manual_seed(11)
    order = torch.randperm(4)
    torch.manual_seed(11)
    update.update(rollout)
    assert len(losses) == 2  # two minibatches of two copies each
    picked = order[:2].tolist()
    terms = []
    with torch.no_grad():
        for n in picked:
            memory = {k: v[:, :, n : n + 1] for k, v in rollout.memory.items()}
            actor, critic = memory["actor"], memory["critic"]
            for t in range(rollout.obs.shape[0]):
                logits, actor = policy.actor.step(rollout.obs[t, n : n + 1], actor, rollout.starts[t, n : n + 1])
                value, critic = policy.critic.step(rollout.obs[t, n : n + 1], critic, rollout.starts[t, n : n + 1])
                _, entropy = log_prob_and_entropy(logits, rollout.actions[t, n : n + 1])
                if rollout.valid[t, n]:
                    terms.append(torch.stack([-advantages[t, n], (returns[t, n] - value[0, 0]).square(),
                                              entropy[0]]))
    pg, vf, ent = torch.stack(terms).mean(0)
    torch.testing.assert_close(losses[0], pg + cfg.ppo.value_coef * vf - 0.01 * ent, rtol=1e-5, atol=1e-6)


def test_evaluation_keeps_each_episodes_state_from_zero():
    cfg = masked("ppo")
    torch.manual_seed(4)
    policy = build_policy(cfg, 2, 2).eval()
    actor = PolicyActor(policy, torch.device("cpu"))
    obs = np.random.default_rng(0).normal(size=(6, 3, 2)).astype(np.float32)
    actor.reset(3)
    played = np.stack([actor(o) for o in obs])
    state, start = policy.initial_memory(3, "cpu")["actor"], torch.ones(3, dtype=torch.bool)
    by_hand = []
    with torch.no_grad():
        for o in obs:
            logits, state = policy.actor.step(torch.from_numpy(o), state, start)
            start = torch.zeros(3, dtype=torch.bool)
            by_hand.append(logits.argmax(-1).numpy())
    assert (played == np.stack(by_hand)).all()
    actor.reset(3)
    assert (actor(obs[0]) == by_hand[0]).all()  # a new batch of episodes starts from zero again
    returns = evaluate_actor(actor, cfg.env, 4, seed=0)  # gymnasium's CartPole, velocities hidden
    assert returns.shape == (4,) and (returns >= 8).all()


def test_the_masked_cartpole_is_the_same_on_both_backends():
    gym_envs = make_vec_env(EnvConfig(id="CartPole-v1", observe=[0, 2], vectorization="sync"), num_envs=1)
    torch_envs = TorchCartPoleVectorEnv(1, observe=[0, 2], max_episode_steps=500)
    assert gym_envs.single_observation_space.shape == torch_envs.single_observation_space.shape == (2,)
    full = make_vec_env(EnvConfig(id="CartPole-v1", vectorization="sync"), num_envs=1)
    a, _ = gym_envs.reset(seed=5)
    b, _ = full.reset(seed=5)
    np.testing.assert_array_equal(a, b[:, [0, 2]])
    for action in [1, 0, 0, 1, 1, 1, 0]:
        a = gym_envs.step(np.array([action]))[0]
        b = full.step(np.array([action]))[0]
        np.testing.assert_array_equal(a, b[:, [0, 2]])
    torch_envs.reset(seed=0)
    obs = torch_envs.step(torch.tensor([1]))[0]
    torch.testing.assert_close(obs, torch_envs.state.T.float()[:, [0, 2]])


def test_recurrent_settings_that_cannot_work_are_one_line_and_make_no_run_dir(tmp_path):
    from tests.test_cli import assert_one_line_error, invoke

    run = tmp_path / "never"
    cases = [
        (["--set", "ppo.minibatches=65"], "recurrent policy's minibatches are whole env copies; use at most 64"),
        (["--set", "env.observe=[0, 4]"], "env.observe: component 4 is outside CartPole-v1's 4"),
        (["--set", "policy.recurrent.units=0"], "policy.recurrent.units"),
        (["--set", "value.recurrent.layers=0"], "value.recurrent.layers"),
    ]
    for args, needle in cases:
        assert_one_line_error(invoke("train", MASKED, "--device", "cpu", "--run-dir", run, *args), 2, needle)
        assert not run.exists()
    a2c = ["--set", "policy.recurrent={type: gru, units: 8}", "--seeds", "0-1"]
    assert_one_line_error(invoke("train", CONFIGS / "cartpole_a2c.yaml", "--run-dir", run, *a2c), 2,
                          "batched seeds need feed-forward networks (policy.recurrent is set)")
    assert not run.exists()
