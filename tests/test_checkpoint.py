"""Checkpoints: exact round trips, no pickle anywhere, atomic writes, clear errors on damaged files."""

import json
import os
import subprocess

import pytest
import torch

from rlgen.agents.config import ReinforceRunConfig
from rlgen.agents.policy import ActorCritic
from rlgen.atomic import atomic_write_bytes
from rlgen.checkpoint import load_state, save_state
from rlgen.errors import RlgenError
from rlgen.nets import MLPConfig
from rlgen.optim import OptimizerConfig, TrainingOptimizer
from rlgen.rundir import RunDir
from rlgen.runstate import RunState
from tests.conftest import ROOT


def trained_policy():
    torch.manual_seed(0)
    policy = ActorCritic(4, 2, MLPConfig(hidden=[16, 16], batch_norm=True), MLPConfig(hidden=[8]))
    opt = TrainingOptimizer(policy, OptimizerConfig(name="adam", lr=0.01))
    for _ in range(3):
        obs = torch.randn(32, 4)
        opt.step(policy.logits(obs).square().mean() + policy.value(obs).square().mean())
    return policy, opt


def test_run_dir_weights_round_trip(tmp_path):
    policy, opt = trained_policy()
    run = RunDir.create(tmp_path / "run", ReinforceRunConfig(algo="reinforce"), "agent")
    run.save_weights(policy)
    rng = torch.get_rng_state()
    run.save_checkpoint(policy, opt, RunState(progress=3, best_score=1.5), {"torch": rng})
    fresh = ActorCritic(4, 2, MLPConfig(hidden=[16, 16], batch_norm=True), MLPConfig(hidden=[8]))
    run.load_weights(fresh)
    for (k, a), (_, b) in zip(policy.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(a, b), k  # includes batch norm's running statistics
    again = ActorCritic(4, 2, MLPConfig(hidden=[16, 16], batch_norm=True), MLPConfig(hidden=[8]))
    opt2 = TrainingOptimizer(again, OptimizerConfig(name="adam", lr=0.01))
    state, saved_rng, loop = run.load_checkpoint(again, opt2)
    assert loop == {}
    assert state == RunState(progress=3, best_score=1.5) and torch.equal(saved_rng["torch"], rng)
    assert run.state() == state  # mirrored in meta.json
    assert all(torch.equal(a, b) for a, b in zip(policy.state_dict().values(), again.state_dict().values()))
    state, original = opt2.state_dict(), opt.state_dict()
    assert state["steps_done"] == 3
    assert state["optimizer"]["param_groups"][0]["lr"] == original["optimizer"]["param_groups"][0]["lr"]
    for idx, slots in original["optimizer"]["state"].items():
        for name, value in slots.items():
            assert torch.equal(state["optimizer"]["state"][idx][name], value)


def test_run_files_are_not_pickles(tmp_path):
    policy, opt = trained_policy()
    run = RunDir.create(tmp_path / "run", ReinforceRunConfig(algo="reinforce"), "agent")
    run.save_weights(policy)
    run.save_checkpoint(policy, opt, RunState(), {"torch": torch.get_rng_state()})
    for path in (tmp_path / "run").iterdir():
        head = path.read_bytes()[:16]
        assert not head.startswith(b"\x80") and not head.startswith(b"PK"), path  # pickle / torch zip magic
    header_len = int.from_bytes((tmp_path / "run" / "model.safetensors").read_bytes()[:8], "little")
    header = json.loads((tmp_path / "run" / "model.safetensors").read_bytes()[8 : 8 + header_len])
    assert "actor.0.0.weight" in header


def test_no_code_path_uses_pickle():
    """Nothing rlgen writes or reads of its own is a pickle; the one exception is a stable-baselines3 .zip the user
    names (`rlgen evaluate FILE.zip`), opened by one module only, after its warning."""
    sources = subprocess.run(
        ["grep", "-rnE", r"torch\.load\(|import pickle|pickle\.load|cloudpickle|\.zip['\"]", "rlgen", "agents", "envs"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    hits = [line.split(":")[0] for line in sources.stdout.splitlines()]
    assert set(hits) <= {"agents/kinds.py"} and len(hits) <= 1, sources.stdout  # its `model_files = (".zip",)`
    opener = (ROOT / "agents" / "sb3_zip.py").read_text()
    assert opener.index("print(WARNING") < opener.index(".load(path")  # warned before SB3 unpickles


def test_nested_state_keeps_types(tmp_path):
    state = {"a": {0: torch.arange(3), 1: [1.5, "x", None, True]}, "b": (torch.ones(2, 2), 7)}
    save_state(tmp_path / "s.safetensors", state)
    back = load_state(tmp_path / "s.safetensors")
    assert torch.equal(back["a"][0], torch.arange(3)) and back["a"][1] == [1.5, "x", None, True]
    assert torch.equal(back["b"][0], torch.ones(2, 2)) and back["b"][1] == 7


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"old")

    def crash(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(RlgenError, match="cannot write .*model.safetensors: disk full"):
        atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temporary file left behind


def test_damaged_files_are_clear_errors(tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"\x80\x04not a safetensors file at all")
    with pytest.raises(RlgenError, match="not a readable safetensors file"):
        load_state(bad)
    with pytest.raises(RlgenError, match="missing"):
        load_state(tmp_path / "nope.safetensors")


def test_create_refuses_a_non_empty_dir(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    with pytest.raises(RlgenError, match="not empty"):
        RunDir.create(tmp_path / "run", ReinforceRunConfig(algo="reinforce"), "agent")
    assert (tmp_path / "run" / "keep.txt").read_text() == "mine"
