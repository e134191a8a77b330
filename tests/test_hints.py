"""The final line's hint when a run learnt nothing: the rules, and a classifier and an agent that trip them."""

import math

from rlgen import api
from rlgen.hints import chance_hint, first_finite, likely_setting, random_policy_hint
from tests.conftest import CONFIGS
from tests.test_classifier_cli import TINY, invoke, sets


def test_the_setting_named_is_the_learning_rate_when_it_is_far_off_else_the_budget():
    assert "optimizer.lr=1000 is the likely cause" in likely_setting(1000.0, "train.epochs", 3)
    assert "optimizer.lr=1e-09 is the likely cause" in likely_setting(1e-9, "train.epochs", 3)
    assert likely_setting(0.001, "train.total_steps", 600) == "check train.total_steps (600) and optimizer.lr (0.001)"


def test_chance_level_is_within_five_points_of_guessing():
    assert "chance level for 10 classes" in chance_hint(0.15, 10, 0.001, 2)
    assert chance_hint(0.151, 10, 0.001, 2) is None and chance_hint(None, 10, 0.001, 2) is None
    assert chance_hint(math.nan, 10, 0.001, 2) is None


def test_a_policy_no_better_than_its_first_episodes_is_flagged():
    assert "never beat its first" in random_policy_hint(24.0, 22.0, 0.01, 600)  # within 10 % of 22
    assert random_policy_hint(25.0, 22.0, 0.01, 600) is None
    assert "never beat" in random_policy_hint(-1300.0, -1250.0, 0.01, 600)  # Pendulum: returns below zero
    assert random_policy_hint(-1100.0, -1250.0, 0.01, 600) is None
    assert random_policy_hint(9.0, None, 0.01, 600) is None and random_policy_hint(-math.inf, 22.0, 0.01, 6) is None
    assert first_finite([{"r": math.nan}, {"r": 3.0}, {"r": 4.0}], "r") == 3.0 and first_finite([{}], "r") is None


def test_a_classifier_at_chance_level_says_so_in_its_final_line(tmp_path):
    result = invoke("train", CONFIGS / "fashion_mlp.yaml", "--run-dir", tmp_path / "run", "--quiet", "--device",
                    "cpu", *sets(TINY + ["optimizer.lr=1000"]))
    assert result.exit_code == 0, result.output
    assert "chance level for 10 classes" in result.output and "optimizer.lr=1000 is the likely cause" in result.output
    sane = invoke("train", CONFIGS / "fashion_mlp.yaml", "--run-dir", tmp_path / "sane", "--quiet", "--device", "cpu",
                  *sets(TINY))
    assert sane.exit_code == 0 and " — " not in sane.output.splitlines()[0], sane.output


def test_an_agent_that_never_leaves_a_random_policy_says_so(tmp_path, tiny_agent_overrides):
    run = api.train(CONFIGS / "cartpole_reinforce.yaml", tiny_agent_overrides + ["optimizer.lr=1000", "device=cpu"],
                    run_dir=tmp_path / "run", quiet=True)
    assert run.result.best_score < 30 and "never beat its first, random episodes" in str(run.result), run.result
