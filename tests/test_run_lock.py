"""One writer per run directory, crashes that leave nothing stuck, and failed starts that leave nothing behind."""

import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from rlgen import api
from rlgen.cli import main
from rlgen.errors import RlgenError, TrainingInterrupted
from rlgen.rundir import RunDir
from tests.conftest import CONFIGS
from tests.test_cli import assert_one_line_error

TINY_AE = {"device": "cpu", "data.limit": 600, "data.validation": 100, "train.epochs": 1}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def finished(tmp_path):
    return api.train(CONFIGS / "fashion_stacked_ae.yaml", TINY_AE, run_dir=tmp_path / "run", quiet=True).path


def test_a_second_writer_is_refused(finished, tmp_path):
    holder = RunDir(finished)
    holder.lock()  # as a training process would hold it
    try:
        assert_one_line_error(invoke("train", "--resume", finished, "--quiet"), 1, "is in use by another rlgen process")
        with pytest.raises(RlgenError, match="in use by another rlgen process"):
            RunDir.create(finished, api.load(finished).config, "autoencoder")
        assert invoke("evaluate", finished).exit_code == 0  # readers are welcome
    finally:
        holder.unlock()
    assert invoke("train", "--resume", finished, "--quiet").exit_code == 0


def test_two_creators_of_one_new_run_dir_cannot_both_succeed(tmp_path):
    first = RunDir.create(tmp_path / "new", api.resolve_config(CONFIGS / "fashion_vae.yaml")[0], "autoencoder")
    with pytest.raises(RlgenError, match="in use by another rlgen process"):
        RunDir.create(tmp_path / "new", api.resolve_config(CONFIGS / "fashion_vae.yaml")[0], "autoencoder")
    first.unlock()
    with pytest.raises(RlgenError, match="already exists and is not empty"):
        RunDir.create(tmp_path / "new", api.resolve_config(CONFIGS / "fashion_vae.yaml")[0], "autoencoder")


def test_a_killed_writer_leaves_no_lock_and_its_temporary_files_are_swept(finished):
    code = f"from rlgen.rundir import RunDir; r = RunDir({str(finished)!r}); r.lock(); print('locked', flush=True); input()"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    assert_one_line_error(invoke("train", "--resume", finished), 1, f"(pid {proc.pid})")
    stale = finished / ".checkpoint.abc123.tmp.safetensors"
    stale.write_bytes(b"half a checkpoint")
    assert invoke("evaluate", finished).exit_code == 0 and stale.exists()  # a reader never removes a writer's file
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    result = invoke("train", "--resume", finished, "--quiet")
    assert result.exit_code == 0, result.output
    assert not stale.exists()


def test_a_start_that_fails_leaves_no_run_dir(tmp_path):
    run_dir = tmp_path / "r"
    result = invoke("train", CONFIGS / "fashion_vae.yaml", "--run-dir", run_dir, "--set", "data.limit=2",
                    "--set", "data.validation=5")
    assert_one_line_error(result, 1, "data.validation 5 does not fit in the 2 training images data.limit keeps")
    assert not run_dir.exists()
    again = invoke("train", CONFIGS / "fashion_stacked_ae.yaml", "--run-dir", run_dir, "--quiet", *[
        arg for k, v in TINY_AE.items() for arg in ("--set", f"{k}={v}")])
    assert again.exit_code == 0, again.output


def test_ctrl_c_before_anything_is_learnt_says_so(tmp_path, monkeypatch):
    import rlgen.epochs

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rlgen.epochs, "fit_epoch", interrupted)
    with pytest.raises(TrainingInterrupted) as info:
        api.train(CONFIGS / "fashion_stacked_ae.yaml", TINY_AE, run_dir=tmp_path / "r", quiet=True)
    assert not info.value.saved and not (tmp_path / "r").exists()
    result = invoke("train", CONFIGS / "fashion_stacked_ae.yaml", "--run-dir", tmp_path / "r", "--quiet")
    assert result.exit_code == 130
    assert result.stderr.strip() == f"rlgen: error: interrupted before anything was learned; nothing was kept in {tmp_path / 'r'}"


def test_resume_with_a_bad_device_is_one_line(finished):
    assert_one_line_error(invoke("train", "--resume", finished, "--device", "tpu"), 2, "device")


def test_two_processes_training_into_one_new_run_dir(tmp_path):
    run_dir = tmp_path / "shared"
    sets = [arg for k, v in TINY_AE.items() for arg in ("--set", f"{k}={v}")]
    procs = [subprocess.Popen([sys.executable, "-m", "rlgen", "train", str(CONFIGS / "fashion_stacked_ae.yaml"),
                               "--run-dir", str(run_dir), "--quiet", "--seed", str(seed), *sets],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    outcomes = [(proc.wait(timeout=120), proc.stderr.read()) for proc in procs]
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 1], outcomes
    refused = next(err for code, err in outcomes if code == 1).strip().splitlines()
    assert len(refused) == 1 and ("in use by another rlgen process" in refused[0] or "not empty" in refused[0])
    winner = next(seed for seed, (code, _) in zip((1, 2), outcomes) if code == 0)
    assert api.load(run_dir).config.seed == winner  # config and weights of one and the same run
    assert api.load(run_dir).evaluate(device="cpu")["images"] == 600


def test_a_full_disk_during_training_is_one_line(tmp_path, monkeypatch):
    import errno
    import os

    real_fsync, calls = os.fsync, []

    def full_after_a_while(fd):
        calls.append(fd)
        if len(calls) > 3:  # config.yaml, meta.json … then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_after_a_while)
    result = invoke("train", CONFIGS / "fashion_stacked_ae.yaml", "--run-dir", tmp_path / "r", "--quiet",
                    *[arg for k, v in TINY_AE.items() for arg in ("--set", f"{k}={v}")])
    assert_one_line_error(result, 1, "No space left on device")
