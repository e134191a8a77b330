"""The on-policy loop with each rollout mode and REINFORCE option, on tiny budgets, through the Python API."""

import math
import shutil

import pytest
import torch
from safetensors.torch import load_file

from rlgen import api
from rlgen.errors import RlgenError, TrainingInterrupted
from rlgen.metrics import MetricsLogger
from tests.conftest import CONFIGS


@pytest.mark.parametrize(
    "extra",
    [
        ["train.rollout=episodes", "reinforce.baseline=false"],
        ["train.rollout=episodes", "reinforce.baseline=true", "reinforce.entropy_coef=0.01"],
        ["train.rollout=steps", "train.rollout_steps=32", "reinforce.baseline=true", "optimizer.schedule=linear"],
        ["train.rollout=steps", "env.vectorization=sync", "optimizer.name=rmsprop", "optimizer.max_grad_norm=0.5"],
    ],
    ids=["episodes", "episodes-baseline", "steps-baseline-linear-lr", "steps-sync-rmsprop"],
)
def test_loop_runs_and_logs(tmp_path, tiny_agent_overrides, extra):
    run = api.train(CONFIGS / "cartpole_reinforce.yaml", tiny_agent_overrides + extra + ["device=cpu"],
                    run_dir=tmp_path / "run", quiet=True)
    result = run.result
    assert result.progress >= 600 and result.iterations >= 1 and result.unit == "env steps"
    rows = run.metrics()
    assert len(rows) == result.iterations
    assert rows[-1]["step"] == result.progress
    if run.config.reinforce.baseline:
        assert "train/value_loss" in rows[-1]
    if run.config.optimizer.schedule == "linear":
        assert rows[-1]["train/lr"] < rows[0]["train/lr"]
    assert run.run.state().progress == result.progress and run.meta.kind == "agent"


def test_linear_schedule_spans_the_step_budget_in_episode_mode(tmp_path, tiny_agent_overrides):
    """The learning rate of each update is lr0·(1 − steps so far / budget): it reaches the end of its schedule with
    the budget, however long the episodes are (the horizon is not a guess in updates)."""
    lr0, budget = 0.01, 3000
    overrides = tiny_agent_overrides + [f"train.total_steps={budget}", "train.eval_every_steps=100000",
                                        "train.rollout=episodes", "optimizer.schedule=linear", f"optimizer.lr={lr0}"]
    rows = api.train(CONFIGS / "cartpole_reinforce.yaml", overrides, run_dir=tmp_path / "run", quiet=True).metrics()
    assert rows[0]["train/lr"] == pytest.approx(lr0)
    for before, row in zip(rows, rows[1:]):
        assert row["train/lr"] == pytest.approx(lr0 * (1 - before["step"] / budget))
    assert rows[-2]["step"] < budget <= rows[-1]["step"]


@pytest.mark.parametrize("rollout", ["episodes", "steps"])
def test_the_last_rollout_stops_at_the_budget(tmp_path, tiny_agent_overrides, rollout):
    """A budget of 700 env steps with 4 copies: the last rollout is cut to what is left, so the run ends less than
    one step of each copy past it, not a whole rollout (up to 4 × 500 steps of CartPole episodes) past it."""
    overrides = tiny_agent_overrides + ["train.total_steps=700", f"train.rollout={rollout}", "train.rollout_steps=64",
                                        "reinforce.baseline=true", "device=cpu"]
    run = api.train(CONFIGS / "cartpole_reinforce.yaml", overrides, run_dir=tmp_path / "run", quiet=True)
    assert 700 <= run.result.progress < 700 + 4, run.result.progress


@pytest.mark.parametrize("config", ["cartpole_reinforce", "cartpole_a2c", "cartpole_ppo"])
@pytest.mark.parametrize("backend", ["gymnasium", "torch"])
def test_every_agent_on_every_backend(tmp_path, tiny_agent_overrides, config, backend):
    extra = [f"env.backend={backend}", "device=cpu", "train.rollout_steps=16"]
    if config == "cartpole_ppo":
        extra += ["ppo.target_kl=0.01", "ppo.anneal_clip_range=true"]
    run = api.train(CONFIGS / f"{config}.yaml", tiny_agent_overrides + extra, run_dir=tmp_path / "run", quiet=True)
    rows = run.metrics()
    assert run.result.progress >= 600 and len(rows) == run.result.iterations
    assert all(key in rows[-1] for key in ("train/loss", "train/entropy", "rollout/ep_return_mean_100", "eval/return_mean"))
    if run.config.algo != "reinforce":
        assert "train/value_loss" in rows[-1]
    if run.config.algo == "ppo":  # annealed with the step budget, like the learning rate
        assert rows[-1]["train/clip_range"] < rows[0]["train/clip_range"] == pytest.approx(0.2)


def test_torch_backend_only_has_cartpole(tmp_path, tiny_agent_overrides):
    with pytest.raises(RlgenError, match="only CartPole-v1"):
        api.train(CONFIGS / "cartpole_a2c.yaml", tiny_agent_overrides + ["env.id=Acrobot-v1"], run_dir=tmp_path / "r",
                  quiet=True)


def test_env_kwargs_reach_training_evaluation_and_rendering(tmp_path, tiny_agent_overrides):
    overrides = tiny_agent_overrides + ["env.backend=gymnasium", "env.vectorization=sync",
                                        "env.kwargs={max_episode_steps: 7}"]
    run = api.train(CONFIGS / "cartpole_reinforce.yaml", overrides, run_dir=tmp_path / "run", quiet=True)
    assert max(row["rollout/ep_len_mean"] for row in run.metrics()) <= 7
    assert run.evaluate(episodes=5, device="cpu")["max_return"] <= 7
    frames, returns = run.render(tmp_path / "play.gif", episodes=2, device="cpu")
    assert max(returns) <= 7 and frames <= 2 * 8


@pytest.mark.parametrize("config", ["cartpole_reinforce", "cartpole_ppo"])
def test_resume_continues_an_interrupted_run(tmp_path, monkeypatch, config):
    overrides = ["device=cpu", "env.num_envs=4", "train.total_steps=1500", "train.eval_every_steps=300",
                 "train.eval_episodes=2", "train.target_return=null", "train.rollout=steps", "train.rollout_steps=32"]
    original_log = MetricsLogger.log
    logged = []

    def crash_at_the_fourth_iteration(self, step, metrics):
        original_log(self, step, metrics)
        logged.append(step)
        if len(logged) == 4:  # logged, but not checkpointed by an evaluation yet: the exit path must save it
            raise KeyboardInterrupt

    monkeypatch.setattr(MetricsLogger, "log", crash_at_the_fourth_iteration)
    with pytest.raises(TrainingInterrupted) as info:
        api.train(CONFIGS / f"{config}.yaml", overrides, run_dir=tmp_path / "broken", quiet=True)
    assert info.value.run_dir == tmp_path / "broken"
    monkeypatch.setattr(MetricsLogger, "log", original_log)
    broken = api.load(tmp_path / "broken")
    assert broken.run.state().progress == logged[-1]
    shutil.copytree(broken.path, tmp_path / "copy")

    run = api.resume(tmp_path / "broken", quiet=True)
    assert run.result.progress >= 1500 and run.result.iterations > 4
    rows = run.metrics()
    steps = [row["step"] for row in rows]
    assert steps[:4] == logged and steps == sorted(set(steps)) and steps[-1] == run.result.progress
    assert len(rows) == run.result.iterations and "eval/return_mean" in rows[-1]
    assert run.run.state().progress == run.result.progress

    api.resume(tmp_path / "copy", quiet=True)  # the same checkpoint resumed twice: the same result
    a, b = load_file(tmp_path / "broken" / "checkpoint.safetensors"), load_file(tmp_path / "copy" / "checkpoint.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("batched", [False, True])
def test_ctrl_c_during_an_evaluation_keeps_the_iterations_row(tmp_path, monkeypatch, batched):
    """The iteration that an evaluation interrupts is counted in the checkpoint, so its metrics row is written too:
    the table and the run state agree on where the run stopped (and a resumed run's table has no gap)."""
    import rlgen.agents.loop
    import rlgen.agents.seeds

    overrides = ["device=cpu", "env.num_envs=4", "train.total_steps=5000", "train.eval_every_steps=200",
                 "train.eval_episodes=2", "train.target_return=null", "train.rollout=steps", "train.rollout_steps=32"]
    module, name = (rlgen.agents.seeds, "evaluate_due") if batched else (rlgen.agents.loop, "evaluate_policy")
    evaluate, calls = getattr(module, name), []

    def interrupted_second_evaluation(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(module, name, interrupted_second_evaluation)
    with pytest.raises(TrainingInterrupted):
        if batched:
            api.train_seeds(CONFIGS / "cartpole_a2c.yaml", [0, 1], overrides, run_dir=tmp_path, quiet=True)
        else:
            api.train(CONFIGS / "cartpole_a2c.yaml", overrides, run_dir=tmp_path / "seed0", quiet=True)
    run = api.load(tmp_path / "seed0")
    steps = [row["step"] for row in run.metrics()]
    assert run.run.state().progress > 200 and steps[-1] == run.run.state().progress, steps


def test_resume_needs_a_checkpoint(tmp_path):
    from rlgen.config import load_config
    from rlgen.registry import schemas
    from rlgen.rundir import RunDir

    cfg = load_config(CONFIGS / "cartpole_reinforce.yaml", ["device=cpu"], schemas())
    RunDir.create(tmp_path / "empty", cfg, "agent")
    with pytest.raises(RlgenError, match="no checkpoint to resume from"):
        api.resume(tmp_path / "empty", quiet=True)


@pytest.mark.parametrize("config", ["cartpole_reinforce", "cartpole_ppo", "cartpole_a2c", "cartpole_masked_ppo",
                                    "cartpole_masked_a2c", "cartpole_masked_reinforce", "pendulum_ppo"])
def test_a_resumed_torch_env_run_equals_the_uninterrupted_one(tmp_path, monkeypatch, config):
    """The torch env's state (CartPole or Pendulum), the collector's (with a recurrent policy's states, the
    Gaussian's noise), the observation and reward statistics and the RNG states are in the checkpoint: on the CPU
    an interrupted and resumed run ends bit for bit where the uninterrupted one does (whole-episode and step
    rollouts, feed-forward and recurrent policies, discrete and continuous actions)."""
    overrides = ["device=cpu", "env.backend=torch", "env.num_envs=8", "train.total_steps=3000",
                 "train.eval_every_steps=700", "train.eval_episodes=2", "train.target_return=null"]
    whole = api.train(CONFIGS / f"{config}.yaml", overrides, run_dir=tmp_path / "whole", quiet=True)
    original_log, logged = MetricsLogger.log, []

    def crash_at_the_fifth_iteration(self, step, metrics):
        original_log(self, step, metrics)
        logged.append(step)
        if len(logged) == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(MetricsLogger, "log", crash_at_the_fifth_iteration)
    with pytest.raises(TrainingInterrupted):
        api.train(CONFIGS / f"{config}.yaml", overrides, run_dir=tmp_path / "broken", quiet=True)
    monkeypatch.setattr(MetricsLogger, "log", original_log)
    resumed = api.resume(tmp_path / "broken", quiet=True)
    assert resumed.result.progress == whole.result.progress and resumed.result.iterations == whole.result.iterations
    for name in ("model.safetensors", "checkpoint.safetensors"):
        a, b = load_file(tmp_path / "whole" / name), load_file(tmp_path / "broken" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    drop = lambda rows: [{k: None if math.isnan(v) else v for k, v in r.items() if not k.startswith("time/")}  # noqa: E731
                         for r in rows]
    assert drop(whole.metrics()) == drop(resumed.metrics())
