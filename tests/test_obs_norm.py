"""Running observation normalisation of rlgen's agents (`normalize_observations`): the statistics against numpy's
on the whole stream, the clip formula, statistics saved with the weights and used by a loaded policy, two ranks'
statistics equal to one process's on both batches, and batched seeds refusing it in one line."""

import numpy as np
import torch
from safetensors.torch import load_file

from rlgen.agents.obs_norm import ObservationStats
from rlgen import api
from tests.conftest import CONFIGS, leave_and_exit


def test_merged_batches_give_the_mean_and_variance_of_the_whole_stream():
    g = torch.Generator().manual_seed(0)
    batches = [torch.randn(n, 3, generator=g) * torch.tensor([0.1, 2.0, 30.0]) + torch.tensor([5.0, -1.0, 0.0])
               for n in (7, 1, 40, 13)]
    stats = ObservationStats(3)
    for batch in batches:
        stats.update(batch)
    stats.update(torch.zeros(0, 3))  # an empty batch changes nothing
    whole = torch.cat(batches).double().numpy()
    assert stats.count.item() == len(whole)
    np.testing.assert_allclose(stats.mean.numpy(), whole.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.var.numpy(), whole.var(0), rtol=1e-10)


def test_normalised_observations_are_clipped_standard_scores():
    stats = ObservationStats(2, clip=3.0)
    stats.update(torch.tensor([[0.0, 10.0], [2.0, 30.0]]))  # mean (1, 20), variance (1, 100)
    obs = torch.tensor([[1.0, 25.0], [5.0, -100.0]])
    expected = torch.tensor([[0.0, 0.5], [4.0, -12.0]]).clamp(-3, 3) * (1 / (1 + 1e-8)) ** 0.5
    assert torch.allclose(stats(obs), expected, atol=1e-6)
    assert torch.allclose(torch.from_numpy(stats.normalize(obs.numpy())), stats(obs), atol=1e-6)


def test_the_statistics_are_saved_with_the_weights_and_used_by_a_loaded_policy(tmp_path, tiny_agent_overrides):
    from rlgen.agents.algorithms import load_policy

    overrides = tiny_agent_overrides + ["device=cpu", "normalize_observations=true", "observation_clip=5"]
    run = api.train(CONFIGS / "cartpole_ppo.yaml", overrides, run_dir=tmp_path / "run", quiet=True)
    saved = load_file(tmp_path / "run" / "model.safetensors")
    assert saved["obs_stats.count"].item() > 0 and saved["obs_stats.var"].min() > 0
    assert "obs_stats.shift" not in saved  # derived from the statistics, not saved
    policy = load_policy(run.run, run.config, torch.device("cpu"))
    assert torch.equal(policy.obs_stats.mean, saved["obs_stats.mean"]) and policy.obs_stats.clip == 5
    obs = torch.randn(6, 4)
    expected = ((obs.double() - saved["obs_stats.mean"]) / (saved["obs_stats.var"] + 1e-8).sqrt()).clamp(-5, 5)
    assert torch.allclose(policy.obs_stats(obs), expected.float(), atol=1e-5)
    # the actor reads the normalised observations: its first layer's input is what the statistics give
    raw = policy.actor(expected.float())
    assert torch.allclose(policy.logits(obs), raw, atol=1e-5)
    assert run.evaluate(episodes=2, device="cpu")["episodes"] == 2


def _rank_stats(rank, rendezvous, out):
    import torch.distributed as dist
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2)
    stats = ObservationStats(4)
    for step in range(2):
        stats.update(torch.randn(5 + 7 * rank + step, 4, generator=torch.Generator().manual_seed(10 * rank + step)))
    if rank == 0:
        save_file({k: v.contiguous() for k, v in stats.state_dict().items()}, out)
    leave_and_exit()


def test_two_ranks_statistics_equal_one_process_on_both_batches(tmp_path):
    import torch.multiprocessing as mp

    out = tmp_path / "rank0.safetensors"
    mp.spawn(_rank_stats, args=(str(tmp_path / "rdzv"), str(out)), nprocs=2, join=True)
    alone = ObservationStats(4)
    for step in range(2):
        alone.update(torch.cat([torch.randn(5 + 7 * rank + step, 4, generator=torch.Generator().manual_seed(10 * rank + step))
                                for rank in (0, 1)]))
    ranks = load_file(out)
    for key, value in alone.state_dict().items():
        assert torch.allclose(value, ranks[key], rtol=1e-12), key


def test_batched_seeds_refuse_normalised_observations_in_one_line(tmp_path, tiny_agent_overrides):
    from tests.test_cli import assert_one_line_error, invoke

    result = invoke("train", str(CONFIGS / "cartpole_a2c.yaml"), "--seeds", "0-1", "--run-dir", str(tmp_path / "b"),
                    *[a for o in tiny_agent_overrides + ["normalize_observations=true"] for a in ("--set", o)])
    assert_one_line_error(result, 2, "normalize_observations")
    assert not (tmp_path / "b").exists()


def test_reward_scaling_divides_by_the_running_deviation_of_each_copys_discounted_return():
    from rlgen.agents.algorithms import build_policy
    from rlgen.agents.config import RL_CONFIGS
    from rlgen.agents.obs_norm import RewardScale

    scale = RewardScale(copies=2, gamma=0.5, clip=3.0)
    rewards = torch.tensor([[1.0, 2.0], [1.0, 0.0], [0.0, 2.0], [4.0, 2.0]])
    valid = torch.tensor([[True, True], [True, False], [False, True], [True, True]])  # copy 1's step 1: a reset step
    ended = torch.tensor([[False, True], [True, False], [False, False], [False, False]])
    scaled = scale(rewards, valid, ended)
    # copy 0: R = 1, 1.5, (reset step, not counted), then a new episode 4; copy 1: 2 (ends), 0 (reset), 2, 3
    returns = torch.tensor([1.0, 1.5, 4.0, 2.0, 2.0, 3.0], dtype=torch.float64)
    assert torch.allclose(scale.stats.var[0], returns.var(unbiased=False)) and int(scale.stats.count) == 6
    assert torch.allclose(scale.running, torch.tensor([4.0, 3.0], dtype=torch.float64))
    expected = (rewards / (returns.var(unbiased=False) + 1e-8).sqrt().float()).clamp(-3, 3)
    assert torch.allclose(scaled, expected) and scaled.max() == 3.0  # 4 / σ is clipped
    assert "reward_scale.running" in build_policy(
        RL_CONFIGS["ppo"].model_validate({"algo": "ppo", "scale_rewards": True}), 4, 2).state_dict()
