"""CLI smoke tests with tiny budgets, and bad input: one line, non-zero exit, nothing overwritten."""

import json

import imageio.v3 as iio
import pytest
import torch
from click.testing import CliRunner

from rlgen import __version__
from rlgen.cli import main
from tests.conftest import CONFIGS

CONFIG = str(CONFIGS / "cartpole_reinforce.yaml")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, code, *needles):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlgen: error:"), result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    overrides = ["train.total_steps=600", "train.eval_every_steps=300", "train.eval_episodes=3",
                 "train.target_return=null", "env.num_envs=4"]
    args = ["train", CONFIG, "--run-dir", run, "--quiet", "--device", "cpu", "--seed", "3"]
    for item in overrides:
        args += ["--set", item]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "run dir:" in result.output
    return run


def test_train_writes_a_complete_run_dir(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.yaml", "meta.json", "model.safetensors", "checkpoint.safetensors", "metrics.csv", "tb"} <= names
    meta = json.loads((trained_run / "meta.json").read_text())
    assert meta["rlgen_version"] == __version__ and meta["kind"] == "agent" and meta["state"]["progress"] >= 600
    assert meta["unit"] == "env steps" and meta["info"]["obs_dim"] == 4
    assert "seed: 3" in (trained_run / "config.yaml").read_text()
    header = (trained_run / "metrics.csv").read_text().splitlines()[0]
    for key in ("rollout/ep_return_mean", "train/loss", "time/steps_per_s", "eval/return_mean"):
        assert key in header
    assert any(p.name.startswith("events.out.tfevents") for p in (trained_run / "tb").iterdir())


def test_evaluate_json(trained_run):
    result = invoke("evaluate", trained_run, "--episodes", 4, "--json", "--device", "cpu")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["episodes"] == 4 and report["mean_return"] >= report["min_return"] > 0
    assert {"mean_return", "std_return", "min_return", "max_return"} <= set(report)


def test_evaluate_text(trained_run):
    result = invoke("evaluate", trained_run, "--episodes", 2)
    assert result.exit_code == 0 and "mean return" in result.stdout


def test_render_gif_has_many_frames(trained_run, tmp_path):
    out = tmp_path / "play.gif"
    result = invoke("render", trained_run, "--out", out, "--seed", 1)
    assert result.exit_code == 0, result.output
    frames = iio.imread(out, index=None)
    assert frames.ndim == 4 and frames.shape[0] > 1 and frames.shape[-1] in (3, 4)
    assert frames.std() > 0  # not a blank picture


def test_render_mp4(trained_run, tmp_path):
    out = tmp_path / "play.mp4"
    result = invoke("render", trained_run, "--out", out)
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000


def test_resume_an_agent_run(trained_run, tmp_path):
    import shutil

    run = shutil.copytree(trained_run, tmp_path / "run")
    before = (run / "metrics.csv").read_text()
    result = invoke("train", "--resume", run, "--quiet")  # its budget is spent already: nothing more to do
    assert result.exit_code == 0 and "env steps" in result.output, result.output
    assert (run / "metrics.csv").read_text() == before


def test_render_in_a_window(trained_run, monkeypatch):
    # a real pygame window on SDL's dummy video driver (no screen here); DISPLAY only passes the display check
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("DISPLAY", ":0")
    result = invoke("render", trained_run, "--human", "--episodes", 2)
    assert result.exit_code == 0, result.output
    assert "played 2 episode(s) in a window" in result.output


def test_version_and_help():
    import subprocess
    import sys

    assert __version__ in invoke("--version").output
    for command in ("train", "evaluate", "render", "sample", "reconstruct", "interpolate", "plot", "summary"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Example" in result.output
    module = subprocess.run([sys.executable, "-m", "rlgen", "--version"], capture_output=True, text=True)
    assert module.returncode == 0 and __version__ in module.stdout


def test_bad_config_exits_2_with_one_line(tmp_path):
    assert_one_line_error(invoke("train", CONFIG, "--set", "optimizer.lrr=1", "--run-dir", tmp_path / "r"), 2, "optimizer.lrr")
    assert_one_line_error(invoke("train", CONFIG, "--set", "reinforce.gamma=2", "--run-dir", tmp_path / "r"), 2, "gamma")
    assert_one_line_error(invoke("train", tmp_path / "nope.yaml"), 2, "does not exist")
    compile_numpy = invoke("train", CONFIG, "--set", "env.backend=gymnasium", "--set", "env.compile=true")
    assert_one_line_error(compile_numpy, 2, "env: env.compile needs env.backend torch")
    assert not (tmp_path / "r").exists()


def test_unknown_env_id(tmp_path):
    result = invoke("train", CONFIG, "--set", "env.id=NoSuchEnv-v0", "--run-dir", tmp_path / "r", "--quiet")
    assert_one_line_error(result, 1, "NoSuchEnv-v0")
    assert not (tmp_path / "r").exists()  # checked before the run dir is made


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu(tmp_path):
    assert_one_line_error(invoke("train", CONFIG, "--device", "cuda", "--run-dir", tmp_path / "r"), 1, "CUDA")


def test_train_refuses_existing_run_dir(trained_run):
    before = (trained_run / "model.safetensors").read_bytes()
    assert_one_line_error(invoke("train", CONFIG, "--run-dir", trained_run), 1, "not empty")
    assert (trained_run / "model.safetensors").read_bytes() == before


def test_missing_and_damaged_run_dirs(tmp_path, trained_run):
    assert_one_line_error(invoke("evaluate", tmp_path / "missing"), 1, "does not exist")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(invoke("evaluate", tmp_path / "empty"), 1, "not an rlgen run dir")
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.yaml", "meta.json"):
        (broken / name).write_bytes((trained_run / name).read_bytes())
    (broken / "model.safetensors").write_bytes(b"garbage")
    assert_one_line_error(invoke("evaluate", broken), 1, "not a readable safetensors file")
    (broken / "meta.json").write_text("{not json")
    assert_one_line_error(invoke("render", broken, "--out", tmp_path / "x.gif"), 1, "meta.json")
    assert not (tmp_path / "x.gif").exists()


def test_run_of_another_kind(tmp_path, trained_run):
    other = tmp_path / "other"
    other.mkdir()
    for name in ("config.yaml", "model.safetensors"):
        (other / name).write_bytes((trained_run / name).read_bytes())
    meta = json.loads((trained_run / "meta.json").read_text())
    (other / "meta.json").write_text(json.dumps({**meta, "kind": "autoencoder"}))
    assert_one_line_error(invoke("evaluate", other), 1, "kind 'autoencoder'")


def test_bad_render_outputs_leave_existing_files_alone(tmp_path, trained_run):
    keep = tmp_path / "keep.gif"
    keep.write_bytes(b"precious")
    assert_one_line_error(invoke("render", tmp_path / "missing", "--out", keep), 1, "does not exist")
    assert keep.read_bytes() == b"precious"
    assert_one_line_error(invoke("render", trained_run, "--out", tmp_path / "x.png"), 1, ".gif or .mp4")
    assert_one_line_error(invoke("render", trained_run, "--out", tmp_path / "no" / "x.gif"), 1, "does not exist")
    assert_one_line_error(invoke("render", trained_run), 1, "--out")
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["keep.gif"]


def test_same_seed_gives_identical_weights(tmp_path):
    from safetensors.torch import load_file

    args = ["--quiet", "--device", "cpu", "--set", "train.total_steps=400", "--set", "train.eval_every_steps=400",
            "--set", "train.eval_episodes=2", "--set", "train.target_return=null", "--set", "env.num_envs=4"]
    for name in ("a", "b"):
        assert invoke("train", CONFIG, "--run-dir", tmp_path / name, *args).exit_code == 0
    a, b = (load_file(tmp_path / n / "checkpoint.safetensors") for n in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_ctrl_c_keeps_what_was_learned(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "rlgen", "train", CONFIG, "--run-dir", str(run), "--quiet", "--device", "cpu",
           "--set", "train.total_steps=10000000", "--set", "train.target_return=null",
           "--set", "train.eval_every_steps=500", "--set", "train.eval_episodes=2"]
    # a shell that starts a job in the background (nohup …&) makes it ignore SIGINT, and Python then installs no
    # KeyboardInterrupt handler in its children: give the child the default disposition, as a terminal would
    restore = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=restore)
    deadline = time.time() + 120
    while not (run / "checkpoint.safetensors").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # say where it stood, for the next person
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"no exit 120 s after SIGINT; stderr: {err[-2000:]}") from None
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [f"rlgen: error: interrupted; what was learned so far is saved in {run}"]
    meta = json.loads((run / "meta.json").read_text())
    assert meta["state"]["progress"] > 0
    result = invoke("evaluate", run, "--episodes", 2, "--json")
    assert result.exit_code == 0, result.output


def test_set_file_overrides_and_its_bad_input(tmp_path):
    good = tmp_path / "best.yaml"
    good.write_text("optimizer.lr: 1.0e-05\ntrain.total_steps: 600\ntrain.eval_episodes: 3\n")
    result = invoke("train", CONFIG, "--set-file", good, "--set", "train.total_steps=700", "--run-dir",
                    tmp_path / "run", "--quiet", "--device", "cpu")
    assert result.exit_code == 0, result.output
    from rlgen import api

    cfg = api.load(tmp_path / "run").config
    assert cfg.optimizer.lr == 1e-5 and cfg.train.total_steps == 700  # --set wins over the file
    assert_one_line_error(invoke("train", CONFIG, "--set-file", tmp_path / "none.yaml", "--run-dir", tmp_path / "a"),
                          2, "--set-file: config file", "does not exist")
    (tmp_path / "bad.yaml").write_text("optimizer.lr: [\n")
    assert_one_line_error(invoke("train", CONFIG, "--set-file", tmp_path / "bad.yaml", "--run-dir", tmp_path / "b"),
                          2, "--set-file:", "not valid YAML")
    (tmp_path / "odd.yaml").write_text("optimizer.lrr: 0.1\n")
    assert_one_line_error(invoke("train", CONFIG, "--set-file", tmp_path / "odd.yaml", "--run-dir", tmp_path / "c"),
                          2, "optimizer.lrr: unknown key")
    assert not any((tmp_path / name).exists() for name in "abc")
