"""Sweeps: grid expansion, the statistics (IQM, bootstrap intervals), bad sweep files, a sweep run end to end, and
its resumption after Ctrl-C."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from rlgen import api
from rlgen.cli import main
from rlgen.errors import ConfigError, RlgenError
from rlgen.studies.space import SpaceSpec, base_params, decoded, encoded
from rlgen.studies.spec import SweepSpec, load_spec
from rlgen.studies.stats import bootstrap_ci, describe, iqm
from tests.conftest import CONFIGS, ROOT
from tests.test_seeds import default_ctrl_c

TINY_MLP = {"data.limit": 600, "data.validation": 88,
            "model.layers": [{"type": "flatten"}, {"type": "dense", "units": 16}], "device": "cpu"}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def sweep_file(tmp_path, **fields):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"base": str(CONFIGS / "fashion_mlp.yaml"), **fields}))
    return path


# -- the grid ----------------------------------------------------------------------------------------------------------
def test_grid_is_the_cartesian_product_with_the_zip_group_as_one_axis():
    spec = SweepSpec(base="x.yaml", grid={"a.x": [1, 2, 3], "b": ["p", "q"]},
                     zip={"optimizer.lr": [0.1, 1e-5], "optimizer.decay": [0.5, 0.25]}, seeds=[0, 1])
    cells = spec.cells()
    assert len(cells) == 3 * 2 * 2
    assert cells[0].settings == {"a.x": 1, "b": "p", "optimizer.lr": 0.1, "optimizer.decay": 0.5}
    assert cells[1].settings == {"a.x": 1, "b": "p", "optimizer.lr": 1e-5, "optimizer.decay": 0.25}  # zipped
    assert cells[-1].settings == {"a.x": 3, "b": "q", "optimizer.lr": 1e-5, "optimizer.decay": 0.25}
    assert len({c.name for c in cells}) == len(cells)
    assert cells[1].name == "a.x=1,b=p,optimizer.lr=1e-05,optimizer.decay=0.25"
    assert cells[1].label() == "x=1, b=p, lr=1e-05, decay=0.25"
    assert SweepSpec(base="x.yaml").cells()[0].settings == {}  # no axes: one cell, the base config
    odd = SweepSpec(base="x.yaml", grid={"model.layers": [[{"type": "flatten"}, {"type": "dense", "units": 3}]]})
    assert "/" not in odd.cells()[0].name and len(odd.cells()[0].name) <= 120


@pytest.mark.parametrize("fields, needle", [
    ({"zip": {"a": [1, 2], "b": [1]}}, "zip: every list must have the same length (a: 2, b: 1)"),
    ({"grid": {"a": [1]}, "set": {"a": 2}}, "a: set in more than one of set / grid / zip"),
    ({"grid": {"a": []}}, "grid.a: give at least one value"),
    ({"grid": {"seed": [1, 2]}}, "grid.seed: seed cannot be swept here"),
    ({"seeds": [1, 1]}, "seeds must be distinct"),
    ({"seeds": []}, "seeds"),
    ({"grids": {"a": [1]}}, "grids: unknown key"),
    ({"base": "nowhere.yaml"}, "base: config file"),
    ({"grid": {"a": list(range(400)), "b": list(range(400))}}, "160,000 runs: more than 100,000"),
])
def test_bad_sweep_files_are_one_line(tmp_path, fields, needle):
    path = sweep_file(tmp_path, **fields)
    with pytest.raises(ConfigError, match=None) as caught:
        load_spec(path)
    assert needle in str(caught.value) and "\n" not in str(caught.value)
    result = invoke("sweep", path, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and needle in result.stderr, result.output
    assert not (tmp_path / "out").exists()


def test_a_cell_whose_config_is_wrong_is_named_before_anything_runs(tmp_path):
    path = sweep_file(tmp_path, grid={"optimizer.lr": [0.01, -1.0]}, set=TINY_MLP)
    result = invoke("sweep", path, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 2 and "sweep cell lr=-1: " in result.stderr and "optimizer.lr" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_sweep_of_whole_configs_is_one_more_axis_with_a_baseline_to_compare_with():
    spec = SweepSpec(configs={"naive": "a.yaml", "lstm": "b.yaml"}, grid={"data.horizon": [1, 10]},
                     baseline={"config": "naive"})
    cells = spec.cells()
    assert [c.settings for c in cells] == [{"config": "naive", "data.horizon": 1}, {"config": "naive", "data.horizon": 10},
                                           {"config": "lstm", "data.horizon": 1}, {"config": "lstm", "data.horizon": 10}]
    assert cells[3].label() == "lstm, horizon=10" and cells[3].overrides == {"data.horizon": 10}
    assert spec.base_of(cells[3]) == Path("b.yaml")
    assert spec.baseline_of(cells[3]) == cells[1]  # the naive cell of the same horizon
    assert spec.swept_keys() == ["config", "data.horizon"] and spec.values_of("config") == ["naive", "lstm"]


@pytest.mark.parametrize("fields, needle", [
    ({"base": "a.yaml", "configs": {"x": "b.yaml"}}, "give either base (one config) or configs"),
    ({"configs": {"x": "a.yaml"}, "baseline": {"config": "y"}}, "baseline.config: 'y' is not one of the swept"),
    ({"configs": {"x": "a.yaml"}, "grid": {"config": ["y"]}}, "config: the configs to compare go in `configs`"),
    ({"base": "a.yaml", "baseline": {"optimizer.lr": 0.1}}, "baseline.optimizer.lr: 0.1 is not one of the swept"),
])
def test_bad_config_axes_and_baselines_are_refused(fields, needle):
    with pytest.raises(ValueError, match=None) as caught:
        SweepSpec(**fields)
    assert needle in str(caught.value)


def test_a_sweep_of_forecasters_reports_each_against_the_naive_one(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "configs": {"naive": str(CONFIGS / "series_naive.yaml"), "linear": str(CONFIGS / "series_linear.yaml")},
        "set": {"data.series": 600, "data.train": 400, "data.validation": 100, "train.epochs": 3, "device": "cpu"},
        "grid": {"data.horizon": [1, 10]}, "baseline": {"config": "naive"}, "seeds": [0, 1], "metric": "val/mse"}))
    out = tmp_path / "out"
    result = invoke("sweep", path, "--out", out, "--jobs", 2, "--quiet")
    assert result.exit_code == 0 and "8 of 8 runs finished" in result.output, result.output
    assert "× baseline" in result.output and (out / "forecasts.png").read_bytes()[:4] == b"\x89PNG"
    with open(out / "cells.csv") as f:
        cells = {c["cell"]: c for c in csv.DictReader(f)}
    for horizon in (1, 10):
        naive, linear = cells[f"naive, horizon={horizon}"], cells[f"linear, horizon={horizon}"]
        assert float(naive["final_vs_baseline"]) == 1.0 and linear["baseline"] == f"naive, horizon={horizon}"
        assert float(linear["final_vs_baseline"]) == pytest.approx(float(linear["final_mean"]) / float(naive["final_mean"]))
    run = api.load(out / "runs" / "config=linear,data.horizon=10" / "seed1")
    assert run.config.data.horizon == 10 and run.config.model.layers[0].type == "flatten" and run.config.seed == 1


# -- the statistics ----------------------------------------------------------------------------------------------------
def test_interquartile_mean():
    assert iqm(np.arange(8.0)) == pytest.approx(3.5)  # the middle four: 2, 3, 4, 5
    assert iqm(np.arange(10.0)) == pytest.approx((0.5 * 2 + 3 + 4 + 5 + 6 + 0.5 * 7) / 5)  # quarter-points weighted
    assert iqm(np.array([1.0, 2.0, 3.0, 1000.0])) == pytest.approx(2.5)  # an outlier is ignored
    assert np.allclose(iqm(np.array([[0.0, 1, 2, 3], [4, 4, 4, 4]]), axis=1), [1.5, 4.0])
    assert iqm(np.array([7.0])) == 7.0 and iqm(np.array([1.0, 3.0])) == 2.0
    assert iqm(np.array([1.0, 2.0, 9.0])) == pytest.approx((0.25 * 1 + 2 + 0.25 * 9) / 1.5)


def test_bootstrap_interval_of_a_known_case():
    # two values: a resample's mean is 0, ½ or 1 with probability ¼, ½, ¼, so the 95 % interval is [0, 1]
    assert bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)
    assert bootstrap_ci([3.0, 3.0, 3.0]) == (3.0, 3.0)
    x = np.random.default_rng(0).normal(10.0, 2.0, size=400)  # the mean's interval ≈ mean ± 1.96·σ/√n
    low, high = bootstrap_ci(x)
    assert low == pytest.approx(x.mean() - 1.96 * x.std() / 20, abs=0.03)
    assert high == pytest.approx(x.mean() + 1.96 * x.std() / 20, abs=0.03)
    assert bootstrap_ci(x) == bootstrap_ci(x)  # seeded: the same numbers give the same interval
    stats = describe([1.0, 2.0, float("nan"), 3.0])  # a failed run's NaN is left out
    assert stats["n"] == 3 and stats["mean"] == 2.0 and stats["std"] == 1.0


# -- running ---------------------------------------------------------------------------------------------------------
def test_a_sweep_runs_reports_and_skips_what_is_done(tmp_path):
    path = sweep_file(tmp_path, set={**TINY_MLP, "train.epochs": 2}, grid={"train.batch_size": [32, 64]},
                      seeds=[0, 1])
    out = tmp_path / "out"
    result = invoke("sweep", path, "--out", out, "--jobs", 2, "--quiet")
    assert result.exit_code == 0, result.output
    assert "4 of 4 runs finished" in result.output
    with open(out / "cells.csv") as f:
        cells = list(csv.DictReader(f))
    assert [c["train.batch_size"] for c in cells] == ["32", "64"] and {c["runs"] for c in cells} == {"2"}
    with open(out / "runs.csv") as f:
        runs = list(csv.DictReader(f))
    run = api.load(out / "runs" / "train.batch_size=32" / "seed1")
    assert run.config.seed == 1 and run.config.train.batch_size == 32 and run.config.train.epochs == 2
    first = next(r for r in runs if r["train.batch_size"] == "32" and r["seed"] == "1")
    assert float(first["final"]) == pytest.approx(run.metrics()[-1]["val/accuracy"])
    share = int(os.environ.get("OMP_NUM_THREADS") or max(1, len(os.sched_getaffinity(0)) // 2))
    assert run.run.meta.info["threads"] == share  # cores // jobs, unless OMP_NUM_THREADS fixes it
    for name in ("curves.png", "final.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stamp = (out / "runs" / "train.batch_size=64" / "seed0" / "model.safetensors").stat().st_mtime_ns
    again = invoke("sweep", path, "--out", out, "--quiet")
    assert again.exit_code == 0 and "4 of 4 runs finished" in again.output
    assert (out / "runs" / "train.batch_size=64" / "seed0" / "model.safetensors").stat().st_mtime_ns == stamp
    (out / "cells.csv").unlink()
    assert invoke("sweep", "--report", out).exit_code == 0 and (out / "cells.csv").exists()
    other = sweep_file(tmp_path, set={**TINY_MLP, "train.epochs": 3})
    refused = invoke("sweep", other, "--out", out, "--quiet")
    assert refused.exit_code == 1 and "holds another study" in refused.stderr


def progress_of(run: Path) -> int:
    try:
        return json.loads((run / "meta.json").read_text())["state"]["progress"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def test_an_interrupted_sweep_continues_where_it_stopped(tmp_path):
    path = sweep_file(tmp_path, set={**TINY_MLP, "train.epochs": 60, "data.limit": 3000, "train.batch_size": 16},
                      seeds=[0, 1])
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "rlgen", "sweep", str(path), "--out", str(out), "--quiet"],
                            cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=default_ctrl_c)
    first = out / "runs" / "base" / "seed0"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # cheap, frequent looks: a busy machine must not let the run finish unseen
        time.sleep(0.05)
        if (first / "checkpoint.safetensors").exists() and progress_of(first) >= 2:
            break
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the sweep and its run alike
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "run the same command again to continue" in stderr, stderr
    stopped = api.load(first).run.state().progress
    assert 2 <= stopped < 60
    assert not (out / "runs" / "base" / "seed1").exists()
    result = invoke("sweep", path, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    for seed in (0, 1):
        run = api.load(out / "runs" / "base" / f"seed{seed}")
        assert run.run.state().progress == 60
        assert [row["step"] for row in run.metrics()] == list(range(1, 61))  # continued, not restarted


def test_a_sweep_trains_a_cell_s_seeds_as_one_batch_where_it_can(tmp_path):
    tiny = {"train.total_steps": 2000, "train.eval_every_steps": 1000, "train.eval_episodes": 3, "env.num_envs": 8}
    for batch in (True, False):
        path = sweep_file(tmp_path, base=str(CONFIGS / "cartpole_reinforce.yaml"), set=tiny, seeds=[0, 1, 2],
                          grid={"reinforce.gamma": [0.9, 0.99]}, batch_seeds=batch)
        out = tmp_path / f"out-{batch}"
        result = invoke("sweep", path, "--out", out, "--quiet")
        assert result.exit_code == 0 and "6 of 6 runs finished" in result.output, result.output
        for cell in ("reinforce.gamma=0.9", "reinforce.gamma=0.99"):
            for seed in (0, 1, 2):
                run = api.load(out / "runs" / cell / f"seed{seed}")
                assert run.config.seed == seed and run.run.state().finished
                assert run.meta.info.get("batched_seeds") == ([0, 1, 2] if batch else None)
        with open(out / "runs.csv") as f:
            assert len(list(csv.DictReader(f))) == 6



@pytest.mark.parametrize("config", ["cartpole_masked_a2c", "pendulum_ppo"])
def test_a_sweep_and_a_study_of_an_agent_that_cannot_batch_seeds_train_each_seed_alone(tmp_path, config):
    """A recurrent policy, or a Gaussian one on the torch Pendulum, with normalised observations cannot be batched
    over seeds: a sweep trains its seeds one by one instead of failing, and a tuning study runs it like any agent."""
    tiny = {"train.total_steps": 1200, "train.eval_every_steps": 600, "train.eval_episodes": 2, "env.num_envs": 4}
    path = sweep_file(tmp_path, base=str(CONFIGS / f"{config}.yaml"), set=tiny, seeds=[0, 1])
    result = invoke("sweep", path, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0 and "2 of 2 runs finished" in result.output, result.output
    for seed in (0, 1):
        run = api.load(tmp_path / "out" / "runs" / "base" / f"seed{seed}")
        assert run.run.state().finished and run.meta.info.get("batched_seeds") is None and run.config.seed == seed
        if config == "pendulum_ppo":
            assert run.meta.info["action_dim"] == 1
        else:
            assert run.config.policy.recurrent.type == "gru"
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"set": tiny, "params": {"optimizer.lr": {"low": 1e-3, "high": 1e-2}},
                                     "seeds": [0], "objective": "seconds_to_solve", "unsolved_seconds": 10}))
    result = invoke("tune", CONFIGS / f"{config}.yaml", "--space", space, "--trials", 1, "--out",
                    tmp_path / "tune", "--quiet")
    assert result.exit_code == 0 and (tmp_path / "tune" / "best.yaml").exists(), result.output

# -- tuning ----------------------------------------------------------------------------------------------------------
def space_file(tmp_path, **fields):
    path = tmp_path / "space.yaml"
    base = {"set": {**TINY_MLP, "train.epochs": 2},
            "params": {"optimizer.lr": {"low": 1e-4, "high": 1e-2, "log": True}}}
    path.write_text(yaml.safe_dump({**base, **fields}))
    return path


@pytest.mark.parametrize("fields, needle", [
    ({"params": {"optimizer.lr": {"low": 1.0, "high": 0.1}}}, "low 1.0 must be below high 0.1"),
    ({"params": {"optimizer.lr": {"low": 0.0, "high": 0.1, "log": True}}}, "a log range needs low > 0"),
    ({"params": {"optimizer.lr": {"low": 0.0, "choices": [1]}}}, "low/high or choices, not both"),
    ({"params": {}}, "params"),
    ({"params": {"optimizer.lr": {"choices": [0.1]}}, "set": {"optimizer.lr": 0.1}}, "in both set and params"),
    ({"objective": "fastest"}, "objective"),
    ({"params": {"optimizer.lr": {"low": 1e-4, "high": 1e7}}}, "params optimizer.lr=10000000.0: "),
])
def test_bad_search_spaces_are_one_line(tmp_path, fields, needle):
    result = invoke("tune", CONFIGS / "fashion_mlp.yaml", "--space", space_file(tmp_path, **fields), "--out",
                    tmp_path / "out", "--quiet")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and needle in result.stderr, result.output
    assert not (tmp_path / "out").exists()


def test_tuning_writes_the_best_settings_and_continues(tmp_path):
    space = space_file(tmp_path, params={"optimizer.lr": {"low": 1e-4, "high": 1e-2, "log": True},
                                         "optimizer.name": {"choices": ["adam", "sgd"]}})
    out = tmp_path / "out"
    result = invoke("tune", CONFIGS / "fashion_mlp.yaml", "--space", space, "--trials", 3, "--jobs", 2, "--out", out,
                    "--quiet")
    assert result.exit_code == 0, result.output
    with open(out / "trials.csv") as f:
        trials = list(csv.DictReader(f))
    # (two workers finishing at the same instant can both see room for one more trial: rare, but not impossible)
    assert 3 <= len(trials) <= 4 and all(t["state"] == "complete" for t in trials)
    first = min(trials, key=lambda t: int(t["trial"]))
    assert (float(first["optimizer.lr"]), first["optimizer.name"]) == (0.001, "adam")  # trial 0: the config as it is
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert set(best) == {*TINY_MLP, "train.epochs", "optimizer.lr", "optimizer.name"}
    top = max(trials, key=lambda t: float(t["value"]))
    assert best["optimizer.lr"] == pytest.approx(float(top["optimizer.lr"]))
    trained = invoke("train", CONFIGS / "fashion_mlp.yaml", "--set-file", out / "best.yaml", "--run-dir",
                     tmp_path / "best", "--quiet")
    assert trained.exit_code == 0 and api.load(tmp_path / "best").config.optimizer.name == best["optimizer.name"]
    more = invoke("tune", CONFIGS / "fashion_mlp.yaml", "--space", space, "--trials", len(trials) + 1, "--out", out,
                  "--quiet")
    assert more.exit_code == 0, more.output
    with open(out / "trials.csv") as f:
        assert len(list(csv.DictReader(f))) == len(trials) + 1  # the study went on from where it was


def test_a_trial_left_running_is_tried_again_and_a_bad_trial_is_pruned(tmp_path):
    import optuna

    from rlgen.studies import tune as tuning

    space_path = space_file(tmp_path, params={"optimizer.lr": {"low": 1e-4, "high": 1e-2, "log": True}})
    space, out = tuning.load_space(space_path), tmp_path / "out"
    out.mkdir()
    study = tuning._study(out, space, create=True)
    left = study.ask()  # a worker killed mid-trial leaves it RUNNING in the journal
    lr = left.suggest_float("optimizer.lr", 1e-4, 1e-2, log=True)
    tuning.tune(CONFIGS / "fashion_mlp.yaml", space_path, out, trials=1, jobs=1, quiet=True)
    trials = tuning._study(out, space, create=False).get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE"] and trials[1].params["optimizer.lr"] == lr
    # a pruner that prunes at the first report stops the run at its first epoch's metrics
    strict = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(lower=2.0), direction="maximize")
    trial = strict.ask()
    space5 = tuning.SpaceSpec.model_validate({**yaml.safe_load(space_path.read_text()),
                                              "set": {**TINY_MLP, "train.epochs": 5}})
    with pytest.raises(optuna.TrialPruned):
        tuning._trial_value(trial, CONFIGS / "fashion_mlp.yaml", space5, tmp_path / "pruned", threads=1)
    assert len(api.load(tmp_path / "pruned" / "trials" / "0000" / "seed0").metrics()) == 1  # one epoch of five


def test_integer_bounds_give_integer_parameters():
    space = SpaceSpec.model_validate({"params": {"ppo.epochs": {"low": 1, "high": 8},
                                                 "optimizer.lr": {"low": 0.001, "high": 0.1, "log": True}}})
    assert space.params["ppo.epochs"].integer() and not space.params["optimizer.lr"].integer()
    assert base_params(CONFIGS / "cartpole_ppo.yaml", space) == {"ppo.epochs": 4, "optimizer.lr": 0.008}


def test_list_choices_are_offered_to_optuna_as_text_and_read_back():
    space = SpaceSpec.model_validate({"params": {"model.hidden": {"choices": [[256], [500, 500]]},
                                                 "optimizer.name": {"choices": ["adam", "sgd"]}}})
    assert encoded(space.params["model.hidden"].choices) == ["[256]", "[500, 500]"]
    assert decoded(space, {"model.hidden": "[500, 500]", "optimizer.name": "sgd"}) == {
        "model.hidden": [500, 500], "optimizer.name": "sgd"}


def test_a_failing_run_is_reported_and_the_others_go_on(tmp_path):
    path = sweep_file(tmp_path, set={"data.limit": 600, "data.validation": 88, "device": "cpu", "train.epochs": 1,
                                     "optimizer.name": "sgd", "optimizer.schedule": "constant"},
                      grid={"optimizer.lr": [0.01, 1e6]})
    out = tmp_path / "out"
    result = invoke("sweep", path, "--out", out, "--quiet")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
    assert "1 run(s) failed, first optimizer.lr=1e+06/seed0: training diverged at epoch 1" in result.stderr
    assert "1 of 2 runs finished" in result.output
    with open(out / "cells.csv") as f:
        assert [c["optimizer.lr"] for c in csv.DictReader(f)] == ["0.01"]


def test_sweep_and_tune_from_python(tmp_path):
    import rlgen

    result = rlgen.sweep(sweep_file(tmp_path, set={**TINY_MLP, "train.epochs": 1}), tmp_path / "s", quiet=True)
    assert result["runs"] == 1 and result["failures"] == [] and result["cells"][0]["cell"] == "base"
    found = rlgen.tune(CONFIGS / "fashion_mlp.yaml", space_file(tmp_path), trials=1, out=tmp_path / "t", quiet=True)
    assert found["complete"] == 1 and (tmp_path / "t" / "best.yaml").exists()
    with pytest.raises(RlgenError, match="jobs 0"):
        rlgen.sweep(tmp_path / "sweep.yaml", jobs=0)
