"""Continuing a finished run with a larger budget, warm starts from another run's weights, and moving an old run
aside: through the command line and the Python API."""

import json

import pytest
import torch
from safetensors.torch import load_file

import rlgen
from rlgen.errors import ConfigError, RlgenError
from tests.conftest import CONFIGS
from tests.test_classifier_cli import invoke, sets
from tests.test_cli import assert_one_line_error

SMALL = ["data.limit=1200", "data.validation=200", "optimizer.schedule=constant", "device=cpu"]


def test_a_finished_run_continued_equals_one_trained_the_longer_budget_at_once(tmp_path):
    """2 epochs, then --resume with train.epochs=4, logs and weighs what a 4-epoch run does (constant rate)."""
    whole = rlgen.train(CONFIGS / "fashion_mlp.yaml", SMALL + ["train.epochs=4"], run_dir=tmp_path / "whole",
                        quiet=True, threads=1)
    short = invoke("train", CONFIGS / "fashion_mlp.yaml", "--run-dir", tmp_path / "run", "--quiet", "--threads", 1,
                   *sets(SMALL + ["train.epochs=2"]))
    assert short.exit_code == 0, short.output
    again = invoke("train", "--resume", tmp_path / "run", "--quiet")  # nothing changed: nothing to do, and it says so
    assert again.exit_code == 0 and again.output.startswith("done: 2 epochs"), again.output
    assert "it had finished: nothing more was trained; give more epochs to continue it (--set train.epochs=4)" in \
        again.output
    longer = invoke("train", "--resume", tmp_path / "run", "--quiet", "--threads", 1, "--set", "train.epochs=4")
    assert longer.exit_code == 0 and longer.output.startswith("done: 4 epochs"), longer.output
    again = rlgen.load(tmp_path / "run")
    assert again.config.train.epochs == 4 and again.meta.info["continued"] == [{"at": 2, "set": {"train.epochs": 4}}]
    drop = lambda rows: [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rows]  # noqa: E731
    assert drop(again.metrics()) == drop(whole.metrics())
    mine, theirs = load_file(tmp_path / "run" / "model.safetensors"), load_file(tmp_path / "whole" / "model.safetensors")
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs)


def test_continuing_refuses_what_would_change_the_model_or_the_data(tmp_path):
    run = rlgen.train(CONFIGS / "fashion_mlp.yaml", SMALL + ["train.epochs=1"], run_dir=tmp_path / "run", quiet=True)
    for item, key in (("data.limit=600", "data.limit"), ("model.layers=[{type: flatten}]", "model.layers"),
                      ("optimizer.lr=0.01", "optimizer.lr")):
        assert_one_line_error(invoke("train", "--resume", run.path, "--set", item, "--set", "train.epochs=3"), 2,
                              f"{key} would change its model or data", f"--init-from {run.path}")
    with pytest.raises(ConfigError, match="train.batch_size would change"):
        rlgen.resume(run.path, {"train.batch_size": 64, "train.epochs": 2})
    assert rlgen.load(run.path).config.train.epochs == 1  # nothing was written
    continued = rlgen.resume(run.path, {"train.epochs": 2}, quiet=True)
    assert continued.result.progress == 2 and continued.result.status == "done"


def test_an_agent_continues_its_step_budget_and_a_solved_one_says_how(tmp_path, tiny_agent_overrides):
    run = rlgen.train(CONFIGS / "cartpole_reinforce.yaml", tiny_agent_overrides + ["device=cpu"],
                      run_dir=tmp_path / "run", quiet=True)
    assert run.result.status == "done" and 600 <= run.result.progress < 604
    rows = len(run.metrics())
    more = rlgen.resume(run.path, ["train.total_steps=1200"], quiet=True)
    assert more.result.status == "done" and 1200 <= more.result.progress < 1204
    assert len(more.metrics()) > rows and more.metrics()[rows - 1]["step"] == run.result.progress
    solved = rlgen.train(CONFIGS / "cartpole_reinforce.yaml", tiny_agent_overrides + ["device=cpu",
                         "train.target_return=5"], run_dir=tmp_path / "solved", quiet=True)
    assert solved.result.status == "solved"
    with pytest.raises(ConfigError, match=r"it is solved .*--set train.target_return=null"):
        rlgen.resume(solved.path, {"train.total_steps": 5000})
    assert rlgen.resume(solved.path, {"train.total_steps": 1500, "train.target_return": None},
                        quiet=True).result.status == "done"


def test_init_from_starts_from_the_other_run_s_weights(tmp_path):
    source = rlgen.train(CONFIGS / "fashion_mlp.yaml", SMALL + ["train.epochs=1"], run_dir=tmp_path / "a", quiet=True)
    # a rate so small that one epoch leaves the weights where they started: the run's model is the source's
    warm = invoke("train", CONFIGS / "fashion_mlp.yaml", "--run-dir", tmp_path / "b", "--quiet", "--init-from",
                  source.path, *sets(SMALL + ["train.epochs=1", "optimizer.lr=1e-12"]))
    assert warm.exit_code == 0, warm.output
    start, after = source.model.state_dict(), rlgen.load(tmp_path / "b").model.state_dict()
    assert all(torch.allclose(start[k].float(), after[k].float(), atol=1e-6) for k in start)
    assert json.loads((tmp_path / "b" / "meta.json").read_text())["info"]["init_from"] == str(source.path.resolve())
    assert_one_line_error(invoke("train", CONFIGS / "fashion_cnn.yaml", "--run-dir", tmp_path / "c", "--init-from",
                                 source.path, *sets(SMALL + ["train.epochs=1"])), 1, "its weights do not fit this model")
    assert not (tmp_path / "c").exists()
    assert_one_line_error(invoke("train", CONFIGS / "cartpole_reinforce.yaml", "--run-dir", tmp_path / "d",
                                 "--init-from", source.path), 2, "runs of kind agent start only from")
    assert not (tmp_path / "d").exists()


def test_overwrite_moves_the_old_run_aside_and_never_deletes_it(tmp_path):
    first = rlgen.train(CONFIGS / "fashion_mlp.yaml", SMALL + ["train.epochs=1"], run_dir=tmp_path / "run", quiet=True)
    weights = (first.path / "model.safetensors").read_bytes()
    with pytest.raises(RlgenError, match=r"not empty; choose another run dir, or overwrite \(--overwrite, overwrite="):
        rlgen.train(CONFIGS / "fashion_mlp.yaml", SMALL + ["train.epochs=1"], run_dir=tmp_path / "run", quiet=True)
    second = rlgen.train(CONFIGS / "fashion_mlp.yaml", SMALL + ["train.epochs=1", "seed=3"], run_dir=tmp_path / "run",
                         quiet=True, overwrite=True)
    (old,) = [p for p in tmp_path.iterdir() if p.name.startswith("run.old-")]
    assert (old / "model.safetensors").read_bytes() == weights and rlgen.load(old).config.seed == 0
    assert second.config.seed == 3 and rlgen.load(tmp_path / "run").config.seed == 3
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    result = invoke("train", CONFIGS / "fashion_mlp.yaml", "--run-dir", tmp_path / "notes", "--overwrite",
                    *sets(SMALL + ["train.epochs=1"]))
    assert_one_line_error(result, 1, "is not an rlgen run dir")
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"
