"""Typed configs: the shipped files load, overrides apply, and every mistake is named in one line."""

import pytest
import yaml

from rlgen.agents.config import ReinforceRunConfig
from rlgen.registry import schemas
from rlgen.config import apply_overrides, dump_config, load_config
from rlgen.errors import ConfigError
from tests.conftest import CONFIGS


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path, [], schemas())
    domains = ("cartpole_", "pendulum_", "inverted_pendulum_", "halfcheetah_", "mountaincar_", "fashion_", "series_")
    assert path.stem.startswith(domains)  # files are named <domain>_<model>.yaml
    assert cfg.algo in path.stem or cfg.algo in ("classifier", "forecaster")


def test_overrides_set_nested_fields_with_yaml_values():
    cfg = load_config(
        CONFIGS / "cartpole_reinforce.yaml",
        ["optimizer.lr=0.02", "policy.hidden=[8, 8]", "train.target_return=null", "reinforce.baseline=true"],
        schemas(),
    )
    assert cfg.optimizer.lr == 0.02 and cfg.policy.hidden == [8, 8]
    assert cfg.train.target_return is None and cfg.reinforce.baseline


def test_resolved_config_round_trips():
    cfg = load_config(CONFIGS / "cartpole_reinforce.yaml", [], schemas())
    again = ReinforceRunConfig.model_validate(yaml.safe_load(dump_config(cfg)))
    assert again == cfg


def error_for(tmp_path, text, overrides=()):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, list(overrides), schemas())
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unknown_key_names_key_and_allowed(tmp_path):
    msg = error_for(tmp_path, "algo: reinforce\noptimizer:\n  lrr: 0.1\n")
    assert "optimizer.lrr" in msg and "unknown key" in msg and "lr," in msg and "momentum" in msg


def test_wrong_type(tmp_path):
    msg = error_for(tmp_path, "algo: reinforce\n", ["optimizer.lr=fast"])
    assert "optimizer.lr" in msg and "'fast'" in msg


def test_out_of_range(tmp_path):
    msg = error_for(tmp_path, "algo: reinforce\nreinforce:\n  gamma: 1.5\n")
    assert "reinforce.gamma" in msg and "1.5" in msg


def test_bad_choice_lists_choices(tmp_path):
    msg = error_for(tmp_path, "algo: reinforce\npolicy:\n  activation: swish\n")
    assert "policy.activation" in msg and "'relu'" in msg


def test_unknown_algo_and_bad_device(tmp_path):
    assert "algo" in error_for(tmp_path, "algo: dqn\n") and "reinforce" in error_for(tmp_path, "algo: dqn\n")
    assert "device" in error_for(tmp_path, "algo: reinforce\ndevice: tpu\n")


def test_file_problems(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml", [], schemas())
    assert "not valid YAML" in error_for(tmp_path, "algo: [unclosed\n")
    assert "mapping" in error_for(tmp_path, "- just\n- a list\n")


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides({}, ["optimizer.lr"])
    with pytest.raises(ConfigError, match="is a value, not a section"):
        apply_overrides({"seed": 1}, ["seed.x=2"])


def test_yaml_aliases_duplicate_keys_and_deep_nesting_are_refused(tmp_path):
    bomb = "algo: reinforce\nenv:\n  kwargs:\n    a: &a [x, x, x, x, x, x, x, x, x]\n    b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
    assert "aliases (*name) are not allowed" in error_for(tmp_path, bomb)
    assert "duplicate key 'lr'" in error_for(tmp_path, "algo: reinforce\noptimizer:\n  lr: 0.1\n  lr: 0.2\n")
    assert "at line 4" in error_for(tmp_path, "algo: reinforce\noptimizer:\n  lr: 0.1\n  lr: 0.2\n")
    deep = "[" * 5000 + "]" * 5000
    assert "nested deeper than 50" in error_for(tmp_path, "algo: reinforce\n", [f"env.kwargs={{a: {deep}}}"])
    assert "nested deeper than 50" in error_for(tmp_path, "algo: reinforce\nenv:\n  kwargs:\n" + "".join(
        "  " * (i + 2) + f"k{i}:\n" for i in range(300)))
