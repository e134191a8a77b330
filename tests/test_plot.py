"""The training-curves figure: its panels and its title (issue 21: every figure was titled "Speed")."""

import matplotlib.axes
import matplotlib.figure

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
