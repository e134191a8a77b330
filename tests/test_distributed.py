"""Data-parallel training on real torchrun (gloo on the CPU): the same weights as one process with the whole batch,
two "nodes" through a localhost rendezvous, kill and resume (on two ranks and on one), and one line for bad set-ups.
Each test starts real processes, so they are few and tiny."""

import os
import signal
import socket
import subprocess
import sys
import time

import gymnasium as gym
import pytest
import torch
from safetensors.torch import load_file

from rlgen import api
from tests.conftest import CONFIGS, leave_and_exit

TINY = ["--set", "data.limit=600", "--set", "data.validation=88", "--set", "train.batch_size=64", "--set",
        "model.layers=[{type: flatten}, {type: dense, units: 32}]", "--quiet", "--device", "cpu"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def rlgen(*args, timeout=180, env=ENV):
    return subprocess.run([sys.executable, "-m", "rlgen", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)


def same_weights(a, b, atol=1e-6):
    x, y = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return x.keys() == y.keys() and all(torch.allclose(x[k], y[k], atol=atol) for k in x)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """One process, global batch 64, two epochs of 512 training images (8 whole batches each)."""
    path = tmp_path_factory.mktemp("dp") / "single"
    done = rlgen("train", CONFIGS / "fashion_mlp.yaml", *TINY, "--set", "train.epochs=2", "--run-dir", path)
    assert done.returncode == 0, done.stderr
    return path


def test_two_ranks_reach_the_weights_of_one_process_with_the_whole_batch(single, tmp_path):
    (tmp_path / "tmp").mkdir()
    done = rlgen("train", CONFIGS / "fashion_mlp.yaml", *TINY, "--set", "train.epochs=2", "--run-dir", tmp_path / "dp",
                 "--nproc", 2, env={**ENV, "TMPDIR": str(tmp_path / "tmp")})
    assert done.returncode == 0, done.stderr
    # torchrun's log folders are not left behind (torchinductor_*: the cache torch keeps on purpose)
    assert not [p for p in (tmp_path / "tmp").iterdir() if not p.name.startswith("torchinductor_")]
    assert done.stdout.count("done: 2 epochs") == 1  # rank 0 speaks for the run
    assert same_weights(single, tmp_path / "dp")
    rows_1, rows_2 = api.load(single).metrics(), api.load(tmp_path / "dp").metrics()
    for a, b in zip(rows_1, rows_2, strict=True):
        assert a["train/loss"] == pytest.approx(b["train/loss"], rel=1e-5)
        assert a["val/accuracy"] == pytest.approx(b["val/accuracy"])
    saved = load_file(tmp_path / "dp" / "model.safetensors")
    assert not any(k.startswith("module.") for k in saved)
    assert api.load(tmp_path / "dp").meta.info["threads_from"] == "OMP_NUM_THREADS"


def test_two_nodes_through_a_localhost_rendezvous(single, tmp_path):
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                               "--node-rank", str(rank), "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint,
                               "--rdzv-id", "rlgen-test", "-m", "rlgen", "train", str(CONFIGS / "fashion_mlp.yaml"),
                               *TINY, "--set", "train.epochs=2", "--run-dir", str(tmp_path / "nodes")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
             for rank in (0, 1)]
    outputs = [node.communicate(timeout=180) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    assert same_weights(single, tmp_path / "nodes")


def test_a_killed_two_rank_run_resumes_on_two_ranks_and_on_one(tmp_path):
    run = tmp_path / "dp"
    args = [sys.executable, "-m", "rlgen", "train", str(CONFIGS / "fashion_mlp.yaml"), *TINY, "--set",
            "train.epochs=40", "--set", "data.limit=3000", "--run-dir", str(run), "--nproc", "2"]
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if (run / "checkpoint.safetensors").exists() and api.load(run).run.state().progress >= 2:
            break
    os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks, at once
    proc.wait(timeout=30)
    stopped_at = api.load(run).run.state().progress
    assert 2 <= stopped_at < 40
    time.sleep(3)  # the ranks (in sessions of their own) died with their launcher: none trains on
    assert api.load(run).run.state().progress == stopped_at
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(run), str(copy)], check=True)
    for target, nproc in ((run, 2), (copy, 1)):
        done = rlgen("train", "--resume", target, "--quiet", "--nproc", nproc)
        assert done.returncode == 0, done.stderr
        resumed = api.load(target)
        assert resumed.run.state().progress == 40 and len(resumed.metrics()) == 40
        assert [row["step"] for row in resumed.metrics()] == list(range(1, 41))
        assert resumed.evaluate()["test_accuracy"] > 0.6


def test_bad_set_ups_are_one_line(tmp_path):
    odd = rlgen("train", CONFIGS / "fashion_mlp.yaml", *TINY, "--set", "train.batch_size=63", "--run-dir",
                tmp_path / "odd", "--nproc", 2)
    assert odd.returncode == 1 and odd.stderr.count("\n") == 1, odd.stderr  # one line, said once (by rank 0)
    assert "train.batch_size 63 is the global batch, shared by 2 processes" in odd.stderr
    assert not (tmp_path / "odd").exists()
    gpu = rlgen("train", CONFIGS / "fashion_mlp.yaml", *TINY[:-2], "--device", "cuda", "--run-dir", tmp_path / "g",
                "--nproc", 2)
    if not torch.cuda.is_available():
        assert gpu.returncode == 1 and gpu.stderr.count("rlgen: error:") == 1 and "Traceback" not in gpu.stderr


# -- agents: gradients averaged at every update (DD-PPO) --------------------------------------------------------------
RECURRENT = ["policy.recurrent={type: lstm, units: 8}", "value.recurrent={type: gru, units: 6}"]


def fake_rollout(seed, steps=12, envs=3, recurrent=False, gaussian=False):
    """A deterministic rollout of CartPole-shaped tensors (`gaussian`: Pendulum-shaped, 3-D observations and 1-D
    torques); the ranks' rollouts have different counts of valid transitions, which the update must weigh
    correctly. `recurrent`: with episode starts and the states of RECURRENT's networks that the rollout began in."""
    from rlgen.agents.rollout import Rollout

    g = torch.Generator().manual_seed(seed)
    if gaussian:
        valid = torch.rand(steps, envs, generator=g) > 0.15
        return Rollout(obs=torch.randn(steps, envs, 3, generator=g), actions=2 * torch.randn(steps, envs, 1, generator=g),
                       rewards=-torch.rand(steps, envs, generator=g), terminated=torch.zeros(steps, envs, dtype=torch.bool),
                       truncated=(torch.rand(steps, envs, generator=g) < 0.1) & valid, valid=valid,
                       last_obs=torch.randn(envs, 3, generator=g), num_steps=int(valid.sum()))
    valid = torch.rand(steps, envs, generator=g) > 0.15
    terminated = (torch.rand(steps, envs, generator=g) < 0.1) & valid
    memory = {"actor": torch.randn(2, 1, envs, 8, generator=g), "critic": torch.randn(1, 1, envs, 6, generator=g)}
    starts = torch.rand(steps, envs, generator=g) < 0.2
    return Rollout(obs=torch.randn(steps, envs, 4, generator=g), actions=torch.randint(0, 2, (steps, envs), generator=g),
                   rewards=torch.ones(steps, envs), terminated=terminated, truncated=torch.zeros(steps, envs, dtype=torch.bool),
                   valid=valid, last_obs=torch.randn(envs, 4, generator=g), num_steps=int(valid.sum()),
                   **({"starts": starts, "last_start": starts[0], "memory": memory} if recurrent else {}))


def one_update(algo, rollout):
    """The policy of the shipped config after one update on `rollout` (same initial weights for every caller)."""
    from rlgen.agents.algorithms import UPDATES, algo_section, build_policy
    from rlgen.agents.config import RL_CONFIGS
    from rlgen.config import load_config
    from rlgen.optim import TrainingOptimizer

    algo, _, variant = algo.partition("+")
    extra = ["ppo.minibatches=1", "ppo.epochs=2"] if algo == "ppo" else []
    if variant == "gaussian":  # the Pendulum config's Gaussian policy (and its observation statistics)
        cfg = load_config(CONFIGS / "pendulum_ppo.yaml", extra, RL_CONFIGS)
        torch.manual_seed(0)
        policy = build_policy(cfg, 3, gym.spaces.Box(-2.0, 2.0, (1,)))
    else:
        cfg = load_config(CONFIGS / f"cartpole_{algo}.yaml", extra + (RECURRENT if variant else []), RL_CONFIGS)
        torch.manual_seed(0)
        policy = build_policy(cfg, 4, 2)
    from rlgen.distributed import current

    optimizer = TrainingOptimizer(policy, cfg.optimizer, average_across_ranks=current().active)
    UPDATES[cfg.algo](algo_section(cfg), policy, optimizer).update(rollout)
    return {k: v.detach().clone() for k, v in policy.state_dict().items()}


def _rank_update(rank, algo, rendezvous, out):
    import torch.distributed as dist
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2)
    weights = one_update(algo, fake_rollout(100 + rank, recurrent="+recurrent" in algo, gaussian="+gaussian" in algo))
    if rank == 0:
        save_file(weights, out)
    leave_and_exit()


@pytest.mark.parametrize("algo", ["reinforce", "a2c", "ppo", "a2c+recurrent", "ppo+recurrent", "ppo+gaussian"])
def test_an_update_from_two_ranks_equals_one_on_both_rollouts(algo, tmp_path):
    import torch.multiprocessing as mp

    out = tmp_path / "rank0.safetensors"
    mp.spawn(_rank_update, args=(algo, str(tmp_path / "rdzv"), str(out)), nprocs=2, join=True)
    recurrent, gaussian = "+recurrent" in algo, "+gaussian" in algo
    a, b = (fake_rollout(100 + i, recurrent=recurrent, gaussian=gaussian) for i in range(2))
    fields = ["obs", "actions", "rewards", "terminated", "truncated", "valid", "last_obs"]
    fields += ["starts", "last_start"] if recurrent else []
    both = type(a)(**{name: torch.cat([getattr(a, name), getattr(b, name)],
                                      dim=1 if getattr(a, name).dim() > 1 and name != "last_obs" else 0)
                      for name in fields}, num_steps=a.num_steps + b.num_steps,
                   memory={k: torch.cat([a.memory[k], b.memory[k]], dim=2) for k in (a.memory or {})})
    assert a.num_steps != b.num_steps  # unequal counts: a plain average of the ranks' means would be wrong
    alone = one_update(algo, both)
    ranks = load_file(out)
    assert alone.keys() == ranks.keys()
    for k in alone:  # Adam's first steps are ±lr wherever a gradient is non-zero, so float noise shows at ~1e-6
        assert torch.allclose(alone[k], ranks[k], atol=2e-5), (algo, k, (alone[k] - ranks[k]).abs().max())


def test_a_rank_that_dies_stops_the_others(tmp_path):
    run = tmp_path / "dp"
    proc = subprocess.Popen([sys.executable, "-m", "rlgen", "train", str(CONFIGS / "fashion_mlp.yaml"), *TINY, "--set",
                             "train.epochs=200", "--set", "data.limit=3000", "--run-dir", str(run), "--nproc", "2"],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "checkpoint.safetensors").exists() and time.monotonic() < deadline:
        time.sleep(0.3)
    workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(workers) == 2, workers
    os.kill(int(workers[1]), signal.SIGKILL)
    _, stderr = proc.communicate(timeout=90)  # the survivor is stopped, not left waiting for its peer
    assert proc.returncode == 1 and "a training process died (exit code -9)" in stderr, stderr
    assert api.load(run).run.state().progress < 200
