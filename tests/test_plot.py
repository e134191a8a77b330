"""The training-curves figure: its panels and its title (issue 21: every figure was titled "Speed")."""

import matplotlib.axes
import matplotlib.figure

from rlgen.metrics import read_metrics
from rlgen.plot import plot_curves
from rlgen.runstate import RunMeta


def test_the_curves_figure_carries_the_callers_title_and_one_panel_per_metric_group(tmp_path, monkeypatch):
    titles, panels, axes = [], [], []
    suptitle, set_title = matplotlib.figure.Figure.suptitle, matplotlib.axes.Axes.set_title
    monkeypatch.setattr(matplotlib.figure.Figure, "suptitle",
                        lambda self, text, **kw: titles.append(text) or suptitle(self, text, **kw))

    def titled(ax, text, **kw):
        panels.append(text)
        axes.append(ax)
        return set_title(ax, text, **kw)

    monkeypatch.setattr(matplotlib.axes.Axes, "set_title", titled)
    rows = [{"step": s, "train/policy_loss": 1.0 / s, "time/steps_per_s": 100.0 * s} for s in range(1, 20_001, 997)]
    meta = RunMeta(rlgen_version="0", created="now", kind="agent", algo="ppo", unit="env steps")
    out = tmp_path / "curves.png"
    assert plot_curves(rows, meta, out, "cartpole_ppo seed 0") == 2
    assert titles == ["cartpole_ppo seed 0"] and panels == ["Policy", "Speed"]
    assert out.stat().st_size > 1000
    assert all(len(ax.get_xticks()) <= 8 for ax in axes)  # five-digit step counts do not run into each other


def test_a_one_epoch_run_gets_one_whole_tick(tmp_path, monkeypatch):
    ticks = []
    original = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, *a, **kw: ticks.extend(list(ax.get_xticks()) for ax in fig.axes
                                                           if ax.has_data()) or original(fig, *a, **kw))
    meta = RunMeta(rlgen_version="0", created="now", kind="classifier", algo="classifier", unit="epochs")
    plot_curves([{"step": 1, "train/loss": 0.5, "val/loss": 0.6}], meta, tmp_path / "one.png", "one epoch")
    assert ticks == [[1.0]]


def test_several_runs_overlay_in_one_figure_with_their_names(tmp_path):
    import pytest

    import rlgen
    from rlgen.errors import RlgenError
    from tests.conftest import CONFIGS
    from tests.test_classifier_cli import invoke

    budget = {"train.total_steps": 600, "train.eval_every_steps": 300, "train.eval_episodes": 2,
              "train.target_return": None, "env.num_envs": 4, "device": "cpu"}
    runs = [rlgen.train(CONFIGS / "cartpole_reinforce.yaml", budget, seed=s, run_dir=tmp_path / f"s{s}", quiet=True)
            for s in (0, 1)]
    result = invoke("plot", runs[0].path, runs[1].path, "--out", tmp_path / "both.png", "--label", "first",
                    "--label", "second")
    assert result.exit_code == 0 and "both.png" in result.output, result.output
    assert rlgen.plot_runs(runs, tmp_path / "api.png") == tmp_path / "api.png" and (tmp_path / "api.png").stat().st_size
    with pytest.raises(RlgenError, match="1 labels for 2 runs"):
        rlgen.plot_runs(runs, tmp_path / "x.png", labels=["a"])
    classifier = rlgen.train(CONFIGS / "fashion_mlp.yaml", {"data.limit": 1000, "train.epochs": 1, "device": "cpu"},
                             run_dir=tmp_path / "c", quiet=True)
    with pytest.raises(RlgenError, match="count progress in env steps and epochs"):
        rlgen.plot_runs([runs[0], classifier], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_a_sweep_of_epoch_runs_draws_lines_through_whole_epochs(tmp_path, monkeypatch):
    import numpy as np

    from rlgen.studies.report import plot_curves as plot_study

    ticks = []
    original = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, *a, **kw: ticks.extend(fig.axes[0].get_xticks()) or original(fig, *a, **kw))
    seeds = [(np.array([1, 2]), np.array([0.62, 0.67])), (np.array([1, 2]), np.array([0.63, 0.68]))]
    plot_study({"momentum=0": seeds}, "val/accuracy", "epochs", tmp_path / "curves.png", "a study")
    shown = [t for t in ticks if 1 <= t <= 2]
    assert shown == [1.0, 2.0]  # not 1.0, 1.2, … 2.0


def test_a_metrics_table_read_again_is_the_same_and_a_changed_one_is_read_afresh(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,train/loss\n1,0.5\n2,0.25\n")
    first = read_metrics(path)
    first[0]["train/loss"] = 99.0  # a caller's change to its copy
    assert read_metrics(path) == [{"step": 1.0, "train/loss": 0.5}, {"step": 2.0, "train/loss": 0.25}]
    with path.open("a") as f:
        f.write("3,0.125\n")
    assert [row["step"] for row in read_metrics(path)] == [1.0, 2.0, 3.0]
