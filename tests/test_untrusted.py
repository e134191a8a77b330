"""Someone else's run directory, damaged or hostile: every loaded tensor, skeleton, state, meta.json and metrics.csv
is checked before use, and each problem is one line with a non-zero exit, never a traceback or a crash."""

import json
import shutil
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

from rlgen.checkpoint import load_state, save_state, save_tensors
from rlgen.cli import main
from tests.conftest import CONFIGS
from tests.test_cli import assert_one_line_error

AGENT = ["train.total_steps=300", "train.eval_every_steps=150", "train.eval_episodes=2", "train.target_return=null",
         "env.num_envs=4"]
VAE = ["data.limit=600", "data.validation=100", "train.epochs=1", "vae.nll_samples=2"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def trained(root, config, overrides):
    args = ["train", CONFIGS / config, "--run-dir", root, "--quiet", "--device", "cpu"]
    for item in overrides:
        args += ["--set", item]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("untrusted")
    return {"agent": trained(root / "agent", "cartpole_ppo.yaml", AGENT),
            "vae": trained(root / "vae", "fashion_vae.yaml", VAE)}


def copy(runs, kind, tmp_path):
    return shutil.copytree(runs[kind], tmp_path / kind)


def tamper(run, change):
    path = run / "checkpoint.safetensors"
    state = load_state(path)
    change(state)
    save_state(path, state)


@pytest.mark.parametrize("kind", ["vae", "agent"])
def test_an_optimizer_buffer_of_the_wrong_shape_is_refused_not_run(runs, tmp_path, kind):
    """The fused Adam kernel wrote out of bounds with this file (exit 139); it must never see it."""
    run = copy(runs, kind, tmp_path)

    def change(state):
        state["optimizer"]["optimizer"]["state"][0]["exp_avg"] = torch.zeros(5)
        state["state"].update(progress=0, last_eval_at=0, status="running")  # so that resuming takes a step

    tamper(run, change)
    proc = subprocess.run([sys.executable, "-m", "rlgen", "train", "--resume", str(run), "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "exp_avg of parameter 0 is torch.float32 (5,)" in lines[0], proc.stderr


@pytest.mark.parametrize("change, needle", [
    (lambda s: s["state"].pop("progress"), "damaged run state (progress: Field required)"),
    (lambda s: s.__setitem__("state", "running fine"), "damaged run state"),
    (lambda s: s["state"].__setitem__("progress", -5), "progress: Input should be greater than or equal to 0"),
    (lambda s: s["state"].__setitem__("status", "bored"), "status"),
    (lambda s: s["rng"].__setitem__("torch", torch.rand(5056)), "RNG state 'torch' is torch.float32 (5056,)"),
    (lambda s: s["rng"].pop("shuffle"), "RNG state 'shuffle' is None"),
    (lambda s: s["optimizer"].__setitem__("steps_done", "many"), "steps_done is 'many'"),
    (lambda s: s["optimizer"]["optimizer"]["state"][0].__setitem__("step", torch.tensor(float("nan"))), "step of parameter 0 is nan"),
    (lambda s: s["optimizer"]["optimizer"]["state"].__setitem__(999, {}), "parameter 999, which the model does not have"),
    (lambda s: s["optimizer"]["optimizer"]["param_groups"][0].__setitem__("lr", float("inf")), "bad lr: inf"),
    (lambda s: s["model"].__setitem__("trunk.1.0.weight", torch.zeros(3)), "trunk.1.0.weight is torch.float32 (3,)"),
])
def test_damaged_checkpoints_are_one_line(runs, tmp_path, change, needle):
    run = copy(runs, "vae", tmp_path)
    tamper(run, change)
    assert_one_line_error(invoke("train", "--resume", run, "--quiet"), 1, needle)


def test_a_deeply_nested_skeleton_is_refused_before_parsing(runs, tmp_path):
    run = copy(runs, "vae", tmp_path)
    save_tensors(run / "checkpoint.safetensors", {}, {"skeleton": "[" * 200_000 + "]" * 200_000})
    assert_one_line_error(invoke("train", "--resume", run), 1, "nested deeper than 32")


def test_damaged_meta_and_metrics_are_one_line(runs, tmp_path):
    run = copy(runs, "vae", tmp_path)
    (run / "metrics.csv").write_bytes(b"step,train/loss\n1,\xff\xfe\n")
    assert_one_line_error(invoke("train", "--resume", run), 1, "metrics.csv is damaged")
    assert_one_line_error(invoke("plot", run, "--out", tmp_path / "p.png"), 1, "metrics.csv is damaged")
    (run / "meta.json").write_bytes(b'{"kind": "\xff"}')
    assert_one_line_error(invoke("evaluate", run), 1, "meta.json is damaged (not UTF-8 JSON)")
    (run / "meta.json").write_text("[" * 100_000 + "]" * 100_000)
    assert_one_line_error(invoke("evaluate", run), 1, "meta.json is damaged (nested deeper")


def test_the_policy_is_shaped_by_its_environment_not_by_meta_json(runs, tmp_path):
    run = copy(runs, "agent", tmp_path)
    before = json.loads(invoke("evaluate", run, "--episodes", 3, "--json").stdout)
    meta = json.loads((run / "meta.json").read_text())
    meta["info"]["obs_dim"] = 10**12
    del meta["info"]["n_actions"]
    (run / "meta.json").write_text(json.dumps(meta))
    after = invoke("evaluate", run, "--episodes", 3, "--json")
    assert after.exit_code == 0 and json.loads(after.stdout)["mean_return"] == before["mean_return"]


@pytest.mark.parametrize("change, needle", [
    (lambda s: s["loop"]["collector"].__setitem__("obs", torch.zeros(3, 4)), "collector state: obs is torch.float32 (3, 4)"),
    (lambda s: s["loop"]["collector"].__setitem__("env.generator", torch.zeros(7)), "generator is torch.float32 (7,)"),
    (lambda s: s["loop"]["collector"].__setitem__("noise_used", torch.tensor(999)), "noise_used 999"),
    (lambda s: s["loop"].__setitem__("recent_returns", torch.zeros(500)), "recent_returns is not a list"),
])
def test_a_damaged_environment_state_is_one_line(runs, tmp_path, change, needle):
    run = copy(runs, "agent", tmp_path)

    def damage(state):
        change(state)
        state["state"].update(progress=0, last_eval_at=0, status="running")

    tamper(run, damage)
    assert_one_line_error(invoke("train", "--resume", run, "--quiet"), 1, needle)


def test_kill_9_during_training_leaves_a_run_that_resumes(tmp_path):
    import signal
    import time

    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "rlgen", "train", str(CONFIGS / "cartpole_reinforce.yaml"), "--run-dir", str(run),
           "--quiet", "--device", "cpu", "--set", "train.total_steps=100000000", "--set", "train.target_return=null",
           "--set", "train.eval_every_steps=500", "--set", "train.eval_episodes=2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not ((run / "checkpoint.safetensors").exists() and
                                          json.loads((run / "meta.json").read_text())["state"].get("progress", 0) > 2000):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert invoke("evaluate", run, "--episodes", 2).exit_code == 0
    meta = json.loads((run / "meta.json").read_text())
    meta_config = (run / "config.yaml").read_text().replace("total_steps: 100000000", "total_steps: 3000")
    (run / "config.yaml").write_text(meta_config)  # a smaller budget, so that the resumed run ends soon
    result = invoke("train", "--resume", run, "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((run / "meta.json").read_text())["state"]["progress"] >= meta["state"]["progress"]
